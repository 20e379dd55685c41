"""Contract tests of the Mango Office adapter against the protocol facts of
__manifest_docs__/protocols/mango.md (the vendor's own sign vectors among them)."""

import json
import pathlib
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from provider_support import FakeTransport, http_response, patch_transport
from voip_providers import events as ev
from voip_providers import mango
from voip_providers.errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from voip_providers.events import WebhookRequest
from voip_providers.mango import MangoAdapter

KEY, SALT = "KEY123", "SALT456"
FORM = "application/x-www-form-urlencoded"
HOOK = "/crm_voip/webhook/token123"
RECEIVED = datetime(2017, 2, 28, 9, 5, 0, tzinfo=timezone.utc)  # just after the examples
ENTRY = "MjY4Nzg2ODQwMTo4MQ=="

# The vendor's PHP examples and a summary signed with KEY123 / SALT456.
VECTORS = json.loads(
    (pathlib.Path(__file__).parent / "fixtures/mango/sign_vectors.json").read_text()
)
VENDOR = VECTORS["vendor"]
VENDOR_VECTORS = [(vector["json"], vector["sign"]) for vector in VENDOR["vectors"]]
SUMMARY_JSON = VECTORS["constructed_summary"]["json"]
SUMMARY_SIGN = VECTORS["constructed_summary"]["sign"]


def make_adapter(**config):
    return MangoAdapter({"api_key": KEY, "api_salt": SALT, **config})


def post(path, payload, key=KEY, salt=SALT, sign=None, received=RECEIVED):
    """A request as Mango posts it: the form, the sign over the exact json string."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    form = {"vpbx_api_key": key, "sign": sign or mango.sign(key, text, salt), "json": text}
    return WebhookRequest(
        method="POST",
        path=f"{HOOK}/{path}",
        body=urlencode(form).encode(),
        headers={"Content-Type": FORM},
        received_at=received,
    )


def parse(path, payload, **config):
    adapter = make_adapter(**config)
    request = post(path, payload)
    adapter.verify(request)
    return adapter.parse(request)


def leg(state, seq, location="abonent", caller=None, called=None, **extra):
    return {
        "entry_id": ENTRY,
        "call_id": f"leg-{location}",
        "timestamp": 1488272633 + seq,
        "seq": seq,
        "call_state": state,
        "location": location,
        "from": caller or {"number": "74955404444"},
        "to": called or {"number": "74952150438", "line_number": "74952150438"},
        **extra,
    }


# -- signature -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), VENDOR_VECTORS)
def test_vendor_sign_vectors(text, expected):
    assert mango.sign(VENDOR["key"], text, VENDOR["salt"]) == expected


def test_constructed_summary_vector_verifies_over_the_raw_json():
    request = post("events/summary", SUMMARY_JSON, sign=SUMMARY_SIGN)
    assert make_adapter().verify(request) == "sign ok, events/summary"


def test_sign_is_over_the_raw_json_string_not_a_reserialization():
    # PHP escapes "/" and non-ASCII; the sign covers those exact bytes.
    text = '{"entry_id":"a\\/b","call_id":"c","timestamp":1488272634,"seq":1,' + (
        '"call_state":"Appeared","location":"ivr","from":{"number":"74955404444"},'
        '"to":{"number":"74952150438","line_number":"74952150438"},"x":"\\u0418"}'
    )
    request = post("events/call", text)
    make_adapter().verify(request)
    (event,) = make_adapter().parse(request)
    assert event.provider_call_id == "a/b"
    reserialized = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(SignatureError, match="Invalid sign"):
        make_adapter().verify(post("events/call", text, sign=mango.sign(KEY, reserialized, SALT)))


@pytest.mark.parametrize(
    ("request_kwargs", "error", "match"),
    [
        ({"sign": "0" * 64}, SignatureError, "Invalid sign"),
        ({"salt": "other"}, SignatureError, "Invalid sign"),
        ({"key": "someone-else"}, SignatureError, "not this account's key"),
    ],
)
def test_forged_requests_are_refused(request_kwargs, error, match):
    with pytest.raises(error, match=match):
        make_adapter().verify(post("events/summary", SUMMARY_JSON, **request_kwargs))


def test_missing_form_fields_and_bad_json():
    adapter = make_adapter()
    bare = WebhookRequest(path=f"{HOOK}/events/call", body=b"json=%7B%7D", received_at=RECEIVED)
    with pytest.raises(SignatureError, match="Unsigned"):
        adapter.verify(bare)
    no_json = WebhookRequest(
        path=f"{HOOK}/events/call", body=f"vpbx_api_key={KEY}&sign=ab".encode()
    )
    with pytest.raises(MalformedEventError, match="'json'"):
        adapter.verify(no_json)
    with pytest.raises(MalformedEventError, match="not JSON"):
        adapter.verify(post("events/call", "{not json"))
    with pytest.raises(MalformedEventError, match="not a JSON object"):
        adapter.verify(post("events/call", "[1, 2]"))
    with pytest.raises(MalformedEventError, match="not UTF-8"):
        adapter.verify(WebhookRequest(path=f"{HOOK}/events/call", body=b"\xff\xfe"))


def test_unknown_path_is_refused_after_the_sign():
    with pytest.raises(MalformedEventError, match="Unknown Mango event path"):
        make_adapter().verify(post("events/weather", {"entry_id": ENTRY}))
    with pytest.raises(SignatureError):
        make_adapter().verify(post("events/weather", {"entry_id": ENTRY}, sign="f" * 64))


def test_unconfigured_account_refuses_everything():
    with pytest.raises(SignatureError, match="not configured"):
        MangoAdapter({}).verify(post("events/summary", SUMMARY_JSON))


def test_stale_and_future_events_are_refused():
    old = RECEIVED + timedelta(days=2)
    with pytest.raises(SignatureError, match="Stale event"):
        make_adapter().verify(post("events/summary", SUMMARY_JSON, received=old))
    early = datetime(2017, 2, 28, 8, 0, tzinfo=timezone.utc)
    with pytest.raises(SignatureError, match="in the future"):
        make_adapter().verify(post("events/summary", SUMMARY_JSON, received=early))
    with pytest.raises(MalformedEventError, match="Unix seconds"):
        make_adapter().verify(post("events/call", leg("Appeared", 1, timestamp=1488272633000)))


# -- events/call -----------------------------------------------------------------------------


def test_incoming_call_in_the_voice_menu_starts_the_call():
    (event,) = parse("events/call", leg("Appeared", 1, location="ivr"))
    assert (event.kind, event.direction) == (ev.CALL_STARTED, ev.INBOUND)
    assert (event.provider_call_id, event.leg_id) == (ENTRY, "leg-ivr")
    assert (event.from_number, event.to_number, event.did) == (
        "74955404444",
        "74952150438",
        "74952150438",
    )
    assert event.occurred_at == datetime.fromtimestamp(1488272634, timezone.utc)
    assert event.event_key == "call|leg-ivr|1|Appeared"


def test_ringing_answered_and_leg_end():
    called = {"extension": "12", "number": "79260297870", "line_number": "74952150438"}
    caller = {"number": "74955404444", "taken_from_call_id": "leg-ivr"}
    (ringing,) = parse("events/call", leg("Appeared", 2, caller=caller, called=called))
    assert (ringing.kind, ringing.extension, ringing.did) == (
        ev.AGENT_RINGING,
        "12",
        "74952150438",
    )
    (answered,) = parse("events/call", leg("Connected", 3, caller=caller, called=called))
    assert (answered.kind, answered.extension, answered.direction) == (
        ev.ANSWERED,
        "12",
        ev.INBOUND,
    )
    # A leg's end (one phone of a ring group) is not the call's: the summary ends it.
    assert parse("events/call", leg("Disconnected", 4, caller=caller, called=called)) == []
    assert parse("events/call", leg("OnHold", 5, caller=caller, called=called)) == []


def test_outgoing_and_internal_legs():
    caller = {"extension": "1234"}
    (outgoing,) = parse("events/call", leg("Appeared", 1, caller=caller, called={"number": "7800"}))
    assert (outgoing.kind, outgoing.direction, outgoing.extension, outgoing.to_number) == (
        ev.OUTGOING_STARTED,
        ev.OUTBOUND,
        "1234",
        "7800",
    )
    (internal,) = parse(
        "events/call", leg("Appeared", 1, caller=caller, called={"extension": "12"})
    )
    assert (internal.direction, internal.to_number) == (ev.INTERNAL, "12")


def test_string_seq_and_timestamp_and_missing_parts():
    payload = leg("Appeared", 1, location="queue")
    payload.update(seq="7", timestamp="1488272640")
    del payload["to"]
    (event,) = parse("events/call", payload)
    assert event.event_key == "call|leg-queue|7|Appeared"
    assert event.to_number == "" and event.kind == ev.CALL_STARTED


def test_click_to_call_legs_carry_odoos_id():
    payload = leg("Appeared", 1, caller={"extension": "1234"}, command_id="c2c-abc")
    (event,) = parse("events/call", payload)
    assert event.origin_ref == "c2c-abc"


def test_call_event_without_ids_is_malformed():
    with pytest.raises(MalformedEventError, match="entry_id"):
        parse("events/call", {"call_id": "x", "call_state": "Appeared", "timestamp": 1488272634})
    with pytest.raises(MalformedEventError, match="call_state"):
        parse("events/call", {"entry_id": ENTRY, "timestamp": 1488272634})


# -- events/summary --------------------------------------------------------------------------


def test_summary_ends_an_answered_call():
    (event,) = parse("events/summary", SUMMARY_JSON)
    assert (event.kind, event.disposition, event.direction) == (ev.ENDED, "answered", ev.INBOUND)
    assert (event.extension, event.from_number, event.did) == ("12", "74955404444", "74952150438")
    assert event.duration == 100
    assert event.call_started_at == datetime.fromtimestamp(1488272633, timezone.utc)
    assert event.event_key == f"summary|{ENTRY}"


@pytest.mark.parametrize(
    ("reason", "entry_result", "talk", "expected"),
    [
        (1110, 0, 0, "cancel"),
        (1111, 0, 0, "no_answer"),
        (1121, 0, 0, "busy"),
        (1163, 0, 0, "no_answer"),
        (1131, 0, 0, "failed"),
        (2210, 0, 0, "failed"),
        # Ended in the voice menu: "successful" for Mango, nobody talked.
        (1100, 1, 0, "no_answer"),
    ],
)
def test_summary_of_an_unanswered_call(reason, entry_result, talk, expected):
    payload = json.loads(SUMMARY_JSON)
    payload.update(entry_result=entry_result, talk_time=talk, disconnect_reason=reason)
    (event,) = parse("events/summary", payload)
    assert (event.kind, event.disposition, event.duration) == (ev.MISSED, expected, 0)
    # Nobody talked: the first extension rung is not the call's salesperson.
    assert event.extension == ""


def test_outgoing_summary_resolves_the_sip_uri_to_the_extension():
    payload = {
        "entry_id": "232wc3e3w3s222",
        "call_direction": 2,
        "from": {"extension": "123", "number": "sip:user1@xyz.mangosip.ru"},
        "to": {"number": "7800123456789"},
        "line_number": "74953333357",
        "create_time": 1488272633,
        "forward_time": 1488272633,
        "talk_time": 0,
        "entry_result": 0,
        "end_time": 1488272647,
        "disconnect_reason": 1100,
    }
    (event,) = parse("events/summary", payload)
    assert (event.direction, event.from_number, event.extension, event.to_number) == (
        ev.OUTBOUND,
        "123",
        "123",
        "7800123456789",
    )
    assert event.kind == ev.MISSED


def test_summary_with_an_unknown_direction_is_malformed():
    payload = json.loads(SUMMARY_JSON)
    payload["call_direction"] = 7
    with pytest.raises(MalformedEventError, match="call_direction"):
        parse("events/summary", payload)


# -- events/recording, results, pings -----------------------------------------------------------


def recording(state, **extra):
    return {
        "recording_id": "r100:777:500:256",
        "recording_state": state,
        "seq": 1,
        "call_id": "100:500:256",
        "entry_id": ENTRY,
        "extension": "1234",
        "timestamp": "1488272700",
        **extra,
    }


def test_completed_cloud_recording_is_ready():
    (event,) = parse(
        "events/recording", recording("Completed", completion_code=1000, recipient="Cloud")
    )
    assert (event.kind, event.recording_ref, event.provider_call_id) == (
        ev.RECORDING_READY,
        "r100:777:500:256",
        ENTRY,
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"recording_state": "Started"},
        {"recording_state": "Completed", "completion_code": 4002, "recipient": "Cloud"},
        {"recording_state": "Completed", "completion_code": 1000, "recipient": "Mail"},
    ],
)
def test_recordings_with_nothing_to_fetch(extra):
    payload = recording("Started")
    payload.update(extra)
    assert parse("events/recording", payload) == []


def test_refused_callback_result():
    (event,) = parse("result/callback", {"command_id": "c2c-abc", "result": 2100})
    assert (event.kind, event.origin_ref, event.provider_call_id) == (
        ev.ORIGINATE_REFUSED,
        "c2c-abc",
        "c2c-abc",
    )
    assert event.reason == mango.REFUSAL_REASONS[0][2] and event.reason_code == "2100"
    assert parse("result/callback", {"command_id": "c2c-abc", "result": "1000"}) == []
    with pytest.raises(MalformedEventError):
        parse("result/callback", {"result": 3100})


@pytest.mark.parametrize(("code", "index"), [(3100, 1), (4501, 2), (4502, 3), (4201, 4), (5001, 6)])
def test_refusal_reasons_by_class(code, index):
    assert mango.refusal_reason(code) == mango.REFUSAL_REASONS[index][2]
    assert mango.refusal_reason(9999) == mango.DEFAULT_REFUSAL


@pytest.mark.parametrize("path", ["ping", "result/route", "events/dtmf", "result/stats"])
def test_acknowledged_paths_change_nothing(path):
    assert parse(path, {"command_id": "x", "result": 1000}) == []


def test_events_have_valid_shapes_for_storage():
    (event,) = parse("events/summary", SUMMARY_JSON)
    assert ev.CallEvent.from_dict(json.loads(event.to_json())) == event


# -- REST through a patched _request ------------------------------------------------------------


response = http_response


class SignedTransport(FakeTransport):
    def json(self, index=0):
        """The json a request carried, after checking it was signed as Mango checks."""
        form = self.calls[index]["data"]
        assert form["vpbx_api_key"] == KEY
        assert form["sign"] == mango.sign(KEY, form["json"], SALT)
        return json.loads(form["json"])


def patched(*responses, **config):
    return patch_transport(make_adapter(**config), *responses, transport_class=SignedTransport)


def test_originate_sends_a_signed_callback_with_odoos_id():
    adapter, transport = patched(
        response(payload={"result": 1000}), caller_id_line="+7 495 215-04-38"
    )
    result = adapter.originate("101", "+7 (495) 540-44-44", request_ref="c2c-abc")
    call = transport.calls[0]
    assert (call["method"], call["url"]) == (
        "POST",
        "https://app.mango-office.ru/vpbx/commands/callback",
    )
    assert transport.json() == {
        "command_id": "c2c-abc",
        "from": {"extension": "101"},
        "to_number": "74955404444",
        "line_number": "74952150438",
    }
    assert result.raw == {"command_id": "c2c-abc"}


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (response(420, {"code": 3102}), AuthError, "code 3102"),
        (response(420, {"code": 3104}), PermanentError, "invalid"),
        (response(200, {"result": 2100}), PermanentError, "out of money"),
        (response(503), RateLimitError, "limit"),
        (response(502), RetryableError, "HTTP 502"),
    ],
)
def test_originate_errors(answer, error, match):
    adapter, _transport = patched(answer)
    with pytest.raises(error, match=match):
        adapter.originate("101", "74955404444")


def test_recording_link_reads_the_one_time_redirect_without_following_it():
    link = "https://files.mango-office.ru/once/abc.mp3"
    adapter, transport = patched(response(302, headers={"Location": link}))
    assert adapter.recording_link("r100:777").url == link
    assert transport.calls[0]["allow_redirects"] is False
    assert transport.json() == {"recording_id": "r100:777", "action": "download"}
    adapter, _transport = patched(response(200, {"result": 1000}))
    with pytest.raises(PermanentError, match="no recording link"):
        adapter.recording_link("r100:777")


def test_users_become_extensions_with_their_email():
    users = {
        "users": [
            {
                "general": {"name": "Ivan", "email": "ivan@example.com"},
                "telephony": {
                    "extension": "1234",
                    "numbers": [{"number": "sip:ivan@apidomain.mangosip.ru", "protocol": "sip"}],
                },
            },
            {"general": {"name": "No phone"}, "telephony": {}},
            "garbage",
        ]
    }
    adapter, transport = patched(response(payload=users))
    (only,) = adapter.list_extensions()
    assert (only.extension, only.name, only.email) == ("1234", "Ivan", "ivan@example.com")
    assert transport.json() == {}


def test_call_history_polls_the_report(monkeypatch):
    slept = []
    monkeypatch.setattr(mango.time, "sleep", slept.append)
    csv_text = (
        "[rec1,rec2];1488272633;1488272795;1488272695;;74955404444;12;79260297870;1110;"
        "74952150438;abonent;entry-1\n"
        ";1488272700;1488272710;0;101;;;74951112233;1121;74952150438;abonent;entry-2\n"
    )
    adapter, transport = patched(
        response(payload={"key": "k1"}), response(204), response(200, content=csv_text.encode())
    )
    start = datetime(2017, 2, 28, tzinfo=timezone.utc)
    incoming, outgoing = adapter.call_history(start, start + timedelta(days=1))
    assert slept == [5, 5]
    request = transport.json(0)
    assert (request["date_from"], request["date_to"]) == ("1488240000", "1488326400")
    assert request["fields"].split(",") == list(mango.STATS_FIELDS)
    assert transport.json(1) == {"key": "k1"}
    assert (incoming.call_id, incoming.direction, incoming.extension) == (
        "entry-1",
        ev.INBOUND,
        "12",
    )
    assert (incoming.disposition, incoming.duration, incoming.recording_ref) == (
        "answered",
        100,
        "rec1",
    )
    assert (outgoing.direction, outgoing.disposition, outgoing.from_number) == (
        ev.OUTBOUND,
        "busy",
        "101",
    )


def test_call_history_splits_by_month_and_gives_up_in_time(monkeypatch):
    monkeypatch.setattr(mango.time, "sleep", lambda seconds: None)
    ticks = iter([0, 100])
    monkeypatch.setattr(mango.time, "monotonic", lambda: next(ticks))
    adapter, _transport = patched(response(payload={"key": "k1"}), response(204))
    start = datetime(2017, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(RetryableError, match="in time"):
        adapter.call_history(start, start + timedelta(days=45))


def started_leg():
    (event,) = parse("events/call", leg("Appeared", 1, location="ivr"))
    return event


def test_route_sends_the_leg_to_the_first_target_quickly():
    adapter, transport = patched(response(payload={"result": 1000}))
    decision = ev.RoutingDecision(action=ev.REDIRECT, targets=["12", "13"], timeout=20)
    assert adapter.route(started_leg(), decision, request_ref="route-7") is True
    call = transport.calls[0]
    assert call["url"].endswith("/vpbx/commands/route") and call["timeout"] == 3
    assert transport.json() == {"command_id": "route-7", "call_id": "leg-ivr", "to_number": "12"}


def test_route_rejects_by_hanging_up_and_leaves_the_default_alone():
    adapter, transport = patched(response(payload={"result": 1000}))
    assert adapter.route(started_leg(), ev.RoutingDecision(action=ev.REJECT), "r") is True
    assert transport.calls[0]["url"].endswith("/vpbx/commands/call/hangup")
    assert transport.json() == {"command_id": "r", "call_id": "leg-ivr"}
    adapter, transport = patched()
    assert adapter.route(started_leg(), ev.RoutingDecision(), "r") is False
    assert transport.calls == []


def test_route_refused_or_late_raises():
    adapter, _transport = patched(response(420, {"code": 3310}))
    decision = ev.RoutingDecision(action=ev.REDIRECT, targets=["12"])
    with pytest.raises(PermanentError, match="3310"):
        adapter.route(started_leg(), decision)


def test_declarations():
    assert MangoAdapter.has_call_history and not MangoAdapter.routes_synchronously
    assert MangoAdapter.routes_by_command
    assert {item.name for item in MangoAdapter.config_fields if item.secret} == {
        "api_key",
        "api_salt",
    }
