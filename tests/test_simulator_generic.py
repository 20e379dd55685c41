"""The simulated generic signed JSON protocol against its description and a tiny receiver.

The reference signature check below is written again here, differently from
``vats_simulator/pbx/generic.py``. Protocol: ``__manifest_docs__/protocols/generic.md``.
"""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from simulator_support import rest

from vats_simulator import GenericAccount, Simulator, scenario_events
from vats_simulator.pbx.generic import signature as generic_signature

GENERIC_SECRET, GENERIC_KEY = "whsec-test", "api-key-test"
DOC_START = dt.datetime(2024, 1, 15, 7, 0, 0, tzinfo=dt.timezone.utc)


def ref_generic_ok(secret, headers, body, window=300):
    stamp = headers.get("X-Crm-Voip-Timestamp") or ""
    given = headers.get("X-Crm-Voip-Signature") or ""
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > window:
        return False
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(f"v1={mac}", value.strip()) for value in given.split(","))


def reference_receiver():
    """A well-behaved generic endpoint (``Receiver.verifiers``): checks the signature, counts
    the events it already had."""
    seen_ids = set()

    def receive(headers, body):
        if not ref_generic_ok(GENERIC_SECRET, headers, body):
            return 403, {"status": "error", "error": "signature"}
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {"status": "error", "error": "malformed"}
        events = payload["events"] if "events" in payload else [payload]
        accepted = duplicates = 0
        for event in events:
            if event["id"] in seen_ids:
                duplicates += 1
            else:
                seen_ids.add(event["id"])
                accepted += 1
        return 200, {"status": "ok", "accepted": accepted, "duplicates": duplicates}

    return receive


@pytest.fixture
def receiver(receiver):
    receiver.verifiers["generic"] = reference_receiver()
    return receiver


@pytest.fixture
def sim(receiver):
    simulator = Simulator(
        generic=GenericAccount(receiver.hook("generic"), GENERIC_SECRET, GENERIC_KEY),
        recording_size=4096,
        originate_delay=0.05,
    ).start()
    yield simulator
    simulator.stop()


def generic_call(sim, path, method="GET", payload=None, token=GENERIC_KEY, headers=None):
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    return rest(sim.api_url("generic") + path, method=method, headers=headers, body=body)


def test_generic_signature_matches_protocol():
    body = b'{"id":"e1","type":"call.started"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert generic_signature("s3cret", 1700000000, body) == "v1=" + expected


def test_generic_signature_on_the_wire_and_duplicates(sim, receiver):
    deliveries = sim.play("generic", "duplicates")
    assert [d.status for d in deliveries] == [200] * 8
    assert [d.json()["duplicates"] for d in deliveries] == [0, 1] * 4
    _method, _path, headers, body = receiver.posts()[0]
    assert headers["Content-Type"] == "application/json"
    stamp = headers["X-Crm-Voip-Timestamp"]
    assert abs(int(stamp) - time.time()) < 5
    digest = hmac.new(GENERIC_SECRET.encode(), f"{stamp}.".encode() + body, "sha256").hexdigest()
    assert headers["X-Crm-Voip-Signature"] == f"v1={digest}"
    assert json.loads(body)["type"] == "call.started"


def test_generic_batch(sim, receiver):
    deliveries = sim.play("generic", "answered", batch=True, record=True)
    assert len(deliveries) == 1 and deliveries[0].json()["accepted"] == 5
    sent = json.loads(receiver.posts()[0][3])
    assert [e["type"] for e in sent["events"]] == [
        "call.started", "call.ringing", "call.answered", "call.ended", "call.recording",
    ]  # fmt: skip
    assert sent["events"][3]["recording_id"] == sent["events"][4]["recording_id"]


def test_signature_failures_are_refused(sim, receiver):
    assert [d.status for d in sim.play("generic", "bad_signature")] == [403]
    assert [d.status for d in sim.play("generic", "unsigned")] == [403]
    assert [d.status for d in sim.play("generic", "malformed")] == [400]
    assert [d.status for d in sim.play("generic", "answered", timestamp_offset=-900)] == [403] * 4
    unsigned = receiver.posts()[1]
    assert "X-Crm-Voip-Signature" not in unsigned[2] and "X-Crm-Voip-Timestamp" in unsigned[2]
    skewed = int(receiver.posts()[-1][2]["X-Crm-Voip-Timestamp"])
    assert abs(skewed + 900 - time.time()) < 5
    with pytest.raises(TypeError):
        sim.play("generic", "answered", multipart=True)


EXPECTED_GENERIC = {
    "answered": "started ringing answered ended",
    "missed": "started ringing ended",
    "busy": "started ringing ended",
    "transferred": "started ringing answered ringing answered ended",
    "ring_group_answered_elsewhere": "started ringing ringing ringing answered ended",
    "outgoing": "outgoing ended",
    "recording_ready": "recording",
    "duplicates": "started started ringing ringing answered answered ended ended",
    "out_of_order": "ended answered",
    "bad_signature": "started",
    "unsigned": "started",
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_GENERIC))
def test_scenario_event_sequences(scenario):
    generic = scenario_events("generic", scenario)
    assert " ".join(e["type"][len("call.") :] for e in generic) == EXPECTED_GENERIC[scenario]
    assert {e["call_id"] for e in generic} == {generic[0]["call_id"]}
    if scenario in ("answered", "transferred", "ring_group_answered_elsewhere", "outgoing"):
        recorded = scenario_events("generic", scenario, record=True)
        assert recorded[-1]["type"] == "call.recording"
        assert recorded[-1]["recording_id"] == recorded[-2]["recording_id"]


def test_scenario_details():
    ids = {scenario_events("generic", "answered")[0]["call_id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) == 29 and i.startswith("call_") for i in ids)
    group = scenario_events("generic", "ring_group_answered_elsewhere")
    assert [e.get("extension") for e in group] == [None, "101", "102", "103", "102", "102"]
    call_id = group[0]["call_id"]
    assert [e["leg_id"] for e in group[1:4]] == [
        f"{call_id}:{ext}" for ext in ("101", "102", "103")
    ]
    missed = scenario_events("generic", "missed")[-1]
    assert (missed["type"], missed["disposition"], missed["duration"]) == (
        "call.ended",
        "no_answer",
        0,
    )
    missed = scenario_events("generic", "missed", disposition="cancel", use_missed_event=True)
    assert (missed[-1]["type"], missed[-1]["disposition"]) == ("call.missed", "cancel")
    dup = scenario_events("generic", "duplicates")
    assert [e["id"] for e in dup[::2]] == [e["id"] for e in dup[1::2]]
    assert len({e["id"] for e in dup}) == len(dup) // 2
    started = scenario_events("generic", "answered", call_start=DOC_START)[0]
    assert started["timestamp"] == "2024-01-15T07:00:00+00:00"
    assert started["direction"] == "inbound" and started["did"] == started["to"]
    assert list(started) == [
        "id", "type", "call_id", "direction", "from", "to", "did", "timestamp",
    ]  # fmt: skip
    outgoing = scenario_events("generic", "outgoing", extension="101", number="79990001122")[0]
    assert (outgoing["direction"], outgoing["from"], outgoing["to"]) == (
        "outbound",
        "101",
        "79990001122",
    )


def test_generic_rest(sim, receiver):
    assert generic_call(sim, "/extensions", token="wrong")[0] == 401
    status, _h, body = generic_call(sim, "/extensions")
    assert status == 200
    assert json.loads(body)["extensions"][0] == {"extension": "100", "name": "Anna Petrova"}
    status, _h, body = generic_call(sim, "/originate", "POST", {"from": "102", "to": "79990001122"})
    call_id = json.loads(body)["call_id"]
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert generic_call(sim, "/originate", "POST", {"from": "102"})[0] == 400
    assert sim.wait_background(timeout=2)
    events = [json.loads(h[3]) for h in receiver.posts()]
    assert [(e["type"], e["call_id"]) for e in events] == [
        ("call.outgoing", call_id),
        ("call.ended", call_id),
    ]
    assert (events[0]["from"], events[0]["to"], events[0]["direction"]) == (
        "102",
        "79990001122",
        "outbound",
    )
    rec = sim.play("generic", "answered", record=True, call_start=DOC_START)[-1].event
    status, headers, audio = generic_call(sim, f"/recordings/{rec['recording_id']}")
    assert (status, headers["Content-Type"], audio[:3]) == (200, "audio/mpeg", b"ID3")
    status, _h, part = generic_call(
        sim, f"/recordings/{rec['recording_id']}", headers={"Range": "bytes=0-9"}
    )
    assert (status, part) == (206, audio[:10])
    assert generic_call(sim, "/recordings/unknown")[0] == 404
    query = "?start=2024-01-15T00:00:00Z&end=2024-01-16T00:00:00%2B00:00"
    status, _h, body = generic_call(sim, "/calls" + query)
    calls = json.loads(body)["calls"]
    assert status == 200 and len(calls) == 1
    assert calls[0]["recording_id"] == rec["recording_id"]
    assert (calls[0]["start"], calls[0]["disposition"]) == ("2024-01-15T07:00:00+00:00", "answered")
    assert generic_call(sim, "/calls?start=garbage")[0] == 400


def test_the_api_lives_under_its_prefix(sim):
    assert sim.api_url("generic") == sim.base_url + "/generic"
    status, _h, body = rest(sim.base_url + "/extensions", headers={"Authorization": "Bearer x"})
    assert status == 404  # the root is not the generic API
    assert generic_call(sim, "/nothing")[2] == b'{"status": "error", "error": "not found"}'
    assert generic_call(sim, "/extensions", "DELETE")[0] == 405
    assert [r.provider for r in sim.requests][1:] == ["generic", "generic"]
