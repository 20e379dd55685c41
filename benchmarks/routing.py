#!/usr/bin/env python3
"""Benchmark: who answers? Call routing with 1,000,000 contacts and 50 routing rules.

What is measured: the round trip of a signed Zadarma ``NOTIFY_START`` posted by the VATS
simulator over loopback HTTP to a real Odoo server (``python -m odoo``, threaded, one
database) until Odoo's reply (``{"redirect": ..., "return_timeout": ...}``) is read: the
webhook is verified, the event stored and applied (the call created and linked to its
contact or lead, a lead created for unknown numbers as the provider's policy says), the
routing decided and logged, and the decision formatted for the PBX. That is "webhook
received to reply sent", plus the HTTP client's own overhead (a new connection per call, as
a PBX does). Each call is then hung up with a ``NOTIFY_END`` (not timed), so that presence
("already on a call") and the round-robin see a live switchboard.

Also reported: the decision alone (``crm.voip.call.crm_voip_routing_ms``, measured inside
Odoo from the first routing query to the decision), the SQL queries per call-start request
(from Odoo's request log), and the same webhook with every rule archived (crm_voip's own
cost, no routing) as the baseline.

The data: 1,000,000 contacts (companies, their employees, individuals) with unique phone
numbers, 70% of companies and individuals owned by one of 10 salespeople, 100,000 open
opportunities (owned) of contacts without a salesperson, 1% of contacts tagged VIP, 2,000
blocked numbers; written with SQL ``COPY`` (the stored E.164 column filled as the ORM
compute does), indexes rebuilt, ``VACUUM ANALYZE``. Rules: 1 "blocked numbers" (reject), 45 rules
on other lines, tags, countries, area codes and time windows that these calls do not meet
(every call walks past them), a VIP rule, "known clients" (manager 20 s -> his mobile 15 s
-> team in turn -> voicemail), "unknown numbers" (team in turn -> voicemail), and a last
catch-all. The salespeople work around the clock (a 24/7 calendar), so the figures do not
depend on the hour the benchmark runs. Calls: 80% known contacts, 15% unknown numbers, 5%
blocked numbers.

Run ``python3 benchmarks/routing.py`` (``--help`` for smaller data sets); the last line is
``RESULT p50_ms= p95_ms=`` (client-measured call-start round trip), followed by the other
figures on the same line.
"""

import argparse
import io
import random
import re
import statistics
import time

import _common
from _common import Timings, percentile, phase, say

from vats_simulator import Simulator, ZadarmaAccount

SEED = 20240115
CHUNK = 100_000
AREAS = ("495", "499", "812", "343", "383")
SALESPEOPLE = 10
WEBHOOK_TOKEN = "bench-routing-token"
API_KEY = "bench-key"
API_SECRET = "bench-secret"
PARTNER_COLUMNS = (
    *_common.CONTACT_COLUMNS, "country_id", "user_id", "lang", "phone", "crm_voip_phone_e164",
    *_common.AUDIT_COLUMNS,
)  # fmt: skip
LEAD_COLUMNS = (
    "id", "name", "type", "active", "company_id", "team_id", "stage_id", "user_id",
    "partner_id", "probability", "priority", *_common.AUDIT_COLUMNS, "date_open",
    "date_last_stage_update",
)  # fmt: skip
WEBHOOK_LINE = re.compile(
    r'"POST /crm_voip/webhook/\S+ HTTP/1\.[01]" (\d+) - (\d+) ([\d.]+) ([\d.]+)'
)


def summary(values):
    return (
        f"p50 {statistics.median(values):7.2f}  p95 {percentile(values, 0.95):7.2f}  "
        f"p99 {percentile(values, 0.99):7.2f}  max {max(values):7.2f} ms  (n={len(values)})"
    )


# ---------------------------------------------------------------------------
# Deterministic numbers: contact i has exactly one phone, unique
# ---------------------------------------------------------------------------


def partner_e164(i):
    return f"+7{AREAS[i % 5]}{(i * 7919 + 1_234_567) % 10_000_000:07d}"


def formatted(e164):
    """How a person typed it on the card: ``+7 495 123-45-67``."""
    n = e164[2:]
    return f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}"


def unknown_e164(k):
    """Numbers no contact has (another mobile range)."""
    return f"+7985{(k * 7919 + 7_654_321) % 10_000_000:07d}"


def owner_of(i, salespeople):
    """Salesperson of contact i (companies and individuals), or None (30%)."""
    x = (i * 2654435761) & 0xFFFFFFFF
    return None if x % 10 < 3 else salespeople[x % len(salespeople)]


# ---------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------


def configure(database, args):
    """Users, team, PBX account, calendars and the 50 rules, through the ORM."""
    from odoo.fields import Command

    with _common.superuser_env(database, tracking_disable=True) as env:
        cr = env.cr
        company = env.ref("base.main_company")
        ru = env.ref("base.ru")
        company.country_id = ru
        always = env["resource.calendar"].create(
            {
                "name": "Around the clock",
                "tz": "Europe/Moscow",
                "company_id": company.id,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 0,
                            "hour_to": 24,
                            "day_period": "morning",
                        }
                    )
                    for day in range(7)
                ],
            }
        )
        office = env["resource.calendar"].create(
            {"name": "Office hours", "tz": "Europe/Moscow", "company_id": company.id}
        )
        group = env.ref("sales_team.group_sale_salesman")
        users = env["res.users"].create(
            [
                {
                    "name": f"Salesperson {n}",
                    "login": f"bench_sales_{n}",
                    "tz": "Europe/Moscow",
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                    "groups_id": [Command.link(group.id)],
                }
                for n in range(SALESPEOPLE)
            ]
        )
        leader = env["res.users"].create(
            {
                "name": "Head of sales",
                "login": "bench_leader",
                "tz": "Europe/Moscow",
                "groups_id": [Command.link(env.ref("sales_team.group_sale_manager").id)],
            }
        )
        for user in users | leader:
            user.crm_voip_calendar_id = always
        team = env["crm.team"].create(
            {
                "name": "Bench desk",
                "company_id": company.id,
                "user_id": leader.id,
                "member_ids": [Command.set(users.ids)],
            }
        )
        other_team = env["crm.team"].create({"name": "Regions", "company_id": company.id})
        provider = env["crm.voip.provider"].create(
            {
                "name": "Zadarma (benchmark)",
                "code": "zadarma",
                "company_id": company.id,
                "country_id": ru.id,
                "timezone": "Europe/Moscow",
                "secret_settings": {"api_key": API_KEY, "api_secret": API_SECRET},
                "unknown_caller_policy": "lead",
                "line_ids": [
                    Command.create(
                        {"name": f"Line {n}", "number": f"7495120{n:04d}", "team_id": team.id}
                    )
                    for n in range(10)
                ],
                "extension_ids": [Command.create({"user_id": leader.id, "extension": "200"})]
                + [
                    Command.create(
                        {
                            "user_id": user.id,
                            "extension": str(201 + n),
                            "mobile": f"+7 916 555-{n:02d}-{n:02d}" if n % 2 == 0 else False,
                        }
                    )
                    for n, user in enumerate(users)
                ],
            }
        )
        provider.sudo().webhook_token = WEBHOOK_TOKEN
        lines = provider.line_ids
        vip = env["res.partner.category"].create({"name": "VIP"})
        wholesale = env["res.partner.category"].create({"name": "Wholesale"})
        countries = [env.ref(f"base.{code}") for code in ("kz", "uk", "de", "by", "us")]
        Route = env["crm.voip.route"]
        routes = [
            {
                "name": "Blocked numbers",
                "sequence": 1,
                "blacklist_mode": "only",
                "step_ids": [Command.create({"action": "reject"})],
            }
        ]
        other_user_step = [Command.create({"action": "users", "user_id": leader.id})]
        for n in range(45):
            kind = n % 5
            values = {"name": f"Filter {n}", "sequence": 10 + n, "step_ids": other_user_step}
            if kind == 0:  # calls to another line (no benchmark call dials lines 5-9)
                values["line_ids"] = [Command.set(lines[5 + n % 5].ids)]
            elif kind == 1:
                values["category_ids"] = [Command.set(wholesale.ids)]
            elif kind == 2:
                values["country_ids"] = [Command.set(countries[n // 5 % 5].ids)]
            elif kind == 3:
                values["number_prefixes"] = f"+7843{n:02d}, +7846{n:02d}"
            else:  # outside the around-the-clock hours: never
                values.update(time_mode="outside", calendar_id=always.id)
            routes.append(values)
        routes += [
            {
                "name": "VIP clients: the head of sales",
                "sequence": 60,
                "category_ids": [Command.set(vip.ids)],
                "step_ids": [
                    Command.create({"action": "users", "user_id": leader.id, "timeout": 15}),
                    Command.create({"action": "responsible", "timeout": 20}),
                ],
            },
            {
                "name": "Known clients: their own manager",
                "sequence": 70,
                "caller_type": "known",
                "team_id": team.id,
                "step_ids": [
                    Command.create({"sequence": 1, "action": "responsible", "timeout": 20}),
                    Command.create({"sequence": 2, "action": "responsible_mobile", "timeout": 15}),
                    Command.create({"sequence": 3, "action": "team", "timeout": 20}),
                    Command.create({"sequence": 4, "action": "voicemail", "pbx_target": "0-2"}),
                ],
            },
            {
                "name": "Unknown numbers: the team in turn",
                "sequence": 80,
                "caller_type": "unknown",
                "team_id": team.id,
                "step_ids": [
                    Command.create({"sequence": 1, "action": "team", "timeout": 20}),
                    Command.create({"sequence": 2, "action": "voicemail", "pbx_target": "0-2"}),
                ],
            },
            {
                "name": "Anything else (office hours, other team)",
                "sequence": 90,
                "team_id": other_team.id,
                "time_mode": "inside",
                "calendar_id": office.id,
                "step_ids": [Command.create({"action": "voicemail"})],
            },
        ]
        Route.create([{**values, "company_id": company.id} for values in routes])
        ids = {
            "company": company.id,
            "country": ru.id,
            "salespeople": users.ids,
            "team": team.id,
            "provider": provider.id,
            "lines": lines.ids,
            "vip": vip.id,
            "extensions": {user.id: str(201 + n) for n, user in enumerate(users)},
            "leader_extension": "200",
            "routes": Route.search([("company_id", "=", company.id)]).ids,
        }
        cr.execute("SELECT id FROM crm_stage ORDER BY sequence, id LIMIT 1")
        ids["stage"] = cr.fetchone()[0]
        cr.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM res_partner")
        ids["partner_base"] = cr.fetchone()[0]
        cr.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM crm_lead")
        ids["lead_base"] = cr.fetchone()[0]
        cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        ids["now"] = cr.fetchone()[0].replace(microsecond=0)
        cr.commit()
    say(
        f"   {SALESPEOPLE} salespeople in one team, {len(ids['routes'])} rules, "
        f"{len(ids['lines'])} lines"
    )
    return ids


def partner_rows(start, end, ids):
    """Blocks of ten: a company, three of its employees, six individuals."""
    base, now, country = ids["partner_base"], ids["now"], ids["country"]
    out = io.StringIO()
    for i in range(start, end):
        user = owner_of(i, ids["salespeople"]) if commercial_index(i) == i else None
        e164 = partner_e164(i)
        row = (
            *_common.contact_identity(i, base), country, user, "en_US", formatted(e164), e164,
            1, 1, now, now,
        )  # fmt: skip
        out.write(_common.copy_line(row))
    return out.getvalue()


def commercial_index(i):
    return i - i % 10 if 1 <= i % 10 <= 3 else i


def unowned_commercials(n_partners, ids, count):
    """Indexes of companies and individuals without a salesperson, for opportunities."""
    found = []
    i = 0
    while len(found) < count and i < n_partners:
        if (i % 10 == 0 or i % 10 > 3) and owner_of(i, ids["salespeople"]) is None:
            found.append(i)
        i += 1
    return found


def lead_rows(indexes, ids):
    now = ids["now"]
    out = io.StringIO()
    for j, i in enumerate(indexes):
        user = ids["salespeople"][j % len(ids["salespeople"])]
        row = (
            ids["lead_base"] + j, f"Deal {j}", "opportunity", True, ids["company"], ids["team"],
            ids["stage"], user, ids["partner_base"] + i, 10, "0", 1, 1, now, now, now, now,
        )  # fmt: skip
        out.write(_common.copy_line(row))
    return out.getvalue()


def generate(odoo, database, args, ids):
    """COPY the contacts and opportunities, tag VIPs, block numbers; rebuild indexes."""
    leads = unowned_commercials(args.partners, ids, args.opportunities)
    with odoo.sql_db.db_connect(database).cursor() as cr:
        saved = _common.drop_indexes(cr, ("res_partner", "crm_lead"))
        started = time.perf_counter()
        for start in range(0, args.partners, CHUNK):
            text = partner_rows(start, min(start + CHUNK, args.partners), ids)
            cr._obj.copy_expert(
                f"COPY res_partner ({', '.join(PARTNER_COLUMNS)}) FROM STDIN", io.StringIO(text)
            )
        cr._obj.copy_expert(
            f"COPY crm_lead ({', '.join(LEAD_COLUMNS)}) FROM STDIN",
            io.StringIO(lead_rows(leads, ids)),
        )
        cr.execute("SELECT setval('res_partner_id_seq', (SELECT MAX(id) FROM res_partner))")
        cr.execute("SELECT setval('crm_lead_id_seq', (SELECT MAX(id) FROM crm_lead))")
        vip_rows = "".join(
            f"{ids['vip']}\t{ids['partner_base'] + i}\n" for i in range(0, args.partners, 100)
        )
        cr._obj.copy_expert(
            "COPY res_partner_res_partner_category_rel (category_id, partner_id) FROM STDIN",
            io.StringIO(vip_rows),
        )
        blocked = [unknown_e164(1_000_000 + k) for k in range(args.blocked)]
        cr._obj.copy_expert(
            "COPY phone_blacklist (number, active, create_uid, write_uid, create_date, "
            "write_date) FROM STDIN",
            io.StringIO("".join(f"{n}\tt\t1\t1\t{ids['now']}\t{ids['now']}\n" for n in blocked)),
        )
        cr.commit()
        say(
            f"   {args.partners:,} contacts, {len(leads):,} opportunities, "
            f"{args.partners // 100:,} VIP tags, {args.blocked:,} blocked numbers "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        _common.rebuild_indexes(
            cr, saved, ("res_partner", "crm_lead", "res_partner_res_partner_category_rel")
        )
    odoo.sql_db.close_all()
    return leads, blocked


def orm_check(database, ids):
    """The stored E.164 column equals what the ORM computes, on a sample."""
    rng = random.Random(SEED)
    with _common.superuser_env(database) as env:
        partners = env["res.partner"].browse(
            sorted({ids["partner_base"] + rng.randrange(ids["n_partners"]) for _ in range(300)})
        )
        stored = {p.id: p.crm_voip_phone_e164 for p in partners}
        field = partners._fields["crm_voip_phone_e164"]
        env.invalidate_all()
        with env.protecting([field], partners):
            partners._compute_crm_voip_e164()
            mismatched = sum(p.crm_voip_phone_e164 != stored[p.id] for p in partners)
        env.cr.rollback()
    say(f"   {len(partners)} contacts recomputed by the ORM, {mismatched} differ from the rows")


def is_vip(i):
    return i % 100 == 0 or commercial_index(i) % 100 == 0


def build_calls(args, ids, blocked, seed=SEED + 1):
    """``(kind, caller digits, expected first target or None)`` for each call.

    Expected: the head of sales for VIPs, else the contact's (or his company's) own
    salesperson; not checked for contacts without one (opportunity owner or team in turn).
    """
    rng = random.Random(seed)
    extensions = ids["extensions"]
    calls = []
    for n in range(args.calls):
        roll = rng.random()
        if roll < 0.80:
            i = rng.randrange(args.partners)
            owner = owner_of(commercial_index(i), ids["salespeople"])
            expected = ids["leader_extension"] if is_vip(i) else extensions.get(owner)
            calls.append(("known", partner_e164(i)[1:], expected))
        elif roll < 0.95:
            calls.append(("unknown", unknown_e164(n)[1:], None))
        else:
            calls.append(("blocked", rng.choice(blocked)[1:], "blacklist"))
    return calls


def play(sim, calls, dids):
    """Post each call's start (timed) and its end; returns per-call results."""
    from vats_simulator.scenarios import build_plan

    results = []
    for index, (kind, caller, expected) in enumerate(calls):
        did = dids[index % len(dids)]
        plan = build_plan("zadarma", "answered", tzinfo="Europe/Moscow", caller=caller, did=did)
        start = plan.events[0]
        delivery = sim.send("zadarma", [start])[0]
        reply = delivery.json() or {}
        target = reply.get("redirect", "")
        end = dict(plan.events[-1])
        if target and target.isdigit():
            end["internal"] = target
        else:
            end.pop("internal", None)
            end.update(disposition="cancel", duration="0", status_code="16")
        sim.send("zadarma", [end])
        results.append(
            {
                "kind": kind,
                "status": delivery.status,
                "ms": delivery.elapsed * 1000,
                "target": target,
                "expected": expected,
                "call_id": start["pbx_call_id"],
            }
        )
    return results


def set_rules_active(database, ids, active):
    with _common.superuser_env(database) as env:
        env["crm.voip.route"].with_context(active_test=False).browse(ids["routes"]).write(
            {"active": active}
        )


def decision_times(odoo, database, call_ids):
    with odoo.sql_db.db_connect(database).cursor() as cr:
        cr.execute(
            "SELECT crm_voip_routing_ms, crm_voip_routing_action FROM crm_voip_call"
            " WHERE provider_call_id = ANY(%s) AND crm_voip_routing_ms IS NOT NULL",
            (list(call_ids),),
        )
        rows = cr.fetchall()
        cr.execute(
            "SELECT sum(jsonb_array_length(crm_voip_routing_trace)) FROM crm_voip_call"
            " WHERE provider_call_id = ANY(%s) AND jsonb_typeof(crm_voip_routing_trace) = 'array'",
            (list(call_ids),),
        )
        log_lines = cr.fetchone()[0]
    odoo.sql_db.close_all()
    return rows, log_lines


def request_queries(log_path, skip_lines):
    """Query counts and server times of the call-start requests in Odoo's request log."""
    starts = []
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        lines = [m for line in handle if (m := WEBHOOK_LINE.search(line))]
    for index, match in enumerate(lines[skip_lines:]):
        if index % 2 == 0:  # start, end, start, end...
            starts.append(
                (int(match.group(2)), (float(match.group(3)) + float(match.group(4))) * 1000)
            )
    return starts, len(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--blocked", type=int, default=2_000)
    parser.add_argument("--calls", type=int, default=1_000, help="timed calls with routing")
    parser.add_argument("--baseline-calls", type=int, default=300, help="timed calls, no rules")
    parser.add_argument("--warmup", type=int, default=60)
    args = parser.parse_args()
    timings = Timings()
    _common.prepare_odoo(timings)
    with _common.OdooBench("routing") as bench:
        database = bench.database
        install_log = bench.log_path("install")
        with phase("PostgreSQL cluster + install crm_voip, crm_voip_routing (no demo)", timings):
            bench.cluster.start()
            bench.install("crm_voip,crm_voip_routing", install_log)
        odoo = bench.load_odoo(install_log)
        with phase("configuration: salespeople, team, PBX account, 50 rules", timings):
            ids = configure(database, args)
            ids["n_partners"] = args.partners
        with phase("data generation (COPY) and index rebuild", timings):
            _leads, blocked = generate(odoo, database, args, ids)
            orm_check(database, ids)
        port = _common.free_port()
        server_log = bench.log_path("server")
        with phase("Odoo HTTP server", timings):
            bench.start_server(
                port,
                "--workers",
                "0",
                "--max-cron-threads",
                "0",
                "--log-level",
                "info",
                log_path=server_log,
            )
        url = f"http://127.0.0.1:{port}/crm_voip/webhook/{WEBHOOK_TOKEN}"
        sim = Simulator(zadarma=ZadarmaAccount(url, API_KEY, API_SECRET, "Europe/Moscow"))
        dids = [f"7495120{n:04d}" for n in range(5)]  # lines 0-4: no rule is about them
        calls = build_calls(args, ids, blocked)
        warmup = build_calls(
            argparse.Namespace(partners=args.partners, calls=args.warmup), ids, blocked, SEED + 2
        )
        with phase(f"warm-up: {args.warmup} calls", timings):
            play(sim, warmup, dids)
        _lines_before, skip = request_queries(server_log, 0)
        with phase(f"measured: {args.calls} calls with 50 rules", timings):
            results = play(sim, calls, dids)
        starts, skip = request_queries(server_log, skip)
        with phase(f"baseline: {args.baseline_calls} calls with every rule archived", timings):
            set_rules_active(database, ids, False)
            baseline_calls = build_calls(
                argparse.Namespace(partners=args.partners, calls=args.baseline_calls),
                ids,
                blocked,
                SEED + 3,
            )
            baseline = play(sim, baseline_calls, dids)
            set_rules_active(database, ids, True)
        decisions, log_lines = decision_times(odoo, database, [r["call_id"] for r in results])

    report(args, results, baseline, decisions, log_lines, starts, timings)


def report(args, results, baseline, decisions, log_lines, starts, timings):
    failed = [r for r in results if r["status"] != 200]
    all_ms = [r["ms"] for r in results]
    say()
    say(f"== Call-start round trip (NOTIFY_START -> reply), {len(results)} calls ==")
    say(f"{'all calls':22}{summary(all_ms)}")
    for kind in ("known", "unknown", "blocked"):
        values = [r["ms"] for r in results if r["kind"] == kind]
        if values:
            say(f"{kind + ' callers':22}{summary(values)}")
    base_ms = [r["ms"] for r in baseline]
    say(f"{'baseline, no rules':22}{summary(base_ms)}")
    decision_ms = [row[0] for row in decisions]
    if decision_ms:
        say(f"{'decision alone':22}{summary(decision_ms)}")
    if starts:
        queries = [q for q, _ms in starts]
        server_ms = [ms for _q, ms in starts]
        say(f"{'server side (log)':22}{summary(server_ms)}")
        say(
            f"SQL queries per call-start request: median {statistics.median(queries):.0f}, "
            f"max {max(queries)}"
        )
    actions = {}
    for _ms, action in decisions:
        actions[action] = actions.get(action, 0) + 1
    per_call = log_lines / len(results)
    say(f"decisions: {actions}; routing log lines: {log_lines} ({per_call:.1f} per call)")
    checked = [r for r in results if r["expected"]]
    correct = sum(r["target"] == r["expected"] for r in checked)
    say(
        f"known clients with a salesperson routed to his extension, and blocked numbers "
        f"rejected: {correct}/{len(checked)}"
    )
    say(f"non-200 answers: {len(failed)}")
    say(timings.summary())
    say(f"wall time: {timings.wall():.0f} s")
    p50, p95 = statistics.median(all_ms), percentile(all_ms, 0.95)
    extra = (
        f" p99_ms={percentile(all_ms, 0.99):.2f}"
        f" decision_p50_ms={statistics.median(decision_ms):.2f}"
        f" decision_p95_ms={percentile(decision_ms, 0.95):.2f}"
        f" baseline_p50_ms={statistics.median(base_ms):.2f}"
        f" baseline_p95_ms={percentile(base_ms, 0.95):.2f}"
        f" correct={correct}/{len(checked)} errors={len(failed)}"
        if decision_ms
        else ""
    )
    say(f"RESULT p50_ms={p50:.2f} p95_ms={p95:.2f}{extra}")


if __name__ == "__main__":
    main()
