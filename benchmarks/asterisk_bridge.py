#!/usr/bin/env python3
"""Asterisk bridge benchmark: folding speed, AMI event -> Odoo latency, nothing lost.

1. Folding (one core, this process, no Odoo): the AMI streams a real Asterisk 20 emitted
   (``tests/fixtures/asterisk/real/*.ami``) are copied with new Uniqueid/Linkedid values
   (each copy is a new call), decoded by ``amiwire.AmiDecoder`` from 64 KiB chunks and folded
   by ``fold.AmiFolder``. Decoding and folding are timed apart (CPU and wall): the figure
   is decode+fold, fold alone is printed beside it.
2. End to end: Odoo as a threaded server (``--workers 0``, ``--max-cron-threads 0``), an
   ``asterisk`` account with three extensions, the simulator's AMI server and the bridge
   in this process (``service.Bridge(config).start()``, posting to Odoo's webhook). Calls
   are played one after another; the moment the simulator writes an AMI event to the
   socket is its t0; a separate psycopg2 connection polls ``crm_voip_call`` every 5 ms and
   notes when the call's row appears (t0: the first event of the call) and when it has its
   final state (t0: the call's last Hangup). Both kinds of sample make the RESULT's e2e.
   The bridge's own post times split each sample into "before Odoo" and "Odoo's answer".
3. Restart: while more calls play, Odoo is killed (SIGKILL) and started again some seconds
   later; the bridge spools meanwhile. Then every call played must exist once in Odoo with
   its final state: ``spool_lost`` counts those missing or in another state.

Run: ``flock /tmp/crm_voip_heavy.lock python3 benchmarks/asterisk_bridge.py [--quick]``.
The last line is ``RESULT ami_events_per_s=… e2e_p50_ms=… e2e_p95_ms=… spool_lost=…``.
"""

import argparse
import os
import re
import signal
import sys
import tempfile
import threading
import time

import _common
from _common import fail, percentile, phase, say

ROOT = _common.ROOT
sys.path.insert(0, str(ROOT / "bridge"))

from pbx_bridge.amiwire import AmiDecoder  # noqa: E402
from pbx_bridge.fold import AmiFolder  # noqa: E402

REAL_STREAMS = ROOT / "tests" / "fixtures" / "asterisk" / "real"
MONITOR = "/var/spool/asterisk/monitor"
CHUNK = 64 * 1024
_ID_LINE = re.compile(r"^((?:Dest)?(?:Uniqueid|Linkedid|UniqueID)): ([^\s]+)\r?$", re.M)

AMI_USER, AMI_SECRET = "crm", "ami-secret"
SECRET = "bench-bridge-secret"
TOKEN = "bench-asterisk-token"
LINE = "74951204567"
EXTENSIONS = ("101", "102", "103")
# Scenario -> the state its call ends in.
SCENARIOS = {"answered": "done", "missed": "missed", "busy": "busy", "outgoing": "done"}
FINAL_STATES = ("done", "missed", "busy", "failed")
POLL_INTERVAL = 0.005


# ---------------------------------------------------------------------------
# 1. Folding
# ---------------------------------------------------------------------------


class StreamTemplate:
    """The recorded streams as one text whose call ids are holes, filled per copy."""

    def __init__(self, paths):
        texts = [path.read_text() for path in sorted(paths)]
        text = "\n".join(
            "\n".join(line for line in t.splitlines() if not line.startswith("#")) + "\n\n"
            for t in texts
        ).replace("\n", "\r\n")
        ids = {}
        self.parts, self.holes = [], []
        position = 0
        for match in _ID_LINE.finditer(text):
            self.parts.append(text[position : match.start(2)])
            self.holes.append(ids.setdefault(match.group(2), len(ids)))
            position = match.end(2)
        self.parts.append(text[position:])
        self.events = text.count("Event: ")

    def copy(self, number):
        """The streams' bytes with ids ``<number>.<n>``: a new set of calls."""
        pieces = []
        for part, hole in zip(self.parts, self.holes, strict=False):
            pieces.append(part)
            pieces.append(f"{1_000_000 + number}.{hole}")
        pieces.append(self.parts[-1])
        return "".join(pieces).encode("utf-8")


def fold_benchmark(template, copies, batch=200):
    """Decode and fold ``copies`` copies of ``template``; returns a dict of counts and
    seconds (``decode_cpu``, ``fold_cpu``, ``decode_wall``, ``fold_wall``)."""
    decoder = AmiDecoder(expect_banner=False)
    folder = AmiFolder(
        internal_contexts=("from-internal",), recording_dir=MONITOR, clock=lambda: 0.0
    )
    totals = dict(messages=0, emitted=0, decode_cpu=0.0, fold_cpu=0.0)
    totals.update(decode_wall=0.0, fold_wall=0.0, calls=set())
    feed = folder.feed
    for first in range(0, copies, batch):
        data = b"".join(template.copy(n) for n in range(first, min(copies, first + batch)))
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        cpu, wall = time.process_time(), time.perf_counter()
        messages = []
        for chunk in chunks:
            messages.extend(decoder.feed(chunk))
        cpu2, wall2 = time.process_time(), time.perf_counter()
        emitted = []
        for message in messages:
            emitted.extend(feed(message))
        totals["fold_cpu"] += time.process_time() - cpu2
        totals["fold_wall"] += time.perf_counter() - wall2
        totals["decode_cpu"] += cpu2 - cpu
        totals["decode_wall"] += wall2 - wall
        totals["messages"] += len(messages)
        totals["emitted"] += len(emitted)
        totals["calls"].update(event["call_id"] for event in emitted)
    totals["calls"] = len(totals["calls"])
    totals["open_calls"] = folder.open_calls()
    return totals


def run_folding(args):
    template = StreamTemplate(REAL_STREAMS.glob("*.ami"))
    copies = max(1, args.fold_events // template.events)
    say(
        f"   {len(list(REAL_STREAMS.glob('*.ami')))} real streams, {template.events} AMI events"
        f" per copy, {copies} copies"
    )
    rounds = []
    for _round in range(args.fold_rounds):
        rounds.append(fold_benchmark(template, copies))
    last = rounds[-1]
    say(
        f"   {last['messages']} AMI messages -> {last['emitted']} generic events,"
        f" {last['calls']} calls, {last['open_calls']} left open"
    )
    rates = {}
    for label, keys in (
        ("decode only (amiwire)", ("decode",)),
        ("fold only (AmiFolder)", ("fold",)),
        ("decode + fold  <- RESULT", ("decode", "fold")),
    ):
        cpu = [r["messages"] / sum(r[f"{k}_cpu"] for k in keys) for r in rounds]
        wall = [r["messages"] / sum(r[f"{k}_wall"] for k in keys) for r in rounds]
        rates[keys] = sorted(cpu)[len(cpu) // 2]
        say(
            f"   {label:<26} {rates[keys]:>10,.0f} events/s CPU (median of {len(rounds)}),"
            f" {sorted(wall)[len(wall) // 2]:>10,.0f} wall"
        )
    return rates[("decode", "fold")]


# ---------------------------------------------------------------------------
# 2-3. End to end
# ---------------------------------------------------------------------------


def configure(database):
    from odoo.fields import Command

    with _common.superuser_env(database, tracking_disable=True) as env:
        company = env.ref("base.main_company")
        company.country_id = env.ref("base.ru")
        salesman = env.ref("sales_team.group_sale_salesman")
        users = [
            env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": f"Agent {extension}",
                    "login": f"agent{extension}",
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                    "groups_id": [Command.set(salesman.ids)],
                }
            )
            for extension in EXTENSIONS
        ]
        account = env["crm.voip.provider"].create(
            {
                "company_id": company.id,
                "country_id": company.country_id.id,
                "timezone": "Europe/Moscow",
                "name": "Asterisk (benchmark)",
                "code": "asterisk",
                "secret_settings": {"secret": SECRET},
                "webhook_token": TOKEN,
                "unknown_caller_policy": "lead",
                "line_ids": [Command.create({"name": "Sales", "number": LINE})],
                "extension_ids": [
                    Command.create({"user_id": user.id, "extension": extension})
                    for user, extension in zip(users, EXTENSIONS, strict=True)
                ],
            }
        )
        account_id = account.id
    import odoo.sql_db

    odoo.sql_db.close_all()
    return account_id


class Clock:
    """When the simulator wrote each call's events: the first one and the last Hangup."""

    def __init__(self, services):
        self.first, self.hangup = {}, {}
        publish = services.publish

        def timed_publish(events):
            publish(events)
            now = time.time()
            for event in events:
                linkedid = event.get("Linkedid")
                if linkedid:
                    self.first.setdefault(linkedid, now)
                    if event.get("Event") == "Hangup":
                        self.hangup[linkedid] = now

        services.publish = timed_publish


class Poller(threading.Thread):
    """Polls the rows of the pending calls every 5 ms; notes when each appears and when
    it reaches a final state."""

    def __init__(self, dsn, account_id):
        super().__init__(daemon=True, name="bench-poller")
        import psycopg2

        self.connection = psycopg2.connect(**dsn)
        self.connection.autocommit = True
        self.account_id = account_id
        self.pending = set()
        self.seen, self.final = {}, {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def watch(self, call_id):
        with self.lock:
            self.pending.add(call_id)

    def run(self):
        cursor = self.connection.cursor()
        while not self.stopping.wait(POLL_INTERVAL):
            with self.lock:
                pending = list(self.pending)
            if not pending:
                continue
            cursor.execute(
                "SELECT provider_call_id, state FROM crm_voip_call"
                " WHERE provider_id = %s AND provider_call_id = ANY(%s)",
                (self.account_id, pending),
            )
            now = time.time()
            for call_id, state in cursor.fetchall():
                self.seen.setdefault(call_id, now)
                if state in FINAL_STATES:
                    self.final[call_id] = now
                    with self.lock:
                        self.pending.discard(call_id)

    def stop(self):
        self.stopping.set()
        self.join(5)
        self.connection.close()


def dsn_of(bench):
    """psycopg2 connection arguments of the benchmark's database (as ``cluster.psql``)."""
    if bench.cluster.external:
        return {"dbname": bench.database}  # libpq reads the PG* variables
    return {"dbname": bench.database, "host": "127.0.0.1", "port": bench.cluster.port,
            "user": "postgres"}  # fmt: skip


def play_calls(sim, pbx, poller, count, gap, pause, on_call=None):
    """Play ``count`` calls, cycling through SCENARIOS; returns ``{call_id: state}``."""
    played = {}
    scenarios = list(SCENARIOS)
    for index in range(count):
        scenario = scenarios[index % len(scenarios)]
        direction = "outbound" if scenario == "outgoing" else "inbound"
        call_id = pbx.new_call_id(direction)
        poller.watch(call_id)
        params = {"caller": f"7916{1_000_000 + index:07d}"}
        if scenario == "answered":
            params["answered_by"] = EXTENSIONS[index % len(EXTENSIONS)]
        sim.play("asterisk", scenario, call_id=call_id, event_gap=gap, **params)
        played[call_id] = SCENARIOS[scenario]
        if on_call:
            on_call(index)
        time.sleep(pause)
    return played


def wait_settled(bridge, poller, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bridge.spool.depth() == 0 and not poller.pending:
            return True
        time.sleep(0.05)
    return False


def report_row(label, values):
    if not values:
        say(f"   {label:<40} (no samples)")
        return
    say(
        f"   {label:<40} p50 {percentile(values, 0.5):7.1f}  p95 {percentile(values, 0.95):7.1f}"
        f"  max {max(values):7.1f}  (n={len(values)})"
    )


def post_times(bridge):
    """Wrap the bridge's Odoo client: when each batch of events was posted and answered."""
    posts = []
    client = bridge.odoo
    original = client.post

    def timed_post(*args, **kwargs):
        started = time.time()
        result = original(*args, **kwargs)
        posts.append((started, time.time()))
        return result

    client.post = timed_post
    return posts


def run_end_to_end(args, timings):
    from pbx_bridge import config as bridge_config
    from pbx_bridge import service

    import vats_simulator

    _common.prepare_odoo(timings)
    results = {}
    with _common.OdooBench("asterisk_bridge") as bench:
        with phase("PostgreSQL and a database with crm_voip (a minute or two)", timings):
            bench.cluster.start()
            bench.install("crm_voip", bench.log_path("install"))
            bench.load_odoo(bench.log_path("configure"))
            account_id = configure(bench.database)
        server_log = bench.log_path("server")
        port = _common.free_port()
        options = ("--workers", "0", "--max-cron-threads", "0", "--log-level", "warn")
        server = bench.start_server(port, *options, log_path=server_log)
        say(f"-- Odoo pid {server.pid}: threaded, --workers 0, --max-cron-threads 0, :{port}")

        recordings = tempfile.mkdtemp(prefix="crm_voip_bench_ast_rec_")
        sim = vats_simulator.Simulator(
            asterisk=vats_simulator.AsteriskAccount(AMI_USER, AMI_SECRET, recording_dir=recordings),
            auto_play_originate=False,
        ).start()
        pbx = vats_simulator.pbx.get("asterisk")
        services = sim.accounts["asterisk"].services
        clock = Clock(services)
        from vats_simulator.pbx._asterisk_script import RECORDING_DIR

        state_dir = tempfile.mkdtemp(prefix="crm_voip_bench_bridge_")
        config = bridge_config.from_dict(
            {
                "source": "ami",
                "odoo": {
                    "webhook_url": f"http://127.0.0.1:{port}/crm_voip/webhook/{TOKEN}",
                    "secret": SECRET,
                    "heartbeat_interval": 3600.0,
                    "retry_max": 1.0,
                    "timeout": 10.0,
                },
                "ami": {
                    "host": "127.0.0.1",
                    "port": services.port,
                    "username": AMI_USER,
                    "secret": AMI_SECRET,
                },
                "api": {"listen": "127.0.0.1", "port": 0, "route_token": "route"},
                "spool": {"dir": state_dir},
                "recordings": {"dir": recordings, "pbx_dir": RECORDING_DIR},
            }
        )
        bridge = service.Bridge(config).start()
        posts = post_times(bridge)
        deadline = time.monotonic() + 10
        while not bridge.source.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        if not bridge.source.connected:
            fail(f"the bridge did not connect to the simulator's AMI: {bridge.health()}")
        bench.cluster.psql(
            "UPDATE crm_voip_provider SET base_url = "
            f"'http://127.0.0.1:{bridge.api_port}' WHERE id = {account_id}",
            database=bench.database,
        )
        poller = Poller(dsn_of(bench), account_id)
        poller.start()
        try:
            with phase(f"{args.warmup} warm-up calls", timings):
                warm = play_calls(sim, pbx, poller, args.warmup, args.gap, args.pause)
                wait_settled(bridge, poller, 60)
            with phase(f"{args.calls} measured calls, paced", timings):
                posts.clear()
                measured = play_calls(sim, pbx, poller, args.calls, args.gap, args.pause)
                if not wait_settled(bridge, poller, 60):
                    say("   not all calls settled within 60 s")
            starts = [
                (poller.seen[c] - clock.first[c]) * 1000 for c in measured if c in poller.seen
            ]
            ends = [
                (poller.final[c] - clock.hangup[c]) * 1000
                for c in measured
                if c in poller.final and c in clock.hangup
            ]
            answers = [(done - started) * 1000 for started, done in posts]
            results["starts"], results["ends"], results["answers"] = starts, ends, answers

            restart = {}

            def maybe_restart(index):
                if index == args.restart_calls // 3:
                    restart["killed"] = time.monotonic()
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait(10)
                    bench.servers.remove(server)
                    restart["spool_peak"] = 0
                elif "killed" in restart and "started" not in restart:
                    restart["spool_peak"] = max(restart["spool_peak"], bridge.spool.depth())
                    if time.monotonic() - restart["killed"] >= args.down_seconds:
                        restart["started"] = time.monotonic()
                        restart["server"] = bench.start_server(port, *options, log_path=server_log)
                        restart["ready"] = time.monotonic()

            with phase(
                f"{args.restart_calls} calls; Odoo killed (SIGKILL) after a third of them,"
                f" started again {args.down_seconds:g} s later",
                timings,
            ):
                during = play_calls(
                    sim, pbx, poller, args.restart_calls, args.gap, args.pause, maybe_restart
                )
                if "started" not in restart and "killed" in restart:
                    time.sleep(max(0.0, args.down_seconds - (time.monotonic() - restart["killed"])))
                    restart["spool_peak"] = max(restart["spool_peak"], bridge.spool.depth())
                    restart["server"] = bench.start_server(port, *options, log_path=server_log)
                    restart["ready"] = time.monotonic()
                settled = wait_settled(bridge, poller, 120)
                say(
                    f"   spool peak {restart.get('spool_peak', 0)} events while Odoo was down;"
                    f" Odoo answering again {restart['ready'] - restart['killed']:.1f} s after"
                    f" the kill; {'settled' if settled else 'NOT settled within 120 s'}"
                )
        finally:
            poller.stop()
            bridge.stop()
            sim.stop()
        played = {**warm, **measured, **during}
        rows = bench.cluster.psql(
            "SELECT provider_call_id, state, count(*) FROM crm_voip_call"
            f" WHERE provider_id = {account_id} GROUP BY 1, 2",
            database=bench.database,
        )
        found, duplicates = {}, 0
        for line in rows.splitlines():
            parts = line.split("|")
            if len(parts) != 3:
                continue
            call_id, state, count = (part.strip() for part in parts)
            if call_id in found:
                duplicates += 1
            found[call_id] = state
            duplicates += int(count) - 1
        missing = [c for c in played if c not in found]
        wrong = {c: (s, found[c]) for c, s in played.items() if c in found and found[c] != s}
        results.update(played=len(played), missing=missing, wrong=wrong, duplicates=duplicates)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and calls")
    parser.add_argument("--fold-events", type=int, default=400_000)
    parser.add_argument("--fold-rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=150, help="measured calls (default 150)")
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--restart-calls", type=int, default=60)
    parser.add_argument("--down-seconds", type=float, default=5.0)
    parser.add_argument(
        "--gap", type=float, default=0.02, help="seconds between a call's steps (0.02)"
    )
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between calls")
    parser.add_argument("--fold-only", action="store_true", help="part 1 only, no Odoo")
    args = parser.parse_args()
    if args.quick:
        args.fold_events, args.fold_rounds = 100_000, 1
        args.calls, args.restart_calls, args.warmup = 50, 30, 4
    started = time.monotonic()
    timings = _common.Timings()
    with phase("folding recorded AMI streams, one core", timings):
        events_per_s = run_folding(args)
    if args.fold_only:
        say(f"RESULT ami_events_per_s={events_per_s:.0f}")
        return 0
    results = run_end_to_end(args, timings)
    e2e = results["starts"] + results["ends"]
    say("")
    say(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    say(f"Odoo: threaded server (--workers 0); DB polled every {POLL_INTERVAL * 1000:g} ms")
    say("ms, AMI event written by the simulator -> seen in crm_voip_call:")
    report_row("first event -> call row exists", results["starts"])
    report_row("last Hangup -> final state", results["ends"])
    report_row("both  <- RESULT", e2e)
    report_row("split: Odoo's answer to a bridge post", results["answers"])
    say(
        "   (before Odoo = the rest: socket, decode, fold, journal, spool, poster wake-up,"
        " and up to one 5 ms poll)"
    )
    lost = len(results["missing"]) + len(results["wrong"])
    say(
        f"restart: {results['played']} calls played in all; missing {len(results['missing'])},"
        f" wrong state {len(results['wrong'])}, duplicates {results['duplicates']}"
    )
    for call_id, (expected, found) in list(results["wrong"].items())[:5]:
        say(f"   {call_id}: expected {expected}, found {found}")
    say(timings.summary())
    say(f"wall time {time.monotonic() - started:.0f} s")
    if not e2e:
        fail("no end-to-end sample")
    say(
        f"RESULT ami_events_per_s={events_per_s:.0f} e2e_p50_ms={percentile(e2e, 0.5):.1f}"
        f" e2e_p95_ms={percentile(e2e, 0.95):.1f} spool_lost={lost}"
    )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
