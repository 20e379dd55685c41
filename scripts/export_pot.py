#!/usr/bin/env python3
"""`make pot`: regenerate ``<module>/i18n/<module>.pot`` for each module of the suite."""

import subprocess
import sys

import suite_env
from suite_env import ADDONS, ROOT, log


def main():
    suite_env.check_odoo()
    suite_env.ensure_python_dependencies()
    env = suite_env.odoo_environment()
    database = "crm_voip_pot"
    with suite_env.postgres() as cluster:
        install_log = ROOT / ".test-logs" / "pot-install.log"
        install_log.parent.mkdir(exist_ok=True)
        suite_env.install_addons(cluster, database, ",".join(ADDONS), install_log)
        for addon in ADDONS:
            target = ROOT / addon / "i18n" / f"{addon}.pot"
            target.parent.mkdir(exist_ok=True)
            subprocess.run(
                suite_env.odoo_command(
                    cluster,
                    database,
                    "--i18n-export",
                    str(target),
                    "--modules",
                    addon,
                    "--stop-after-init",
                    "--no-http",
                    "--log-level",
                    "warn",
                ),
                env=env,
                check=True,
            )
            log(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
