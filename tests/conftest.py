"""Load the suite's pure-Python parts without Odoo; the only loader of the tests.

An addon's ``__init__.py`` imports Odoo, so each pure package is imported under a
stand-in for its addon that skips that ``__init__`` (``pure_<addon>``), and is given a
short alias (``PURE_PACKAGES``): a test imports ``voip_routing``, not
``crm_voip_routing``. Pure packages of one addon may import each other relatively
(``crm_voip/callstate`` reads ``..providers``). A package whose folder does not exist yet
is left out, and its alias is there as soon as the folder lands. Test helpers that are
not packages (``tests/`` is not one) are loaded from their file (``TEST_HELPERS``). The
repository root is put on ``sys.path`` for ``vats_simulator``, a top-level package.
"""

import importlib
import importlib.util
import pathlib
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# alias -> folder of a pure package (tests/test_pure_packages.py checks each one).
PURE_PACKAGES = {
    "voip_providers": ROOT / "crm_voip" / "providers",
    "voip_callstate": ROOT / "crm_voip" / "callstate",
    "voip_routing": ROOT / "crm_voip_routing" / "routing",
    "voip_dialer": ROOT / "crm_voip_dialer" / "dialer",
}
# alias -> module file
TEST_HELPERS = {
    "voip_test_local_http": ROOT / "tests" / "fixtures" / "local_http.py",
}


def load_package(alias, folder):
    """Import the pure package ``folder`` of its addon, and alias it (and its modules)."""
    if alias in sys.modules:
        return sys.modules[alias]
    addon = f"pure_{folder.parent.name}"
    if addon not in sys.modules:
        stand_in = types.ModuleType(addon)
        stand_in.__path__ = [str(folder.parent)]
        sys.modules[addon] = stand_in
    name = f"{addon}.{folder.name}"
    package = importlib.import_module(name)
    for key, module in list(sys.modules.items()):
        if key == name or key.startswith(name + "."):
            sys.modules[alias + key[len(name) :]] = module
    return package


def load_module(alias, path):
    """Import the module file ``path`` as ``alias``, once."""
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.spec_from_file_location(alias, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # A half-run module must not pass for the helper in the next import.
        del sys.modules[alias]
        raise
    return module


for _alias, _folder in PURE_PACKAGES.items():
    if _folder.exists():
        load_package(_alias, _folder)
for _alias, _path in TEST_HELPERS.items():
    load_module(_alias, _path)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def receiver():
    """A webhook receiver for the simulator's tests (``simulator_support.Receiver``)."""
    from simulator_support import Receiver

    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_zadarma_statistics_budget():
    """Each test starts with Zadarma's statistics budget unspent (the adapters of a
    process share it, and the tests run in one process)."""
    sys.modules["voip_providers.zadarma"]._stats_requests.clear()
    yield
