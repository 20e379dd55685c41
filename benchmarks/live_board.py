#!/usr/bin/env python3
"""Benchmark: from the PBX's webhook to the supervisor's live board in a real browser.

What is measured: the time from the moment the PBX posts a webhook (Zadarma
``NOTIFY_INTERNAL``: an extension rings; ``NOTIFY_ANSWER``: it answered; ``NOTIFY_END``: hung
up) until the row of that salesperson on Telephony → Live board shows his new state
(ringing, talking, free), in headless Chromium, while the board shows ``--people`` (50)
salespeople with an extension and ``--live`` (20) calls in progress.

What runs, all on loopback (the machinery of ``popup_latency.py``, reused): a real Odoo
server with ``crm_voip_routing`` and the demo data on a throwaway PostgreSQL cluster
(``--workers 0``: the threaded server, which serves the bus websocket too; ``--workers N``:
prefork, the browser on the gevent port); Debian's Chromium over the DevTools protocol,
logged in as admin (a telephony manager) on the board; this process plays the PBX with
signed Zadarma webhooks (``vats_simulator``) to the demo account.

Set-up, before the browser opens: ``--people`` salespeople ("Bench 01"…) with extensions
201… on the demo Zadarma account, in one team; the company's working hours made flexible
(nobody is "away"). Then ``--live`` of them take a call that stays in progress (never hung
up). The measured calls go, one at a time, to the others in turn: ``NOTIFY_START`` (not
timed), then three timed webhooks, each waited for on the board: its t0 is taken just
before the post, and the page notes (a ``MutationObserver`` on the rows' ``data-state``)
when the row took the expected state. Three samples per call. ``--pause`` (50 ms)
separates webhooks; a state not shown ``--timeout`` (5 s) after t0 counts as lost.

Clocks: t0 is Python's ``time.time()``; the page's times are ``performance.timeOrigin +
performance.now()``, the same wall clock; the offset is measured and printed.

No same-run baseline is measured: the incoming-call popup's latency for a ringing
webhook is ``popup_latency.py``'s (run it beside this one to compare).

Run ``python3 benchmarks/live_board.py`` (``--help`` for the knobs); the last line is
``RESULT p50_ms=<float> p95_ms=<float>`` (every timed webhook, row state in the DOM).
"""

import argparse
import json
import os
import statistics
import sys
import time

import _common
import popup_latency as popup
from _common import fail, phase, say
from suite_env import ensure_chromium

from vats_simulator import ZadarmaAccount, scenario_events
from vats_simulator.transport import http_request, webhook_request

LOGIN, PASSWORD = "admin", "admin"
BOARD_URL = "/odoo/action-crm_voip_routing.crm_voip_board_action"
FIRST_EXTENSION = 201
DID = "74951204567"
STATE_AFTER = {"NOTIFY_INTERNAL": "ringing", "NOTIFY_ANSWER": "talking", "NOTIFY_END": "free"}

PAGE_PROBE = """
(() => {
    if (window.__boardBench) {
        return true;
    }
    const now = () => performance.timeOrigin + performance.now();
    const bench = { waiters: [] };
    new MutationObserver((records) => {
        const at = now();
        for (const record of records) {
            const row = record.target;
            if (!row.matches || !row.matches(".o_crm_voip_board_member")) {
                continue;
            }
            for (const waiter of [...bench.waiters]) {
                const user = Number(row.dataset.userId);
                if (waiter.user === user && waiter.state === row.dataset.state) {
                    bench.waiters.splice(bench.waiters.indexOf(waiter), 1);
                    waiter.resolve(at);
                }
            }
        }
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
    // When the row of `user` next takes `state` (ms, page clock); null after `timeout` ms.
    bench.next = (user, state, timeout) => new Promise((resolve) => {
        const waiter = { user, state, resolve };
        bench.waiters.push(waiter);
        setTimeout(() => {
            const index = bench.waiters.indexOf(waiter);
            if (index >= 0) {
                bench.waiters.splice(index, 1);
                resolve(null);
            }
        }, timeout);
    });
    window.__boardBench = bench;
    return true;
})()
"""


def configure(bench, log_path, people):
    """The salespeople, their extensions and team; returns ``[(user id, extension)]``."""
    bench.load_odoo(log_path)
    from odoo import fields
    from odoo.fields import Command

    with _common.superuser_env(bench.database, tracking_disable=True) as env:
        provider = env["crm.voip.provider"].search([("webhook_token", "=", popup.WEBHOOK_TOKEN)])
        if not provider:
            fail("the demo Zadarma account is missing: was the demo data installed?")
        company = provider.company_id
        company.resource_calendar_id = env["resource.calendar"].create(
            {"name": "Bench: always", "company_id": company.id, "flexible_hours": True}
        )
        group = env.ref("sales_team.group_sale_salesman")
        users = env["res.users"].create(
            [
                {
                    "name": f"Bench {index + 1:02d}",
                    "login": f"bench_{index + 1:02d}",
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                    "groups_id": [Command.set([group.id])],
                }
                for index in range(people)
            ]
        )
        env["crm.team"].create(
            {
                "name": "Bench desk",
                "company_id": company.id,
                "user_id": env.ref("base.user_admin").id,
                "member_ids": [Command.set(users.ids)],
            }
        )
        extensions = [str(FIRST_EXTENSION + index) for index in range(people)]
        env["crm.voip.extension"].create(
            [
                {"provider_id": provider.id, "user_id": user.id, "extension": extension}
                for user, extension in zip(users, extensions, strict=True)
            ]
        )
        # Logged in (else the board says "logged out": it changes nothing to the timing).
        now = fields.Datetime.now()
        env["bus.presence"].create(
            [{"user_id": user.id, "status": "online", "last_poll": now} for user in users]
        )
        return list(zip(users.ids, extensions, strict=True))


class Pbx:
    """Signed Zadarma webhooks of answered calls to one extension each."""

    def __init__(self, webhook_url):
        self.url = webhook_url
        self.account = ZadarmaAccount(
            webhook_url, popup.API_KEY, popup.API_SECRET, popup.PBX_TIMEZONE
        )
        self.count = 0

    def new_call(self, extension):
        self.count += 1
        events = scenario_events(
            "zadarma",
            "answered",
            timezone=popup.PBX_TIMEZONE,
            caller=f"7916{self.count:07d}",  # a number of its own: Zadarma's keys are its fields
            did=DID,
            extensions=[extension],
            answered_by=extension,
            ring_seconds=3,
        )
        kinds = [event["event"] for event in events]
        assert kinds == ["NOTIFY_START", *STATE_AFTER], kinds
        return [(event["event"], webhook_request(self.account, event)) for event in events]

    def post(self, signed):
        body, headers = signed
        status, data, _headers, error, _elapsed = http_request(
            "POST", self.url, body, headers, timeout=30
        )
        if status != 200:
            raise RuntimeError(f"webhook answered {status or error}: {data[:200]!r}")


def timed_post(page, pbx, user_id, kind, signed, timeout_ms):
    """Post one webhook; ms from t0 until the row shows the state (None if it never did)."""
    waiting = page.send_evaluate(
        f"window.__boardBench.next({user_id}, {json.dumps(STATE_AFTER[kind])}, {timeout_ms})"
    )
    t0 = time.time() * 1000
    pbx.post(signed)
    answered = time.time() * 1000 - t0
    shown = page.evaluate_result(waiting, timeout=timeout_ms / 1000 + 10)
    return answered, (shown - t0 if shown is not None else None)


def play(page, pbx, user_id, extension, args, timeout_ms, hang_up=True):
    """One call to ``extension``: ``[(kind, webhook answer ms, board ms or None)]``."""
    events = pbx.new_call(extension)
    (_start, start), timed = events[0], events[1:]
    pbx.post(start)
    time.sleep(args.pause)
    samples = []
    for kind, signed in timed if hang_up else timed[:-1]:
        answered, shown = timed_post(page, pbx, user_id, kind, signed, timeout_ms)
        samples.append((kind, answered, shown))
        time.sleep(args.pause)
    return samples


def open_board(page, base_url, database, people):
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
    page.call("Page.navigate", url=f"{base_url}{BOARD_URL}")
    page.wait_for(
        f"document.querySelectorAll('.o_crm_voip_board_member').length >= {people}",
        300,
        "the live board and its salespeople",
    )
    page.wait_for(
        "odoo.__WOWL_DEBUG__.root.env.services.bus_service.workerState === 'CONNECTED'",
        60,
        "the bus websocket",
    )
    page.evaluate(PAGE_PROBE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50, help="salespeople (default 50)")
    parser.add_argument("--live", type=int, default=20, help="calls in progress (default 20)")
    parser.add_argument("--calls", type=int, default=100, help="measured calls (default 100)")
    parser.add_argument("--workers", type=int, default=0, help="Odoo --workers (default 0)")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between webhooks")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before lost")
    args = parser.parse_args()
    if args.live >= args.people:
        fail("--live must leave salespeople free for the measured calls")
    wall_started = time.monotonic()
    load_before = os.getloadavg()[0]
    _common.prepare_odoo()
    chromium_binary = ensure_chromium()
    say(
        f"live board of {args.people} salespeople, {args.live} calls in progress;"
        f" {args.calls} measured calls (3 webhooks each)"
    )
    with _common.OdooBench("live_board") as bench:
        bench.cluster.start()
        install_log = bench.log_path("install")
        with phase("install crm_voip_routing with the demo data (a minute or two)"):
            bench.install("crm_voip_routing", install_log, demo=True)
        with phase(f"{args.people} salespeople with extensions, one team"):
            people = configure(bench, install_log, args.people)
        server, browser_url, webhook_url, mode = popup.start_odoo(
            bench, args.workers, bench.log_path("server")
        )
        say(f"-- Odoo server pid {server.pid}: {mode}")
        pbx = Pbx(webhook_url)
        timeout_ms = args.timeout * 1000
        with popup.headless_chromium(chromium_binary) as page:
            started = time.monotonic()
            open_board(page, browser_url, bench.database, args.people)
            say(f"-- board open, bus connected in {time.monotonic() - started:.0f} s")
            # The board's channel is subscribed a moment after the page (the bus debounces).
            first = play(page, pbx, *people[args.live], args, 30000)
            if any(shown is None for _kind, _answer, shown in first):
                fail("the warm-up call never showed on the board: the bus does not reach it")
            for user_id, extension in people[: args.live]:
                play(page, pbx, user_id, extension, args, timeout_ms, hang_up=False)
            talking = page.evaluate(
                "document.querySelectorAll('.o_crm_voip_board_member[data-state=talking]').length"
            )
            say(f"-- {talking} salespeople talking on the board")
            offset_before = popup.clock_offset(page)
            free = people[args.live :]
            samples = []
            for index in range(args.calls):
                samples += play(page, pbx, *free[index % len(free)], args, timeout_ms)
                if (index + 1) % 25 == 0:
                    recent = [s for _k, _a, s in samples[-75:] if s is not None] or [0.0]
                    median = statistics.median(recent)
                    say(f"   {index + 1:4d} calls; last 25: median {median:.1f} ms")
            offset_after = popup.clock_offset(page)

    shown = [s for s in samples if s[2] is not None]
    lost = len(samples) - len(shown)
    say("")
    say(f"server:  {mode}, --max-cron-threads 0")
    say(f"board:   {args.people} salespeople, {talking} talking through the run; viewer {LOGIN}")
    say(
        f"machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} at the start,"
        f" {os.getloadavg()[0]:.1f} at the end"
    )
    say(f"samples: {len(samples)} webhooks timed, shown {len(shown)}, lost {lost}")
    say(
        "clocks:  page minus Python wall clock "
        f"{offset_before[0]:+.2f} ms (±{offset_before[1]:.2f}) before, "
        f"{offset_after[0]:+.2f} ms (±{offset_after[1]:.2f}) after"
    )
    say("")
    header = f"{'ms after t0 (webhook posted)':<34} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    say(f"  {header} {'mean':>7}")
    popup.report_row("webhook answered (HTTP 200)", [a for _k, a, _s in samples])
    for kind, state in STATE_AFTER.items():
        popup.report_row(f"row -> {state} ({kind})", [s for k, _a, s in shown if k == kind])
    popup.report_row("row state in the DOM  <- RESULT", [s for _k, _a, s in shown])
    say("")
    say(f"wall time {time.monotonic() - wall_started:.0f} s")
    p50, p95, *_rest = popup.summary([s for _k, _a, s in shown])
    say(f"RESULT p50_ms={p50:.1f} p95_ms={p95:.1f}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
