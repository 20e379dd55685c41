"""Provider layer of crm_voip: pure Python, no Odoo imports.

Every module of this package other than the core ones below is one PBX's adapter;
importing the package imports them all, and each registers itself, so a PBX plugs in
by adding its module. Get one with ``registry.get_adapter_class(code)(config)``.
"""

import importlib
import pkgutil

from . import registry, events, errors, base, numbers, validation, history

from .registry import available_codes, get_adapter_class, register

CORE_MODULES = frozenset(
    {"base", "errors", "events", "history", "numbers", "registry", "validation"}
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in CORE_MODULES:
        importlib.import_module(f"{__name__}.{_module.name}")
