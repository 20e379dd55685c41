#!/usr/bin/env python3
"""`make demo`: the suite with demo data and live simulated PBX traffic.

Starts a throwaway PostgreSQL cluster (or uses the PG* variables), creates a database
with the four modules and their demo data, serves Odoo on 127.0.0.1:8069 and starts the
VATS simulator, which plays a call every few seconds into the demo PBX accounts. Runs
until Ctrl-C, then stops everything it started.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request

import suite_env
from suite_env import ADDONS, ROOT, log

SIMULATOR_PORT = 8071
MANGO_SIMULATOR_PORT = 8072
MANGO_DEMO_DID = "74992150438"
# Matches crm_voip/demo/crm_voip_demo.xml: tokens, keys and extensions of the demo accounts.
DEMO_NUMBERS = [
    "84951234567",  # ООО «Ромашка», typed 8 (495) 123-45-67 on the card
    "79161234567",  # Иван Петров, mobile
    "78125551234",  # АО «СеверСтрой»
    "79217654321",  # АО «СеверСтрой», mobile
    "77273501122",  # Kazakhstan
    "442037691880",  # Thames Trading, London
    "4930901820",  # Spree Logistik, Berlin
    "89031234567",  # a lead from the website
    "79990001122",  # unknown callers
    "74957770011",
]
DEMO_DIDS = ["74951204567", "78123097788", "78005553535"]
DEMO_EXTENSIONS = ["100", "101", "102", "103"]


def wait_for_http(url, timeout, process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--interval", type=float, default=8.0, help="seconds between calls")
    parser.add_argument("--no-traffic", action="store_true", help="do not start the simulator")
    args = parser.parse_args()

    version = suite_env.check_odoo()
    log(f"Odoo {version} found in {suite_env.python_executable()}")
    suite_env.ensure_python_dependencies()
    env = suite_env.odoo_environment()
    database = "crm_voip_demo"
    processes = []

    def stop(*_args):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with suite_env.postgres() as cluster:
        try:
            # An existing demo database (on a server named by PG*) is reused as it is.
            exists = cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
            if not exists.strip():
                log(f"creating database {database} with demo data (about a minute)")
                subprocess.run(
                    suite_env.odoo_command(
                        cluster,
                        database,
                        "-i",
                        ",".join(ADDONS),
                        "--stop-after-init",
                        "--no-http",
                        "--log-level",
                        "warn",
                    ),
                    env=env,
                    check=True,
                )
            odoo = subprocess.Popen(
                suite_env.odoo_command(
                    cluster,
                    database,
                    "--http-interface",
                    "127.0.0.1",
                    "--http-port",
                    str(args.port),
                    "--log-level",
                    "warn",
                ),
                env=env,
            )
            processes.append(odoo)
            url = f"http://127.0.0.1:{args.port}"
            if not wait_for_http(f"{url}/web/login", 120, odoo):
                suite_env.fail("Odoo did not start; see the messages above.")
            if not args.no_traffic:
                processes.append(start_simulator(url, args.interval))
                # Mango Office's calls come from a second simulator, half as often.
                processes.append(start_mango_simulator(url, args.interval * 2))
            print(
                "\n"
                f"  Odoo with the crm_voip suite: {url}/odoo\n"
                "  Logins (password = login):\n"
                "    admin  / admin   administrator, sales and telephony manager, extension 100\n"
                "    (log in: the calls ring extensions 100-103, so popups appear as they come)\n"
                "    anna   / anna    salesperson (Анна Смирнова), extension 101\n"
                "    dmitry / dmitry  salesperson (Дмитрий Орлов), extension 102\n"
                f"  VATS simulator: http://127.0.0.1:{SIMULATOR_PORT} (Zadarma/Novofon and"
                " generic), a call every"
                f" {args.interval:g} s -> Telephony > Calls\n"
                f"  Mango Office simulator: http://127.0.0.1:{MANGO_SIMULATOR_PORT}, a call every"
                f" {args.interval * 2:g} s on line +7 499 215-04-38\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )
            while all(p.poll() is None for p in processes):
                time.sleep(1)
            log("a process stopped; shutting down")
        except KeyboardInterrupt:
            log("stopping")
        finally:
            for process in reversed(processes):
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        process.kill()
    return 0


def start_simulator(odoo_url, interval):
    """Zadarma's live calls (the generic account is there for "Simulate a call")."""
    accounts = [
        "--zadarma-webhook",
        f"{odoo_url}/crm_voip/webhook/demo-zadarma",
        "--zadarma-key",
        "demo-key",
        "--zadarma-secret",
        "demo-secret",
        "--generic-webhook",
        f"{odoo_url}/crm_voip/webhook/demo-generic",
        "--generic-secret",
        "demo-generic-secret",
        "--generic-api-key",
        "demo-generic-key",
    ]
    return live_simulator(SIMULATOR_PORT, accounts, "zadarma", interval, DEMO_DIDS, DEMO_EXTENSIONS)


def start_mango_simulator(odoo_url, interval):
    accounts = [
        "--mango-webhook",
        f"{odoo_url}/crm_voip/webhook/demo-mango",
        "--mango-key",
        "demo-mango-key",
        "--mango-salt",
        "demo-mango-salt",
    ]
    return live_simulator(
        MANGO_SIMULATOR_PORT, accounts, "mango", interval, [MANGO_DEMO_DID], DEMO_EXTENSIONS[:3]
    )


def live_simulator(port, accounts, live, interval, dids, extensions):
    """A simulator process playing live calls of the PBX ``live`` into the demo."""
    command = [
        suite_env.python_executable(),
        "-m",
        "vats_simulator",
        "--port",
        str(port),
        *accounts,
        "--live",
        live,
        "--interval",
        str(interval),
        # Seconds between the events of one call: long enough to see a popup ring.
        "--event-gap",
        "2",
        "--numbers",
        ",".join(DEMO_NUMBERS),
        "--dids",
        ",".join(dids),
        "--extensions",
        ",".join(extensions),
    ]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))


if __name__ == "__main__":
    sys.exit(main())
