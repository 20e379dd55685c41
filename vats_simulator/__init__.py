"""VATS simulator: plays cloud PBXs (Zadarma/Novofon and the generic signed JSON protocol)
over real HTTP on loopback, for integration tests, demos and benchmarks.

Standard library only. Library use::

    from vats_simulator import Simulator, ZadarmaAccount

    sim = Simulator(zadarma=ZadarmaAccount(webhook_url, api_key, api_secret)).start()
    deliveries = sim.play("zadarma", "answered", caller="79161234567", record=True)
    sim.stop()

Program use: ``python3 -m vats_simulator --help``.
"""

from .accounts import GenericAccount, ZadarmaAccount
from .live import LIVE_MIX, LiveCall
from .scenarios import PROVIDERS, SCENARIOS, CallRecord
from .server import RestRequest
from .signing import (
    generic_signature,
    zadarma_auth_header,
    zadarma_sign,
    zadarma_webhook_signature,
)
from .simulator import Simulator, scenario_events
from .transport import Delivery

__all__ = [
    "LIVE_MIX",
    "PROVIDERS",
    "SCENARIOS",
    "CallRecord",
    "Delivery",
    "GenericAccount",
    "LiveCall",
    "RestRequest",
    "Simulator",
    "ZadarmaAccount",
    "generic_signature",
    "scenario_events",
    "zadarma_auth_header",
    "zadarma_sign",
    "zadarma_webhook_signature",
]
