#!/usr/bin/env python3
"""Benchmark: the call analysis over 5,000,000 calls, and its Excel export.

What runs, on a throwaway PostgreSQL cluster (as ``make test``):

* ``crm_voip`` is installed (``--without-demo all``) and its call log is filled with SQL
  (``generate_series``): 5,000,000 calls over two years for 40 salespeople in 5 teams,
  55 % incoming (70 % answered, 20 % not answered, 6 % busy, 4 % failed), 50,000 clients,
  100,000 opportunities of which a fifth are won; four dialled lines with a UTM source each;
* ``crm_voip_reports`` is then installed on that database, as on a live one: its install
  links the missed calls to their call-backs and sums the past days up (timed);
* in this process (the Odoo registry, as the admin user, a Telephony manager), the
  measurements:

  - ``pivot_s``: what the pivot "calls and answer rate by salesperson x month" asks the
    server: the four read_groups of a two-axis pivot (grand total, per salesperson, per
    month, per salesperson and month) with the measures calls, answered and answer rate,
    through the report model's ``read_group``;
  - ``naive_s``: the same table from the call log itself with a plain read_group
    (``crm.voip.call`` grouped by salesperson, month and state, which the answered counts
    and the rates need; the margins added up in Python): one scan, the cheapest naive way;
  - ``xlsx_s`` / ``xlsx_peak_mb``: the Excel export (summary, salespeople, calls and the
    two charts) of a filter matching 100,000 calls, written to a file; the peak is the
    larger of the growth of this process's resident memory (``VmHWM`` after resetting it
    through ``/proc/self/clear_refs``) and the peak of what Python allocated for the
    export (``tracemalloc``, in a second, untimed run).

Each timing is the median of 3 runs after a warm-up run. Run
``python3 benchmarks/reports.py`` (``--calls`` for fewer or more); the last line is
``RESULT pivot_s=<float> naive_s=<float> xlsx_s=<float> xlsx_peak_mb=<float>``.
"""

import argparse
import pathlib
import resource
import statistics
import tempfile
import time
import tracemalloc

import _common
from _common import phase, say

USERS = 40
TEAMS = 5
PARTNERS = 50_000
LEADS = 100_000
DAYS = 730
EXPORT_ROWS = 100_000
RUNS = 3


def timed(function, runs=RUNS):
    """(median seconds, result) over ``runs`` runs after a warm-up run."""
    result = function()
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), result


# ---------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------


def seed(database, calls):
    """Salespeople, teams, lines, clients and deals through the ORM or SQL, then the
    calls with one INSERT ... SELECT FROM generate_series."""
    from odoo.fields import Command
    from odoo.tools import SQL

    context = {"tracking_disable": True, "mail_create_nolog": True, "no_reset_password": True}
    with _common.superuser_env(database, **context) as env:
        cr = env.cr
        company = env.ref("base.main_company")
        company.country_id = env.ref("base.ru")
        salesman = env.ref("sales_team.group_sale_salesman")
        users = env["res.users"]
        teams = env["crm.team"]
        per_team = USERS // TEAMS
        for team_index in range(TEAMS):
            members = env["res.users"].create(
                [
                    {
                        "name": f"Seller {team_index * per_team + i:02d}",
                        "login": f"bench_seller_{team_index * per_team + i:02d}",
                        "groups_id": [Command.set(salesman.ids)],
                        "company_id": company.id,
                        "company_ids": [Command.set(company.ids)],
                    }
                    for i in range(per_team)
                ]
            )
            users |= members
            teams |= env["crm.team"].create(
                {
                    "name": f"Desk {team_index + 1}",
                    "user_id": members[0].id,
                    "member_ids": [Command.set(members.ids)],
                    "company_id": company.id,
                }
            )
        sources = env["utm.source"].create([{"name": f"Ad channel {i + 1}"} for i in range(4)])
        provider = env["crm.voip.provider"].create(
            {
                "name": "Benchmark PBX",
                "code": "generic",
                "company_id": company.id,
                "timezone": "Europe/Moscow",
                "secret_settings": {"webhook_secret": "benchmark"},
                "unknown_caller_policy": "nothing",
                "line_ids": [
                    Command.create(
                        {
                            "name": f"Line {i + 1}",
                            "number": f"749500000{i + 1:02d}",
                            "source_id": sources[i].id,
                            "team_id": teams[i].id,
                        }
                    )
                    for i in range(4)
                ],
            }
        )
        env.flush_all()
        countries = env["res.country"].search([("code", "in", ["RU", "KZ", "BY", "GB", "DE"])])
        # Foreign keys hold by construction: skip their per-row triggers.
        cr.execute(SQL("SET session_replication_role = replica"))
        cr.execute(
            SQL(
                """
                INSERT INTO res_partner (id, commercial_partner_id, name, complete_name, active,
                                         type, is_company, country_id, create_date, write_date)
                SELECT nextval('res_partner_id_seq'), NULL, 'Client ' || g, 'Client ' || g,
                       TRUE, 'contact', TRUE, (%(countries)s::int[])[1 + mod(g, 5)],
                       now() at time zone 'UTC', now() at time zone 'UTC'
                  FROM generate_series(1, %(count)s) g
                RETURNING id
                """,
                countries=countries.ids,
                count=PARTNERS,
            )
        )
        partner_ids = sorted(row[0] for row in cr.fetchall())
        cr.execute(
            SQL(
                "UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)",
                partner_ids,
            )
        )
        first_partner = partner_ids[0]
        cr.execute(
            SQL(
                """
                INSERT INTO crm_lead (name, type, active, partner_id, user_id, team_id,
                                      company_id, stage_id, probability, date_closed,
                                      create_date, write_date)
                SELECT 'Deal ' || g, 'opportunity', TRUE, %(partner)s + mod(g, %(partners)s),
                       (%(users)s::int[])[1 + mod(g, %(user_count)s)],
                       (%(teams)s::int[])[1 + mod(g, %(user_count)s) / %(per_team)s],
                       %(company)s,
                       CASE WHEN mod(g, 5) = 0 THEN %(won)s ELSE %(new)s END,
                       CASE WHEN mod(g, 5) = 0 THEN 100 ELSE 10 END,
                       CASE WHEN mod(g, 5) = 0
                            THEN %(start)s::timestamp + mod(g, %(days)s) * interval '1 day'
                       END,
                       %(start)s::timestamp, %(start)s::timestamp
                  FROM generate_series(1, %(count)s) g
                RETURNING id
                """,
                partner=first_partner,
                partners=PARTNERS,
                users=users.ids,
                user_count=USERS,
                teams=teams.ids,
                per_team=per_team,
                company=company.id,
                won=env.ref("crm.stage_lead4").id,
                new=env.ref("crm.stage_lead1").id,
                start="2024-01-01",
                days=DAYS,
                count=LEADS,
            )
        )
        first_lead = min(row[0] for row in cr.fetchall())
        # The call log: indexes rebuilt once after the load rather than row by row.
        indexes = _common.drop_indexes(cr, ["crm_voip_call"])
        cr.execute(SQL("SET maintenance_work_mem = '512MB'"))
        cr.execute(SQL("SELECT setseed(0.42)"))
        lines = provider.line_ids
        cr.execute(
            SQL(
                """
                INSERT INTO crm_voip_call (
                    provider_id, company_id, provider_call_id, direction, state, disposition,
                    origin, user_id, team_id, line_id, source_id, partner_id, lead_id,
                    from_number, to_number, from_e164, to_e164, partner_number,
                    partner_number_e164, did_number, extension, date_start, date_answer,
                    date_end, ring_seconds, talk_seconds, lead_created, wrapup_done,
                    create_uid, write_uid, create_date, write_date)
                SELECT %(provider)s, %(company)s, 'bench-' || g, r.direction, r.state,
                       CASE r.state WHEN 'done' THEN 'answered' WHEN 'missed' THEN 'no_answer'
                            ELSE r.state END,
                       'pbx', r.user_id,
                       CASE WHEN r.user_id IS NOT NULL
                            THEN (%(teams)s::int[])[1 + (r.u - 1) / %(per_team)s] END,
                       CASE WHEN r.direction = 'inbound'
                            THEN (%(lines)s::int[])[1 + mod(g, 4)] END,
                       CASE WHEN r.direction = 'inbound'
                            THEN (%(sources)s::int[])[1 + mod(g, 4)] END,
                       CASE WHEN r.known THEN %(partner)s + r.client END,
                       CASE WHEN r.known AND mod(g, 3) = 0
                            THEN %(lead)s + mod(r.client * 2 + mod(g, 2), %(leads)s) END,
                       r.number, '74950000001', r.number, '+74950000001', r.number, r.number,
                       '74950000001',
                       CASE WHEN r.user_id IS NOT NULL THEN (100 + r.u)::text END,
                       r.start,
                       CASE WHEN r.state = 'done' THEN r.start + r.ring * interval '1 second' END,
                       r.start + (r.ring + CASE WHEN r.state = 'done' THEN r.talk ELSE 0 END)
                           * interval '1 second',
                       r.ring, CASE WHEN r.state = 'done' THEN r.talk ELSE 0 END,
                       FALSE, r.state = 'done', 1, 1, r.start, r.start
                  FROM generate_series(1::bigint, %(count)s) g
                 CROSS JOIN LATERAL (
                      SELECT d.*,
                             CASE WHEN d.state = 'done' OR d.direction <> 'inbound' OR d.x < 0.5
                                  THEN (%(users)s::int[])[d.u] END AS user_id,
                             CASE WHEN d.known THEN '+7916' || lpad(d.client::text, 7, '0')
                                  ELSE '+7903' || lpad(mod(g, 9000000)::text, 7, '0')
                             END AS number
                        FROM (SELECT
                                CASE WHEN random() < 0.55 THEN 'inbound'
                                     WHEN random() < 0.96 THEN 'outbound'
                                     ELSE 'internal' END AS direction,
                                CASE WHEN s.v < 0.70 THEN 'done' WHEN s.v < 0.90 THEN 'missed'
                                     WHEN s.v < 0.96 THEN 'busy' ELSE 'failed' END AS state,
                                1 + mod(g * 7919 + (random() * %(user_count)s)::int,
                                        %(user_count)s) AS u,
                                random() < 0.7 AS known,
                                mod(g * 104729, %(partners)s) AS client,
                                random() AS x,
                                (3 + random() * 40)::int AS ring,
                                (10 + random() * 600)::int AS talk,
                                %(start)s::timestamp
                                    + (g::float8 / %(count)s) * (%(days)s * interval '1 day')
                                    + random() * interval '10 hours' AS start
                              FROM (SELECT random() AS v) s) d
                 ) r
                """,
                provider=provider.id,
                company=company.id,
                teams=teams.ids,
                per_team=per_team,
                lines=lines.ids,
                sources=lines.source_id.ids,
                partner=first_partner,
                lead=first_lead,
                leads=LEADS,
                users=users.ids,
                user_count=USERS,
                partners=PARTNERS,
                start="2024-01-01 05:00",
                days=DAYS,
                count=calls,
            )
        )
        cr.execute(SQL("SET session_replication_role = DEFAULT"))
        _common.rebuild_indexes(cr, indexes, ("crm_voip_call", "res_partner", "crm_lead"), "512MB")


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def pivot_load(report):
    """The read_groups of the two-axis pivot (rows: salesperson, columns: month)."""
    measures = ["call_count", "answered_count", "answer_rate"]
    result = []
    for groupby in ([], ["user_id"], ["call_date:month"], ["user_id", "call_date:month"]):
        result.append(report.read_group([], measures, groupby, lazy=False))
    return result


def naive_load(calls):
    """The same table from the call log with a plain read_group, margins in Python."""
    rows = calls.read_group([], ["__count"], ["user_id", "date_start:month", "state"], lazy=False)
    cells = {}
    for row in rows:
        user = row["user_id"][0] if row["user_id"] else False
        for key in (
            (user, row["date_start:month"]),
            (user, None),
            (None, row["date_start:month"]),
            (None, None),
        ):
            total, answered = cells.get(key, (0, 0))
            cells[key] = (
                total + row["__count"],
                answered + (row["__count"] if row["state"] in ("done", "talking") else 0),
            )
    return {
        key: (total, answered, 100.0 * answered / total) for key, (total, answered) in cells.items()
    }


def reset_peak_memory():
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def measure(registry, database):
    from odoo import api
    from odoo.tools import SQL

    from odoo.addons.crm_voip_reports.tools.xlsx_export import CallReportWorkbook

    figures = {}
    with registry.cursor() as cr:
        admin = api.Environment(cr, 2, {})
        env = api.Environment(
            cr,
            2,
            {
                "lang": "en_US",
                "tz": "Europe/Moscow",
                "allowed_company_ids": admin.user.company_ids.ids,
            },
        )
        report = env["crm.voip.call.report"]
        calls = env["crm.voip.call"]
        say("-- the pivot 'calls and answer rate by salesperson x month' ...")
        figures["pivot_s"], pivot = timed(lambda: pivot_load(report))
        figures["naive_s"], naive = timed(lambda: naive_load(calls))
        total = pivot[0][0]
        assert total["call_count"] == naive[(None, None)][0], "the two agree on the calls"
        assert abs(total["answer_rate"] - naive[(None, None)][2]) < 1e-6, "and the rate"
        cells = len(pivot[3])
        per_call_s, _ = timed(
            lambda: report.with_context(crm_voip_report_per_call=True).read_group(
                [],
                ["call_count", "answered_count", "answer_rate"],
                ["user_id", "call_date:month"],
                lazy=False,
            ),
            runs=1,
        )
        figures.update(pivot_cells=cells, total=total, per_call_s=per_call_s)

        say(f"-- the Excel export of {EXPORT_ROWS:,} calls ...")
        cr.execute(SQL("SELECT min(id) FROM crm_voip_call"))
        first = cr.fetchone()[0]
        domain = [("call_id", ">=", first), ("call_id", "<", first + EXPORT_ROWS)]
        path = pathlib.Path(tempfile.mkdtemp(prefix="crm_voip_bench_xlsx_")) / "calls.xlsx"
        CallReportWorkbook(report, [("call_id", "<", first + 1000)]).write(str(path))  # warm-up
        rss_before = _common.memory_mib()["VmRSS"]
        exact_peak = reset_peak_memory()
        started = time.perf_counter()
        rows = CallReportWorkbook(report, domain).write(str(path))
        figures["xlsx_s"] = time.perf_counter() - started
        peak = _common.memory_mib()["VmHWM"]
        if not exact_peak:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # Again, counting every byte Python allocates for it (slower: not timed).
        tracemalloc.start()
        CallReportWorkbook(report, domain).write(str(path))
        __, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = max(peak - rss_before, 0.0)
        traced_mb = traced_peak / 1024 / 1024
        figures.update(
            xlsx_rows=rows,
            xlsx_size_mb=path.stat().st_size / 1024 / 1024,
            xlsx_peak_mb=max(rss_growth, traced_mb),
            rss_growth=rss_growth,
            traced_mb=traced_mb,
            rss_before=rss_before,
            rss_peak=peak,
            peak_exact=exact_peak,
        )
        path.unlink()
        cr.execute(SQL("SELECT count(*) FROM crm_voip_call_report_day"))
        figures["daily_rows"] = cr.fetchone()[0]
        cr.execute(SQL("SELECT count(*) FROM crm_voip_call_callback"))
        figures["callbacks"] = cr.fetchone()[0]
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5_000_000, help="calls (default 5M)")
    args = parser.parse_args()

    _common.prepare_odoo()
    say(f"{args.calls:,} calls")
    with _common.OdooBench("reports") as bench:
        log_path = bench.log_path()
        bench.cluster.start()
        with phase("install crm_voip in a new database"):
            bench.install("crm_voip", log_path)
        odoo = bench.load_odoo(log_path)
        with phase(f"write {args.calls:,} calls with generate_series, indexes, VACUUM ANALYZE"):
            seed(bench.database, args.calls)
        with phase(
            "install crm_voip_reports on it (call-backs linked, past days summed up)"
        ) as step:
            bench.install("crm_voip_reports", log_path)
        installed = step.seconds
        registry = odoo.modules.registry.Registry.new(bench.database)
        figures = measure(registry, bench.database)
        size = bench.cluster.psql(
            "SELECT pg_size_pretty(pg_total_relation_size('crm_voip_call'))",
            database=bench.database,
        ).strip()
        registry.delete(bench.database)

    total = figures["total"]
    say("")
    say(f"call log:            {args.calls:,} calls, {size} with its indexes")
    say(
        f"report install:      {installed:.0f} s ({figures['callbacks']:,} call-backs linked, "
        f"{figures['daily_rows']:,} daily rows)"
    )
    say(
        f"totals:              {total['call_count']:,} calls, {total['answered_count']:,} "
        f"answered, answer rate {total['answer_rate']:.2f} %"
    )
    say(
        f"pivot (report):      {figures['pivot_s']:.3f} s for its 4 read_groups "
        f"({figures['pivot_cells']} salesperson x month cells), median of {RUNS}"
    )
    say(f"naive (call log):    {figures['naive_s']:.3f} s for 1 read_group, median of {RUNS}")
    say(
        f"(report per call:   {figures['per_call_s']:.3f} s for the cells alone, without "
        "the daily totals)"
    )
    peak_kind = "VmHWM reset before" if figures["peak_exact"] else "ru_maxrss"
    say(
        f"xlsx export:         {figures['xlsx_rows']:,} calls in {figures['xlsx_s']:.2f} s, "
        f"{figures['xlsx_size_mb']:.1f} MB file"
    )
    say(
        f"xlsx memory:         peak {figures['traced_mb']:.1f} MB allocated (tracemalloc);"
        f" resident +{figures['rss_growth']:.1f} MB over {figures['rss_before']:.0f} MB "
        f"({peak_kind}: {figures['rss_peak']:.0f} MB)"
    )
    say(
        f"RESULT pivot_s={figures['pivot_s']:.3f} naive_s={figures['naive_s']:.3f} "
        f"xlsx_s={figures['xlsx_s']:.2f} xlsx_peak_mb={figures['xlsx_peak_mb']:.1f}"
    )


if __name__ == "__main__":
    main()
