#!/usr/bin/env python3
"""Benchmark: hostile webhooks for every PBX adapter; none may crash, answer 5xx or be stored.

What runs:

* in this process, no Odoo: for each adapter (Zadarma, generic, Mango, UIS, Telfin),
  hypothesis (fixed seed) generates requests of the adapter's protocol with hostile values
  in their fields (NUL, lone surrogates, NaN/Infinity/1e400, huge and non-ASCII digits,
  years 1 and 9999, deep nesting), signed as the PBX signs them, and each is followed by
  seeded byte-level mutants, half of them signed again (``benchmarks/_fuzz.py``). Every
  request goes through the adapter's ``verify`` and ``parse`` and the storage check
  (``providers.validation``): anything raised but ``WebhookError`` is a crash, and so is an
  accepted event PostgreSQL would refuse;
* a real Odoo server (``--workers 0``) with ``crm_voip`` on a throwaway PostgreSQL cluster
  (as ``make test``) and an account of each PBX: a fresh sample of generated and mutated
  requests is posted to its webhook URL. Counted: answers 5xx, and events stored that the
  adapter refused (every stored event must be one of a request answered 2xx);
* the flood: requests to unknown webhook tokens (with a 64 KiB body, from 8 threads, a new
  connection each), and over-limit bodies to a known token: requests per second, latency,
  and the server's peak memory before and after.

Run ``python3 benchmarks/fuzz_webhooks.py`` (``--help`` for the sizes); the last line is
``RESULT inputs=<n> crashes=<n> http_5xx=<n> stored_refused=<n>``.
"""

import argparse
import collections
import concurrent.futures
import http.client
import importlib
import sys
import time
import types

import _common
import _fuzz
from _common import ROOT, fail, memory_mib, percentile, phase, say

FLOOD_BODY = b"x" * 65536
FLOOD_THREADS = 8


def pure_providers():
    """``crm_voip/providers`` imported without Odoo (its addon's ``__init__`` imports Odoo)."""
    stand_in = types.ModuleType("pure_crm_voip")
    stand_in.__path__ = [str(ROOT / "crm_voip")]
    sys.modules.setdefault("pure_crm_voip", stand_in)
    return importlib.import_module("pure_crm_voip.providers")


def token(code):
    return f"fuzz-{code}"


def configure(database):
    """An account of each PBX on the company, its token ``fuzz-<code>``; committed."""
    with _common.superuser_env(database, tracking_disable=True) as env:
        company = env.ref("base.main_company")
        company.country_id = env.ref("base.ru")
        env["crm.voip.provider"].create(
            [
                {
                    "company_id": company.id,
                    "name": f"Fuzz {code}",
                    "code": code,
                    "timezone": _fuzz.TIMEZONE,
                    "secret_settings": _fuzz.SECRET_SETTINGS[code],
                    "webhook_token": token(code),
                    "unknown_caller_policy": "nothing",
                }
                for code in _fuzz.ADAPTERS
            ]
        )


def stored_event_keys(database):
    with _common.superuser_env(database) as env:
        env.cr.execute(
            "SELECT p.code, e.event_key FROM crm_voip_event e"
            " JOIN crm_voip_provider p ON p.id = e.provider_id"
        )
        return set(env.cr.fetchall())


def post(port, method, path, headers, body, timeout=30):
    """``(status, seconds)``; status ``None`` when the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        headers = {**headers, "Connection": "close"}
        if method == "POST":
            headers["Content-Length"] = str(len(body))
        connection.request(method, path, body=body if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException):
        return None, time.perf_counter() - started
    finally:
        connection.close()


def run_pure(runner, examples, mutants):
    inputs = crashes = 0
    for code in _fuzz.ADAPTERS:
        with phase(f"{code}: {examples} generated x {1 + mutants}"):
            tally, _kept = runner.run(code, examples, mutants)
        say(
            f"   {code}: inputs={tally.inputs} accepted={tally.accepted} "
            f"refused={tally.refused} crashes={tally.crashes} unstorable={tally.unstorable}"
        )
        for message, case in tally.examples:
            say(f"   ! {message} ({case.method} {case.path}: {case.body[:120]!r})")
        inputs += tally.inputs
        crashes += tally.crashes + tally.unstorable
    return inputs, crashes


def run_http(runner, port, sample):
    """Post ``sample`` requests (spread over the adapters); return the statuses and the
    event keys of the requests answered 2xx, as the adapter reads them here."""
    statuses = collections.Counter()
    accepted_keys = set()
    per_adapter = sample // len(_fuzz.ADAPTERS)
    for code in _fuzz.ADAPTERS:
        # Generated now, with times fresh for the replay checks; another seed.
        _tally, cases = runner.run(
            code, per_adapter // 10, mutants=9, keep=per_adapter, seed_value=_fuzz.SEED + 1
        )
        for case in cases:
            if code == "generic":
                case = runner.builders.resign(case)  # a fresh timestamp
            path = case.path.replace("fuzz-token", token(code))
            if case.query:
                path += "?" + _fuzz.urlencode(case.query, errors="surrogatepass")
            status, _seconds = post(port, case.method, path, case.headers, case.body)
            statuses[status] += 1
            if status is not None and 200 <= status < 300:
                call_events = runner.check(case, _fuzz.Tally()) or []
                accepted_keys |= {(code, event.event_key) for event in call_events}
    return statuses, accepted_keys


def flood(port, label, requests, path, body, headers=None):
    """Requests from ``FLOOD_THREADS`` threads; say and return the throughput."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(FLOOD_THREADS) as pool:
        results = list(
            pool.map(lambda i: post(port, "POST", path.format(i=i), headers, body), range(requests))
        )
    wall = time.perf_counter() - started
    statuses = collections.Counter(status for status, _seconds in results)
    latencies = [seconds * 1000 for _status, seconds in results]
    say(
        f"   {label}: {requests / wall:.0f} req/s, p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, statuses {dict(statuses)}"
    )
    return requests / wall, statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="generated per adapter")
    parser.add_argument("--mutants", type=int, default=19, help="mutants of each generated one")
    parser.add_argument("--http-sample", type=int, default=2000, help="posted to Odoo")
    parser.add_argument("--flood", type=int, default=3000, help="unknown-token requests")
    args = parser.parse_args()
    timings = _common.Timings()
    _common.prepare_odoo(timings)
    runner = _fuzz.Runner(pure_providers())
    with phase("verify/parse/check, every adapter", timings):
        inputs, crashes = run_pure(runner, args.examples, args.mutants)
    with _common.OdooBench("fuzz") as bench:
        install_log, server_log = bench.log_path("install"), bench.log_path()
        with phase("PostgreSQL cluster + install crm_voip", timings):
            bench.cluster.start()
            bench.install("crm_voip", install_log)
        bench.load_odoo(install_log)
        configure(bench.database)
        port = _common.free_port()
        with phase("Odoo server, --workers=0", timings):
            server = bench.start_server(
                port, "--workers", "0", "--max-cron-threads", "0", "--log-level", "warn",
                log_path=server_log, ready="/web/health",
            )  # fmt: skip
        with phase(f"{args.http_sample} requests through HTTP", timings):
            statuses, accepted_keys = run_http(runner, port, args.http_sample)
        say(f"   statuses: {dict(sorted(statuses.items(), key=str))}")
        http_5xx = sum(n for status, n in statuses.items() if status is None or status >= 500)
        stored_refused = len(stored_event_keys(bench.database) - accepted_keys)
        with phase("flood", timings):
            before = memory_mib(server.pid)["VmHWM"]
            flood(port, "unknown token, no body", args.flood, "/crm_voip/webhook/nope{i}", b"")
            flood(
                port, "unknown token, 64 KiB body", args.flood, "/crm_voip/webhook/nope{i}",
                FLOOD_BODY,
            )  # fmt: skip
            flood(port, "token with %00", args.flood // 3, "/crm_voip/webhook/a%00{i}", b"x")
            big = b"x" * (2 * 1024 * 1024)
            flood(
                port, "known token, 2 MiB body (over the limit)", args.flood // 10,
                f"/crm_voip/webhook/{token('zadarma')}", big,
            )  # fmt: skip
            after = memory_mib(server.pid)["VmHWM"]
            say(f"   server peak memory: {before:.0f} MiB before, {after:.0f} MiB after")
        bench.stop_server(server)
    timings.append(("total", timings.wall()))
    say(timings.summary())
    if crashes or http_5xx or stored_refused:
        say(f"   see {server_log}")
    say(
        f"RESULT inputs={inputs} crashes={crashes} http_5xx={http_5xx} "
        f"stored_refused={stored_refused}"
    )
    if crashes or http_5xx or stored_refused:
        fail("hostile webhooks crashed, answered 5xx or were stored")


if __name__ == "__main__":
    main()
