#!/usr/bin/env python3
"""`make demo`: the suite with demo data and live simulated PBX traffic.

Starts a throwaway PostgreSQL cluster (or uses the PG* variables), creates a database
with the four modules and their demo data, serves Odoo on 127.0.0.1:8069 and starts the
VATS simulator, which plays a call every few seconds into the demo PBX accounts. Runs
until Ctrl-C, then stops everything it started.
"""

import argparse
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client

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


def wait_for_port(port, timeout):
    """Wait until something listens on 127.0.0.1:``port`` (a simulator started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--interval", type=float, default=8.0, help="seconds between calls")
    parser.add_argument("--no-traffic", action="store_true", help="do not start the simulator")
    parser.add_argument(
        "--pbx",
        default=os.environ.get("PBX") or DEFAULT_LIVE,
        help=f"the PBXs whose live calls are played: some of {', '.join(LIVE_PBXS)}"
        f" (comma-separated) or all; default {DEFAULT_LIVE}",
    )
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
                        # Анна and Дмитрий work in Russian: every module's translation.
                        "--load-language",
                        "ru_RU",
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
            live = [] if args.no_traffic else live_pbx_codes(args.pbx)
            for code in live:
                processes.append(start_live_pbx(code, url, args.interval))
            if live:
                for code in live:
                    wait_for_port(LIVE_PBXS[code].port, 20)
                subscribe_demo_accounts(url, database, live)
            simulators = "".join(
                f"  {LIVE_PBXS[code].label} simulator: http://127.0.0.1:{LIVE_PBXS[code].port},"
                f" a call every {args.interval * LIVE_PBXS[code].slower:g} s"
                f" on {', '.join(LIVE_PBXS[code].dids)}\n"
                for code in live
            )
            print(
                "\n"
                f"  Odoo with the crm_voip suite: {url}/odoo\n"
                "  Logins (password = login):\n"
                "    admin  / admin   administrator, sales and telephony manager, extension 100\n"
                "    (log in: the calls ring extensions 100-103, so popups appear as they come)\n"
                "    anna   / anna    salesperson (Анна Смирнова), extension 101\n"
                "    dmitry / dmitry  salesperson (Дмитрий Орлов), extension 102\n"
                "    (both work in the Russian interface)\n"
                f"{simulators}"
                "  Calls: Telephony > Calls. Ctrl-C stops everything.\n",
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


@dataclasses.dataclass(frozen=True)
class LivePbx:
    """A PBX whose live calls a simulator process plays into its demo account
    (crm_voip/demo/crm_voip_demo.xml: the account's token is ``demo-<code>``)."""

    label: str
    port: int
    #: The simulator's account options, given the demo account's webhook URL.
    account_options: object
    dids: tuple
    extensions: tuple = tuple(DEMO_EXTENSIONS)
    #: Calls come this many times less often than ``--interval``.
    slower: float = 1.0


LIVE_PBXS = {
    # The generic account rides along with Zadarma's simulator, for "Simulate a call".
    "zadarma": LivePbx(
        "Zadarma/Novofon and generic",
        SIMULATOR_PORT,
        lambda odoo_url: [
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
        ],
        tuple(DEMO_DIDS),
    ),
    "mango": LivePbx(
        "Mango Office",
        MANGO_SIMULATOR_PORT,
        lambda odoo_url: [
            "--mango-webhook",
            f"{odoo_url}/crm_voip/webhook/demo-mango",
            "--mango-key",
            "demo-mango-key",
            "--mango-salt",
            "demo-mango-salt",
        ],
        (MANGO_DEMO_DID,),
        tuple(DEMO_EXTENSIONS[:3]),
        slower=2.0,
    ),
    "uis": LivePbx(
        "UIS / CoMagic",
        8073,
        lambda odoo_url: [
            "--uis-webhook",
            f"{odoo_url}/crm_voip/webhook/demo-uis",
            "--uis-secret",
            "demo-uis-secret",
            "--uis-access-key",
            "demo-uis-key",
        ],
        ("74993720692",),
        tuple(DEMO_EXTENSIONS[:3]),
        slower=2.0,
    ),
    "telfin": LivePbx(
        "Telfin",
        8074,
        lambda odoo_url: [
            "--telfin-webhook",
            f"{odoo_url}/crm_voip/webhook/demo-telfin",
            "--telfin-client-id",
            "demo-telfin-app",
            "--telfin-client-secret",
            "demo-telfin-secret",
        ],
        ("78122001122",),
        tuple(DEMO_EXTENSIONS[:3]),
        slower=2.0,
    ),
}
DEFAULT_LIVE = "zadarma,mango"


def live_pbx_codes(choice):
    """The PBXs ``--pbx`` names (comma-separated codes, or ``all``)."""
    codes = list(LIVE_PBXS) if choice == "all" else [c.strip() for c in choice.split(",") if c]
    unknown = [code for code in codes if code not in LIVE_PBXS]
    if unknown or not codes:
        suite_env.fail(
            f"--pbx: unknown PBX {', '.join(unknown) or choice!r}; "
            f"use some of {', '.join(LIVE_PBXS)} (comma-separated) or all"
        )
    return codes


def start_live_pbx(code, odoo_url, interval):
    pbx = LIVE_PBXS[code]
    return live_simulator(
        pbx.port,
        pbx.account_options(odoo_url),
        code,
        interval * pbx.slower,
        list(pbx.dids),
        list(pbx.extensions),
    )


def subscribe_demo_accounts(odoo_url, database, codes):
    """Press *Subscribe to events* on the demo accounts of PBXs whose webhooks are
    subscriptions made through their API: without them such a PBX posts nothing."""
    common = xmlrpc.client.ServerProxy(f"{odoo_url}/xmlrpc/2/common")
    uid = common.authenticate(database, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{odoo_url}/xmlrpc/2/object")
    accounts = models.execute_kw(
        database,
        uid,
        "admin",
        "crm.voip.provider",
        "search_read",
        [[("code", "in", codes), ("use_simulator", "=", True)]],
        {"fields": ["name", "manages_subscriptions"]},
    )
    for account in accounts:
        if not account["manages_subscriptions"]:
            continue
        action = models.execute_kw(
            database,
            uid,
            "admin",
            "crm.voip.provider",
            "action_crm_voip_subscribe_events",
            [[account["id"]]],
        )
        params = (action or {}).get("params", {})
        log(f"{account['name']}: {params.get('message', 'subscribed')}")


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
