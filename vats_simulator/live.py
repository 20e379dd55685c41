"""Live mode: a steady, random and realistic stream of calls (for ``make demo``)."""

import logging
import random
import threading
from dataclasses import dataclass, field

from . import pbx

_logger = logging.getLogger("vats_simulator.live")

LIVE_MIX = (
    ("answered", 60),
    ("missed", 20),
    ("busy", 8),
    ("outgoing", 7),
    ("transferred", 5),
)
DEFAULT_NUMBERS = (
    "79161234567",
    "79037654321",
    "79265550123",
    "79857770011",
    "74957891234",
    "78123334455",
)
DEFAULT_DIDS = ("74951234567", "78129876543")


@dataclass
class LiveCall:
    """One call played in live mode."""

    index: int
    scenario: str
    params: dict
    deliveries: list = field(default_factory=list)

    @property
    def ok(self):
        return all(delivery.ok for delivery in self.deliveries)


def run_live(
    sim,
    provider,
    interval=5.0,
    numbers=None,
    dids=None,
    extensions=None,
    stop_event=None,
    max_calls=None,
    seed=None,
    event_gap=0.0,
    record_ratio=0.5,
):
    """Play calls drawn from ``LIVE_MIX`` every ``interval`` seconds.

    Runs until ``stop_event`` is set, the simulator stops, or ``max_calls`` calls were played;
    logs one line per call and returns the list of ``LiveCall``.
    """
    sim.account(provider)  # fail early without an account
    module = pbx.get(provider)
    rng = random.Random(seed)
    numbers = list(numbers or DEFAULT_NUMBERS)
    dids = list(dids or DEFAULT_DIDS)
    extensions = [str(ext) for ext in (extensions or sorted(sim.extensions))]
    if not extensions:
        raise ValueError("live mode needs at least one extension")
    stop_event = stop_event or threading.Event()
    names = [name for name, _weight in LIVE_MIX]
    weights = [weight for _name, weight in LIVE_MIX]
    played = []
    while max_calls is None or len(played) < max_calls:
        if stop_event.is_set() or sim._stopping.is_set():
            break
        scenario = rng.choices(names, weights)[0]
        if scenario == "transferred" and len(extensions) < 2:
            scenario = "answered"
        params = _random_params(rng, module, scenario, numbers, dids, extensions, record_ratio)
        deliveries = sim.play(provider, scenario, event_gap=event_gap, **params)
        call = LiveCall(len(played) + 1, scenario, params, deliveries)
        played.append(call)
        _logger.info("%s", describe(provider, call))
        if max_calls is not None and len(played) >= max_calls:
            break
        if interval and (stop_event.wait(interval) or sim._stopping.is_set()):
            break
    return played


def _random_params(rng, module, scenario, numbers, dids, extensions, record_ratio):
    params = {
        "caller": rng.choice(numbers),
        "did": rng.choice(dids),
        "ring_seconds": rng.randint(3, 25),
        "talk_seconds": rng.randint(8, 420),
    }
    if scenario == "answered":
        params["extensions"] = [rng.choice(extensions)]
        params["record"] = rng.random() < record_ratio
    elif scenario == "missed":
        params["extensions"] = rng.sample(extensions, rng.randint(1, min(3, len(extensions))))
        # Mostly the PBX's usual missed outcome, sometimes the other one.
        usual = module.missed_disposition
        other = "no_answer" if usual == "cancel" else "cancel"
        params["disposition"] = rng.choice((usual, usual, other))
    elif scenario == "busy":
        params["extensions"] = [rng.choice(extensions)]
        params["disposition"] = "busy"
    elif scenario == "transferred":
        params["extensions"] = rng.sample(extensions, 2)
        params["record"] = rng.random() < record_ratio
    elif scenario == "outgoing":
        params["extension"] = rng.choice(extensions)
        params["number"] = params["caller"]
        params["answered"] = rng.random() < 0.7
        params["record"] = params["answered"] and rng.random() < record_ratio
    direction = "outbound" if scenario == "outgoing" else "inbound"
    params["call_id"] = module.new_call_id(direction)
    return params


def describe(provider, call):
    """One log line for a live call."""
    params = call.params
    if call.scenario == "outgoing":
        route = f"ext {params['extension']} -> {params['number']}"
        outcome = "answered" if params.get("answered") else "not answered"
    else:
        route = f"{params['caller']} -> {params['did']} ext {','.join(params['extensions'])}"
        outcome = params.get("disposition", "answered")
    if outcome == "answered":
        outcome += f" talk {params['talk_seconds']}s"
    if params.get("record"):
        outcome += " +rec"
    call_id = params.get("call_id") or "?"
    statuses = " ".join(str(d.status or "ERR") for d in call.deliveries)
    errors = [d.error for d in call.deliveries if d.error]
    if errors:
        statuses += f" ({errors[0]})"
    return (
        f"call #{call.index} {provider} {call.scenario} {call_id} {route} ({outcome}): {statuses}"
    )
