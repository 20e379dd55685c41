"""Load the suite's pure-Python parts without Odoo.

``crm_voip/__init__.py`` imports the Odoo models, so the provider layer is loaded
under the alias ``voip_providers`` straight from its folder, and the dialer's pure
decisions (``crm_voip_dialer/dialer``) under ``voip_dialer``. The repository root
is put on ``sys.path`` for ``vats_simulator``, which is a top-level package.
"""

import importlib.util
import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROVIDERS_DIR = ROOT / "crm_voip" / "providers"


def _load_alias(alias, folder):
    spec = importlib.util.spec_from_file_location(
        alias, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def _load_crm_voip_pure():
    """``crm_voip``'s pure packages, under a parent package that skips its Odoo
    ``__init__``, so that their relative imports of each other resolve."""
    parent = types.ModuleType("voip")
    parent.__path__ = [str(ROOT / "crm_voip")]
    sys.modules["voip"] = parent
    for name in ("providers", "callstate"):
        importlib.import_module(f"voip.{name}")
        # Older tests name them ``voip_providers``/``voip_providers.zadarma``.
        for key, module in list(sys.modules.items()):
            if key == f"voip.{name}" or key.startswith(f"voip.{name}."):
                sys.modules[f"voip_{name}" + key[len(f"voip.{name}") :]] = module


if "voip_providers" not in sys.modules:
    _load_crm_voip_pure()
if "voip_dialer" not in sys.modules:
    _load_alias("voip_dialer", ROOT / "crm_voip_dialer" / "dialer")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
