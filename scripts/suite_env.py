"""What `make test`, `make demo` and the benchmarks need around Odoo.

Odoo is a prerequisite (importable as ``odoo`` by ``PYTHON``); everything else is
prepared here: the suite's Python dependencies, a throwaway PostgreSQL cluster on
loopback, Chromium for the tours, and the Odoo command line.
"""

import contextlib
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
ADDONS = [
    "crm_voip",
    "crm_voip_routing",
    "crm_voip_reports",
    "crm_voip_dialer",
    "crm_voip_callback",
    "crm_voip_callback_website",
]
# Odoo modules ours depend on: installed first, without tests, so that `--test-enable`
# runs only the suite's own tests.
ODOO_DEPENDENCIES = [
    "crm",
    "phone_validation",
    "mail",
    "web",
    "sales_team",
    "utm",
    "resource",
    "website",
]
# import name -> PyPI requirement; setuptools must stay below 81 (Odoo's gevent
# worker imports pkg_resources) and at least 75.9 (older ones crash-loop it).
PYTHON_DEPENDENCIES = {
    "phonenumbers": "phonenumbers",
    "websocket": "websocket-client",
    "xlsxwriter": "xlsxwriter",
    "requests": "requests",
    "pytest": "pytest",
    # Odoo test modules under pytest (`make devdb`, and one module in `make test`).
    "pytest_odoo": "pytest-odoo>=2.3,<3",
    "ruff": "ruff",
    # The webhook fuzzing (benchmarks/fuzz_webhooks.py, and its slice in tests/).
    "hypothesis": "hypothesis",
    # SIP phones of the real-Asterisk suite (GPL-3: run in a process of their own by
    # tests/asterisk/phones.py, never imported by an addon).
    "pyVoIP": "pyVoIP==1.6.8",
}
SETUPTOOLS_SPEC = "setuptools>=75.9,<81"
PG_BIN_CANDIDATES = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/bin"]


def runuser():
    """``runuser``, which a minimal ``PATH`` (no ``sbin``) does not find."""
    for candidate in (shutil.which("runuser"), "/usr/sbin/runuser", "/sbin/runuser"):
        if candidate and os.path.exists(candidate):
            return candidate
    fail("runuser is needed to run PostgreSQL as its own user (package util-linux)")


def log(message):
    print(f"[suite] {message}", file=sys.stderr, flush=True)


def fail(message):
    print(f"[suite] ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


# ---------------------------------------------------------------------------
# Odoo and Python dependencies
# ---------------------------------------------------------------------------


def python_executable():
    return os.environ.get("PYTHON") or sys.executable


def check_odoo(python=None):
    """Fail fast, and say why, when ``python`` cannot import Odoo 18."""
    python = python or python_executable()
    probe = subprocess.run(
        [python, "-c", "import odoo.release as r; print(r.version_info[0], r.version)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        fail(
            f"Odoo 18 is not importable by {python!r} ({reason}).\n"
            "  Install Odoo 18 (community or enterprise) so that `import odoo` works in that\n"
            "  interpreter (pip install of an Odoo 18 tree, or a .pth file naming it), or point\n"
            "  PYTHON=/path/to/python at an interpreter that has it. See README.md."
        )
    major, version = probe.stdout.split()
    if major != "18":
        fail(f"{python!r} imports Odoo {version}; this suite needs Odoo 18.")
    return version


def _missing_modules(python, names):
    code = (
        "import importlib.util, sys\n"
        f"names = {list(names)!r}\n"
        "print(' '.join(n for n in names if importlib.util.find_spec(n) is None))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def _setuptools_ok(python):
    code = (
        "import setuptools\n"
        "v = tuple(int(p) for p in setuptools.__version__.split('.')[:2])\n"
        "print((75, 9) <= v < (81, 0))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() == "True"


def ensure_python_dependencies(python=None):
    """Install the suite's own Python dependencies when they are missing."""
    python = python or python_executable()
    wanted = [PYTHON_DEPENDENCIES[n] for n in _missing_modules(python, PYTHON_DEPENDENCIES)]
    if not _setuptools_ok(python):
        wanted.append(SETUPTOOLS_SPEC)
    if not wanted:
        return
    log(f"installing Python dependencies: {' '.join(wanted)}")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("setuptools<81\n")
    env = dict(os.environ, PIP_CONSTRAINT=constraints.name, PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", *wanted], env=env, check=False
    )
    os.unlink(constraints.name)
    if result.returncode != 0:
        fail(f"pip could not install {' '.join(wanted)} for {python!r}")


# What the tests drive outside Python, by command: Debian package. Chromium runs the tours;
# LibreOffice and poppler prove that the Excel export opens and draws its charts.
DEBIAN_TOOLS = {
    "chromium": "chromium",
    "soffice": "libreoffice-calc-nogui",
    "pdftotext": "poppler-utils",
}


def ensure_debian_tools(commands=tuple(DEBIAN_TOOLS)):
    """Install the Debian packages of the missing ``commands`` (one apt-get run)."""
    missing = sorted({DEBIAN_TOOLS[command] for command in commands if not shutil.which(command)})
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        fail(f"The tests need these Debian packages: {' '.join(missing)}. Install them first.")
    log(f"installing Debian's {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env=env,
        check=False,
    )
    still = [command for command in commands if not shutil.which(command)]
    if result.returncode != 0 or still:
        fail(f"apt-get could not install {' '.join(missing)}; missing: {' '.join(still)}")


def ensure_chromium():
    """Return the Chromium binary, installing Debian's package when missing."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    ensure_debian_tools(["chromium"])
    return shutil.which("chromium")


def install_addons(cluster, database, modules, log_path, *args, demo=False):
    """Install ``modules`` (a comma-separated string) into ``database`` of ``cluster``
    (created when new), without demo data unless ``demo``, no HTTP, logging warnings to
    ``log_path``; ``args`` are more Odoo options (``--data-dir``). Fail loudly."""
    command = odoo_command(
        cluster,
        database,
        "-i",
        modules,
        *([] if demo else ["--without-demo", "all"]),
        "--stop-after-init",
        "--no-http",
        "--log-level",
        "warn",
        "--logfile",
        str(log_path),
        *args,
    )
    if subprocess.run(command, env=odoo_environment(), check=False).returncode:
        fail(f"installing {modules} failed, see {log_path}")


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


def vacuum_analyze(cursor, tables):
    """``VACUUM (ANALYZE)`` bulk-loaded ``tables`` through an Odoo cursor (no transaction
    open): after a bulk load, autovacuum would otherwise start on them during the
    measurements and take one of the two cores; ``ANALYZE`` alone does not prevent it."""
    cursor._cnx.autocommit = True
    try:
        for table in tables:
            cursor.execute(f'VACUUM (ANALYZE) "{table}"')
    finally:
        cursor._cnx.autocommit = False


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(tool):
    for folder in PG_BIN_CANDIDATES:
        path = pathlib.Path(folder, tool)
        if path.exists():
            return str(path)
    found = shutil.which(tool)
    if found:
        return found
    fail(
        f"PostgreSQL's {tool} was not found (looked in {', '.join(PG_BIN_CANDIDATES)} and PATH).\n"
        "  Install Debian's postgresql package, or set PGHOST/PGPORT/PGUSER/PGPASSWORD\n"
        "  to use a server you already run."
    )


class PostgresCluster:
    """A throwaway cluster on 127.0.0.1, or the server named by the PG* variables.

    With ``folder`` the cluster is kept there instead (``make devdb``): created on the
    first start, started again if it is stopped, left running and in place by
    ``start``; ``stop`` stops it without removing it.
    """

    ROLE = "odoo_suite"

    def __init__(self, folder=None):
        self.external = bool(os.environ.get("PGHOST") or os.environ.get("PGPORT"))
        self.persistent = folder is not None
        self.folder = pathlib.Path(folder) if folder is not None else None
        self.port = None
        # PostgreSQL refuses to run as root: the `postgres` user runs it then.
        self._run_as = "postgres" if os.geteuid() == 0 else None

    @property
    def odoo_args(self):
        if self.external:
            args = []
            for flag, var in (
                ("--db_host", "PGHOST"),
                ("--db_port", "PGPORT"),
                ("--db_user", "PGUSER"),
                ("--db_password", "PGPASSWORD"),
            ):
                if os.environ.get(var):
                    args += [flag, os.environ[var]]
            return args
        return ["--db_host", "127.0.0.1", "--db_port", str(self.port), "--db_user", self.ROLE]

    def _as_owner(self, argv):
        if self._run_as:
            return [runuser(), "-u", self._run_as, "--", *argv]
        return argv

    def start(self):
        if self.external:
            log(f"using the PostgreSQL server at {os.environ.get('PGHOST', 'localhost')}")
            return self
        if self.persistent:
            self.folder.mkdir(parents=True, exist_ok=True)
        else:
            self.folder = pathlib.Path(tempfile.mkdtemp(prefix="crm_voip_pg_"))
        if self._run_as:
            try:
                owner = pwd.getpwnam(self._run_as)
            except KeyError:
                fail("running as root but there is no `postgres` OS user to run PostgreSQL")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        data = self.folder / "data"
        port_file = self.folder / "port"
        if self.persistent and (data / "PG_VERSION").exists():
            # A kept cluster keeps its port: the odoo.conf written for it names it.
            self.port = int(port_file.read_text())
            if self._running():
                log(f"PostgreSQL already running on 127.0.0.1:{self.port} ({self.folder})")
                return self
        else:
            self.port = free_port()
            initdb = [_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
            subprocess.run(
                self._as_owner([*initdb, "-E", "UTF8"]), check=True, stdout=subprocess.DEVNULL
            )
            port_file.write_text(str(self.port))
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        # For diagnosis, e.g. "-c logging_collector=on -c log_directory=/tmp/pg
        # -c log_min_duration_statement=5": the cluster's own log goes with its folder.
        options += " " + os.environ.get("CRM_VOIP_PG_OPTIONS", "")
        subprocess.run(
            self._as_owner(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.folder / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{self.ROLE}'").strip():
            self.psql(f"CREATE ROLE {self.ROLE} LOGIN CREATEDB SUPERUSER")
        log(f"PostgreSQL started on 127.0.0.1:{self.port} ({self.folder})")
        return self

    def _running(self):
        status = subprocess.run(
            self._as_owner([_pg_bin("pg_ctl"), "-D", str(self.folder / "data"), "status"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return status.returncode == 0

    def database_exists(self, database):
        query = f"SELECT 1 FROM pg_database WHERE datname = '{database}'"
        return bool(self.psql(query).strip())

    def psql(self, sql, database="postgres"):
        if self.external:
            argv = [_pg_bin("psql"), "-v", "ON_ERROR_STOP=1", "-qAt", "-d", database, "-c", sql]
        else:
            argv = [
                _pg_bin("psql"),
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ]
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    def stop(self):
        if self.external or not self.folder:
            return
        data = self.folder / "data"
        subprocess.run(
            self._as_owner([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # `kill -0` lies while the postmaster is a zombie: ask pg_ctl.
        for _ in range(50):
            status = subprocess.run(
                self._as_owner([_pg_bin("pg_ctl"), "-D", str(data), "status"]),
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if status.returncode == 3:
                break
            time.sleep(0.1)
        else:
            log(f"WARNING: PostgreSQL in {self.folder} did not stop")
            return
        if not self.persistent:
            shutil.rmtree(self.folder, ignore_errors=True)
        log("PostgreSQL stopped")


@contextlib.contextmanager
def postgres():
    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


# ---------------------------------------------------------------------------
# Odoo
# ---------------------------------------------------------------------------


def odoo_command(cluster, database, *args, python=None):
    python = python or python_executable()
    return [
        python,
        "-m",
        "odoo",
        "--addons-path",
        str(ROOT),
        "-d",
        database,
        *cluster.odoo_args,
        # No --db-filter: with -d alone Odoo skips listing the databases, which would
        # open a new connection to PostgreSQL on every request.
        *args,
    ]


def write_odoo_config(cluster, database, path, data_dir=None):
    """An Odoo configuration file for ``database`` of ``cluster`` (what pytest-odoo reads:
    ``--odoo-config``)."""
    options = {"addons_path": str(ROOT), "db_name": database}
    args = cluster.odoo_args  # ["--db_host", "127.0.0.1", "--db_port", …]
    for flag, value in zip(args[::2], args[1::2], strict=True):
        options[flag.lstrip("-")] = value
    if data_dir:
        options["data_dir"] = str(data_dir)
    lines = ["[options]", *(f"{key} = {value}" for key, value in options.items())]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def odoo_environment():
    # Odoo's server script sets TZ=UTC before anything imports `time`.
    return dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
