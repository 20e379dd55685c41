#!/usr/bin/env python3
"""Benchmark: fetch 1,000 call recordings of 1 MB from the PBX into Odoo's filestore.

What runs, all on loopback:

* the VATS simulator (in this process) plays a Zadarma/Novofon account whose REST API
  serves the recordings: ``/v1/pbx/record/request/`` (signed) hands out a temporary link,
  ``/v1/pbx/record/download/...`` serves the bytes;
* a real Odoo server (``python3 -m odoo``, a separate process, ``--workers 0`` with one cron
  thread) with ``crm_voip`` installed, on a throwaway PostgreSQL cluster (as ``make test``);
* a seeding step (another process) logs the calls and reports their recordings through
  ``crm.voip.call._crm_voip_on_recording`` exactly as a webhook does; that queues the
  recordings and triggers the download cron. Nothing else: the server's own cron thread
  wakes up on the trigger and downloads everything (link request, streaming download with
  checksum and size limit, file moved into the filestore, ``ir.attachment`` created).

Measured:

* throughput: megabytes stored per second, from the end of the seeding (the trigger) until
  every recording is ``done`` (wall clock, polled every 0.5 s);
* memory: the peak resident set size of the Odoo server process, ``VmHWM`` in
  ``/proc/<pid>/status`` (the kernel's high-water mark of RSS for that process: registry,
  HTTP server and cron thread included), read before the downloads and at the end.

Every stored file is then checked against the simulator's bytes (size and SHA-256).

Run ``python3 benchmarks/recordings.py`` (``--help`` for fewer or bigger recordings); the last
line is ``RESULT mb_per_s=<float> peak_mb=<float>``.
"""

import argparse
import hashlib
import json
import subprocess
import sys
import time

import _common
from _common import fail, phase, say
from suite_env import odoo_environment, python_executable

from vats_simulator import Simulator, ZadarmaAccount

API_KEY = "bench-key"
API_SECRET = "bench-secret"
MB = 1024 * 1024

# Runs in its own process: logs the calls and reports their recordings like a webhook.
SEED_SCRIPT = r"""
import json, sys
import odoo
from odoo import api, fields, SUPERUSER_ID
from odoo.tools import config

job = json.loads(sys.argv[1])
config.parse_config(job["odoo_args"])
registry = odoo.modules.registry.Registry(job["database"])
with registry.cursor() as cr:
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["ir.config_parameter"].set_param("crm_voip.recording_fetch_delay", "0")
    company = env.ref("base.main_company")
    provider = env["crm.voip.provider"].create({
        "name": "Benchmark PBX",
        "code": "zadarma",
        "company_id": company.id,
        "timezone": "UTC",
        "base_url": job["base_url"],
        "secret_settings": {"api_key": job["api_key"], "api_secret": job["api_secret"]},
        "unknown_caller_policy": "nothing",
    })
    env["crm.voip.call"].flush_model()
    now = fields.Datetime.now()
    for index, (call_id, recording_id) in enumerate(job["recordings"]):
        call = env["crm.voip.call"].create({
            "provider_id": provider.id,
            "company_id": company.id,
            "provider_call_id": call_id,
            "direction": "inbound",
            "state": "done",
            "partner_number": "7495%07d" % index,
            "partner_number_e164": "+7495%07d" % index,
            "date_start": now,
            "talk_seconds": 60,
        })
        call._crm_voip_on_recording(recording_id)
    cr.commit()
print(json.dumps({"provider_id": provider.id}))
"""


def states(bench):
    rows = bench.cluster.psql(
        "SELECT state, count(*) FROM crm_voip_recording GROUP BY state", database=bench.database
    )
    return {state: int(count) for state, count in (r.split("|") for r in rows.split() if r)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="recordings (default 1000)")
    parser.add_argument("--size-mb", type=float, default=1.0, help="size of each (default 1)")
    parser.add_argument(
        "--timeout", type=int, default=1800, help="seconds to wait for the downloads"
    )
    args = parser.parse_args()
    size = int(args.size_mb * MB)

    _common.prepare_odoo()
    say(f"{args.count} recordings of {size / MB:g} MB through the simulator")
    sim = Simulator(
        zadarma=ZadarmaAccount("http://127.0.0.1:9/unused", API_KEY, API_SECRET, "UTC"),
        recording_size=size,
        recording_format="mp3",
    ).start()
    with _common.OdooBench("recordings") as bench:
        try:
            bench.cluster.start()
            with phase("install crm_voip in a new database (about a minute)"):
                bench.install("crm_voip", bench.log_path("install"))

            server_log = bench.log_path("server")
            server = bench.start_server(
                _common.free_port(),
                "--workers",
                "0",
                "--max-cron-threads",
                "1",
                "--log-level",
                "info",
                log_path=server_log,
                ready="/web/health",
            )
            time.sleep(2)  # let the cron thread LISTEN before the trigger's NOTIFY
            before = _common.memory_mib(server.pid)
            say(
                f"-- Odoo server pid {server.pid} ready: RSS {before['VmRSS']:.0f} MB, "
                f"peak so far {before['VmHWM']:.0f} MB"
            )

            recordings = []
            for index in range(args.count):
                call_id = f"in_bench_{index:06d}"
                recording_id = f"1-{1700000000 + index}.{index:06d}-101-bench"
                sim.add_recording("zadarma", recording_id=recording_id, call_id=call_id)
                recordings.append((call_id, recording_id))
            say(f"-- logging {args.count} recorded calls (as the webhooks would) ...")
            started = time.monotonic()
            job = {
                "database": bench.database,
                "odoo_args": bench.odoo_args("--log-level", "warn"),
                "base_url": sim.base_url,
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "recordings": recordings,
            }
            subprocess.run(
                [python_executable(), "-c", SEED_SCRIPT, json.dumps(job)],
                env=odoo_environment(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            triggered = time.monotonic()
            say(f"   logged in {triggered - started:.1f} s; the cron was triggered")

            samples = []
            last_report = triggered
            while True:
                counts = states(bench)
                finished = counts.get("done", 0) + counts.get("failed", 0)
                now = time.monotonic()
                samples.append(_common.memory_mib(server.pid)["VmRSS"])
                if now - last_report >= 5:
                    say(f"   {now - triggered:5.1f} s: {counts}")
                    last_report = now
                if finished >= args.count:
                    break
                if now - triggered > args.timeout:
                    fail(f"timeout: {counts} after {args.timeout} s")
                if server.poll() is not None:
                    fail(f"the Odoo server stopped; see {server_log}")
                time.sleep(0.5)
            elapsed = time.monotonic() - triggered
            after = _common.memory_mib(server.pid)

            say("-- checking every stored file against the simulator's bytes ...")
            rows = bench.cluster.psql(
                "SELECT r.recording_ref, r.state, r.checksum, r.file_size, a.store_fname"
                " FROM crm_voip_recording r LEFT JOIN ir_attachment a ON a.id = r.attachment_id",
                database=bench.database,
            ).split()
            filestore = bench.data_dir / "filestore" / bench.database
            bad = 0
            stored_bytes = 0
            for row in rows:
                ref, state, checksum, file_size, store_fname = row.split("|")
                expected = sim.recording_bytes(ref)
                path = filestore / store_fname if store_fname else None
                ok = (
                    state == "done"
                    and checksum == hashlib.sha256(expected).hexdigest()
                    and int(file_size) == len(expected)
                    and path is not None
                    and path.is_file()
                    and path.stat().st_size == len(expected)
                )
                bad += not ok
                stored_bytes += int(file_size or 0) if ok else 0
            downloads = [r for r in sim.requests if r.path.startswith("/v1/pbx/record/download/")]
            counts = states(bench)
        finally:
            sim.stop()

    mb = stored_bytes / MB
    mb_per_s = mb / elapsed if elapsed else 0.0
    peak = after["VmHWM"]
    say("")
    say(f"recordings:          {args.count} x {size / MB:g} MB, states {counts}")
    say(f"verified:            {len(rows) - bad} files match size and SHA-256, {bad} bad")
    say(f"PBX downloads:       {len(downloads)} (plus {len(downloads)} link requests)")
    say(f"stored:              {mb:.1f} MB in {elapsed:.1f} s (trigger to last file)")
    say(f"throughput:          {mb_per_s:.1f} MB/s, {args.count / elapsed:.1f} recordings/s")
    say(
        f"Odoo server memory:  RSS {before['VmRSS']:.0f} MB before, "
        f"{max(samples):.0f} MB highest sampled during, {after['VmRSS']:.0f} MB after"
    )
    say(
        f"peak RSS (VmHWM):    {before['VmHWM']:.0f} MB before the downloads, "
        f"{peak:.0f} MB at the end (+{peak - before['VmHWM']:.0f} MB)"
    )
    say(f"RESULT mb_per_s={mb_per_s:.1f} peak_mb={peak:.1f}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
