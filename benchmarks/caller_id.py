#!/usr/bin/env python3
"""Benchmark: who is calling? Caller identification among 1,000,000 contacts and 300,000 leads.

What is measured, per incoming number, in-process and timed with ``time.perf_counter``:

* OURS: ``providers.numbers.normalize(raw, "RU")`` followed by
  ``crm.voip.call._crm_voip_identify(e164, company)``, run as the telephony webhook user
  (``crm_voip.user_crm_voip_webhook``) in the PBX account's company, exactly as the webhook
  does it (record rules apply, ranking included).
* BASELINE: the best Odoo-native way, ``phone_mobile_search`` (module ``phone_validation``'s
  ``mail.thread.phone``) with a ``like`` on the last ten digits, on ``res.partner`` and on
  ``crm.lead``. ``res.partner`` only gets that field from Odoo's ``sms`` module, so the
  benchmark database installs ``sms`` next to ``crm_voip``; Odoo creates ``pg_trgm`` in the
  databases it creates, so its trigram indexes on the stripped numbers exist too.

Before each query the ORM caches are emptied, as for a new webhook request (which has loaded
the PBX account's company by then); each measured number is normalized for the first time
(the normalization cache is cleared before each pass). Both make ``--rounds`` passes over the
400 queries and take turns on each query, so that they meet the same load on the machine;
both are warmed up first on other numbers.

Why: a salesperson's phone rings a fraction of a second after the PBX posts the event;
identification is on that path for every call, and real CRMs hold numbers typed by hand in
every format while PBXs send yet other ones (``74951234567``, ``0074951234567``, ...).

The data: contacts (companies, their employees, individuals) and leads with phone only,
mobile only or both, typed in mixed human formats (``8 (495) 123-45-67``, ``+7 495 1234567``,
``8-916-...``, ``+7(916)...``, ``+44 20 ...``, ``020 ...`` for British contacts, ``+7 (727)
...`` for Kazakh ones). Every number is unique. The rows are written with SQL ``COPY`` and the
stored E.164 columns (``crm_voip_phone_e164``, ``crm_voip_mobile_e164``) are computed in
Python with ``providers.numbers.normalize`` and the record's country, which is what the
ORM compute does; a sample is then recomputed through the ORM and compared. The queries are
400 raw numbers in other formats than stored, half of them existing.

Recall: the share of the existing numbers for which the expected contact (or lead) is
returned; any record returned for a non-existing number is a false match.

Run ``python3 benchmarks/caller_id.py`` (``--help`` for smaller data sets); the last line is
``RESULT p50_ms= p95_ms= recall= false_matches= baseline_p50_ms= baseline_p95_ms=
baseline_recall= baseline_false_matches= speedup=`` (speedup: baseline p95 / ours p95).
"""

import argparse
import datetime
import io
import multiprocessing
import os
import random
import re
import statistics
import time

import _common
from _common import Timings, percentile, phase, say

SEED = 20240518
CHUNK = 50_000
QUERY_REGION = "RU"
LANDLINE_AREAS = ("495", "499", "812", "343")
MOBILE_AREAS = ("916", "903", "926", "985")
NUMBER_COLUMNS = ("phone", "mobile", "crm_voip_phone_e164", "crm_voip_mobile_e164")
PARTNER_COLUMNS = (
    *_common.CONTACT_COLUMNS, "company_id", "country_id", "user_id", "lang", *NUMBER_COLUMNS,
    *_common.AUDIT_COLUMNS,
)  # fmt: skip
LEAD_COLUMNS = (
    "id", "name", "contact_name", "type", "active", "company_id", "team_id", "stage_id",
    "user_id", "partner_id", "country_id", "probability", "priority", *NUMBER_COLUMNS,
    *_common.AUDIT_COLUMNS, "date_open", "date_last_stage_update",
)  # fmt: skip

# Filled in by main() before the worker processes fork.
CONTEXT = {}


# ---------------------------------------------------------------------------
# Deterministic data: every attribute of record i is a pure function of i
# ---------------------------------------------------------------------------


def mix(value, salt):
    """A cheap 32-bit hash, so that workers and the query builder agree without sharing."""
    x = (value * 2654435761 + salt * 40503 + 0x9E3779B9) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 2246822519) & 0xFFFFFFFF
    x ^= x >> 13
    return x


def landline_number(k):
    """``(country, e164, stored formats)`` of the k-th fixed-line number; unique per k."""
    sub7 = f"{2_000_000 + (k * 7919 + 4321) % 8_000_000:07d}"
    slot = k % 40
    if slot == 0:  # London
        rest = "7" + sub7
        e164 = "+4420" + rest
        return "GB", e164, (f"+44 20 {rest[:4]} {rest[4:]}", f"020 {rest[:4]} {rest[4:]}")
    if slot == 1:  # Almaty (Kazakhstan shares +7 with Russia)
        sub = f"{2_000_000 + (k * 7919 + 4321) % 2_000_000:07d}"
        e164 = "+7727" + sub
        return (
            "KZ",
            e164,
            (
                f"+7 (727) {sub[:3]}-{sub[3:5]}-{sub[5:]}",
                f"8 727 {sub[:3]} {sub[3:5]} {sub[5:]}",
            ),
        )
    return "RU", *_russian(LANDLINE_AREAS[slot % 4], sub7)


def mobile_number(k):
    """``(country, e164, stored formats)`` of the k-th mobile number; unique per k."""
    if k % 40 == 0:  # British mobile
        sub = f"{10_000_000 + (k * 7919 + 4321) % 90_000_000:08d}"
        e164 = "+4479" + sub
        return "GB", e164, (f"+44 79{sub[:2]} {sub[2:]}", f"0044 79{sub[:2]} {sub[2:]}")
    sub7 = f"{2_000_000 + (k * 7919 + 4321) % 8_000_000:07d}"
    return "RU", *_russian(MOBILE_AREAS[k % 4], sub7)


def _russian(area, sub):
    b, c, d = sub[:3], sub[3:5], sub[5:]
    return "+7" + area + sub, (
        f"8 ({area}) {b}-{c}-{d}",
        f"+7 {area} {sub}",
        f"8-{area}-{b}-{c}-{d}",
        f"+7({area}){b}-{c}-{d}",
        f"8{area}{sub}",
        f"+7 ({area}) {b} {c} {d}",
    )


def query_formats(e164):
    """How PBXs send a number: Zadarma digits, ``00`` prefix, national ``8 ...``, E.164."""
    if e164.startswith("+7"):
        n = e164[2:]
        return ["7" + n, "007" + n, f"8 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}", e164]
    digits = e164[1:]
    return [digits, "00" + digits, e164]


def number_slot(k, salt):
    """Which numbers record k has: 0 none (5%), 1 phone (40%), 2 mobile (30%), 3 both (25%)."""
    r = mix(k, salt) % 20
    return 0 if r == 0 else 1 if r <= 8 else 2 if r <= 14 else 3


def record_numbers(k):
    """The phone and mobile of the record whose number index is k, as stored.

    Returns ``(country, phone, phone_e164, mobile, mobile_e164)``; the record's country is its
    phone's (else its mobile's), and British fixed lines are typed nationally (``020 ...``).
    """
    slot = number_slot(k, 1)
    country = "RU"
    phone = phone_e164 = mobile = mobile_e164 = None
    if slot in (1, 3):
        country, phone_e164, formats = landline_number(k)
        phone = formats[mix(k, 2) % len(formats)]
    if slot in (2, 3):
        mobile_country, mobile_e164, formats = mobile_number(k)
        mobile = formats[mix(k, 3) % len(formats)]
        if slot == 2:
            country = mobile_country
    return country, phone, phone_e164, mobile, mobile_e164


def _stored_e164(country, phone, phone_e164, mobile, mobile_e164):
    """The E.164 columns as the ORM compute fills them, and how many differ from the truth."""
    normalize = CONTEXT["normalize"]
    stored_phone = normalize(phone, country) if phone else None
    stored_mobile = normalize(mobile, country) if mobile else None
    wrong = (bool(phone) and stored_phone != phone_e164) + (
        bool(mobile) and stored_mobile != mobile_e164
    )
    return stored_phone or None, stored_mobile or None, bool(phone) + bool(mobile), wrong


def partner_rows(bounds):
    """COPY text of the contacts [start, end), numbers written, numbers normalized wrongly.

    Blocks of ten: a company, three of its employees, six individuals.
    """
    start, end = bounds
    base, countries, now = CONTEXT["partner_base"], CONTEXT["countries"], CONTEXT["now"]
    out = io.StringIO()
    written = wrong = 0
    for i in range(start, end):
        block = i - i % 10
        country, phone, phone_e164, mobile, mobile_e164 = record_numbers(i)
        stored_phone, stored_mobile, count, bad = _stored_e164(
            country, phone, phone_e164, mobile, mobile_e164
        )
        written += count
        wrong += bad
        row = (
            *_common.contact_identity(i, base), 1 if mix(block, 4) % 10 == 0 else None,
            countries[country], 2 if mix(i, 5) % 10 < 3 else None, "en_US", phone, mobile,
            stored_phone, stored_mobile, 1, 1, now, now,
        )  # fmt: skip
        out.write(_common.copy_line(row))
    return out.getvalue(), written, wrong


def lead_rows(bounds):
    """COPY text of the leads [start, end), numbers written, numbers normalized wrongly.

    A third belong to a random contact; stages, owners and last activity vary, so that the
    ranking among a contact's leads has work to do.
    """
    start, end = bounds
    countries, now = CONTEXT["countries"], CONTEXT["now"]
    stages, won_stage = CONTEXT["stages"], CONTEXT["won_stage"]
    n_partners = CONTEXT["n_partners"]
    out = io.StringIO()
    written = wrong = 0
    for j in range(start, end):
        # Number index after the contacts': a lead never shares a number with a contact.
        country, phone, phone_e164, mobile, mobile_e164 = record_numbers(n_partners + j)
        stored_phone, stored_mobile, count, bad = _stored_e164(
            country, phone, phone_e164, mobile, mobile_e164
        )
        written += count
        wrong += bad
        partner = CONTEXT["partner_base"] + mix(j, 7) % n_partners if mix(j, 6) % 3 == 0 else None
        stage = stages[mix(j, 9) % len(stages)]
        probability = 100 if stage == won_stage else 10 * (1 + mix(j, 10) % 9)
        active_on = CONTEXT["days_ago"][mix(j, 11) % len(CONTEXT["days_ago"])]
        row = (
            CONTEXT["lead_base"] + j, f"Deal {j}", f"Contact {j}",
            "opportunity" if mix(j, 8) % 10 < 6 else "lead", True, 1, 1, stage,
            2 if mix(j, 12) % 2 else None, partner, countries[country], probability, "0",
            phone, mobile, stored_phone, stored_mobile, 1, 1, now, active_on, now, active_on,
        )  # fmt: skip
        out.write(_common.copy_line(row))
    return out.getvalue(), written, wrong


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------


def build_queries(n_partners, n_leads, n_queries, rng):
    """``n_queries`` raw numbers in a format other than stored; half exist.

    Each item is ``(raw, expected)`` where expected is ``("res.partner", id)``,
    ``("crm.lead", id)`` or ``None``.
    """
    existing, seen = [], set()
    while len(existing) < n_queries // 2:
        k = rng.randrange(n_partners + n_leads)
        if k in seen:
            continue
        country, phone, phone_e164, mobile, mobile_e164 = record_numbers(k)
        numbers = [(raw, e164) for raw, e164 in ((phone, phone_e164), (mobile, mobile_e164)) if raw]
        if not numbers:
            continue
        seen.add(k)
        stored, e164 = rng.choice(numbers)
        formats = [f for f in query_formats(e164) if f != stored]
        if k < n_partners:
            expected = ("res.partner", CONTEXT["partner_base"] + k)
        else:
            expected = ("crm.lead", CONTEXT["lead_base"] + k - n_partners)
        existing.append((rng.choice(formats), expected))
    missing = []
    first_free = n_partners + n_leads + 1000  # number indexes nobody was given
    for offset in range(n_queries - len(existing)):
        maker = landline_number if offset % 2 else mobile_number
        _country, e164, _formats = maker(first_free + offset)
        missing.append((rng.choice(query_formats(e164)), None))
    queries = existing + missing
    rng.shuffle(queries)
    return queries


def found(expected, partners, leads):
    model, record_id = expected
    return record_id in (partners if model == "res.partner" else leads).ids


# ---------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------


def load_context(odoo, database, args):
    """Ids the generators need, read before the worker processes fork."""
    with odoo.sql_db.db_connect(database).cursor() as cr:
        cr.execute("SELECT code, id FROM res_country WHERE code IN ('RU', 'GB', 'KZ')")
        countries = dict(cr.fetchall())
        cr.execute("SELECT id, is_won FROM crm_stage ORDER BY sequence, id")
        stages = cr.fetchall()
        cr.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM res_partner")
        partner_base = cr.fetchone()[0]
        cr.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM crm_lead")
        lead_base = cr.fetchone()[0]
        cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        now = cr.fetchone()[0].replace(microsecond=0)
    CONTEXT.update(
        countries=countries,
        stages=[stage_id for stage_id, _won in stages],
        won_stage=next(stage_id for stage_id, won in stages if won),
        partner_base=partner_base,
        lead_base=lead_base,
        n_partners=args.partners,
        now=now.isoformat(sep=" "),
        days_ago=[(now - datetime.timedelta(days=d)).isoformat(sep=" ") for d in range(0, 720, 7)],
    )


def generate(odoo, database, args):
    """Write contacts and leads with COPY; the indexes are dropped first and rebuilt after."""
    tables = (
        ("res_partner", PARTNER_COLUMNS, partner_rows, args.partners),
        ("crm_lead", LEAD_COLUMNS, lead_rows, args.leads),
    )
    with odoo.sql_db.db_connect(database).cursor() as cr:
        saved = _common.drop_indexes(cr, [table for table, *_rest in tables])
        cr.commit()
    odoo.sql_db.close_all()

    written = wrong = 0
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(os.cpu_count() or 2) as pool:
        with odoo.sql_db.db_connect(database).cursor() as cr:
            for table, columns, producer, count in tables:
                chunks = [(a, min(a + CHUNK, count)) for a in range(0, count, CHUNK)]
                for text, n_written, n_wrong in pool.imap(producer, chunks):
                    cr._obj.copy_expert(
                        f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text)
                    )
                    written += n_written
                    wrong += n_wrong
                cr.execute(f"SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM {table}))")
            cr.commit()
    say(
        f"   {args.partners:,} contacts and {args.leads:,} leads, {written:,} numbers, "
        f"written in {time.perf_counter() - started:.1f} s"
    )
    say(
        "   E.164 columns filled in Python by providers.numbers.normalize(number, record "
        "country) (what the ORM compute does), written by COPY in the same rows;"
    )
    say(f"   stored numbers whose normalization differs from the generated E.164: {wrong}")

    with odoo.sql_db.db_connect(database).cursor() as cr:
        _common.rebuild_indexes(cr, saved, ("res_partner", "crm_lead"))
        cr.execute(
            """SELECT indexname FROM pg_indexes
                WHERE indexname LIKE '%%crm_voip_%%e164%%' OR indexname LIKE '%%partial_gin_idx'
                ORDER BY 1"""
        )
        names = [name for (name,) in cr.fetchall()]
    say(f"   lookup indexes: {', '.join(names)}")
    odoo.sql_db.close_all()
    return written, wrong


def orm_check(env, args, rng):
    """Recompute the E.164 columns of a sample through the ORM and compare with the rows."""
    mismatched = checked = 0
    for model, count, base in (
        ("res.partner", args.partners, CONTEXT["partner_base"]),
        ("crm.lead", args.leads, CONTEXT["lead_base"]),
    ):
        records = env[model].browse(sorted({base + rng.randrange(count) for _ in range(1000)}))
        stored = {
            r["id"]: (r["crm_voip_phone_e164"], r["crm_voip_mobile_e164"])
            for r in records.read(["crm_voip_phone_e164", "crm_voip_mobile_e164"])
        }
        fields = [records._fields["crm_voip_phone_e164"], records._fields["crm_voip_mobile_e164"]]
        env.invalidate_all()
        with env.protecting(fields, records):
            records._compute_crm_voip_e164()
            for record in records:
                checked += 1
                computed = (record.crm_voip_phone_e164, record.crm_voip_mobile_e164)
                mismatched += computed != stored[record.id]
    env.cr.rollback()
    env.invalidate_all(flush=False)
    return checked, mismatched


def measure(contenders, queries, rounds, reset, clear_caches):
    """Latencies (ms) of each contender over ``rounds`` passes, and its first-pass results.

    The contenders take turns on each query, in alternating order, so that both meet the same
    load on the machine and neither always finds the pages the other has just read.
    """
    latencies = {name: [] for name in contenders}
    results = {name: [] for name in contenders}
    for round_index in range(rounds):
        clear_caches()
        for index, (raw, _expected) in enumerate(queries):
            for name in list(contenders)[:: 1 if index % 2 else -1]:
                reset()
                started = time.perf_counter()
                result = contenders[name](raw)
                latencies[name].append((time.perf_counter() - started) * 1000)
                if round_index == 0:
                    results[name].append(result)
    for name, values in latencies.items():
        say(
            f"   {name}: {len(values)} queries, p50 {statistics.median(values):.3f} ms, "
            f"p95 {percentile(values, 0.95):.3f} ms, max {max(values):.3f} ms"
        )
    return latencies, results


def score(queries, results):
    """(recall, false matches, ambiguous answers) of ``results`` against the expectations."""
    hits = false_matches = ambiguous = existing = 0
    for (_raw, expected), (partners, leads) in zip(queries, results, strict=True):
        if expected is None:
            false_matches += len(partners) + len(leads)
            continue
        existing += 1
        hits += found(expected, partners, leads)
        ambiguous += len(partners) + len(leads) > 1 + (expected[0] == "res.partner")
    return hits / existing, false_matches, ambiguous


def run_lookups(database, args, timings):
    from odoo import api

    from odoo.addons.crm_voip.providers import numbers

    rng = random.Random(SEED)
    with _common.superuser_env(database) as root:
        cr = root.cr
        with phase("ORM recompute check on a sample", timings):
            checked, mismatched = orm_check(root, args, rng)
            say(f"   {checked} records recomputed by the ORM, {mismatched} differ from the rows")
        webhook_user = root.ref("crm_voip.user_crm_voip_webhook")
        company = root.ref("base.main_company")
        env = api.Environment(
            cr,
            webhook_user.id,
            {"allowed_company_ids": [company.id], "tracking_disable": True, "lang": "en_US"},
        )
        company = env["res.company"].browse(company.id)
        Call, Partner, Lead = env["crm.voip.call"], env["res.partner"], env["crm.lead"]

        def ours(raw):
            return Call._crm_voip_identify(numbers.normalize(raw, QUERY_REGION), company)

        def baseline(raw):
            last10 = re.sub(r"\D", "", raw)[-10:]
            domain = [("phone_mobile_search", "like", last10)]
            return Partner.search(domain, limit=50), Lead.search(domain, limit=50)

        def new_request():
            # Caches emptied as for a new webhook request, which has loaded the PBX
            # account's company by the time it identifies the caller.
            env.invalidate_all()
            company.fetch(["parent_path"])

        def clear_normalize_cache():
            # Every measured number is normalized for the first time, as on a real call.
            numbers._normalize_cached.cache_clear()

        queries = build_queries(args.partners, args.leads, args.queries, rng)
        warmup = build_queries(args.partners, args.leads, 60, random.Random(SEED + 1))
        normalized = sum(
            numbers.normalize(raw, QUERY_REGION) is not None for raw, _expected in queries
        )
        say(
            f"   {len(queries)} queries ({sum(e is not None for _r, e in queries)} existing), "
            f"{normalized} normalizable; e.g. {', '.join(raw for raw, _e in queries[:6])}"
        )

        contenders = {"ours": ours, "baseline": baseline}
        with phase("warm-up on other numbers", timings):
            measure(contenders, warmup, 1, new_request, clear_normalize_cache)
        with phase(f"lookups, ours and baseline in turn, {args.rounds} passes", timings):
            say(f"   load average {os.getloadavg()[0]:.2f}")
            latencies, results = measure(
                contenders, queries, args.rounds, new_request, clear_normalize_cache
            )
        cr.rollback()
    return queries, latencies, results


def report(queries, latencies, results, timings):
    ours_ms, base_ms = latencies["ours"], latencies["baseline"]
    ours_results, base_results = results["ours"], results["baseline"]
    recall, false_matches, _ambiguous = score(queries, ours_results)
    base_recall, base_false, base_ambiguous = score(queries, base_results)
    p50, p95 = statistics.median(ours_ms), percentile(ours_ms, 0.95)
    b50, b95 = statistics.median(base_ms), percentile(base_ms, 0.95)
    speedup = b95 / p95
    say()
    say("== Caller identification ==")
    say(f"{'':24}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'recall':>9}{'false':>7}")
    for label, values, rec, false in (
        ("ours (normalize+ident.)", ours_ms, recall, false_matches),
        ("baseline (last 10 like)", base_ms, base_recall, base_false),
    ):
        say(
            f"{label:24}{statistics.median(values):10.3f}{percentile(values, 0.95):10.3f}"
            f"{percentile(values, 0.99):10.3f}{rec:9.3f}{false:7d}"
        )
    say(f"speedup (baseline p95 / ours p95): {speedup:.1f}x; p50 ratio {b50 / p50:.1f}x")
    say(f"baseline answers with more than the expected record(s): {base_ambiguous}")
    say(timings.summary())
    say(f"wall time: {timings.wall():.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    say(
        f"RESULT p50_ms={p50:.3f} p95_ms={p95:.3f} recall={recall:.3f} "
        f"false_matches={false_matches} baseline_p50_ms={b50:.3f} baseline_p95_ms={b95:.3f} "
        f"baseline_recall={base_recall:.3f} baseline_false_matches={base_false} "
        f"speedup={speedup:.1f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    args = parser.parse_args()
    timings = Timings()
    _common.prepare_odoo(timings)
    with _common.OdooBench("caller_id") as bench:
        log_path = bench.log_path()
        with phase("PostgreSQL cluster + install crm_voip, sms (no demo data)", timings):
            bench.cluster.start()
            bench.install("crm_voip,sms", log_path)
        odoo = bench.load_odoo(log_path)
        from odoo.addons.crm_voip.providers import numbers

        CONTEXT["normalize"] = numbers.normalize
        load_context(odoo, bench.database, args)
        with phase("data generation (COPY) and index rebuild", timings):
            generate(odoo, bench.database, args)
        results = run_lookups(bench.database, args, timings)
    report(*results, timings)


if __name__ == "__main__":
    main()
