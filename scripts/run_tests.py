#!/usr/bin/env python3
"""`make test`: every test of the suite, against a real Odoo and PostgreSQL.

1. Odoo must be importable (fail in seconds otherwise); the suite's own Python
   dependencies and Chromium are installed when missing.
2. Lint (ruff) and the framework-free tests (pytest, no Odoo).
3. A throwaway PostgreSQL cluster; Odoo's dependencies installed without tests, then
   the four modules with ``--test-enable`` (unit, HTTP and tour tests).
4. The Odoo log is checked like OCA's checklog: any ERROR, CRITICAL or WARNING line,
   any failed test or skipped tour fails the run.
5. On the same database, pytest-odoo runs one module's test file (the fast loop of
   ``make devdb``), so that loop keeps working.
6. Where an ``asterisk`` binary is found (``$ASTERISK``, ``PATH``, ``/opt/asterisk/sbin``),
   the real-Asterisk suite (Odoo tests tagged ``crm_voip_asterisk``) runs too; the summary
   says whether it ran.

Ends with a line ``N passed, M failed``.
"""

import argparse
import importlib.util
import re
import subprocess
import sys
import time

import suite_env
from suite_env import ADDONS, ODOO_DEPENDENCIES, ROOT, log

ODOO_RESULT = re.compile(r"odoo\.tests\.result: (\d+) failed, (\d+) error\(s\) of (\d+) tests")
PYTEST_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")
# What `make test` runs through pytest-odoo after Odoo's own runner (about 10 s).
PYTEST_ODOO_TESTS = ["crm_voip/tests/test_crm_voip_caller_id.py"]
# The real-Asterisk suite: its tests are tagged so, and never run by default.
ASTERISK_TAG = "crm_voip_asterisk"
ASTERISK_TEST_START = re.compile(r"Starting TestCrmVoipRealAsterisk\.test_")
BAD_LEVELS = re.compile(r"^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ")
# Lines Odoo prints at WARNING level that say nothing about the suite's quality.
TOLERATED_WARNINGS = (
    # The headless browser's own console noise about missing fonts or GPU.
    "Fontconfig",
)


def run_lint():
    log("ruff check")
    python = suite_env.python_executable()
    result = subprocess.run([python, "-m", "ruff", "check", "."], cwd=ROOT, check=False)
    return result.returncode == 0


def run_pytest():
    """Framework-free tests; returns (passed, failed)."""
    log("framework-free tests (pytest, no Odoo)")
    python = suite_env.python_executable()
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:odoo", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(result.stdout[-6000:])
    sys.stderr.write(result.stderr[-3000:])
    return pytest_counts(result)


def run_pytest_odoo(cluster, database):
    """Odoo tests through pytest-odoo, as `make devdb` runs them; returns (passed, failed)."""
    log(f"pytest-odoo on {database}: {' '.join(PYTEST_ODOO_TESTS)}")
    config = suite_env.write_odoo_config(
        cluster, database, ROOT / ".test-logs" / "pytest-odoo.conf"
    )
    result = subprocess.run(
        [
            suite_env.python_executable(),
            *("-m", "pytest", "-q", "-p", "no:cacheprovider"),
            f"--odoo-config={config}",
            *PYTEST_ODOO_TESTS,
        ],
        cwd=ROOT,
        env=suite_env.odoo_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(result.stdout[-6000:])
    sys.stderr.write(result.stderr[-3000:])
    passed, failed = pytest_counts(result)
    if not passed and not failed:
        failed = 1  # nothing ran: the plugin or the test file was not found
    return passed, failed


def pytest_counts(result):
    """(passed, failed) from pytest's last line; a crash before it counts as one failure."""
    counts = {"passed": 0, "failed": 0, "error": 0, "errors": 0}
    tail = result.stdout.strip().splitlines()[-1:] or [""]
    for number, word in PYTEST_SUMMARY.findall(tail[0]):
        if word in counts:
            counts[word] += int(number)
    failed = counts["failed"] + counts["error"] + counts["errors"]
    if result.returncode not in (0, 5) and not failed:
        failed = 1  # pytest crashed before it could count
    return counts["passed"], failed


def check_log(path):
    """OCA checklog: (problems, odoo_failed, odoo_total)."""
    problems = []
    failed = errors = total = 0
    found_result = False
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = ODOO_RESULT.search(line)
            if match:
                found_result = True
                failed, errors, total = (int(g) for g in match.groups())
                if failed or errors:
                    problems.append(line.rstrip())
                continue
            if BAD_LEVELS.match(line) and not any(t in line for t in TOLERATED_WARNINGS):
                problems.append(line.rstrip())
            elif "SkipTest" in line or "skipped" in line.lower() and "tour" in line.lower():
                problems.append(line.rstrip())
    if not found_result:
        problems.append("Odoo printed no test result line: did the install crash?")
    return problems, failed + errors, total


def find_asterisk():
    """The asterisk binary the real-Asterisk suite would run, or None (tests/asterisk/lab.py)."""
    spec = importlib.util.spec_from_file_location("asterisk_lab", ROOT / "tests/asterisk/lab.py")
    lab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab)
    return lab.find_asterisk()


def asterisk_summary(binary, log_path):
    """One plain line saying whether the real-Asterisk suite ran."""
    if not binary:
        return (
            "real Asterisk: no asterisk binary found ($ASTERISK, PATH, /opt/asterisk/sbin);"
            " its suite did NOT run"
        )
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        ran = sum(1 for line in handle if ASTERISK_TEST_START.search(line))
    return f"real Asterisk: {ran} tests ran against {binary}"


def run_odoo_tests(args):
    python = suite_env.python_executable()
    database = f"crm_voip_test_{int(time.time())}"
    log_dir = ROOT / ".test-logs"
    log_dir.mkdir(exist_ok=True)
    deps_log = log_dir / "odoo-dependencies.log"
    test_log = log_dir / "odoo-tests.log"
    # Odoo appends to its log file: a run must not be judged by an earlier run's lines.
    for stale in (deps_log, test_log):
        stale.unlink(missing_ok=True)
    env = suite_env.odoo_environment()
    with suite_env.postgres() as cluster:
        log(f"installing Odoo dependencies ({', '.join(ODOO_DEPENDENCIES)}) without tests")
        started = time.monotonic()
        result = subprocess.run(
            suite_env.odoo_command(
                cluster,
                database,
                "-i",
                ",".join(ODOO_DEPENDENCIES),
                "--stop-after-init",
                "--no-http",
                "--logfile",
                str(deps_log),
                python=python,
            ),
            env=env,
            check=False,
        )
        if result.returncode != 0:
            log(f"installing dependencies failed, see {deps_log}")
            return 0, 1, [f"dependency install exited {result.returncode}"]
        log(f"dependencies installed in {time.monotonic() - started:.0f}s")
        log(f"installing {', '.join(ADDONS)} with --test-enable (log: {test_log})")
        started = time.monotonic()
        extra = ["--test-tags", args.test_tags] if args.test_tags else []
        asterisk = None
        if not args.test_tags:
            asterisk = find_asterisk()
            if asterisk:
                env = dict(env, ASTERISK=asterisk)
                extra = ["--test-tags", f"standard,{ASTERISK_TAG}"]
        result = subprocess.run(
            suite_env.odoo_command(
                cluster,
                database,
                "-i",
                ",".join(ADDONS),
                "--test-enable",
                *extra,
                "--stop-after-init",
                "--workers",
                "0",
                "--http-interface",
                "127.0.0.1",
                "--http-port",
                str(suite_env.free_port()),
                "--log-level",
                "test",
                "--logfile",
                str(test_log),
                python=python,
            ),
            env=env,
            check=False,
        )
        log(f"Odoo tests ran in {time.monotonic() - started:.0f}s")
        pytest_passed = pytest_failed = 0
        if not args.test_tags:
            started = time.monotonic()
            pytest_passed, pytest_failed = run_pytest_odoo(cluster, database)
            log(f"pytest-odoo ran in {time.monotonic() - started:.0f}s")
    problems, failed, total = check_log(test_log)
    if not args.test_tags:
        log(asterisk_summary(asterisk, test_log))
    if result.returncode != 0:
        problems.append(f"Odoo exited with status {result.returncode}")
    odoo_failed = failed + (1 if problems and not failed else 0)
    if pytest_failed:
        problems.append(f"pytest-odoo: {pytest_failed} failed (see above)")
    return total - failed + pytest_passed, odoo_failed + pytest_failed, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-odoo", action="store_true", help="only lint and pure tests")
    parser.add_argument("--test-tags", help="Odoo --test-tags filter (fast loop)")
    args = parser.parse_args()
    started = time.monotonic()

    version = suite_env.check_odoo()
    log(f"Odoo {version} found in {suite_env.python_executable()}")
    suite_env.ensure_python_dependencies()
    if not args.skip_odoo:
        suite_env.ensure_debian_tools()

    lint_ok = run_lint()
    passed, failed = run_pytest()
    problems = []
    if not args.skip_odoo:
        odoo_passed, odoo_failed, problems = run_odoo_tests(args)
        passed += odoo_passed
        failed += odoo_failed
    if not lint_ok:
        failed += 1
        problems.insert(0, "ruff found problems (see above)")

    for problem in problems:
        print(f"FAIL: {problem}")
    log(f"make test took {time.monotonic() - started:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
