#!/usr/bin/env python3
"""Benchmark: from the PBX's webhook to the incoming-call popup in a real browser.

What is measured: for each of ``--calls`` (200) incoming calls, the time from the moment the
PBX posts the "extension 101 is ringing" webhook (Zadarma ``NOTIFY_INTERNAL``) until the
popup of that call is in the page of the salesperson who owns extension 101, in a real
headless Chromium. That is the delay a salesperson sees between the phone ringing and the
card of the caller on screen: if it is long, the phone is answered before the card appears.

What runs, all on loopback:

* a real Odoo server (a separate process) with ``crm_voip`` and its demo data, on a
  throwaway PostgreSQL cluster (as ``make test``); ``--workers 0`` (default) is Odoo's
  threaded server, which also serves the bus websocket; ``--workers N`` is the prefork
  server (``benchmarks/odoo_server.py``, see there): webhooks go to the HTTP workers, and the
  browser uses the gevent port, which is where a reverse proxy sends ``/websocket``;
* Debian's Chromium, headless, driven over the DevTools protocol (``websocket-client``),
  logged in as anna (extension 101 of the demo account "Novofon (simulator)") on ``/odoo``;
  the tab is emulated as focused (``--unfocused`` to leave it as headless makes it);
* this process plays the PBX: each call is a fresh Zadarma call from
  ``vats_simulator.scenario_events`` (a missed call to extension 101, callers cycling through
  the demo numbers of ``make demo``), every request signed as Zadarma signs it
  (``vats_simulator.transport.webhook_request``) and posted over real HTTP.

One call: ``NOTIFY_START`` (not timed), then t0, then the signed ``NOTIFY_INTERNAL``; the page
records when a new ``.o_crm_voip_popup`` element enters the DOM (a ``MutationObserver``) and,
for the split, when the bus delivered ``crm_voip/incoming_call`` to the tab (a second
``bus_service`` subscriber) and the next animation frame after the insertion (when the popup
is painted). The popup is then closed (its close button) and ``NOTIFY_END`` (cancelled) ends
the call; ``--pause`` (50 ms) separates calls. A popup not in the DOM ``--timeout`` (5 s) after
t0 counts as lost. A few warm-up calls come first and are not counted.

The split printed with the result: when the webhook was answered, when the tab got the bus
message, and the tab's own share, which includes the head start ``TabCoordinator`` gives a tab
before it claims a call (40 ms when focused, 150 ms when only visible: ``--unfocused``). Odoo's
access log adds the query count and SQL time of each ringing webhook.

Clocks: t0 is Python's ``time.time()``; the page's times are ``performance.timeOrigin +
performance.now()``: both are this machine's wall clock. Their offset is measured through the
DevTools protocol before and after the calls and printed (within the reading's own
uncertainty, a millisecond or so, in the runs so far).

Run ``python3 benchmarks/popup_latency.py`` (``--help`` for the knobs); the last line is
``RESULT p50_ms=<float> p95_ms=<float>`` (popup in the DOM, after t0).
"""

import argparse
import contextlib
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# _common first: it puts scripts/ (demo.py, suite_env.py) and the repository on sys.path.
import _common
from _common import fail, phase, say
from demo import DEMO_DIDS, DEMO_NUMBERS  # the numbers and lines `make demo` calls from
from suite_env import ensure_chromium

from vats_simulator import ZadarmaAccount, scenario_events
from vats_simulator.transport import http_request, webhook_request

# The demo PBX account of crm_voip/demo/crm_voip_demo.xml, and the salesperson it rings.
WEBHOOK_TOKEN = "demo-zadarma"
API_KEY, API_SECRET = "demo-key", "demo-secret"
PBX_TIMEZONE = "Europe/Moscow"
LOGIN, PASSWORD, EXTENSION = "anna", "anna", "101"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--window-size=1280,900",
]
WEBHOOK_LOG = re.compile(
    r'"POST /crm_voip/webhook/\S+ HTTP/[\d.]+" (\d+) \S+ (\d+) ([\d.]+) ([\d.]+)'
)

# Installed in the page once the web client runs. Times are wall-clock milliseconds.
PAGE_PROBE = """
(() => {
    if (window.__popupBench) {
        return true;
    }
    const now = () => performance.timeOrigin + performance.now();
    const bench = { popups: [], bus: {}, waiters: [] };
    // Resolves the waiters whose popup is in the DOM and painted.
    const settle = () => {
        for (const waiter of [...bench.waiters]) {
            const entry = bench.popups[waiter.seen];
            if (entry && entry.frame !== null) {
                bench.waiters.splice(bench.waiters.indexOf(waiter), 1);
                waiter.resolve(entry);
            }
        }
    };
    new MutationObserver((records) => {
        const at = now();
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.nodeType !== Node.ELEMENT_NODE) {
                    continue;
                }
                const found = node.matches(".o_crm_voip_popup")
                    ? [node]
                    : [...node.querySelectorAll(".o_crm_voip_popup")];
                for (const element of found) {
                    const callId = Number(element.dataset.callId);
                    const bus = bench.bus[callId] ?? null;
                    const entry = { callId, popup: at, bus, frame: null };
                    requestAnimationFrame(() => {
                        entry.frame = now();
                        settle();
                    });
                    bench.popups.push(entry);
                }
            }
        }
    }).observe(document.body, { childList: true, subtree: true });
    // Subscribed after crm_voip's own handler: called right after it, in the same task.
    odoo.__WOWL_DEBUG__.root.env.services.bus_service.subscribe(
        "crm_voip/incoming_call",
        (payload) => { bench.bus[payload.call_id] = now(); },
    );
    // The popup after the first `seen` ones, once painted; null after `timeout` ms.
    bench.next = (seen, timeout) => new Promise((resolve) => {
        const waiter = { seen, resolve };
        bench.waiters.push(waiter);
        settle();
        setTimeout(() => {
            const index = bench.waiters.indexOf(waiter);
            if (index >= 0) {
                bench.waiters.splice(index, 1);
                resolve(null);
            }
        }, timeout);
    });
    window.__popupBench = bench;
    return true;
})()
"""


# ---------------------------------------------------------------------------
# Chromium over the DevTools protocol
# ---------------------------------------------------------------------------


class CdpError(RuntimeError):
    pass


class CdpPage:
    """The few DevTools commands this benchmark needs, on one page target.

    Commands can be sent and their answers read later (``send`` / ``result``): the benchmark
    asks the page to wait for the next popup, then posts the webhook, then reads the answer.
    No domain is enabled, so nothing but answers arrives; anything else is skipped.
    """

    def __init__(self, websocket_url):
        import websocket  # websocket-client, installed by suite_env

        self._timeout_error = websocket.WebSocketTimeoutException
        self.ws = websocket.create_connection(websocket_url, timeout=60, suppress_origin=True)
        self.last_id = 0

    def send(self, method, **params):
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        return self.last_id

    def result(self, message_id, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                message = json.loads(self.ws.recv())
            except self._timeout_error:
                raise TimeoutError(f"no DevTools answer within {timeout:g} s") from None
            if message.get("id") != message_id:
                continue
            if "error" in message:
                raise CdpError(message["error"].get("message", message["error"]))
            return message["result"]

    def call(self, method, timeout=60.0, **params):
        return self.result(self.send(method, **params), timeout)

    def send_evaluate(self, expression):
        return self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )

    def evaluate_result(self, message_id, timeout=60.0):
        answer = self.result(message_id, timeout)
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"JavaScript error: {text}")
        return answer["result"].get("value")

    def evaluate(self, expression, timeout=60.0):
        return self.evaluate_result(self.send_evaluate(expression), timeout)

    def wait_for(self, expression, timeout, what):
        """Evaluate ``expression`` until it is truthy (a navigation in progress is retried)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(CdpError):
                if self.evaluate(expression, timeout=10):
                    return
            time.sleep(0.2)
        raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")

    def close(self):
        with contextlib.suppress(Exception):
            self.ws.close()


@contextlib.contextmanager
def headless_chromium(binary):
    """Chromium in its own process group and throwaway profile; yields its first page."""
    profile = pathlib.Path(tempfile.mkdtemp(prefix="crm_voip_bench_chromium_"))
    port = _common.free_port()
    process = subprocess.Popen(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    page = None
    try:
        deadline = time.monotonic() + 30
        while page is None:
            if process.poll() is not None or time.monotonic() > deadline:
                fail("Chromium did not start (or exposed no page to DevTools)")
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
                if targets:
                    page = CdpPage(targets[0]["webSocketDebuggerUrl"])
                    break
            time.sleep(0.2)
        yield page
    finally:
        if page is not None:
            with contextlib.suppress(Exception):
                page.call("Browser.close", timeout=5)
            page.close()
        _common.stop_process_group(process, grace=10)
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------------------
# Odoo
# ---------------------------------------------------------------------------


def create_database(bench, log_path):
    bench.install("crm_voip", log_path, demo=True)
    anna = bench.cluster.psql(
        "SELECT e.extension FROM crm_voip_extension e JOIN res_users u ON u.id = e.user_id"
        f" WHERE u.login = '{LOGIN}'",
        database=bench.database,
    ).split()
    if EXTENSION not in anna:
        fail("the demo data is missing (anna, extension 101): was it installed?")


def start_odoo(bench, workers, log_path):
    """Start the server; return ``(process, url for the browser, url for the webhooks, mode)``."""
    http_port = _common.free_port()
    options = [
        "--workers",
        str(workers),
        "--max-cron-threads",
        "0",
        "--log-level",
        "warn",
        # Odoo's access log gives each webhook's query count and SQL time.
        "--log-handler",
        "werkzeug:INFO",
    ]
    http_url = f"http://127.0.0.1:{http_port}"
    if workers:
        gevent_port = _common.free_port()
        process = bench.start_server(
            http_port, *options, log_path=log_path, gevent_port=gevent_port
        )
        browser_url = f"http://127.0.0.1:{gevent_port}"
        if not _common.wait_for_http(f"{browser_url}/web/login", 180, process):
            fail(f"Odoo's gevent process did not start; see {log_path}")
        mode = (
            f"prefork, --workers {workers} (webhooks: HTTP workers on :{http_port}; browser"
            f" and bus websocket: gevent process on :{gevent_port})"
        )
    else:
        process = bench.start_server(http_port, *options, log_path=log_path)
        browser_url = http_url
        mode = f"threaded, --workers 0 (webhooks, pages and bus websocket on :{http_port})"
    return process, browser_url, f"{http_url}/crm_voip/webhook/{WEBHOOK_TOKEN}", mode


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------


def open_web_client(page, base_url, database, focused):
    """Log in as anna, open /odoo, wait for the call center and the bus; install the probe."""
    if focused:
        page.call("Emulation.setFocusEmulationEnabled", enabled=True)
    page.call("Page.navigate", url=f"{base_url}/web/login")
    page.wait_for(
        "location.pathname === '/web/login' && document.readyState === 'complete'",
        60,
        "the login page",
    )
    credentials = json.dumps({"db": database, "login": LOGIN, "password": PASSWORD})
    uid = page.evaluate(
        "fetch('/web/session/authenticate', {method: 'POST', headers: {'Content-Type':"
        " 'application/json'}, body: JSON.stringify({jsonrpc: '2.0', method: 'call', params:"
        f" {credentials}}})}}).then((r) => r.json()).then((r) => r.result && r.result.uid)"
    )
    if not uid:
        fail(f"could not log in as {LOGIN}")
    page.call("Page.navigate", url=f"{base_url}/odoo")
    # The first visit builds the asset bundles: slow on a busy machine.
    page.wait_for(
        "!!(window.odoo && odoo.__WOWL_DEBUG__ && document.querySelector("
        "'.o_crm_voip_call_center'))",
        300,
        "the web client and its call center",
    )
    page.wait_for(
        "odoo.__WOWL_DEBUG__.root.env.services.bus_service.workerState === 'CONNECTED'",
        60,
        "the bus websocket",
    )
    page.evaluate(PAGE_PROBE)
    return page.evaluate(
        "`${document.visibilityState}, ${document.hasFocus() ? 'focused' : 'not focused'}`"
    )


def clock_offset(page):
    """Page clock minus Python's ``time.time()``, in ms, and the uncertainty of the reading."""
    before = time.time() * 1000
    value = page.evaluate("performance.timeOrigin + performance.now()")
    after = time.time() * 1000
    return value - (before + after) / 2, (after - before) / 2


# ---------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------


class Pbx:
    """Posts signed Zadarma webhooks for calls to extension 101, one call at a time."""

    def __init__(self, webhook_url):
        self.url = webhook_url
        self.account = ZadarmaAccount(webhook_url, API_KEY, API_SECRET, PBX_TIMEZONE)
        self.count = 0

    def new_call(self):
        caller = DEMO_NUMBERS[self.count % len(DEMO_NUMBERS)]
        did = DEMO_DIDS[self.count % len(DEMO_DIDS)]
        self.count += 1
        events = scenario_events(
            "zadarma",
            "missed",
            timezone=PBX_TIMEZONE,
            caller=caller,
            did=did,
            extensions=[EXTENSION],
            ring_seconds=5,
        )
        kinds = [event["event"] for event in events]
        assert kinds == ["NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_END"], kinds
        return [webhook_request(self.account, event) for event in events]

    def post(self, signed):
        body, headers = signed
        status, data, _headers, error, _elapsed = http_request(
            "POST", self.url, body, headers, timeout=30
        )
        if status != 200:
            raise RuntimeError(f"webhook answered {status or error}: {data[:200]!r}")


def play_call(page, pbx, seen, timeout_ms):
    """One call; returns its timings in ms after t0 (``popup`` None when it never came)."""
    start, ring, end = pbx.new_call()
    before = time.time() * 1000
    pbx.post(start)
    start_ms = time.time() * 1000 - before
    waiting = page.send_evaluate(f"window.__popupBench.next({seen}, {timeout_ms})")
    t0 = time.time() * 1000
    pbx.post(ring)
    answered = time.time() * 1000 - t0
    entry = page.evaluate_result(waiting, timeout=timeout_ms / 1000 + 10)
    timings = {"start": start_ms, "webhook": answered, "popup": None}
    if entry:
        timings.update(
            call_id=entry["callId"],
            popup=entry["popup"] - t0,
            frame=entry["frame"] - t0,
            bus=entry["bus"] - t0 if entry["bus"] is not None else None,
        )
        selector = json.dumps(
            f'.o_crm_voip_popup[data-call-id="{entry["callId"]}"] .o_crm_voip_popup_close'
        )
        closed = page.evaluate(
            f"(() => {{ const button = document.querySelector({selector});"
            " if (button) { button.click(); } return !!button; })()"
        )
        if not closed:
            raise RuntimeError(f"the popup of call {entry['callId']} had no close button")
    pbx.post(end)
    return timings


def webhook_server_times(log_file, skip):
    """Queries, SQL seconds and other seconds of each ``NOTIFY_INTERNAL`` (Odoo's access log).

    Webhooks are posted one at a time, three per call (start, ringing, end), so the ringing
    ones are the second of each three after the warm-up calls' ones.
    """
    rows = []
    with contextlib.suppress(OSError):
        for line in log_file.read_text(errors="replace").splitlines():
            match = WEBHOOK_LOG.search(line)
            if match:
                rows.append((int(match[2]), float(match[3]) * 1000, float(match[4]) * 1000))
    return rows[skip * 3 + 1 :: 3]


def summary(values):
    """``(p50, p95, p99, max, mean)`` of ``values``."""
    if len(values) < 2:
        value = values[0] if values else float("nan")
        return value, value, value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], max(values), statistics.fmean(values)


def report_row(label, values):
    p50, p95, p99, top, mean = summary(values)
    say(f"  {label:<34} {p50:7.1f} {p95:7.1f} {p99:7.1f} {top:7.1f} {mean:7.1f}")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def run_calls(page, pbx, args):
    """Warm-up calls, then the measured ones; returns the measured calls' timings."""
    seen = 0
    say(f"-- {args.warmup} warm-up calls (not counted) ...")
    for index in range(args.warmup):
        # The first one also waits for the bus subscription of the freshly opened tab.
        timings = play_call(page, pbx, seen, 30000 if index == 0 else args.timeout * 1000)
        if timings["popup"] is None:
            fail("a warm-up call produced no popup: the bus does not reach the tab")
        seen += 1
        time.sleep(args.pause)
    say(f"-- {args.calls} measured calls, one at a time ...")
    results = []
    for index in range(args.calls):
        timings = play_call(page, pbx, seen, args.timeout * 1000)
        seen += timings["popup"] is not None
        results.append(timings)
        if (index + 1) % 50 == 0:
            latest = [t["popup"] for t in results[-50:] if t["popup"] is not None] or [0.0]
            answers = [t["webhook"] for t in results[-50:]]
            say(
                f"   {index + 1:4d} calls; last 50: popup median {statistics.median(latest):.1f}"
                f" ms, max {max(latest):.1f} ms; webhook answer median"
                f" {statistics.median(answers):.1f} ms"
            )
        time.sleep(args.pause)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="measured calls (default 200)")
    parser.add_argument("--warmup", type=int, default=3, help="calls not counted (default 3)")
    parser.add_argument(
        "--workers", type=int, default=0, help="Odoo --workers (default 0: threaded server)"
    )
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds between calls (default 0.05)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds before a popup is lost (default 5)"
    )
    parser.add_argument(
        "--unfocused",
        action="store_true",
        help="do not emulate focus: the tab is visible but not focused (a later popup)",
    )
    args = parser.parse_args()
    args.warmup = max(args.warmup, 1)
    wall_started = time.monotonic()
    load_before = os.getloadavg()[0]

    _common.prepare_odoo()
    chromium_binary = ensure_chromium()
    say(f"{args.calls} incoming calls, webhook -> popup in headless Chromium")
    with _common.OdooBench("popup") as bench:
        bench.cluster.start()
        with phase("install crm_voip with its demo data in a new database (a minute or two)"):
            create_database(bench, bench.log_path("install"))
        server_log = bench.log_path("server")
        server, browser_url, webhook_url, mode = start_odoo(bench, args.workers, server_log)
        say(f"-- Odoo server pid {server.pid}: {mode}")
        with headless_chromium(chromium_binary) as page:
            say(f"-- Chromium: logging in as {LOGIN} and opening /odoo ...")
            started = time.monotonic()
            tab = open_web_client(page, browser_url, bench.database, not args.unfocused)
            say(
                f"   web client ready, bus connected in {time.monotonic() - started:.0f} s;"
                f" tab {tab}"
            )
            offset_before = clock_offset(page)
            results = run_calls(page, Pbx(webhook_url), args)
            offset_after = clock_offset(page)
        server_times = webhook_server_times(server_log, args.warmup)

    shown = [t for t in results if t["popup"] is not None]
    lost = len(results) - len(shown)
    latencies = [t["popup"] for t in shown]
    say("")
    say(f"server:  {mode}, --max-cron-threads 0")
    say(f"browser: headless Chromium, one tab of {LOGIN} on /odoo ({tab})")
    say(
        f"machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} at the start,"
        f" {os.getloadavg()[0]:.1f} at the end (other processes share the CPUs)"
    )
    say(
        f"calls:   {len(results)} measured, popup shown for {len(shown)}, lost {lost}"
        f" (no popup within {args.timeout:g} s)"
    )
    say(
        "clocks:  page minus Python wall clock "
        f"{offset_before[0]:+.2f} ms (±{offset_before[1]:.2f}) before the calls, "
        f"{offset_after[0]:+.2f} ms (±{offset_after[1]:.2f}) after"
    )
    say("")
    header = f"{'ms after t0 (webhook posted)':<34} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    say(f"  {header} {'mean':>7}")
    report_row("webhook answered (HTTP 200)", [t["webhook"] for t in results])
    report_row("bus message handed to the tab", [t["bus"] for t in shown if t["bus"] is not None])
    report_row("popup in the DOM  <- RESULT", latencies)
    report_row("next animation frame (painted)", [t["frame"] for t in shown])
    say("  split:")
    report_row(
        "  tab: bus message -> popup in DOM",
        [t["popup"] - t["bus"] for t in shown if t["bus"] is not None],
    )
    report_row(
        "  answer -> bus message in the tab",
        [t["bus"] - t["webhook"] for t in shown if t["bus"] is not None],
    )
    report_row("  NOTIFY_START round trip (untimed)", [t["start"] for t in results])
    if len(server_times) == len(results):
        say("  Odoo's own log for the NOTIFY_INTERNAL requests:")
        report_row("  SQL queries (count)", [float(q) for q, _sql, _other in server_times])
        report_row("  time in SQL", [sql for _q, sql, _other in server_times])
        report_row("  time outside SQL", [other for _q, _sql, other in server_times])
    say("")
    say(f"wall time {time.monotonic() - wall_started:.0f} s")
    p50, p95, *_rest = summary(latencies)
    say(f"RESULT p50_ms={p50:.1f} p95_ms={p95:.1f}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
