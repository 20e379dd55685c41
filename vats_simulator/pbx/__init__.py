"""The PBXs the simulator plays: one module each, registered by code.

Adding a PBX is adding ``vats_simulator/pbx/<code>.py`` with a ``Pbx`` subclass decorated
with ``@register("<code>")`` (see ``base.py`` for the hooks and ``../README.md``). Every
module of this package is imported below, so nothing else has to name it.
"""

import dataclasses
import importlib
import pkgutil

from .base import OPTIONAL_HOOKS, REQUIRED_HOOKS, CliOption, Pbx, RetryPolicy, missing_hooks

_REGISTRY = {}


def register(code):
    """Class decorator: make ``cls`` (a ``Pbx`` subclass) the simulated PBX ``code``."""

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Pbx)):
            raise TypeError(f"{cls!r} is not a Pbx subclass")
        if code in _REGISTRY:
            raise ValueError(f"PBX {code!r} is registered twice")
        missing = missing_hooks(cls)
        if missing:
            raise TypeError(f"PBX {code!r} lacks {', '.join(missing)}")
        if not dataclasses.is_dataclass(cls.Account) or "webhook_url" not in {
            item.name for item in dataclasses.fields(cls.Account)
        }:
            raise TypeError(f"{code}: Account must be a dataclass with a webhook_url field")
        prefix = cls.path_prefix
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"{code}: path_prefix must be '' or '/name', not {prefix!r}")
        for other in _REGISTRY.values():
            if other.path_prefix == prefix:
                raise ValueError(f"{code} and {other.code} share the path prefix {prefix!r}")
        cls.code = code
        cls.Account.provider = code
        _REGISTRY[code] = cls()
        return cls

    return decorate


def get(code):
    """The registered PBX ``code`` (a ``Pbx`` instance)."""
    try:
        return _REGISTRY[code]
    except (KeyError, TypeError):
        raise ValueError(f"unknown PBX {code!r}; use one of {codes()}") from None


def codes():
    """The codes of the registered PBXs, in registration order."""
    return tuple(_REGISTRY)


def owner(path):
    """``(pbx, route)``: the PBX whose ``path_prefix`` is the longest one ``path`` is under,
    and the rest of the path; ``(None, path)`` when none is."""
    best = None
    for pbx in _REGISTRY.values():
        prefix = pbx.path_prefix
        if path == prefix or path.startswith(prefix + "/"):
            if best is None or len(prefix) > len(best.path_prefix):
                best = pbx
    if best is None:
        return None, path
    return best, path[len(best.path_prefix) :] or "/"


def _import_modules():
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_import_modules()

__all__ = [
    "OPTIONAL_HOOKS",
    "REQUIRED_HOOKS",
    "CliOption",
    "Pbx",
    "RetryPolicy",
    "codes",
    "get",
    "owner",
    "register",
]
