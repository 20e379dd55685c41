"""The suite's pure packages must stay importable without Odoo: no ``odoo`` import anywhere
in them, and only relative imports between a package's own modules (tests load each one
under an alias, see ``conftest.py``)."""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Every pure package of the suite; one that does not exist yet is skipped until it lands.
PURE_PACKAGES = [
    "crm_voip/providers",
    "crm_voip_routing/routing",
    "crm_voip_dialer/dialer",
    "crm_voip/callstate",
    "bridge/pbx_bridge",
]
# Modules each package that exists today must keep: a moved folder must not make its
# checks skip quietly.
KNOWN_MODULES = {
    "crm_voip/providers": {"__init__.py", "base.py", "zadarma.py", "generic.py", "numbers.py"},
    "crm_voip_routing/routing": {"__init__.py", "engine.py"},
    "crm_voip_dialer/dialer": {"__init__.py", "pacing.py", "region_timezones.py"},
}


def _sources(package):
    """The package's Python files, or a skip if its folder is not there (yet)."""
    folder = ROOT / package
    if not folder.is_dir():
        pytest.skip(f"{package}/ does not exist yet: checked as soon as it lands")
    return sorted(folder.rglob("*.py"))


def _local_names(package, sources):
    """Names an absolute import of the package's own code would start with."""
    folder = ROOT / package
    names = {path.stem for path in sources} - {"__init__"}
    names |= {path.name for path in folder.rglob("*") if path.is_dir()}
    return names | {folder.name, folder.parent.name}


def _imported_modules(tree):
    """(module name, level, line) of every import statement and dynamic import call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0, node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level, node.lineno
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in ("__import__", "import_module") and isinstance(first, ast.Constant):
                yield str(first.value), 0, node.lineno


def _absolute_imports(package):
    """(file, line, module) of every absolute import in the package."""
    for path in _sources(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for module, level, line in _imported_modules(tree):
            if level == 0:
                yield path.relative_to(ROOT), line, module


@pytest.mark.parametrize("package", sorted(KNOWN_MODULES))
def test_sources_found(package):
    names = {path.name for path in (ROOT / package).glob("*.py")}
    assert KNOWN_MODULES[package] <= names, f"{package}/ lost {KNOWN_MODULES[package] - names}"


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_no_odoo_import(package):
    offending = [
        f"{path}:{line} imports {module}"
        for path, line, module in _absolute_imports(package)
        if module.split(".")[0] == "odoo"
    ]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_package_modules_use_relative_imports(package):
    local = _local_names(package, _sources(package))
    offending = [
        f"{path}:{line} imports {module} absolutely; use a relative import"
        for path, line, module in _absolute_imports(package)
        if module.split(".")[0] in local
    ]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_tests_can_import_the_package(package):
    """conftest.py loads every pure package under an alias."""
    _sources(package)
    folder = str(ROOT / package)
    aliases = [
        name
        for name, module in list(sys.modules.items())
        if folder in (getattr(module, "__path__", None) or [])
    ]
    assert aliases, f"conftest.py loads no alias for {package}/: add it to PURE_PACKAGES there"


def test_checker_catches_odoo_imports():
    samples = [
        "import odoo",
        "from odoo import models",
        "from odoo.addons.base import x",
        "import odoo.tools as t",
        "importlib.import_module('odoo.http')",
    ]
    for source in samples:
        modules = [module for module, _level, _line in _imported_modules(ast.parse(source))]
        assert modules and modules[0].split(".")[0] == "odoo", source


def test_checker_tells_relative_from_absolute_imports():
    samples = {"from . import engine": 1, "from .engine import Rule": 1, "import engine": 0}
    for source, level in samples.items():
        assert [lvl for _module, lvl, _line in _imported_modules(ast.parse(source))] == [level]
