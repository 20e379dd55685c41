#!/usr/bin/env python3
"""Benchmark: PBX webhooks posted concurrently into a multi-process Odoo; none lost or doubled.

What is measured: a realistic mix of whole calls (answered, answered with a recording, missed,
busy, transferred, ring group, outgoing) is posted over real HTTP to
``/crm_voip/webhook/<token>`` of an Odoo server started with ``--workers=2`` (prefork: two
HTTP worker processes, the gevent process, no cron), by ``--clients`` threads. One client
posts the events of one call in order, different calls go in parallel, and about 5% of the
posts are delivered twice, as PBXs do when they retry: half of those copies race the
original (sent while it is in flight, by another thread), half come back after the call's
last event. Requests are built and signed exactly as the PBXs do by ``vats_simulator``
(``scenarios.build_plan``, then each PBX module's ``webhook_payloads``, ``webhook_request``
and ``webhook_target``, as ``Simulator._post`` does); the simulator also serves the
providers' REST APIs, so nothing can reach a real PBX.

``--provider`` picks the PBX the calls go to: ``mix`` (the default: Zadarma and the generic
signed protocol, half each), or every call to one PBX of ``PBXS`` (``zadarma``, ``generic``,
``mango``, ``uis``, ``telfin``). A PBX whose webhooks are subscriptions made through its API
(Telfin) is subscribed first, through its adapter, as the account's *Subscribe to events*
does; its posts go to the subscribed URLs, some as GET queries (``webhook_deliveries``).
A post may make two events (Telfin's first ring starts the call and rings a phone) or none
(a leg that tells nothing new): each key the adapter gives is checked.
Mango Office announces every leg of a call: one step of a call is several posts, each to
the webhook URL plus its kind (``/events/call``, ``/events/summary``,
``/events/recording``), and some of them change nothing in Odoo (a leg's end or hold, a
recording starting): a Mango call of the mix is about 6.3 posts, 4.0 of which make an
event, against 3.9 posts (each an event) for Zadarma and generic.

Why: the PBX does not wait for Odoo. Busy lines send bursts of events for many calls at once,
events of one call can be retried while the first copy is still being processed, and every
lost or doubled event is a wrong call log (a missed call shown as answered, a call counted
twice in the reports).

Measured: the wall time from the first to the last request and the latency of each request
(warm-up calls, which load the registry in each worker, are posted first and not timed).
Checked in the database afterwards, each post's expected event key given by the provider
adapter's own ``parse()`` (posts it turns into no event are only checked for their answer):

* lost: unique events accepted (HTTP 200) but not stored in ``crm_voip_event``, plus every
  answer other than 200 to a valid post (all posts sent are valid);
* duplicated: events stored more than once (the unique constraint forbids it; counted
  anyway), calls logged more than once for one PBX call id (Mango: ``entry_id``), and calls
  whose final state differs from the scenario's.

Run ``python3 benchmarks/webhook_ingest.py [--provider mix|<code>]``
(``--help`` for the knobs); the last line is ``RESULT events_per_s= lost= duplicated=``
where events_per_s counts every delivery (duplicates, and Mango's posts that change nothing,
included: each one is a request Odoo must answer) per second of wall time.
"""

import argparse
import collections
import concurrent.futures
import dataclasses
import http.client
import itertools
import os
import pathlib
import queue
import random
import re
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import _common
from _common import Timings, percentile, phase, say

from vats_simulator import (
    GenericAccount,
    MangoAccount,
    Simulator,
    TelfinAccount,
    UisAccount,
    ZadarmaAccount,
    pbx,
)
from vats_simulator.scenarios import build_plan

SEED = 4242
PLAN_START = datetime.now(timezone.utc)
CALL_SECONDS = itertools.count()


@dataclass(frozen=True)
class BenchPbx:
    """A PBX of the benchmark: its Odoo account and the simulator's account."""

    name: str
    token: str
    did: str
    secret_settings: dict
    #: The simulator's account, given the Odoo account's webhook URL.
    sim_account: object
    unknown_caller_policy: str = "lead"
    #: How the PBX writes the caller's number: E.164 with "+", or digits.
    plus_caller: bool = False


# In report order (Zadarma before generic, as the report always showed them).
PBXS = {
    "zadarma": BenchPbx(
        "Zadarma (benchmark)",
        "bench-zadarma-token-0123456789abcdef",
        "74951204567",
        {"api_key": "bench-key", "api_secret": "bench-zadarma-secret"},
        lambda url: ZadarmaAccount(url, "bench-key", "bench-zadarma-secret", "Europe/Moscow"),
    ),
    "generic": BenchPbx(
        "Generic (benchmark)",
        "bench-generic-token-0123",
        "74951204568",
        {"api_key": "bench-generic-key", "webhook_secret": "bench-generic-secret"},
        lambda url: GenericAccount(url, "bench-generic-secret", "bench-generic-key"),
        unknown_caller_policy="contact",
        plus_caller=True,
    ),
    # Leads, as Zadarma: the heavier policy of the mix.
    "mango": BenchPbx(
        "Mango Office (benchmark)",
        "bench-mango-token-0123456789",
        "74951204569",
        {"api_key": "bench-mango-key", "api_salt": "bench-mango-salt"},
        lambda url: MangoAccount(url, "bench-mango-key", "bench-mango-salt"),
    ),
    "uis": BenchPbx(
        "UIS (benchmark)",
        "bench-uis-token-0123456789abcdef",
        "74951204570",
        {"access_key": "bench-uis-key", "notification_secret": "bench-uis-secret"},
        lambda url: UisAccount(url, "bench-uis-secret", access_key="bench-uis-key"),
    ),
    "telfin": BenchPbx(
        "Telfin (benchmark)",
        "bench-telfin-token-0123456789ab",
        "74951204571",
        {"client_id": "bench-telfin-app", "client_secret": "bench-telfin-secret"},
        # Subscribed by the benchmark through the adapter, as the account's button does.
        lambda url: TelfinAccount(
            url, "bench-telfin-app", "bench-telfin-secret", auto_subscribe=False
        ),
    ),
}
# --provider -> the PBXs the calls go to in turn (call i to the (i mod n)-th).
PROVIDER_CHOICES = {"mix": ("generic", "zadarma"), **{code: (code,) for code in PBXS}}
EXTENSIONS = ("101", "102", "103", "104", "105", "106")
# scenario name -> (simulator scenario, extra parameters, weight)
MIX = {
    "answered": ("answered", {}, 48),
    "answered+recording": ("answered", {"record": True}, 12),
    "missed": ("missed", {}, 15),
    "busy": ("busy", {}, 8),
    "transferred": ("transferred", {}, 6),
    "ring group": ("ring_group_answered_elsewhere", {}, 4),
    "outgoing": ("outgoing", {}, 5),
    "outgoing+recording": ("outgoing", {"record": True}, 2),
}
FINAL_STATE = {"answered": "done", "busy": "busy", "no_answer": "missed", "cancel": "missed"}


# ---------------------------------------------------------------------------
# The traffic
# ---------------------------------------------------------------------------


@dataclass
class Post:
    """One POST of a call (one event, or for Mango one leg's change), and every delivery
    of it."""

    call: "Call"
    payload: dict
    duplicate: str = ""  # "", "racing" or "late"
    method: str = "POST"
    url: str = ""
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    answers: list = field(default_factory=list)  # (status, seconds, error)
    # The keys of the events the adapter makes of it, none for none (set by ``verify``).
    event_keys: tuple | None = None

    @property
    def event_key(self):
        """Its events' keys in one text, "" when it makes none."""
        return "|".join(self.event_keys or ())


@dataclass
class Call:
    provider: str
    label: str
    call_id: str
    direction: str
    state: str
    user_extension: str  # whose call it ends as; "" for none
    partner_key: str  # the known client calling or called; "" for an unknown number
    logged_ids: set = field(default_factory=set)  # its ids in the call log (``verify``)
    posts: list = field(default_factory=list)


def plan_calls(count, rng, known_numbers, accounts, providers):
    """``count`` calls of the mix, a third from unknown numbers, to ``providers`` in turn;
    returns Call objects whose posts are what each PBX posts (``webhook_payloads``)."""
    labels = list(MIX)
    weights = [MIX[label][2] for label in labels]
    calls = []
    for index in range(count):
        provider = providers[index % len(providers)]
        label = rng.choices(labels, weights)[0]
        scenario, extra, _weight = MIX[label]
        known = rng.random() < 0.67
        number = rng.choice(known_numbers) if known else f"7999{index:07d}"
        extensions = rng.sample(EXTENSIONS, 3 if scenario == "ring_group_answered_elsewhere" else 2)
        if scenario not in ("transferred", "ring_group_answered_elsewhere"):
            extensions = extensions[:1]
        params = dict(extra, did=PBXS[provider].did, extensions=extensions)
        if scenario == "outgoing":
            params.update(number=number, extension=extensions[0])
        else:
            params["caller"] = "+" + number if PBXS[provider].plus_caller else number
        # Calls start in the last minutes, each in a second of its own: a PBX refuses
        # events of calls started too long ago (Zadarma: a start after 30 min), and two
        # calls from one number to one line in the same second would be one call to a
        # PBX that signs only those (Zadarma).
        params["call_start"] = PLAN_START - timedelta(seconds=next(CALL_SECONDS) % 1500)
        account = accounts[provider]
        plan = build_plan(provider, scenario, tzinfo=getattr(account, "tzinfo", None), **params)
        module = pbx.get(provider)
        record = plan.calls[0]
        call = Call(
            provider=provider,
            label=label,
            call_id=record.call_id,
            direction=record.direction,
            state=FINAL_STATE[record.disposition],
            user_extension=record.extension if record.disposition == "answered" else "",
            partner_key=number if known else "",
        )
        for payload in module.webhook_payloads(plan.events, module.resolve_play_options({})):
            roll = rng.random()
            duplicate = "racing" if roll < 0.025 else "late" if roll < 0.05 else ""
            call.posts.append(Post(call, payload, duplicate))
        calls.append(call)
    return calls


class Traffic:
    """Posts calls from ``clients`` threads; copies race from a separate pool."""

    def __init__(self, accounts, clients):
        self.accounts = accounts
        self.clients = clients
        self.racers = concurrent.futures.ThreadPoolExecutor(max_workers=8)
        self.lock = threading.Lock()

    def sign(self, post):
        """The requests carrying ``post``, as ``Simulator._post`` builds them: ``post``
        itself with its method, URL, body and headers, or as many copies as the PBX sends
        requests for it (a PBX posting to the URLs subscribed through its API sends one
        per subscription, none without)."""
        account = self.accounts[post.call.provider]
        module = pbx.get(account.provider)
        options = module.resolve_play_options({})
        requests = module.webhook_deliveries(account, post.payload, "valid", options)
        if not requests:
            return []
        targets = [post] + [dataclasses.replace(post, answers=[]) for _more in requests[1:]]
        for target, (method, url, body, headers) in zip(targets, requests, strict=True):
            target.method, target.url, target.body, target.headers = method, url, body, headers
        return targets

    def deliver(self, post):
        status, elapsed, error = send_once(post, timeout=120)
        with self.lock:
            post.answers.append((status, elapsed, error))

    def play_call(self, call):
        racing = []
        for post in call.posts:
            if post.duplicate == "racing":
                racing.append(self.racers.submit(self.deliver, post))
            self.deliver(post)
        for post in call.posts:
            if post.duplicate == "late":
                self.deliver(post)
        for future in racing:
            future.result()

    def run(self, calls):
        """Play ``calls``; returns the wall time in seconds.

        Every request is built and signed before the clock starts: the PBX does that
        on its own machine, and here the clients share the two cores with Odoo.
        """
        todo = queue.Queue()
        for call in calls:
            call.posts = [request for post in call.posts for request in self.sign(post)]
            todo.put(call)
        failures = []

        def client():
            while True:
                try:
                    call = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self.play_call(call)
                except Exception as error:  # noqa: BLE001 - reported, never hidden
                    failures.append(repr(error))

        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        if failures:
            say(f"   client errors: {len(failures)}, e.g. {failures[0]}")
        return wall

    def close(self):
        self.racers.shutdown(wait=True)


def send_once(post, timeout):
    """``post``'s request on a new connection, as a PBX does; returns ``(status, seconds,
    error)``. A GET carries its data in the URL's query, and no body.

    ``http.client`` rather than ``urllib`` (``transport.http_request``): the load
    generator shares the machine with the server it measures, so it keeps light.
    """
    parts = urllib.parse.urlsplit(post.url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    body = None if post.method == "GET" else post.body
    started = time.monotonic()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(post.method, target, body=body, headers=post.headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started, None
    except (OSError, http.client.HTTPException) as error:
        return None, time.monotonic() - started, f"{type(error).__name__}: {error}"
    finally:
        connection.close()


# ---------------------------------------------------------------------------
# Odoo: database, accounts, server
# ---------------------------------------------------------------------------


def configure(odoo, database, sim, providers, n_partners):
    """The accounts of ``providers``, salespeople with extensions, lines and known clients;
    committed.

    Returns ``(user id by extension, partner id by number)``.
    """
    from odoo.fields import Command

    with _common.superuser_env(database, tracking_disable=True) as env:
        russia = env.ref("base.ru")
        company = env.ref("base.main_company")
        company.country_id = russia
        salesman = env.ref("sales_team.group_sale_salesman")
        users = {}
        for extension in EXTENSIONS:
            users[extension] = (
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
            )
        env["crm.voip.provider"].create(
            [
                {
                    "company_id": company.id,
                    "country_id": russia.id,
                    "timezone": "Europe/Moscow",
                    "name": PBXS[code].name,
                    "code": code,
                    "secret_settings": PBXS[code].secret_settings,
                    "webhook_token": PBXS[code].token,
                    "base_url": sim.api_url(code),
                    "unknown_caller_policy": PBXS[code].unknown_caller_policy,
                    "line_ids": [Command.create({"name": code, "number": PBXS[code].did})],
                    "extension_ids": [
                        Command.create({"user_id": user.id, "extension": ext})
                        for ext, user in users.items()
                    ],
                }
                for code in sorted(set(providers), key=list(PBXS).index)
            ]
        )
        numbers = [f"7916{1_000_000 + 7919 * i % 9_000_000:07d}" for i in range(n_partners)]
        partners = env["res.partner"].create(
            [
                {"name": f"Client {i}", "mobile": f"+7 ({n[1:4]}) {n[4:7]}-{n[7:9]}-{n[9:]}"}
                for i, n in enumerate(numbers)
            ]
        )
        result = (
            {ext: user.id for ext, user in users.items()},
            dict(zip(numbers, partners.ids, strict=True)),
        )
    odoo.sql_db.close_all()
    return result


def subscribe(sim, providers, urls):
    """Subscribe the webhook URLs of PBXs whose events are subscriptions made through
    their API (the account's *Subscribe to events*): else they post nothing."""
    from odoo.addons.crm_voip import providers as adapters

    for code in sorted(set(providers)):
        adapter_class = adapters.get_adapter_class(code)
        if adapter_class.manages_subscriptions():
            adapter = adapter_class({**PBXS[code].secret_settings, "base_url": sim.api_url(code)})
            try:
                report = adapter.subscribe_events(urls[code])
            finally:
                adapter.close()
            say(f"   {code}: {report.created} subscriptions for {report.extensions} extensions")


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------


def event_keys(adapters, post):
    """The keys the provider adapter gives this delivery: what crm_voip_event must hold;
    none when the adapter makes no event of it (Mango: a leg's end or hold, a recording
    starting). Kept on ``post.event_keys`` for the report."""
    from odoo.addons.crm_voip.providers.events import WebhookRequest

    request = WebhookRequest(
        method=post.method,
        url=post.url,
        # Some adapters read the event's kind from the path below the webhook URL.
        path=urllib.parse.urlsplit(post.url).path,
        body=b"" if post.method == "GET" else post.body,
        headers=post.headers,
        content_type=post.headers.get("Content-Type", ""),
        received_at=datetime.now(timezone.utc),
    )
    events = adapters[post.call.provider].parse(request)
    post.event_keys = tuple(event.event_key for event in events)
    # The call's id as the adapter reads it (it may differ from the simulator's in case).
    post.call.logged_ids.update(event.provider_call_id for event in events)
    return post.event_keys


def verify(odoo, database, calls, users, partners):
    from odoo.addons.crm_voip import providers

    # Parsing needs no secrets; Zadarma reads its local times in the account's zone.
    adapters = {
        code: providers.get_adapter_class(code)(
            {"timezone": "Europe/Moscow"} if code == "zadarma" else {}
        )
        for code in {call.provider for call in calls}
    }
    with odoo.sql_db.db_connect(database).cursor() as cr:
        cr.execute("SELECT id, code FROM crm_voip_provider")
        provider_code = dict(cr.fetchall())
        cr.execute("SELECT provider_id, event_key, count(*) FROM crm_voip_event GROUP BY 1, 2")
        stored = collections.Counter()
        for provider_id, key, count in cr.fetchall():
            stored[(provider_code[provider_id], key)] += count
        cr.execute("SELECT state, count(*) FROM crm_voip_event GROUP BY 1")
        event_states = dict(cr.fetchall())
        cr.execute(
            "SELECT error, count(*) FROM crm_voip_event WHERE state = 'error'"
            " GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
        )
        event_errors = cr.fetchall()
        cr.execute(
            """SELECT provider_id, provider_call_id, count(*), min(state), min(direction),
                      min(user_id), min(partner_id), bool_or(lead_id IS NOT NULL)
                 FROM crm_voip_call GROUP BY 1, 2"""
        )
        logged = {(provider_code[row[0]], row[1]): row[2:] for row in cr.fetchall()}

    checks = collections.Counter()
    wrong_states = collections.Counter()
    for call in calls:
        for post in call.posts:
            statuses = [status for status, _elapsed, _error in post.answers]
            checks["non-200 answers"] += sum(status != 200 for status in statuses)
            for key in event_keys(adapters, post):
                if 200 in statuses and not stored[(call.provider, key)]:
                    checks["accepted, not stored"] += 1
        found = [
            logged[(call.provider, id_)]
            for id_ in call.logged_ids
            if (call.provider, id_) in logged
        ]
        if not found:
            checks["calls missing"] += 1
            continue
        count, state, direction, user_id, partner_id, has_lead = found[0]
        checks["calls logged twice"] += count > 1 or len(found) > 1
        if state != call.state or direction != call.direction:
            checks["wrong final state"] += 1
            wrong_states[(call.provider, call.label, call.state, state, direction)] += 1
        expected_user = users.get(call.user_extension)
        checks["wrong salesperson (info)"] += (user_id or None) != expected_user
        if call.partner_key:
            checks["known client not linked (info)"] += partner_id != partners[call.partner_key]
        elif call.direction == "inbound":
            checks["unknown caller without contact/lead (info)"] += not (partner_id or has_lead)
    checks["events stored twice"] = sum(count > 1 for count in stored.values())
    for (provider, label, expected, state, direction), count in wrong_states.items():
        say(f"   wrong final state x{count}: {provider} {label}: {state} {direction}")
        say(f"     (expected {expected})")
    eventless = sum(post.event_key == "" for call in calls for post in call.posts)
    if eventless:
        checks["posts making no event (info)"] = eventless
    return checks, event_states, event_errors


def server_log_summary(log_path):
    """Retried serialization failures and problems the server logged."""
    retries, problems = collections.Counter(), collections.Counter()
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if "tries left" in line or "maximum number of tries" in line:
                retries[line.split(" odoo.service.model: ")[-1].split(",")[0].strip()] += 1
                # The worker sleeps before retrying: time no other request can use it.
                slept = re.search(r"try again in ([0-9.]+) sec", line)
                retries["seconds slept by workers"] += float(slept[1]) if slept else 0
            match = re.match(r"^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) \S+ (\S+): (.*)$", line)
            if match:
                problems[f"{match[1]} {match[2]}: {match[3][:160]}"] += 1
    return retries, problems


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def listen_overflows():
    """Connections the kernel dropped because a listen queue was full (Linux), or None.

    Odoo's prefork server listens with a backlog of 8 per worker; beyond that, a
    connection's first packets are dropped and resent, and a worker may then time out
    reading the request (``ODOO_HTTP_SOCKET_TIMEOUT``, 2 s) and close it unanswered.
    """
    try:
        lines = pathlib.Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return None


def answers_of(calls, provider=None, makes_event=None):
    """The answers to the posts of ``calls``, of one ``provider`` only when given, of the
    posts that make an event (True) or none (False) when ``makes_event`` is given."""
    return [
        answer
        for call in calls
        if provider in (None, call.provider)
        for post in call.posts
        if makes_event is None or bool(post.event_key) == makes_event
        for answer in post.answers
    ]


def say_latency(label, answers):
    latencies = [elapsed * 1000 for _status, elapsed, _error in answers]
    say(
        f"latency per request{label}: "
        f"p50 {statistics.median(latencies):.1f} ms, "
        f"p95 {percentile(latencies, 0.95):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


def report_traffic(run):
    """Throughput, answers and latencies; returns the number of requests per second."""
    calls, warmup, wall = run["calls"], run["warmup"], run["wall"]
    answers = answers_of(calls)
    unique = sum(len(call.posts) for call in calls)
    by_label = collections.Counter(call.label for call in calls)
    say()
    say("== Webhook ingestion ==")
    say(
        f"{len(calls)} calls ({', '.join(f'{k} {v}' for k, v in sorted(by_label.items()))}), "
        f"{unique} unique events, {len(answers) - unique} duplicate deliveries, "
        f"{len(answers)} requests"
    )
    say(
        f"wall time {wall:.1f} s: {len(answers) / wall:.1f} requests/s, "
        f"{unique / wall:.1f} unique events/s"
    )
    making = sum(bool(post.event_key) for call in calls for post in call.posts)
    if making != unique:
        say(
            f"of the {unique} unique posts, {making} make an event ({making / wall:.1f}/s) "
            f"and {unique - making} none (a leg's end or hold, a recording starting); "
            f"{len(calls) / wall:.1f} calls/s"
        )
    for label, group in (("timed run", calls), ("warm-up", warmup)):
        statuses = collections.Counter(status or error for status, _s, error in answers_of(group))
        say(f"HTTP answers, {label}: {dict(statuses)}")
    for call in warmup + calls:
        for post in call.posts:
            for status, elapsed, error in post.answers:
                if status != 200:
                    kind = pbx.get(call.provider).event_name(post.payload)
                    answer = status or error
                    say(f"  not 200: {call.provider} {kind} -> {answer} after {elapsed:.1f} s")
    if run["overflows"] is not None:
        say(
            "connections dropped by full listen queues during the timed run (kernel counter, "
            f"whole machine): {run['overflows']}"
        )
    say_latency("", answers)
    providers = [code for code in PBXS if any(call.provider == code for call in calls)]
    for provider in providers if len(providers) > 1 else ():
        say_latency(f" ({provider})", answers_of(calls, provider))
    if making != unique:
        say_latency(" (posts making an event)", answers_of(calls, makes_event=True))
        say_latency(" (posts making none)", answers_of(calls, makes_event=False))
    return len(answers) / wall


def report(run, checks, event_states, event_errors, retries, problems, sim, timings):
    events_per_s = report_traffic(run)
    say(f"events in the database by state: {event_states}")
    for error, count in event_errors:
        say(f"  apply error x{count}: {(error or '')[:200]}")
    slept = retries.pop("seconds slept by workers", 0)
    say(
        f"serialization failures retried by Odoo: {dict(retries) or 0}; the workers slept "
        f"{slept:.1f} s before those retries"
    )
    for line, count in problems.most_common(8):
        say(f"  server log x{count}: {line}")
    say(f"REST calls the PBX simulator received during the run: {len(sim.requests)}")
    say(
        "checks (warm-up and timed calls): "
        + ", ".join(f"{name} {count}" for name, count in checks.items())
    )
    say(timings.summary())
    lost = checks["accepted, not stored"] + checks["non-200 answers"]
    duplicated = (
        checks["events stored twice"] + checks["calls logged twice"] + checks["wrong final state"]
    )
    say(f"RESULT events_per_s={events_per_s:.1f} lost={lost} duplicated={duplicated}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--provider",
        choices=list(PROVIDER_CHOICES),
        default="mix",
        help="the PBX every call goes to; mix: Zadarma and generic, half each (default)",
    )
    parser.add_argument(
        "--calls", type=int, default=1200, help="measured calls (~3.9 posts; Mango ~6.3)"
    )
    parser.add_argument("--clients", type=int, default=24, help="concurrent client threads")
    parser.add_argument("--partners", type=int, default=300, help="known clients")
    args = parser.parse_args()
    timings = Timings()
    _common.prepare_odoo(timings)
    with _common.OdooBench("webhook") as bench:
        database = bench.database
        install_log, server_log = bench.log_path("install"), bench.log_path()
        port = _common.free_port()
        urls = {
            code: f"http://127.0.0.1:{port}/crm_voip/webhook/{pbx_.token}"
            for code, pbx_ in PBXS.items()
        }
        providers = PROVIDER_CHOICES[args.provider]
        accounts = {code: PBXS[code].sim_account(urls[code]) for code in sorted(set(providers))}
        # The agents' extensions are the PBXs' own (those listing them, or subscribing).
        sim = Simulator(**accounts, auto_play_originate=False, extensions=list(EXTENSIONS))
        try:
            with phase("PostgreSQL cluster + install crm_voip (no demo data)", timings):
                bench.cluster.start()
                bench.install("crm_voip", install_log)
            odoo = bench.load_odoo(install_log)
            sim.start()
            with phase("PBX accounts, agents, clients", timings):
                users, partners = configure(odoo, database, sim, providers, args.partners)
                subscribe(sim, providers, urls)
            with phase("Odoo server, --workers=2", timings):
                server = bench.start_server(
                    port,
                    "--workers",
                    "2",
                    "--max-cron-threads",
                    "0",
                    "--db_maxconn",
                    "16",
                    "--limit-time-real",
                    "600",
                    "--limit-time-cpu",
                    "300",
                    "--log-level",
                    "warn",
                    # Odoo logs each retried serialization failure at INFO there.
                    "--log-handler",
                    "odoo.service.model:INFO",
                    log_path=server_log,
                    gevent_port=_common.free_port(),
                    ready="/web/health",
                )
            rng = random.Random(SEED)
            known = list(partners)
            traffic = Traffic(accounts, args.clients)
            with phase("warm-up (not timed)", timings):
                warmup = plan_calls(4 * args.clients, rng, known, accounts, providers)
                traffic.run(warmup)
            calls = plan_calls(args.calls, rng, known, accounts, providers)
            sim.clear()
            overflows = listen_overflows()
            with phase(
                f"{args.calls} calls ({args.provider}) from {args.clients} clients", timings
            ):
                wall = traffic.run(calls)
            if overflows is not None:
                overflows = listen_overflows() - overflows
            traffic.close()
            bench.stop_server(server)
            with phase("verification", timings):
                checks, event_states, event_errors = verify(
                    odoo, database, warmup + calls, users, partners
                )
                retries, problems = server_log_summary(server_log)
            say(f"   load average now {os.getloadavg()[0]:.2f}; server log: {server_log}")
        finally:
            sim.stop()
    timings.append(("total", timings.wall()))
    run = {"calls": calls, "warmup": warmup, "wall": wall, "overflows": overflows}
    report(run, checks, event_states, event_errors, retries, problems, sim, timings)


if __name__ == "__main__":
    main()
