"""VATS simulator: plays cloud PBXs (one module each in ``vats_simulator/pbx``: Zadarma/Novofon,
the generic signed JSON protocol) over real HTTP on loopback, for integration tests, demos and
benchmarks.

Standard library only. Library use::

    from vats_simulator import Simulator, ZadarmaAccount

    sim = Simulator(zadarma=ZadarmaAccount(webhook_url, api_key, api_secret)).start()
    deliveries = sim.play("zadarma", "answered", caller="79161234567", record=True)
    sim.stop()

Program use: ``python3 -m vats_simulator --help``.
"""

from . import pbx
from .calls import CallRecord
from .live import LIVE_MIX, LiveCall
from .rest import RestRequest
from .scenarios import SCENARIOS
from .simulator import Simulator, scenario_events
from .transport import Delivery, webhook_request

#: The codes of the simulated PBXs.
PROVIDERS = pbx.codes()

__all__ = [
    "LIVE_MIX",
    "PROVIDERS",
    "SCENARIOS",
    "CallRecord",
    "Delivery",
    "LiveCall",
    "RestRequest",
    "Simulator",
    "pbx",
    "scenario_events",
    "webhook_request",
]

# Every PBX's account class, by its own name (``ZadarmaAccount``, ``GenericAccount``...).
for _code in PROVIDERS:
    _account_class = pbx.get(_code).Account
    globals()[_account_class.__name__] = _account_class
    __all__.append(_account_class.__name__)
del _code, _account_class
