"""The PBX bridge's folding of Asterisk channel events into generic calls (``bridge/pbx_bridge``).

Fixtures: recorded AMI streams (``tests/fixtures/asterisk/*.ami``, the wire text, ``#`` lines
are comments). Each folded call is checked three ways: the generic events it gives, that the
generic adapter accepts them, and what the call state machine makes of them (ring time, talk
time, who answered, how it ended).
"""

import datetime as dt
import json
import pathlib
import time

import pytest
from pbx_bridge import amiwire
from pbx_bridge.fold import AmiFolder, AriFolder, endpoint_of
from voip_callstate import machine, states
from voip_providers.events import WebhookRequest
from voip_providers.generic import GenericWebhookAdapter

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "asterisk"
START = 1705302000.0  # 2024-01-15 07:00:00 UTC, when every fixture's call starts
MONITOR = "/var/spool/asterisk/monitor"
C2C = "0b0a6c2e-1f6e-4c3a-9a1b-7d7f2f0c0001"


def stream(name):
    return amiwire.parse_frames((FIXTURES / f"{name}.ami").read_text(encoding="utf-8"))


def fold(messages, **options):
    options.setdefault("recording_dir", MONITOR)
    folder = AmiFolder(clock=lambda: START, **options)
    events = []
    for message in messages:
        events += folder.feed(message)
    return folder, events


def summary(events):
    """(type, extension, disposition, seconds after the start) of each event."""
    return [
        (e["type"][5:], e["extension"], e.get("disposition", ""), round(e["timestamp"] - START))
        for e in events
    ]


class Directory(machine.Directory):
    users = {"100": 1, "101": 2, "102": 3, "103": 4}

    def normalize(self, number):
        digits = "".join(ch for ch in number or "" if ch.isdigit())
        return f"+{digits}" if len(digits) >= 10 else None

    def user_for_extension(self, extension):
        return self.users.get(extension)

    def line_for_number(self, number_e164, raw_number):
        return None

    def team_of_user(self, user_id):
        return None


def odoo_call(events):
    """The call the generic adapter and the state machine make of ``events``."""
    body = json.dumps({"events": events}).encode()
    request = WebhookRequest(
        method="POST", headers={}, body=body, received_at=dt.datetime.now(dt.timezone.utc)
    )
    parsed = GenericWebhookAdapter({"webhook_secret": "s"}).parse(request)
    call = dict.fromkeys(machine.CALL_FIELDS, False)
    call.update(state=states.RINGING, direction=parsed[0].direction)
    call.update(talk_seconds=0, extension=False, recording_ref=False, disposition=False)
    for event in parsed:
        call.update(machine.apply(call, event, Directory()).values)
    return call


# --- the calls of the fixtures -------------------------------------------------------------


def test_answered_direct():
    folder, events = fold(stream("answered_direct"))
    assert summary(events) == [
        ("started", "", "", 0),
        ("ringing", "100", "", 1),
        ("answered", "100", "", 7),
        ("ended", "100", "answered", 49),
    ]
    started = events[0]
    assert (started["from"], started["to"], started["did"]) == (
        "79161234567",
        "74951234567",
        "74951234567",
    )
    assert {e["call_id"] for e in events} == {"1705302000.100"}
    assert {e["direction"] for e in events} == {"inbound"}
    assert events[-1]["duration"] == 42
    assert folder.open_calls() == 0
    call = odoo_call(events)
    assert call["state"] == states.DONE and call["user_id"] == 1
    assert (call["ring_seconds"], call["talk_seconds"]) == (7, 42)


def test_ring_group_answered_on_one_phone_is_one_call():
    folder, events = fold(stream("ring_group"))
    assert summary(events) == [
        ("started", "", "", 0),
        ("ringing", "101", "", 1),
        ("ringing", "102", "", 1),
        ("ringing", "103", "", 1),
        ("answered", "102", "", 7),
        ("ended", "102", "answered", 49),
    ]
    # The Local channels are neither calls nor agents: every leg is a real phone.
    legs = [e["leg_id"] for e in events if e["type"] == "call.ringing"]
    assert len(set(legs)) == 3
    assert folder.open_calls() == 0
    call = odoo_call(events)
    assert (call["state"], call["user_id"], call["extension"]) == (states.DONE, 3, "102")


def test_queue_call_nobody_took_is_one_missed_call():
    folder, events = fold(stream("queue_missed"))
    assert summary(events) == [
        ("started", "", "", 0),
        ("ringing", "101", "", 1),
        ("ringing", "102", "", 1),
        ("missed", "", "no_answer", 7),
    ]
    assert folder.open_calls() == 0
    call = odoo_call(events)
    assert call["state"] == states.MISSED and not call["user_id"]
    assert call["ring_seconds"] == 7


@pytest.mark.parametrize(
    ("name", "disposition", "state"),
    [("busy", "busy", states.BUSY), ("no_answer", "no_answer", states.MISSED)],
)
def test_unanswered_direct_calls(name, disposition, state):
    _folder, events = fold(stream(name))
    assert [e["type"] for e in events] == ["call.started", "call.ringing", "call.missed"]
    assert events[-1]["disposition"] == disposition
    assert odoo_call(events)["state"] == state


def test_outbound_from_a_desk_phone():
    _folder, events = fold(stream("outbound"))
    assert summary(events) == [
        ("outgoing", "101", "", 0),
        ("answered", "101", "", 7),
        ("ended", "101", "answered", 49),
    ]
    assert (events[0]["from"], events[0]["to"], events[0]["direction"]) == (
        "101",
        "74957654321",
        "outbound",
    )
    call = odoo_call(events)
    assert call["direction"] == "outbound" and call["user_id"] == 2
    assert call["partner_number"] == "74957654321"
    assert (call["ring_seconds"], call["talk_seconds"]) == (7, 42)


def test_click_to_call_answered():
    _folder, events = fold(stream("click_to_call"))
    assert summary(events) == [
        ("outgoing", "101", "", 0),
        ("answered", "101", "", 8),
        ("ended", "101", "answered", 50),
    ]
    # The preset ChannelId is the call id the CRM got back from its Originate.
    assert {e["call_id"] for e in events} == {C2C}
    assert {e["origin_ref"] for e in events} == {"crm-42"}
    assert odoo_call(events)["talk_seconds"] == 42


def test_click_to_call_refused_by_the_agent():
    _folder, events = fold(stream("click_to_call_refused"))
    assert summary(events) == [("outgoing", "101", "", 0), ("ended", "101", "busy", 7)]
    assert events[0]["to"] == "74957654321"
    assert odoo_call(events)["state"] == states.BUSY


def test_click_to_call_announced_by_the_bridge():
    """The bridge knows what it asked for: that wins over the channel's dialplan fields."""
    folder = AmiFolder(clock=lambda: START)
    folder.expect_originate(C2C, extension="101", number="+7 495 765-43-21", ref="crm-43")
    events = []
    for message in stream("click_to_call_refused"):
        events += folder.feed(message)
    assert [(e["type"], e["to"], e["origin_ref"]) for e in events] == [
        ("call.outgoing", "+7 495 765-43-21", "crm-43"),
        ("call.ended", "+7 495 765-43-21", "crm-43"),
    ]


def test_blind_transfer_keeps_one_call():
    _folder, events = fold(stream("transfer"))
    assert summary(events) == [
        ("started", "", "", 0),
        ("ringing", "100", "", 1),
        ("answered", "100", "", 7),
        ("ringing", "101", "", 28),
        ("answered", "101", "", 31),
        ("ended", "101", "answered", 49),
    ]
    call = odoo_call(events)
    assert (call["user_id"], call["extension"], call["talk_seconds"]) == (2, "101", 42)


def test_recording():
    _folder, events = fold(stream("recording"))
    ended, recording = events[-2:]
    assert ended["recording_id"] == "rec-20240115-070000-100-0001.wav"
    assert recording["type"] == "call.recording"
    assert recording["recording_id"] == ended["recording_id"]
    assert odoo_call(events)["recording_ref"] == "rec-20240115-070000-100-0001.wav"


def test_recording_outside_the_folder_keeps_its_path():
    _folder, events = fold(stream("recording"), recording_dir="/elsewhere")
    assert events[-1]["recording_id"] == f"{MONITOR}/rec-20240115-070000-100-0001.wav"


def test_did_from_a_channel_variable():
    messages = stream("answered_direct")
    did = {
        "Event": "VarSet",
        "Privilege": "dialplan,all",
        "Uniqueid": "1705302000.100",
        "Linkedid": "1705302000.100",
        "Variable": "FROM_DID",
        "Value": "74950000001",
    }
    _folder, events = fold([messages[0], did, *messages[1:]], did_variable="FROM_DID")
    assert {e["did"] for e in events} == {"74950000001"}


# --- what every fold guarantees ------------------------------------------------------------

ALL = sorted(path.stem for path in FIXTURES.glob("*.ami"))


@pytest.mark.parametrize("name", ALL)
def test_folding_is_deterministic_and_complete(name):
    messages = stream(name)
    folder, first = fold(messages)
    _again, second = fold(messages)
    assert [e["id"] for e in first] == [e["id"] for e in second]
    assert len({e["id"] for e in first}) == len(first)
    assert folder.open_calls() == 0 and not folder._channels
    finals = [e for e in first if e["type"] in ("call.ended", "call.missed")]
    assert len(finals) == 1
    odoo_call(first)  # the generic adapter accepts every event


@pytest.mark.parametrize("name", ALL)
def test_events_after_the_end_open_nothing(name):
    messages = stream(name)
    folder, _events = fold(messages)
    assert fold_more(folder, messages) == []
    assert folder.open_calls() == 0


def fold_more(folder, messages):
    events = []
    for message in messages:
        events += folder.feed(message)
    return events


def test_a_lost_hangup_is_closed_by_expire():
    """The caller's Hangup (and the Cdr) never came: the call ends at its last event."""
    messages = stream("answered_direct")
    assert [m["Event"] for m in messages[-3:]] == ["Hangup", "Hangup", "Cdr"]
    folder, _events = fold(messages[:-2])
    assert folder.open_calls() == 1
    assert folder.expire(now=START + 60) == []
    closed = folder.expire(now=START + 49 + folder.max_idle + 1)
    assert [(e["type"], e["disposition"], e["duration"]) for e in closed] == [
        ("call.ended", "answered", 42)
    ]
    assert folder.open_calls() == 0


def test_a_lost_hangup_of_an_unanswered_call_is_missed():
    messages = [m for m in stream("busy") if m.get("Event") not in ("Hangup", "Cdr")]
    folder, _events = fold(messages)
    closed = folder.expire(now=START + 10**6)
    assert [(e["type"], e["disposition"]) for e in closed] == [("call.missed", "busy")]


def test_unknown_and_broken_events_never_raise():
    folder = AmiFolder(clock=lambda: START)
    assert folder.feed({"Event": "PeerStatus", "Peer": "PJSIP/101"}) == []
    assert folder.feed({"Response": "Success"}) == []
    assert folder.feed({}) == []
    assert folder.feed({"Event": "Hangup", "Uniqueid": "nope"}) == []
    broken = {"Event": "Newchannel", "Uniqueid": "1.1", "Linkedid": "1.1", "Timestamp": "x"}
    assert folder.feed(broken) == []
    assert folder.feed({"Event": "DialBegin", "Uniqueid": ["1.1", "1.2"]}) == []
    assert folder.skipped == 1


def test_attended_transfer_moves_the_phone_into_the_first_call():
    """A bridge gives its channels the oldest Linkedid: the second agent's channel, talking,
    turns up under the customer's call, which it then takes over."""
    folder, events = fold(stream("answered_direct")[:-4])  # 100 talks, nothing hung up yet
    consult = {"Linkedid": "1705302030.200", "Timestamp": str(START + 30)}
    agent = {
        "Channel": "PJSIP/100-00000099",
        "Uniqueid": "1705302030.200",
        "Context": "from-internal",
    }
    target = {"Channel": "PJSIP/101-0000009a", "Uniqueid": "1705302030.201", "ChannelState": "6"}
    feed = [
        {"Event": "Newchannel", **agent, **consult, "Exten": "101", "CallerIDNum": "100"},
        {"Event": "Newchannel", **target, **consult},
        {
            "Event": "DialBegin",
            **agent,
            **consult,
            "DestChannel": target["Channel"],
            "DestUniqueid": target["Uniqueid"],
        },
        {
            "Event": "DialEnd",
            **agent,
            **consult,
            "DestChannel": target["Channel"],
            "DestUniqueid": target["Uniqueid"],
            "DialStatus": "ANSWER",
        },
        {"Event": "Hangup", **agent, **consult, "Cause": "16"},
        {
            "Event": "BridgeEnter",
            **target,
            "Linkedid": "1705302000.100",
            "Timestamp": str(START + 40),
        },
    ]
    more = fold_more(folder, feed)
    assert [(e["type"], e["call_id"], e["extension"]) for e in more] == [
        ("call.started", "1705302030.200", "100"),
        ("call.ringing", "1705302030.200", "101"),
        ("call.answered", "1705302030.200", "101"),
        ("call.ended", "1705302030.200", "101"),  # the consultation, an internal call
        ("call.answered", "1705302000.100", "101"),  # the customer's call, taken over
    ]
    assert more[0]["direction"] == "internal"
    assert folder.open_calls() == 1


def test_endpoint_of():
    assert endpoint_of("PJSIP/101-0000001a") == ("PJSIP", "101")
    assert endpoint_of("SIP/trunk-provider-00000001") == ("SIP", "trunk-provider")
    assert endpoint_of("Local/101@from-internal-00000001;2") == ("Local", "101")
    assert endpoint_of("DAHDI/1") == ("DAHDI", "1")


# --- the wire format -------------------------------------------------------------------------


def test_decoder_reads_frames_cut_anywhere():
    wire = (
        b"Asterisk Call Manager/9.0.0\r\n"
        b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
        + amiwire.encode({"Event": "VarSet", "ChanVariable": ["A=1", "B=x: y"]})
        + "Event: Newchannel\r\nCallerIDName: Łukasz\r\n\r\n".encode()
    )
    expected = [
        {"Banner": "Asterisk Call Manager/9.0.0"},
        {"Response": "Success", "ActionID": "1", "Message": "Authentication accepted"},
        {"Event": "VarSet", "ChanVariable": ["A=1", "B=x: y"]},
        {"Event": "Newchannel", "CallerIDName": "Łukasz"},
    ]
    for size in (1, 2, 3, 7, 64, len(wire)):
        decoder = amiwire.AmiDecoder()
        got = []
        for start in range(0, len(wire), size):
            got += decoder.feed(wire[start : start + size])
        assert got == expected, size
        assert not decoder.pending()


def test_decoder_keeps_a_half_frame_for_later():
    decoder = amiwire.AmiDecoder(expect_banner=False)
    assert decoder.feed(b"Event: Hangup\r\nCause: 1") == []
    assert decoder.pending()
    assert decoder.feed(b"6\r\n\r\n") == [{"Event": "Hangup", "Cause": "16"}]


def test_decoder_reads_old_command_output():
    wire = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
        b"Name/username             Host\r\n101/101  192.0.2.10\r\n\r\n2 sip peers\r\n"
        b"--END COMMAND--\r\n\r\n"
        b"Response: Success\r\nPing: Pong\r\n\r\n"
    )
    decoder = amiwire.AmiDecoder(expect_banner=False)
    first, second = decoder.feed(wire)
    assert first["Response"] == "Follows" and first["ActionID"] == "7"
    assert first["Output"] == "Name/username             Host\n101/101  192.0.2.10\n\n2 sip peers"
    assert second == {"Response": "Success", "Ping": "Pong"}


def test_decoder_skips_garbage_with_a_reason(caplog):
    decoder = amiwire.AmiDecoder(expect_banner=False)
    assert decoder.feed(b"this is no header\r\nEvent: Ping\r\n\r\n\xff\xfe: x\r\n\r\n") == [
        {"Event": "Ping"},
        {"\ufffd\ufffd": "x"},
    ]
    assert decoder.dropped == 1 and "without 'Key: Value'" in caplog.text
    assert decoder.feed(b"X: " + b"y" * (amiwire.MAX_FRAME_BYTES + 10)) == []
    assert decoder.dropped == 2 and not decoder.pending()


def test_encode():
    wire = amiwire.encode({"Action": "Originate", "Variable": ["A=1", "B=2"], "Data": "a\r\nb"})
    assert wire == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nData: a  b\r\n\r\n"


def test_folding_speed_is_measured():
    """Not a benchmark: a floor far below the target, so a slow machine does not fail."""
    messages = [m for name in ALL for m in stream(name)] * 20
    folder = AmiFolder(clock=lambda: START)
    began = time.perf_counter()
    for message in messages:
        folder.feed(message)
    rate = len(messages) / (time.perf_counter() - began)
    assert rate > 1000


def channel(name, uid, linkedid="1705302000.1", **fields):
    return {"Channel": name, "Uniqueid": uid, "Linkedid": linkedid, **fields}


def dial(event, caller, dest, **fields):
    extra = {"DestChannel": dest["Channel"], "DestUniqueid": dest["Uniqueid"], **fields}
    return {"Event": event, **caller, **extra}


def at(seconds, message):
    return {**message, "Timestamp": f"{START + seconds:.6f}"}


def test_follow_me_answered_on_a_mobile_is_answered_by_its_extension():
    trunk = channel("PJSIP/trunk-00000001", "1705302000.1", Context="from-pstn", Exten="7495")
    trunk["CallerIDNum"] = "79161234567"
    one = channel("Local/101@from-internal-00000002;1", "1705302000.2")
    two = channel("Local/101@from-internal-00000002;2", "1705302000.3")
    mobile = channel("PJSIP/trunk-00000004", "1705302000.4")
    stream_ = [
        at(0, {"Event": "Newchannel", **trunk}),
        at(1, {"Event": "Newchannel", **one}),
        at(1, {"Event": "Newchannel", **two}),
        at(1, dial("DialBegin", trunk, one)),
        at(1, {"Event": "Newchannel", **mobile}),
        at(1, dial("DialBegin", two, mobile, DialString="trunk/79990001122")),
        at(9, dial("DialEnd", two, mobile, DialStatus="ANSWER")),
        at(9, dial("DialEnd", trunk, one, DialStatus="ANSWER")),
        *[at(30, {"Event": "Hangup", **c, "Cause": "16"}) for c in (mobile, two, one, trunk)],
    ]
    folder, events = fold(stream_)
    assert summary(events) == [
        ("started", "", "", 0),
        ("answered", "101", "", 9),
        ("ended", "101", "answered", 30),
    ]
    assert events[-1]["duration"] == 21 and folder.open_calls() == 0


def test_internal_call_between_two_phones():
    caller = channel("PJSIP/100-00000001", "1705302000.1", Context="from-internal", Exten="102")
    caller["CallerIDNum"] = "100"
    phone = channel("PJSIP/102-00000002", "1705302000.2")
    _folder, events = fold(
        [
            at(0, {"Event": "Newchannel", **caller}),
            at(0, {"Event": "Newchannel", **phone}),
            at(0, dial("DialBegin", caller, phone)),
            at(20, dial("DialEnd", caller, phone, DialStatus="NOANSWER")),
            at(20, {"Event": "Hangup", **phone, "Cause": "19"}),
            at(20, {"Event": "Hangup", **caller, "Cause": "16"}),
        ]
    )
    assert [(e["type"], e["direction"], e["from"], e["to"]) for e in events] == [
        ("call.started", "internal", "100", "102"),
        ("call.ringing", "internal", "100", "102"),
        ("call.missed", "internal", "100", "102"),
    ]
    assert events[1]["extension"] == "102" and events[-1]["disposition"] == "no_answer"


def test_cdr_says_why_when_nothing_else_does():
    trunk = channel("PJSIP/trunk-00000001", "1705302000.1", Context="from-pstn", Exten="7495")
    trunk["CallerIDNum"] = "79161234567"
    local = channel("Local/600@ivr-00000002;1", "1705302000.2")
    _folder, events = fold(
        [
            at(0, {"Event": "Newchannel", **trunk}),
            at(0, {"Event": "Newchannel", **local}),
            at(3, {"Event": "Hangup", **local, "Cause": "16"}),
            at(3, {"Event": "Cdr", "UniqueID": "1705302000.1", "Disposition": "FAILED"}),
            at(4, {"Event": "Hangup", **trunk, "Cause": "16"}),
        ]
    )
    assert [(e["type"], e.get("disposition")) for e in events] == [
        ("call.started", None),
        ("call.missed", "failed"),
    ]


# --- ARI -------------------------------------------------------------------------------------


def ari_channel(uid, name, state="Ring", number="79161234567", context="from-pstn", exten="7495"):
    return {
        "id": uid,
        "name": name,
        "state": state,
        "caller": {"name": "", "number": number},
        "dialplan": {"context": context, "exten": exten, "priority": 1},
    }


def ari_at(seconds, message):
    moment = dt.datetime.fromtimestamp(START + seconds, dt.timezone.utc)
    return {**message, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}


def test_ari_direct_call_with_a_recording_finished_after_the_hangup():
    trunk = ari_channel("t1", "PJSIP/trunk-00000001")
    phone = ari_channel("p1", "PJSIP/101-00000002", state="Down", number="101", exten="")
    folder = AriFolder()
    feed = [
        ari_at(0, {"type": "ChannelCreated", "channel": trunk}),
        ari_at(0, {"type": "ChannelCreated", "channel": phone}),
        ari_at(0, {"type": "ChannelVarset", "channel": phone, "variable": "X", "value": "1"}),
        ari_at(1, {"type": "Dial", "caller": trunk, "peer": phone, "dialstatus": ""}),
        ari_at(5, {"type": "Dial", "caller": trunk, "peer": phone, "dialstatus": "ANSWER"}),
        ari_at(5, {"type": "ChannelStateChange", "channel": {**phone, "state": "Up"}}),
        ari_at(20, {"type": "ChannelDestroyed", "channel": phone, "cause": 16}),
        ari_at(20, {"type": "ChannelDestroyed", "channel": trunk, "cause": 16}),
        ari_at(
            21,
            {
                "type": "RecordingFinished",
                "recording": {"name": "r-1", "format": "wav", "target_uri": "channel:t1"},
            },
        ),
        ari_at(22, {"type": "ApplicationReplaced"}),
        {"type": "Dial"},  # broken: skipped, logged
        "not an object",
    ]
    events = [item for message in feed for item in folder.feed(message)]
    assert [(e["type"][5:], e.get("extension"), round(e["timestamp"] - START)) for e in events] == [
        ("started", "", 0),
        ("ringing", "101", 1),
        ("answered", "101", 5),
        ("ended", "101", 20),
        ("recording", None, 21),
    ]
    assert events[-1] == {
        "id": "t1:recording",
        "type": "call.recording",
        "call_id": "t1",
        "timestamp": START + 21,
        "recording_id": "r-1.wav",
    }
    assert events[-2]["duration"] == 15 and folder.open_calls() == 0
    assert folder.skipped == 1
    odoo_call(events)


@pytest.mark.parametrize(("reason", "disposition"), [("0", "failed"), ("5", "busy")])
def test_click_to_call_that_never_made_a_channel(reason, disposition):
    folder = AmiFolder(clock=lambda: START)
    folder.expect_originate("c2c-9", extension="109", number="74957654321", ref="crm-9")
    failure = {
        "Event": "OriginateResponse",
        "Response": "Failure",
        "Channel": "PJSIP/109",
        "Reason": reason,
        "Uniqueid": "c2c-9",
        "Timestamp": f"{START:.6f}",
    }
    events = folder.feed(failure)
    assert [(e["type"], e["extension"], e.get("disposition"), e["origin_ref"]) for e in events] == [
        ("call.outgoing", "109", None, "crm-9"),
        ("call.ended", "109", disposition, "crm-9"),
    ]
    assert folder.feed(failure) == [] and folder.open_calls() == 0
    # A click-to-call that rang its phone ends with the phone's Hangup, not here.
    assert fold(stream("click_to_call_refused"))[1][-1]["disposition"] == "busy"
