"""A bounded slice of the webhook fuzzing (``benchmarks/fuzz_webhooks.py`` runs 100,000
requests per adapter): hostile requests, some validly signed, through every adapter's
``verify`` and ``parse`` and the storage check raise nothing but ``WebhookError``, and
what is accepted can be stored."""

import importlib.util
import pathlib

import pytest
import voip_providers

FUZZ_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "_fuzz.py"


def _load_fuzz():
    spec = importlib.util.spec_from_file_location("voip_test_fuzz", FUZZ_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzz()


@pytest.fixture(scope="module")
def runner():
    return fuzz.Runner(voip_providers)


@pytest.mark.parametrize("code", fuzz.ADAPTERS)
def test_hostile_requests_are_refused_or_stored_cleanly(runner, code):
    tally, _kept = runner.run(code, examples=40, mutants=10)
    assert tally.inputs == 440
    problems = [message for message, _case in tally.examples]
    assert (tally.crashes, tally.unstorable) == (0, 0), problems
    assert tally.refused, "the hostile requests were all accepted: the generator is broken"


def test_known_breakers_are_refused(runner):
    """The inputs that answered 500 once, each refused with a reason."""
    builders = runner.builders
    for duration in ("NaN", "Infinity", "1e400"):
        payload = {"id": "e1", "type": "call.ended", "call_id": "c1", "from": "1"}
        payload.update(timestamp=fuzz.time.time(), disposition="answered", duration="X")
        case = builders.generic_case(payload, [duration], [], True, False)
        case.body = case.body.replace(b'"X"', duration.encode())
        case = builders.resign(case)
        tally = fuzz.Tally()
        assert runner.check(case, tally) is None and tally.refused == 1, duration
    for event_id in ("a\x00b", "a\ud800b"):
        payload = {"id": event_id, "type": "call.started", "call_id": "c1", "from": "1"}
        payload["timestamp"] = fuzz.time.time()
        tally = fuzz.Tally()
        case = builders.generic_case(payload, [], [], True, False)
        assert runner.check(case, tally) is None and tally.refused == 1, repr(event_id)
        assert b"\\u" in case.body  # escaped: the adapter decodes it, the check refuses it


def test_uis_secret_with_a_lone_surrogate_is_refused(runner):
    """Found by the full run: the secret compared as bytes could not be encoded."""
    payload = {"event": "call_started", "call_session_id": "1", "notification_time": ""}
    case = runner.builders.uis_case(payload, [], [])
    case.body = case.body.replace(fuzz.UIS_SECRET.encode(), b"\\ud800")
    tally = fuzz.Tally()
    assert runner.check(case, tally) is None and tally.refused == 1, tally.examples


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "recording_ready", "file_link": "http://[::1/talk/1/a/"},
        {"event": "agent_ringing", "employee_id": "11", "notification_time": "0001-01-01 00:00:00"},
    ],
)
def test_uis_unreadable_link_or_time_is_no_crash(runner, fields):
    """Found by the full run: a link urlsplit refuses, a time the zone shifts out of range."""
    payload = {"call_session_id": "1", **fields}
    tally = fuzz.Tally()
    runner.check(runner.builders.uis_case(payload, [], []), tally)
    assert (tally.crashes, tally.unstorable) == (0, 0), tally.examples
