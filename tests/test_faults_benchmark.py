"""A slice of ``benchmarks/faults.py`` without Odoo: its calls, its paced traffic from an
unreliable simulated PBX, and its comparison of a call log with the ground truth."""

import importlib.util
import pathlib
import random
import sys
import time

import pytest
from simulator_support import placeholder_account

from vats_simulator import Simulator

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _load_faults():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("voip_test_faults", BENCHMARKS / "faults.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


faults = _load_faults()
PROVIDERS = faults.PROVIDER_CHOICES["mix"]
KNOWN = [f"7916{n:07d}" for n in range(5)]  # few numbers: start seconds would clash


@pytest.fixture
def sim(receiver):
    accounts = {code: placeholder_account(code, receiver.hook(code)) for code in PROVIDERS}
    simulator = Simulator(**accounts, retry=True, drop_share=0.2, drop_seed=1).start()
    yield simulator
    simulator.stop()


def test_planned_calls_never_share_a_number_line_and_second():
    accounts = {code: placeholder_account(code, "http://127.0.0.1:9/") for code in PROVIDERS}
    planner = faults.CallPlanner(random.Random(1), KNOWN, PROVIDERS, accounts)
    planned = [planner.next() for _ in range(600)]
    keys = {
        (provider, params.get("caller") or params.get("number"), params["call_start"])
        for provider, _scenario, _label, params, _posts in planned
    }
    assert len(keys) == 600
    assert {provider for provider, *_rest in planned} == set(PROVIDERS)
    assert {label for _p, _s, label, _params, _posts in planned} == set(faults.MIX)
    assert all(posts >= 2 for *_rest, posts in planned)
    now = time.time()
    for *_rest, params, _posts in planned:
        assert now - 5 < params["call_start"].timestamp() <= now  # it starts now
        assert params["ring_seconds"] + params["talk_seconds"] <= 23  # and ends soon


def test_paced_traffic_from_an_unreliable_pbx(sim):
    planner = faults.CallPlanner(random.Random(2), KNOWN, PROVIDERS, sim.accounts)
    # Calls of 2 to 3 s: the run waits for their end.
    planner.ring_range, planner.talk_range = (1, 1), (1, 2)
    player = faults.Player(sim, planner, rate=200, clients=400)
    sim.retry = False  # the tiny test receiver may refuse some connections of a burst
    wall = player.run(duration=1.0)
    truths = sim.truth()
    assert not player.errors and len(truths) == player.calls > 20
    assert 150 <= player.offered / wall <= 260
    assert sum(truth["posts"] for truth in truths) == player.offered
    dropped = sum(truth["dropped"] for truth in truths)
    assert 0.1 < dropped / player.offered < 0.3


def test_comparison_with_the_ground_truth(sim):
    sim.play("generic", "answered", call_id="ok", answered_by="101", ring_seconds=5)
    sim.play("generic", "missed", call_id="missing", extensions=["101"])
    sim.play("generic", "busy", call_id="twice", extensions=["102"])
    sim.play("generic", "answered", call_id="wrong", answered_by="102", talk_seconds=60)
    sim.play("generic", "missed", call_id="no-task", extensions=["101"])
    sim.play("generic", "answered", call_id="ring", answered_by="101", ring_seconds=5)
    truths = sim.truth()
    ids = {truth["call_id"]: {truth["call_id"]} for truth in truths}
    users = {"101": 7, "102": 8}
    # state, direction, user_id, ring, talk, missed-call task, recovered
    log = {
        ("generic", "ok"): [("done", "inbound", 7, 5, 42, None, False)],
        ("generic", "twice"): [("busy", "inbound", None, 2, 0, 3, False)] * 2,
        ("generic", "wrong"): [("done", "inbound", 8, 7, 58, None, True)],
        ("generic", "no-task"): [("missed", "inbound", None, 7, 0, None, True)],
        # Recovered: its ring time is Odoo's estimate (no history carries it), counted apart.
        ("generic", "ring"): [("done", "inbound", 7, 0, 42, None, True)],
    }
    checks, reasons = faults.compare(truths, ids, log, users, routing=True)
    assert (checks["lost"], checks["duplicated"], checks["recovered"]) == (1, 1, 3)
    assert (checks["wrong_state"], checks["ring_estimated"]) == (2, 1)
    assert set(reasons) == {
        "ring time estimated: generic (recovered)",
        "lost: generic missed",
        "talk time: generic answered (recovered)",
        "missed-call task: generic missed (recovered)",
    }
    checks, _reasons = faults.compare(truths, ids, log, users, routing=False)
    assert checks["wrong_state"] == 1
