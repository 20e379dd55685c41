"""The provider layer must stay importable without Odoo: no ``odoo`` import anywhere in it, and
only relative imports between its own modules (it is loaded under another name in tests)."""

import ast
import pathlib

import pytest

PROVIDERS_DIR = pathlib.Path(__file__).resolve().parents[1] / "crm_voip" / "providers"
SOURCES = sorted(PROVIDERS_DIR.rglob("*.py"))
LOCAL_MODULES = {path.stem for path in SOURCES} | {"crm_voip"}


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


def test_sources_found():
    names = {path.name for path in SOURCES}
    assert {"__init__.py", "base.py", "zadarma.py", "generic.py", "numbers.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_no_odoo_import(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for module, level, line in _imported_modules(tree):
        top = module.split(".")[0]
        assert not (level == 0 and top == "odoo"), f"{path.name}:{line} imports {module}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_package_modules_use_relative_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for module, level, line in _imported_modules(tree):
        top = module.split(".")[0]
        assert not (level == 0 and top in LOCAL_MODULES), (
            f"{path.name}:{line} imports {module} absolutely; use a relative import"
        )


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
