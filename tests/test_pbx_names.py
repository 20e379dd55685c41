"""A PBX is named only in its own modules: its adapter (``crm_voip/providers/<code>.py``),
its simulator module (``vats_simulator/pbx/<code>.py``), tests and demo data. Anywhere
else, a ``code == '…'`` would make adding the next PBX an edit of shared code."""

import ast
import pathlib
import re

import pytest
import voip_providers

ROOT = pathlib.Path(__file__).resolve().parents[1]
CODES = voip_providers.available_codes()
# Where PBXs are named on purpose.
ALLOWED = ("crm_voip/providers/", "vats_simulator/pbx/", "/tests/", "/demo/", "/i18n/")
SHARED_CODE = sorted(
    path
    for pattern in ("crm_voip*/**/*", "vats_simulator/**/*")
    for path in ROOT.glob(pattern)
    if path.suffix in (".py", ".xml", ".js", ".csv")
    and not any(part in "/" + path.relative_to(ROOT).as_posix() for part in ALLOWED)
)


def _python_literals(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _named_pbxs(path):
    """``(line, code)`` of every PBX code written as a literal in ``path``."""
    if path.suffix == ".py":
        return [(line, value) for line, value in _python_literals(path) if value in CODES]
    alternatives = "|".join(map(re.escape, CODES))
    quoted = re.compile(rf"""['"]({alternatives})['"]""")
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(1)) for match in quoted.finditer(text)
    ]


def test_shared_code_found():
    names = {path.relative_to(ROOT).as_posix() for path in SHARED_CODE}
    assert "crm_voip/models/crm_voip_provider.py" in names
    assert "crm_voip/views/crm_voip_provider_views.xml" in names
    assert "vats_simulator/simulator.py" in names


@pytest.mark.parametrize("path", SHARED_CODE, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_pbx_named_outside_its_modules(path):
    assert not _named_pbxs(path), f"{path.relative_to(ROOT)} names a PBX: {_named_pbxs(path)}"


def test_checker_finds_a_named_pbx(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(f'if provider.code == "{CODES[0]}":\n    pass\n"""A {CODES[0]} note."""\n')
    assert _named_pbxs(sample) == [(1, CODES[0])]
    view = tmp_path / "view.xml"
    view.write_text(f'<field name="x" invisible="code == \'{CODES[0]}\'"/>')
    assert _named_pbxs(view) == [(1, CODES[0])]
