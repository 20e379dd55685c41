"""The simulator as an unreliable PBX: failed webhooks retried as each PBX's policy says,
a share of them dropped for good (deterministically), the call history still holding every
played call, and the ground truth of what really happened."""

import datetime as dt
import json
import threading
import time

import pytest
from simulator_support import placeholder_account, rest
from voip_providers.generic import GenericWebhookAdapter
from voip_providers.zadarma import ZadarmaAdapter

from vats_simulator import GenericAccount, Simulator, ZadarmaAccount, pbx
from vats_simulator.cli import main as cli_main
from vats_simulator.pbx import RetryPolicy
from vats_simulator.transport import RetryQueue

CODES = pbx.codes()
START = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.timezone.utc)


def fast_policy(monkeypatch, code, delays, timeout=10.0):
    """Make PBX ``code`` retry after ``delays`` (its real policy waits up to minutes)."""
    policy = RetryPolicy(delays=delays, timeout=timeout)
    monkeypatch.setattr(type(pbx.get(code)), "webhook_retry", policy)
    return policy


def failing_first(receiver, code, failures, status=503):
    """The receiver answers ``status`` to the first ``failures`` posts of ``code``, then 200;
    returns the list of the times the posts arrived."""
    arrivals = []

    def verify(_headers, _body):
        arrivals.append(time.monotonic())
        if len(arrivals) <= failures:
            return status, {"status": "error"}
        return 200, {"status": "ok"}

    receiver.verifiers[code] = verify
    return arrivals


# --- the policies ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_every_pbx_declares_its_retry_policy(code):
    policy = pbx.get(code).webhook_retry
    assert isinstance(policy, RetryPolicy)
    assert policy.attempts == len(policy.delays) + 1
    assert all(delay > 0 for delay in policy.delays) and policy.timeout > 0
    # Where it comes from is said: documented (ours) or chosen.
    assert policy.note and ("chosen" in policy.note) != policy.known


def test_what_counts_as_a_failure():
    assert RetryPolicy.failed(None) and RetryPolicy.failed(500) and RetryPolicy.failed(429)
    assert RetryPolicy.failed(404) and RetryPolicy.failed(302)
    assert not RetryPolicy.failed(200) and not RetryPolicy.failed(204)


# --- retries -----------------------------------------------------------------------------------


def test_failed_webhook_is_retried_on_its_schedule(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (0.2, 0.4))
    arrivals = failing_first(receiver, "generic", 2)
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account, retry=True) as sim:
        (first,) = sim.send("generic", {"id": "evt-1", "type": "call.started"})
        assert (first.status, first.attempt) == (503, 1)
        assert sim.wait_retries(timeout=5)
        attempts = [d for d in sim.deliveries if d.request_no == first.request_no]
    assert [(d.attempt, d.status) for d in attempts] == [(1, 503), (2, 503), (3, 200)]
    assert len({d.request_body for d in attempts}) == 1  # the same request, sent again
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4


def test_retries_stop_when_the_policy_is_spent(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (0.05,))
    arrivals = failing_first(receiver, "generic", 10, status=500)
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account, retry=True) as sim:
        sim.send("generic", {"id": "evt-1", "type": "call.started"})
        assert sim.wait_retries(timeout=5)
        time.sleep(0.2)
    assert len(arrivals) == 2


def test_no_answer_in_time_is_a_failure(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (0.05,), timeout=0.3)
    arrivals = []

    def slow_first(_headers, _body):
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            time.sleep(0.8)
        return 200, {"status": "ok"}

    receiver.verifiers["generic"] = slow_first
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account, retry=True) as sim:
        (first,) = sim.send("generic", {"id": "evt-1", "type": "call.started"})
        assert first.status is None and "timed out" in first.error.lower()
        assert sim.wait_retries(timeout=5)
        assert [d.status for d in sim.deliveries] == [None, 200]


def test_without_retry_or_without_a_policy_a_webhook_is_sent_once(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (0.05,))
    arrivals = failing_first(receiver, "generic", 5)
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account) as sim:  # retry is off by default
        sim.send("generic", {"id": "evt-1", "type": "call.started"})
        time.sleep(0.2)
        assert sim.pending_retries() == 0
    monkeypatch.setattr(type(pbx.get("generic")), "webhook_retry", RetryPolicy())
    with Simulator(generic=account, retry=True) as sim:
        sim.send("generic", {"id": "evt-2", "type": "call.started"})
        time.sleep(0.2)
    assert len(arrivals) == 2


def test_retry_queue_is_bounded_and_runs_in_due_order():
    queue = RetryQueue(capacity=3, workers=1)
    done = []
    now = time.monotonic()
    assert queue.schedule(now + 0.2, lambda: done.append("late"))
    assert queue.schedule(now + 0.05, lambda: done.append("early"))
    assert queue.schedule(now + 0.1, lambda: done.append("middle"))
    assert not queue.schedule(now, lambda: done.append("refused"))
    assert queue.pending() == 3
    assert queue.wait_idle(timeout=5)
    assert done == ["early", "middle", "late"] and queue.pending() == 0
    queue.close()


def test_a_full_retry_queue_loses_the_delivery(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (5,))
    failing_first(receiver, "generic", 10)
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account, retry=True, retry_capacity=1) as sim:
        sim.send("generic", [{"id": f"evt-{n}", "type": "call.started"} for n in range(3)])
        assert (sim.pending_retries(), sim.retry_overflows) == (1, 2)


# --- dropped for good --------------------------------------------------------------------------


def test_drop_share_is_deterministic_and_about_right():
    sim = Simulator(drop_share=0.05, drop_seed=7)
    payloads = [{"id": f"evt-{n}", "type": "call.ended"} for n in range(4000)]
    dropped = [sim.drops("POST", "http://x/hook", p) for p in payloads]
    again = [
        Simulator(drop_share=0.05, drop_seed=7).drops("POST", "http://x/hook", p) for p in payloads
    ]
    other = [
        Simulator(drop_share=0.05, drop_seed=8).drops("POST", "http://x/hook", p) for p in payloads
    ]
    assert dropped == again and dropped != other
    assert 0.04 < sum(dropped) / len(payloads) < 0.06
    assert not any(Simulator().drops("POST", "http://x/hook", p) for p in payloads[:100])
    assert all(Simulator(drop_share=1.0).drops("POST", "http://x/hook", p) for p in payloads[:100])
    with pytest.raises(ValueError, match="drop_share"):
        Simulator(drop_share=1.5)


def test_dropped_webhooks_are_never_sent_nor_retried(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (0.05,))
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account, retry=True, drop_share=0.5, drop_seed=3) as sim:
        for _ in range(10):
            sim.play("generic", "answered")
        assert sim.wait_retries(timeout=5)
        deliveries = sim.deliveries
    dropped = [d for d in deliveries if d.dropped]
    sent = [d for d in deliveries if not d.dropped]
    assert dropped and sent
    assert all(d.status is None and "dropped" in d.error and d.attempt == 1 for d in dropped)
    assert len(receiver.posts("generic")) == len(sent)
    assert {d.request_no for d in dropped}.isdisjoint(d.request_no for d in sent)


# A PBX that streams its events (no webhook to drop) keeps no call history of its own.
WEBHOOK_CODES = tuple(code for code in CODES if pbx.get(code).transport == "webhook")


@pytest.mark.parametrize("code", WEBHOOK_CODES)
def test_calls_whose_webhooks_were_all_dropped_stay_in_the_history(receiver, code):
    account = placeholder_account(code, receiver.hook(code))
    with Simulator(**{code: account}, drop_share=1.0) as sim:
        deliveries = sim.play(code, "answered", call_start=START)
        (record,) = sim.calls
        truth = sim.truth()
    assert deliveries and all(d.dropped for d in deliveries)
    assert not receiver.hits
    assert record.call_id == deliveries[0].call_id and record.disposition == "answered"
    assert truth[0]["dropped"] == truth[0]["posts"] == len(deliveries)


def _history_adapters(sim):
    return {
        "generic": GenericWebhookAdapter(
            {"base_url": sim.api_url("generic"), "api_key": "key", "webhook_secret": "s"}
        ),
        "zadarma": ZadarmaAdapter(
            {
                "base_url": sim.api_url("zadarma"),
                "api_key": "key",
                "api_secret": "secret",
                "timezone": "Europe/Moscow",
            }
        ),
    }


def test_the_pbx_history_serves_dropped_calls_to_the_adapters(receiver):
    """What reconciliation reads: the PBX's own call history, over its REST API."""
    accounts = {
        "generic": GenericAccount(receiver.hook("generic"), "s", "key"),
        "zadarma": ZadarmaAccount(receiver.hook("zadarma"), "key", "secret", "Europe/Moscow"),
    }
    with Simulator(**accounts, drop_share=1.0) as sim:
        sim.play("generic", "missed", call_start=START, call_id="gen-dropped-1")
        sim.play("zadarma", "answered", call_start=START, answered_by="101", talk_seconds=30)
        assert not receiver.hits
        for code, adapter in _history_adapters(sim).items():
            try:
                (row,) = adapter.call_history(
                    START - dt.timedelta(hours=1), START + dt.timedelta(hours=1)
                )
            finally:
                adapter.close()
            (truth,) = [item for item in sim.truth() if item["provider"] == code]
            assert row.disposition in (truth["disposition"], "no_answer")
            assert row.started_at == START
            if truth["answered"]:
                assert (row.extension, row.duration) == ("101", 30)


# --- the ground truth --------------------------------------------------------------------------


def test_ground_truth_of_each_played_call(receiver, monkeypatch):
    fast_policy(monkeypatch, "generic", (0.05,))
    failing_first(receiver, "generic", 1)
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account, retry=True) as sim:
        sim.play(
            "generic", "answered", call_id="t-1", answered_by="101", ring_seconds=4, talk_seconds=33
        )
        sim.play("generic", "missed", call_id="t-2", extensions=["101", "102"], ring_seconds=9)
        sim.play("generic", "outgoing", call_id="t-3", extension="102", answered=False)
        sim.play("generic", "bad_signature")  # not a call of the history
        assert sim.wait_retries(timeout=5)
        answered, missed, outgoing = sim.truth()
        served = json.loads(rest(sim.base_url + "/_simulator/truth")[2])
        served_below_a_pbx = json.loads(rest(sim.api_url("generic") + "/_simulator/truth")[2])
    assert answered["call_id"] == "t-1" and answered["answered"] and not answered["missed"]
    assert (answered["extension"], answered["ring_seconds"], answered["talk_seconds"]) == (
        "101",
        4,
        33,
    )
    # Its first post failed once, then went through.
    assert (answered["attempts"], answered["failed"], answered["dropped"]) == (
        answered["posts"] + 1,
        0,
        0,
    )
    assert missed["missed"] and missed["extension"] == "" and missed["talk_seconds"] == 0
    assert missed["extensions"] == ["101", "102"] and missed["ring_seconds"] == 9
    assert (
        outgoing["direction"] == "outbound" and not outgoing["missed"] and not outgoing["answered"]
    )
    assert served["calls"] == served_below_a_pbx["calls"] == [answered, missed, outgoing]
    assert (served["retry"], served["drop_share"], served["pending_retries"]) == (True, 0.0, 0)


def test_command_line_flags(receiver, tmp_path):
    truth_file = tmp_path / "truth.json"
    args = ["--generic-webhook", receiver.hook("generic"), "--generic-secret", "s"]
    args += ["--generic-api-key", "k", "--scenario", "answered", "--log-level", "WARNING"]
    args += ["--retry", "--drop-share", "1", "--drop-seed", "5", "--truth-file", str(truth_file)]
    assert cli_main(args) == 1  # nothing answered: every webhook was dropped
    (call,) = json.loads(truth_file.read_text())
    assert call["dropped"] == call["posts"] > 0 and not receiver.hits
    with pytest.raises(SystemExit):
        cli_main([*args[:-4], "--drop-share", "2"])


def test_truth_is_safe_to_read_while_calls_play(receiver):
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account) as sim:
        players = [
            threading.Thread(target=sim.play, args=("generic", "answered")) for _ in range(8)
        ]
        for thread in players:
            thread.start()
        while any(thread.is_alive() for thread in players):
            sim.truth()
        for thread in players:
            thread.join()
        assert len(sim.truth()) == 8


def test_realtime_play_posts_each_step_when_it_happens(receiver):
    account = placeholder_account("generic", receiver.hook("generic"))
    with Simulator(generic=account) as sim:
        began = time.time()
        start = dt.datetime.fromtimestamp(began, dt.timezone.utc)
        deliveries = sim.play(
            "generic", "answered", realtime=True, call_start=start, ring_seconds=1, talk_seconds=1
        )
        (truth,) = sim.truth()
        sim.play("generic", "busy", call_id="b-1", ring_seconds=9)
        busy = sim.truth()[1]
    # started, ringing at 1 s, answered at 1 s, ended at 2 s
    assert [d.event["type"] for d in deliveries][-1] == "call.ended"
    assert 1.9 <= time.time() - began < 3.5
    assert (truth["ring_seconds"], truth["talk_seconds"]) == (1, 1)
    assert busy["ring_seconds"] == 2  # the busy line's end comes 2 s after the start
    with pytest.raises(ValueError, match="real time"):
        sim.play("generic", "duplicates", realtime=True)
