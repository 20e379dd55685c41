#!/usr/bin/env python3
"""Benchmark: the dialer scheduler's tick on campaigns of 10,000 and 100,000 contacts.

What is measured: one tick of a progressive campaign with 20 free agents,
``crm.voip.dialer.campaign._dialer_claim()``: lock the free agents (``FOR UPDATE SKIP
LOCKED``), find the campaign's timezones by an index skip-scan and keep those inside the
calling window, pick and lock the next 20 due lines that are not on the phone blacklist
and not being dialled elsewhere (``FOR UPDATE SKIP LOCKED``), then log their 20 calls and
attempts through the ORM. The PBX request itself is not part of the tick (it is made after
the claim is committed). Each tick runs in a savepoint rolled back afterwards, so every
measurement starts from the same state.

The data (SQL ``generate_series``): contacts in 5 timezones (65% Moscow, 15% Yekaterinburg,
10% Novosibirsk, 5% Vladivostok, 5% New York, out of the window at the measured instant),
2% of numbers on the phone blacklist, 10% waiting for a retry in the future, 5% already
finished. The measured instant is a fixed Tuesday 07:30 UTC (10:30 in Moscow).

Run ``python3 benchmarks/dialer.py``; the last line is ``RESULT tick_ms_10k= tick_ms_100k=``
(medians).
"""

import argparse
import statistics
import time
from datetime import datetime

import _common
from _common import phase, say

AGENTS = 20
NOW = datetime(2030, 3, 5, 7, 30)
ZONES = (
    (65, "Europe/Moscow"),
    (15, "Asia/Yekaterinburg"),
    (10, "Asia/Novosibirsk"),
    (5, "Asia/Vladivostok"),
    (5, "America/New_York"),
)


def configure(env):
    from odoo.fields import Command

    company = env.company
    users = env["res.users"].create(
        [
            {
                "name": f"Agent {n:02d}",
                "login": f"bench_agent_{n:02d}",
                "company_id": company.id,
                "company_ids": [Command.set(company.ids)],
                "groups_id": [Command.link(env.ref("crm_voip.crm_voip_group_user").id)],
            }
            for n in range(AGENTS)
        ]
    )
    provider = env["crm.voip.provider"].create(
        {
            "name": "Bench PBX",
            "code": "generic",
            "company_id": company.id,
            "country_id": env.ref("base.ru").id,
            "extension_ids": [
                Command.create({"user_id": user.id, "extension": str(200 + n)})
                for n, user in enumerate(users)
            ],
        }
    )
    return users, provider


def make_campaign(env, users, provider, size, offset):
    from odoo.fields import Command

    campaign = env["crm.voip.dialer.campaign"].create(
        {
            "name": f"Bench {size}",
            "provider_id": provider.id,
            "mode": "progressive",
            "state": "running",
            "window_start": 9.0,
            "window_end": 20.0,
            "agent_user_ids": [Command.set(users.ids)],
        }
    )
    env.flush_all()
    cases = " ".join(
        f"WHEN n %% 100 < {sum(w for w, _z in ZONES[: i + 1])} THEN '{zone}'"
        for i, (_w, zone) in enumerate(ZONES)
    )
    env.cr.execute(
        f"""
        INSERT INTO crm_voip_dialer_line (campaign_id, company_id, name, phone, phone_e164, tz,
               priority, state, next_call_at, attempt_count, create_date, write_date)
        SELECT %(campaign)s, %(company)s, 'Contact ' || n, '+7916' || lpad(n::text, 7, '0'),
               '+7916' || lpad(n::text, 7, '0'),
               CASE {cases} END,
               (n %% 3),
               CASE WHEN n %% 20 = 7 THEN 'done' ELSE 'pending' END,
               CASE WHEN n %% 10 = 3 THEN timestamp '2030-03-06' ELSE timestamp '2030-03-01' END,
               0, now(), now()
          FROM generate_series(%(start)s, %(end)s) n
        """,  # noqa: S608 - constant CASE built from the module's own table
        {"campaign": campaign.id, "company": env.company.id, "start": offset,
         "end": offset + size - 1},
    )  # fmt: skip
    env.cr.execute(
        """
        INSERT INTO phone_blacklist (number, active, create_date, write_date)
        SELECT '+7916' || lpad(n::text, 7, '0'), true, now(), now()
          FROM generate_series(%s, %s) n WHERE n %% 50 = 11
        ON CONFLICT DO NOTHING
        """,
        (offset, offset + size - 1),
    )
    env.cr.execute("ANALYZE crm_voip_dialer_line")
    env.cr.execute("ANALYZE phone_blacklist")
    for user in users:
        env["crm.voip.dialer.agent"].create(
            {"campaign_id": campaign.id, "user_id": user.id, "state": "ready",
             "date_ready": NOW}
        )  # fmt: skip
    env.flush_all()
    env.cr.commit()
    return campaign


def measure(env, campaign, runs):
    times = []
    claimed = 0
    for _run in range(runs):
        env.invalidate_all()
        start = time.perf_counter()
        with env.cr.savepoint(flush=True) as savepoint:
            claims = campaign._dialer_claim(now=NOW)
            env.flush_all()
            claimed = len(claims)
            times.append((time.perf_counter() - start) * 1000)
            savepoint.rollback()
        env.invalidate_all()
    return times, claimed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    _common.prepare_odoo()
    results = {}
    with _common.OdooBench("dialer") as bench:
        log_path = bench.log_path()
        with phase("PostgreSQL cluster + install crm_voip_dialer (no demo data)"):
            bench.cluster.start()
            bench.install("crm_voip_dialer", log_path)
        bench.load_odoo(log_path)
        from odoo.tools import SQL

        with _common.superuser_env(bench.database, tracking_disable=True) as env:
            cr = env.cr
            users, provider = configure(env)
            cr.commit()
            offset = 0
            for size in sizes:
                started = time.perf_counter()
                campaign = make_campaign(env, users, provider, size, offset)
                offset += size
                elapsed = time.perf_counter() - started
                say(f"campaign of {size:,} contacts generated in {elapsed:.1f} s")
                measure(env, campaign, 3)  # warm-up
                times, claimed = measure(env, campaign, args.runs)
                median = statistics.median(times)
                results[size] = median
                p90 = sorted(times)[int(len(times) * 0.9) - 1]
                say(
                    f"  tick ({AGENTS} free agents, {claimed} lines claimed):"
                    f" median {median:.1f} ms, min {min(times):.1f}, p90 {p90:.1f},"
                    f" max {max(times):.1f} ({len(times)} runs)"
                )
                # The picking query alone, for the record.
                cr.execute(
                    SQL("EXPLAIN (ANALYZE, FORMAT TEXT) %s", campaign._dialer_pick_explain_sql(NOW))
                )
                plan = [row[0] for row in cr.fetchall()]
                say("  " + plan[-1].strip())
                cr.rollback()
    small, large = results.get(sizes[0]), results.get(sizes[-1])
    if small and large:
        say(f"ratio {sizes[-1]:,} / {sizes[0]:,}: {large / small:.2f}x (target <= 2x)")
    say(f"RESULT tick_ms_10k={small:.1f} tick_ms_100k={large:.1f}")


if __name__ == "__main__":
    main()
