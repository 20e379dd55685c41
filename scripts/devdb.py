#!/usr/bin/env python3
"""`make devdb`: a development database kept between runs, for pytest-odoo.

``up`` (the default) creates, the first time, a PostgreSQL cluster in ``.devdb/pg``
(git-ignored) and a database with the four modules installed, as ``make test``
installs them; later it only starts the cluster again if it is stopped. Either way it
writes ``.devdb/odoo.conf`` and prints the pytest command to run Odoo tests against the
database. ``update`` upgrades modules in it after their models or data changed,
``stop`` stops the cluster (``up`` starts it again). With PGHOST/PGPORT set, the
database is made on that server instead and there is no cluster to start or stop.
"""

import argparse
import subprocess
import sys

import suite_env
from suite_env import ADDONS, ROOT, log

FOLDER = ROOT / ".devdb"
CONFIG = FOLDER / "odoo.conf"
DATABASE = "crm_voip_dev"
EXAMPLE_TEST = "crm_voip/tests/test_crm_voip_caller_id.py"


def cluster():
    return suite_env.PostgresCluster(folder=FOLDER / "pg")


def up(_args):
    suite_env.check_odoo()
    suite_env.ensure_python_dependencies()
    pg = cluster().start()
    # Odoo keeps attachments in data_dir: the install and the tests must share it.
    suite_env.write_odoo_config(pg, DATABASE, CONFIG, data_dir=FOLDER / "filestore")
    if pg.database_exists(DATABASE):
        log(f"database {DATABASE} is there: reused as it is")
    else:
        log(f"creating database {DATABASE} with {', '.join(ADDONS)} (a minute or two)")
        odoo(pg, "-i", ",".join(ADDONS))
    relative = CONFIG.relative_to(ROOT)
    python = suite_env.python_executable()
    print(
        "\n"
        f"  Development database {DATABASE} is ready ({relative}). Odoo tests of a module:\n"
        f"    {python} -m pytest --odoo-config={relative} {EXAMPLE_TEST}\n"
        "  (add --odoo-http for HttpCase tests and tours). After changing models, views or\n"
        "  data: make devdb-update MODULES=crm_voip. Stop the cluster: make devdb-stop.\n",
        flush=True,
    )
    return 0


def update(args):
    suite_env.check_odoo()
    if not CONFIG.exists():
        suite_env.fail("no development database yet: run `make devdb` first")
    odoo(cluster().start(), "-u", args.modules)
    log(f"updated {args.modules} in {DATABASE}")
    return 0


def stop(_args):
    pg = cluster()
    if pg.external:
        log("PGHOST/PGPORT name the server: there is no cluster of ours to stop")
    elif not (pg.folder / "data").exists():
        log(f"no development cluster in {pg.folder}")
    else:
        pg.stop()
    return 0


def odoo(pg, *args):
    """Run Odoo once on the development database (install or update), no HTTP."""
    install_log = FOLDER / "odoo.log"
    command = suite_env.odoo_command(
        pg,
        DATABASE,
        *args,
        "--config",
        str(CONFIG),
        "--stop-after-init",
        "--no-http",
        "--log-level",
        "warn",
        "--logfile",
        str(install_log),
    )
    if subprocess.run(command, env=suite_env.odoo_environment(), check=False).returncode:
        suite_env.fail(f"Odoo failed ({' '.join(args)}), see {install_log}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("up", help="create or start the development database (default)")
    update_parser = commands.add_parser("update", help="upgrade modules in it")
    update_parser.add_argument("modules", nargs="?", default=",".join(ADDONS))
    commands.add_parser("stop", help="stop its PostgreSQL cluster")
    args = parser.parse_args()
    return {"up": up, "update": update, "stop": stop, None: up}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
