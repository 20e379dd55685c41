"""The folding against AMI streams a real Asterisk 20 emitted (``tests/fixtures/asterisk/real``).

Recorded with the test configuration of ``tests/asterisk/`` (chan_sip phones driven by
pyVoIP): a trunk caller ``79161234567`` reaching the lines ``74950000001`` (extension 101),
``74950000002`` (ring group 101, 102, 103) and ``74950000003`` (queue 101, 102; it answers
the caller first), the desk phones calling out and each other, and an AMI ``Originate``
with ``ChannelId: c2c-42-abc`` and ``CRM_VOIP_REF=c2c-42``. ``manager.conf`` has
``timestampevents`` and ``channelvars = MIXMONITOR_FILENAME`` (the recording's file on its
channel's events); the recordings' temporary folder was replaced by
``/var/spool/asterisk/monitor``. ``DeviceStateChange`` and the action replies were left out.
"""

import pathlib

import pytest
from pbx_bridge.amiwire import parse_frames
from pbx_bridge.fold import AmiFolder

STREAMS = pathlib.Path(__file__).parent / "fixtures" / "asterisk" / "real"
CLIENT = "79161234567"

# stream: (direction, final type, disposition, extension that talked or rang last, did)
EXPECTED = {
    "direct_answered": ("inbound", "call.ended", "answered", "101", "74950000001"),
    "direct_busy": ("inbound", None, "busy", None, "74950000001"),
    "direct_no_answer": ("inbound", None, None, None, "74950000001"),
    "ring_group_answered": ("inbound", "call.ended", "answered", "102", "74950000002"),
    "queue_answered": ("inbound", "call.ended", "answered", "102", "74950000003"),
    "queue_nobody": ("inbound", None, None, None, "74950000003"),
    "outbound_answered": ("outbound", "call.ended", "answered", "101", None),
    "internal_answered": ("internal", "call.ended", "answered", None, None),
    "originate_answered": ("outbound", "call.ended", "answered", "101", None),
}


MONITOR = "/var/spool/asterisk/monitor"


def fold(name):
    text = (STREAMS / f"{name}.ami").read_text().replace("\n", "\r\n")
    messages = parse_frames(text, expect_banner=False)
    last = float(messages[-1]["Timestamp"])
    folder = AmiFolder(
        internal_contexts=("from-internal",), recording_dir=MONITOR, clock=lambda: last
    )
    if name.startswith("originate"):
        # What the bridge announces when it sends the Originate.
        folder.expect_originate("c2c-42-abc", extension="101", number=CLIENT, ref="c2c-42")
    events = []
    for message in messages:
        events.extend(folder.feed(message))
    events.extend(folder.expire(last + 24 * 3600))
    return folder, events


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_call_per_stream(name):
    folder, events = fold(name)
    assert events, "the stream folded into no event"
    assert len({event["call_id"] for event in events}) == 1, "one call, whatever its legs"
    assert folder.open_calls() == 0
    assert len({event["id"] for event in events}) == len(events), "event ids are unique"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_final_outcome(name):
    direction, final_type, disposition, extension, did = EXPECTED[name]
    _folder, events = fold(name)
    finals = [e for e in events if e["type"] in ("call.ended", "call.missed")]
    assert len(finals) == 1, f"exactly one final event, got {[e['type'] for e in events]}"
    final = finals[0]
    assert {e.get("direction") for e in events} <= {direction, None}
    if final_type:
        assert final["type"] == final_type
    else:
        # Unanswered: missed, or ended with a disposition that is not "answered".
        assert final["type"] == "call.missed" or final.get("disposition") != "answered"
    if disposition:
        assert final.get("disposition", "answered" if final["type"] == "call.ended" else None) == (
            disposition
        )
    if extension:
        answered = [e for e in events if e["type"] == "call.answered"]
        assert answered and answered[-1].get("extension") == extension
    if direction == "inbound":
        assert events[0].get("from", "").endswith(CLIENT[-10:])
    if did:
        assert any(e.get("did") == did for e in events)


def test_ring_group_answered_on_one_phone_is_one_answered_call():
    _folder, events = fold("ring_group_answered")
    rung = {e.get("extension") for e in events if e["type"] == "call.ringing"}
    assert {"101", "102", "103"} <= rung
    answered = [e for e in events if e["type"] == "call.answered"]
    assert [e["extension"] for e in answered] == ["102"]


def test_queue_nobody_took_is_one_missed_call():
    # The queue answers the caller itself (its channel goes Up before any agent rings).
    _folder, events = fold("queue_nobody")
    assert not [e for e in events if e["type"] == "call.answered"]


def test_click_to_call_keeps_odoo_reference():
    _folder, events = fold("originate_answered")
    assert {e["call_id"] for e in events} == {"c2c-42-abc"}
    assert any(e.get("origin_ref") == "c2c-42" for e in events)
    assert any(e.get("to", "").endswith(CLIENT[-10:]) for e in events)


def test_recordings_named():
    for name in ("direct_answered", "ring_group_answered", "queue_answered"):
        _folder, events = fold(name)
        recordings = [e for e in events if e["type"] == "call.recording"]
        assert len(recordings) == 1, name
        assert recordings[0]["recording_id"].startswith("20261206/")
        assert recordings[0]["recording_id"].endswith(".wav")


def raw_times(name):
    """(start, answer, end) as the raw stream says: the first channel, the two parties
    bridged, the last hang-up."""
    text = (STREAMS / f"{name}.ami").read_text().replace("\n", "\r\n")
    messages = parse_frames(text, expect_banner=False)
    stamps = [float(m["Timestamp"]) for m in messages]
    answer = next(float(m["Timestamp"]) for m in messages if m.get("DialStatus") == "ANSWER")
    hangups = [float(m["Timestamp"]) for m in messages if m.get("Event") == "Hangup"]
    return stamps[0], answer, hangups[-1]


@pytest.mark.parametrize("name", ["direct_answered", "ring_group_answered", "queue_answered"])
def test_ring_and_talk_times_come_from_the_events(name):
    start, answer, end = raw_times(name)
    _folder, events = fold(name)
    by_type = {e["type"]: e for e in events}
    assert float(events[0]["timestamp"]) == pytest.approx(start, abs=0.01)
    assert float(by_type["call.answered"]["timestamp"]) == pytest.approx(answer, abs=0.01)
    assert by_type["call.ended"].get("duration") == pytest.approx(end - answer, abs=1)
