"""What the benchmarks share: printing, phases, percentiles, bulk loads, and their Odoo.

A benchmark runs as ``python3 benchmarks/<name>.py``, so this folder is first on
``sys.path``; importing this module puts ``scripts/`` (``suite_env``, the PostgreSQL and
Odoo code ``make test`` uses) and the repository root (``vats_simulator``) there too.
"""

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import suite_env  # noqa: E402
from suite_env import fail, free_port, vacuum_analyze  # noqa: E402, F401 - for the benchmarks

LOG_DIR = ROOT / ".test-logs"
ODOO_SERVER = ROOT / "benchmarks" / "odoo_server.py"


# ---------------------------------------------------------------------------
# Printing, phases, percentiles
# ---------------------------------------------------------------------------


def say(message=""):
    print(message, flush=True)


class Timings(list):
    """A run's phases, ``(name, seconds)`` in order (see ``phase``), and its wall clock."""

    def __init__(self):
        super().__init__()
        self.started = time.perf_counter()

    def wall(self):
        """Seconds since the run started."""
        return time.perf_counter() - self.started

    def summary(self):
        return "phases: " + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in self)


@contextlib.contextmanager
def phase(name, timings=None):
    """Say ``name``, run the block, say how long it took; append ``(name, seconds)`` to
    ``timings`` when given. Yields an object whose ``seconds`` are set at the end."""
    say(f"-- {name} ...")
    result = types.SimpleNamespace(seconds=None)
    started = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - started
    if timings is not None:
        timings.append((name, result.seconds))
    say(f"   {name}: {result.seconds:.1f} s")


def percentile(values, fraction):
    """The value at ``fraction`` (0 to 1) of the sorted ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def memory_mib(pid="self"):
    """``{"VmRSS": ..., "VmHWM": ...}`` of a process in MiB (VmHWM: its peak RSS)."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024  # kB -> MiB
    return values


# ---------------------------------------------------------------------------
# Bulk loads with COPY
# ---------------------------------------------------------------------------


def copy_line(row):
    """One line of ``COPY ... FROM STDIN`` text: tab-separated, ``\\N`` for NULL."""
    return "\t".join(map(_copy_value, row)) + "\n"


def _copy_value(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


# The first columns of a contact row (``contact_identity``), and the last ones of any row.
CONTACT_COLUMNS = (
    "id",
    "name",
    "complete_name",
    "type",
    "active",
    "is_company",
    "partner_share",
    "parent_id",
    "commercial_partner_id",
)
AUDIT_COLUMNS = ("create_uid", "write_uid", "create_date", "write_date")


def contact_identity(i, base):
    """The ``CONTACT_COLUMNS`` of contact i, whose id is ``base + i``. Blocks of ten: a
    company, three of its employees, six individuals."""
    pid, role, block = base + i, i % 10, i - i % 10
    if role == 0:
        name = complete = f"Company {i}"
        is_company, parent, commercial = True, None, pid
    elif role <= 3:
        name, complete = f"Person {i}", f"Company {block}, Person {i}"
        is_company, parent, commercial = False, base + block, base + block
    else:
        name = complete = f"Person {i}"
        is_company, parent, commercial = False, None, pid
    return pid, name, complete, "contact", True, is_company, True, parent, commercial


def drop_indexes(cr, tables):
    """Drop the indexes of ``tables`` that no constraint owns, so that a bulk load does not
    update them row by row; return their definitions for ``rebuild_indexes``."""
    definitions = []
    for table in tables:
        cr.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid)
              FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
             WHERE t.relname = %s
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
             ORDER BY i.relname
            """,
            (table,),
        )
        for name, definition in cr.fetchall():
            cr.execute(f'DROP INDEX "{name}"')
            definitions.append(definition)
    return definitions


def rebuild_indexes(cr, definitions, tables, work_mem="1GB"):
    """Create the dropped indexes again, commit, and ``VACUUM (ANALYZE)`` the loaded
    ``tables`` (see ``suite_env.vacuum_analyze`` for why not ``ANALYZE`` alone)."""
    started = time.perf_counter()
    cr.execute(f"SET maintenance_work_mem = '{work_mem}'")
    for definition in definitions:
        # The server's own index definitions, read back by drop_indexes.
        cr.execute(definition)
    cr.commit()
    vacuum_analyze(cr, tables)
    say(
        f"   {len(definitions)} indexes rebuilt and VACUUM ANALYZE run in "
        f"{time.perf_counter() - started:.1f} s"
    )


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def wait_for_http(url, timeout, process):
    """True once ``url`` answers 200; False if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        time.sleep(0.5)
    return False


def stop_process_group(process, grace):
    """SIGTERM a process we started in its own session, SIGKILL its group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent


# ---------------------------------------------------------------------------
# Odoo
# ---------------------------------------------------------------------------


def prepare_odoo(timings=None):
    """The "prerequisites" phase: check Odoo 18 and install the suite's Python dependencies
    when missing; run this process in UTC, as Odoo's server does. Return Odoo's version."""
    with phase("prerequisites", timings):
        version = suite_env.check_odoo()
        suite_env.ensure_python_dependencies()
        os.environ["TZ"] = "UTC"
        time.tzset()
        say(f"   Odoo {version}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    return version


@contextlib.contextmanager
def superuser_env(database, **context):
    """The superuser's environment on a new cursor of ``database``'s registry in this
    process, with ``context``; committed at the end, as ``registry.cursor()`` does. The
    registry is then forgotten: the next one is loaded again, with what changed since."""
    import odoo.modules.registry
    from odoo import SUPERUSER_ID, api

    registry = odoo.modules.registry.Registry(database)
    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, context)
    registry.delete(database)


class OdooBench:
    """One benchmark's Odoo: a PostgreSQL cluster (throwaway, or the server the ``PG*``
    variables name), a database on it, a data folder, and the servers started for it.

    Used as a context manager: on the way out the servers are stopped, this process's
    connections closed, the database dropped (from an external server), the cluster stopped
    and the data folder removed. The benchmark starts the cluster itself
    (``bench.cluster.start()``), inside whichever phase it times.
    """

    def __init__(self, name):
        self.name = name
        self.database = f"crm_voip_bench_{name}_{os.getpid()}"
        self.cluster = suite_env.PostgresCluster()
        self.data_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"crm_voip_bench_{name}_"))
        self.servers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for server in self.servers:
            stop_process_group(server, grace=30)
        self.servers.clear()
        sql_db = sys.modules.get("odoo.sql_db")
        if sql_db is not None:
            with contextlib.suppress(Exception):
                sql_db.close_all()
        if self.cluster.external:
            with contextlib.suppress(Exception):
                self.cluster.psql(f'DROP DATABASE IF EXISTS "{self.database}"')
        self.cluster.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_path(self, part=""):
        """``.test-logs/benchmark-<name>[-<part>].log``, emptied: the benchmarks that read
        their server's log must find this run's lines only."""
        LOG_DIR.mkdir(exist_ok=True)
        path = LOG_DIR / f"benchmark-{self.name}{f'-{part}' if part else ''}.log"
        path.unlink(missing_ok=True)
        return path

    def command(self, *args):
        """``python -m odoo`` on this database and data folder, with ``args``."""
        return suite_env.odoo_command(
            self.cluster, self.database, "--data-dir", str(self.data_dir), *args
        )

    def odoo_args(self, *args):
        """The options of ``command``, for an Odoo configured in a Python process."""
        _python, dash_m, odoo_module, *options = self.command(*args)
        assert (dash_m, odoo_module) == ("-m", "odoo")
        return options

    def install(self, modules, log_path, demo=False):
        """Install ``modules`` (comma-separated), creating the database on the first call."""
        suite_env.install_addons(
            self.cluster, self.database, modules, log_path, "--data-dir", str(self.data_dir),
            demo=demo,
        )  # fmt: skip

    def load_odoo(self, log_path):
        """Configure Odoo in this process for the database, logging warnings to
        ``log_path``; return the ``odoo`` package, its registry and ``sql_db`` loaded."""
        import odoo
        import odoo.modules.registry
        import odoo.sql_db
        from odoo.tools import config

        config.parse_config(self.odoo_args("--log-level", "warn", "--logfile", str(log_path)))
        return odoo

    def start_server(self, port, *args, log_path, gevent_port=None, ready="/web/login"):
        """Start Odoo on ``127.0.0.1:port`` with ``args`` (workers, cron threads, log level),
        logging to ``log_path``; wait until ``ready`` answers there. With ``gevent_port``,
        the prefork server through ``benchmarks/odoo_server.py`` (see there)."""
        command = self.command(
            "--http-interface", "127.0.0.1", "--http-port", str(port), *args,
            "--logfile", str(log_path),
        )  # fmt: skip
        if gevent_port:
            python, _dash_m, _odoo_module, *options = command
            command = [python, str(ODOO_SERVER), *options, "--gevent-port", str(gevent_port)]
        # What Odoo writes outside its log (start-up errors, shutdown noise) goes with it.
        with open(log_path, "ab") as stderr:
            process = subprocess.Popen(
                command,
                env=suite_env.odoo_environment(),
                cwd=ROOT,
                start_new_session=True,
                stderr=stderr,
            )
        self.servers.append(process)
        if not wait_for_http(f"http://127.0.0.1:{port}{ready}", 180, process):
            fail(f"Odoo did not start; see {log_path}")
        return process

    def stop_server(self, process):
        """Stop a server before the end of the run (its master stops its workers)."""
        stop_process_group(process, grace=30)
        self.servers.remove(process)
