"""Contract tests of the generic signed JSON webhook (__manifest_docs__/generic_webhook.md)."""

import hashlib
import hmac
import json
import pathlib
from datetime import datetime, timedelta, timezone

import pytest
import voip_test_local_http as local_http
from provider_support import http_response, patch_transport
from voip_providers import events as ev
from voip_providers import generic
from voip_providers.errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from voip_providers.events import RoutingDecision, WebhookRequest
from voip_providers.generic import GenericWebhookAdapter

FIXTURES_DIR = pathlib.Path(__file__).parent / "fixtures"
BATCH = (FIXTURES_DIR / "generic" / "batch.json").read_bytes()
SECRET = "whsec_test_1"
NOW = datetime(2024, 1, 15, 7, 2, 0, tzinfo=timezone.utc)
NOW_TS = int(NOW.timestamp())


def make_adapter(**config):
    return GenericWebhookAdapter(
        {"webhook_secret": SECRET, "api_key": "k-123", "base_url": "https://pbx.example", **config}
    )


def doc_signature(body, timestamp=NOW_TS, secret=SECRET):
    """Independent implementation of the documented signature."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def webhook(body, *, timestamp=NOW_TS, signature=None, received_at=NOW, headers=None):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"}
    if timestamp is not None:
        all_headers["X-Crm-Voip-Timestamp"] = str(timestamp)
    all_headers["X-Crm-Voip-Signature"] = (
        doc_signature(body, timestamp) if signature is None else signature
    )
    all_headers.update(headers or {})
    return WebhookRequest(
        method="POST", headers=all_headers, body=body, received_at=received_at, remote_addr="::1"
    )


def event(**fields):
    base = {
        "id": "evt-1",
        "type": "call.started",
        "call_id": "c-1",
        "from": "+79161234567",
        "timestamp": "2024-01-15T10:00:00+03:00",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def parse_one(payload):
    events = make_adapter().parse(webhook(payload))
    assert len(events) == 1
    return events[0]


# -- signature ---------------------------------------------------------------------------------


def test_valid_signature():
    make_adapter().verify(webhook(BATCH))


def test_signature_module_helpers_match_the_spec():
    assert generic.signature_header(SECRET, NOW_TS, BATCH) == doc_signature(BATCH)


def test_rotation_accepts_any_of_several_values():
    body = json.dumps(event()).encode()
    old = doc_signature(body, secret="old-secret")
    new = doc_signature(body)
    make_adapter().verify(webhook(body, signature=f"{old}, {new}"))
    make_adapter().verify(webhook(body, signature=f"{new},{old}"))
    make_adapter().verify(webhook(body, signature=f"v0=abc,{new}"))
    make_adapter().verify(webhook(body, signature=new.upper().replace("V1=", "v1=")))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"signature": "v1=" + "0" * 64}, "Invalid signature"),
        ({"signature": "v0=abc"}, "has no v1= value"),
        ({"signature": "sha256=abc"}, "has no v1= value"),
        ({"signature": ""}, "Missing X-Crm-Voip-Signature header"),
        ({"timestamp": None}, "Missing X-Crm-Voip-Timestamp header"),
        ({"timestamp": "2024-01-15T07:02:00Z"}, "must be Unix time in whole seconds"),
        ({"timestamp": "1705302120.5"}, "must be Unix time in whole seconds"),
        ({"timestamp": NOW_TS - 301}, "301 s away from server time (limit 300 s)"),
        ({"timestamp": NOW_TS + 400}, "400 s away from server time"),
        ({"signature": "v1=подпись"}, "Invalid signature"),
    ],
)
def test_bad_signature_or_timestamp(kwargs, message):
    body = json.dumps(event()).encode()
    with pytest.raises(SignatureError) as caught:
        make_adapter().verify(webhook(body, **kwargs))
    assert message in caught.value.reason
    assert caught.value.status == 403


def test_signature_over_other_timestamp_is_rejected():
    body = json.dumps(event()).encode()
    signature = doc_signature(body, timestamp=NOW_TS - 10)
    with pytest.raises(SignatureError, match="Invalid signature"):
        make_adapter().verify(webhook(body, signature=signature))


def test_tampered_body_is_rejected():
    body = json.dumps(event()).encode()
    request = webhook(body)
    request.body = body.replace(b"c-1", b"c-2")
    with pytest.raises(SignatureError, match="Invalid signature"):
        make_adapter().verify(request)


def test_replay_window_is_configurable():
    body = json.dumps(event()).encode()
    request = webhook(body, timestamp=NOW_TS - 250)
    make_adapter().verify(request)
    with pytest.raises(SignatureError, match="limit 60 s"):
        make_adapter(replay_window=60).verify(request)
    make_adapter(replay_window=300).verify(webhook(body, timestamp=NOW_TS - 300))


def test_missing_secret_fails_closed():
    with pytest.raises(SignatureError, match="not configured"):
        make_adapter(webhook_secret="").verify(webhook(BATCH))


def test_headers_are_case_insensitive():
    body = json.dumps(event()).encode()
    request = WebhookRequest(
        headers={
            "x-crm-voip-timestamp": str(NOW_TS),
            "X-CRM-VOIP-SIGNATURE": doc_signature(body),
        },
        body=body,
        received_at=NOW,
    )
    make_adapter().verify(request)


def test_source_allowlist():
    make_adapter(ip_allowlist=["::1/128"]).verify(webhook(BATCH))
    with pytest.raises(SignatureError, match="not in the IP allow-list"):
        make_adapter(ip_allowlist=["10.0.0.0/8"]).verify(webhook(BATCH))


# -- parsing -----------------------------------------------------------------------------------


def test_batch_mapping():
    started, ringing, answered, ended, recording = make_adapter().parse(webhook(BATCH))
    assert started.kind == ev.CALL_STARTED
    assert (started.event_key, started.provider_call_id) == ("evt-1", "c-42")
    assert started.direction == "inbound"
    assert started.occurred_at == datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)
    assert started.call_started_at == started.occurred_at
    assert (started.from_number, started.to_number, started.did) == (
        "+7 (916) 123-45-67",
        "+74951234567",
        "+74951234567",
    )
    assert started.raw["x_custom"] == {"campaign": "spring"}  # unknown fields are kept
    assert started.provider_event == "call.started"
    assert (ringing.kind, ringing.leg_id, ringing.extension) == (ev.AGENT_RINGING, "leg-101", "101")
    assert ringing.occurred_at == datetime(2024, 1, 15, 7, 0, 5, tzinfo=timezone.utc)
    assert ringing.call_started_at is None
    assert answered.kind == ev.ANSWERED
    assert answered.occurred_at == datetime(2024, 1, 15, 7, 0, 12, tzinfo=timezone.utc)
    assert (ended.kind, ended.disposition, ended.duration) == (ev.ENDED, "answered", 65)
    assert ended.recording_ref == "rec-42"
    assert ended.occurred_at == datetime(2024, 1, 15, 7, 1, 17, 250000, tzinfo=timezone.utc)
    assert (recording.kind, recording.recording_ref) == (ev.RECORDING_READY, "rec-42")
    assert recording.from_number == ""


@pytest.mark.parametrize(
    "fields, kind, direction, disposition",
    [
        ({"type": "call.started"}, ev.CALL_STARTED, "inbound", ""),
        ({"type": "call.ringing", "extension": "101"}, ev.AGENT_RINGING, "inbound", ""),
        ({"type": "call.answered"}, ev.ANSWERED, "inbound", ""),
        ({"type": "call.ended", "disposition": "answered"}, ev.ENDED, "inbound", "answered"),
        ({"type": "call.ended", "disposition": "busy"}, ev.MISSED, "inbound", "busy"),
        ({"type": "call.ended", "disposition": "no_answer"}, ev.MISSED, "inbound", "no_answer"),
        ({"type": "call.missed"}, ev.MISSED, "inbound", "no_answer"),
        ({"type": "call.missed", "disposition": "cancel"}, ev.MISSED, "inbound", "cancel"),
        ({"type": "call.outgoing", "to": "+74951234567"}, ev.OUTGOING_STARTED, "outbound", ""),
        (
            {"type": "call.outgoing", "direction": "internal", "to": "102"},
            ev.OUTGOING_STARTED,
            "internal",
            "",
        ),
        (
            {"type": "call.ended", "direction": "outbound", "disposition": "failed"},
            ev.MISSED,
            "outbound",
            "failed",
        ),
        (
            {"type": "call.recording", "recording_id": "r1", "from": None},
            ev.RECORDING_READY,
            "inbound",
            "",
        ),
    ],
)
def test_type_mapping(fields, kind, direction, disposition):
    parsed = parse_one(event(**fields))
    assert (parsed.kind, parsed.direction, parsed.disposition) == (kind, direction, disposition)


def test_outgoing_sets_call_start():
    parsed = parse_one(event(type="call.outgoing", timestamp=1705302000))
    assert parsed.call_started_at == datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-01-15T10:00:00+03:00", datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)),
        ("2024-01-15T07:00:00Z", datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)),
        ("2024-01-15 07:00:00+0000", datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)),
        ("2024-01-15T02:00-05:00", datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)),
        ("2024-01-15T07:00:00.1234567Z", datetime(2024, 1, 15, 7, 0, 0, 123456, timezone.utc)),
        (1705302000, datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)),
        (1705302000.5, datetime(2024, 1, 15, 7, 0, 0, 500000, tzinfo=timezone.utc)),
        ("1705302000", datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)),
    ],
)
def test_timestamp_formats(value, expected):
    parsed = parse_one(event(timestamp=value))
    assert parsed.occurred_at == expected
    assert parsed.occurred_at.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "value, message",
    [
        ("2024-01-15T10:00:00", "must include a UTC offset"),
        ("15.01.2024 10:00", "expected ISO 8601 with offset or Unix seconds"),
        (1705302000000, "not milliseconds"),
        (True, "expected ISO 8601"),
        ({"t": 1}, "expected ISO 8601"),
        ("2024-13-15T10:00:00Z", "month must be in 1..12"),
        (None, "required field is missing"),
    ],
)
def test_bad_timestamps_name_the_field(value, message):
    with pytest.raises(MalformedEventError) as caught:
        make_adapter().parse(webhook(event(timestamp=value)))
    assert caught.value.reason.startswith("event.timestamp: ")
    assert message in caught.value.reason


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"id": None}, "event.id: required field is missing"),
        ({"id": "x" * 129}, "event.id: longer than 128 characters"),
        ({"id": 17}, "event.id: expected a string, got int"),
        ({"type": None}, "event.type: required field is missing"),
        ({"type": "call.transferred"}, "event.type: must be one of call.started"),
        ({"call_id": ""}, "event.call_id: required field is missing"),
        ({"call_id": "c" * 129}, "event.call_id: longer than 128 characters"),
        ({"from": None}, "event.from: required field is missing"),
        ({"from": 79161234567}, "event.from: expected a string, got int"),
        ({"direction": "sideways"}, "event.direction: must be one of inbound, outbound, internal"),
        ({"type": "call.ended"}, "event.disposition: required field is missing"),
        ({"type": "call.ended", "disposition": "hangup"}, "event.disposition: must be one of"),
        (
            {"type": "call.missed", "disposition": "answered"},
            "event.disposition: 'answered' contradicts call.missed",
        ),
        ({"type": "call.recording"}, "event.recording_id: required field is missing"),
        ({"duration": "65"}, "event.duration: expected an integer number of seconds"),
        ({"duration": -1}, "event.duration: expected a non-negative integer"),
        ({"duration": 1.5}, "event.duration: expected a non-negative integer"),
        ({"duration": True}, "event.duration: expected an integer"),
        ({"to": ["1"]}, "event.to: expected a string, got list"),
    ],
)
def test_field_validation(fields, message):
    with pytest.raises(MalformedEventError) as caught:
        make_adapter().parse(webhook(event(**fields)))
    assert caught.value.reason.startswith(message)
    assert caught.value.status == 400


def test_batch_errors_name_the_index():
    payload = {"events": [event(), event(id="evt-2", call_id=None)]}
    with pytest.raises(MalformedEventError, match=r"^events\[1\]\.call_id: required"):
        make_adapter().parse(webhook(payload))
    with pytest.raises(MalformedEventError, match=r"^events\[0\]: expected an object"):
        make_adapter().parse(webhook({"events": ["x"]}))


def test_batch_limits():
    full = {"events": [event(id=f"evt-{i}") for i in range(100)]}
    assert len(make_adapter().parse(webhook(full))) == 100
    with pytest.raises(MalformedEventError, match="at most 100 events"):
        make_adapter().parse(webhook({"events": [event(id=f"e{i}") for i in range(101)]}))
    with pytest.raises(MalformedEventError, match="events: expected a non-empty list"):
        make_adapter().parse(webhook({"events": []}))
    with pytest.raises(MalformedEventError, match="events: expected a non-empty list"):
        make_adapter().parse(webhook({"events": event()}))


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "Body is not valid JSON"),
        (b"\xff\xfe", "Body is not valid UTF-8"),
        (b"[1, 2]", "Body must be a JSON object"),
        (b'"call.started"', "Body must be a JSON object"),
        (b"", "Body is not valid JSON"),
    ],
)
def test_malformed_bodies(body, message):
    with pytest.raises(MalformedEventError, match=message):
        make_adapter().parse(webhook(body))


def test_event_key_is_the_sender_id():
    first = parse_one(event(id="abc"))
    again = parse_one(event(id="abc"))
    other = parse_one(event(id="abd"))
    assert first.event_key == again.event_key != other.event_key


def test_events_round_trip_through_json():
    for parsed in make_adapter().parse(webhook(BATCH)):
        stored = json.loads(json.dumps(parsed.to_dict()))
        assert ev.CallEvent.from_dict(stored) == parsed


# -- replies -----------------------------------------------------------------------------------


def test_ack():
    events = make_adapter().parse(webhook(BATCH))
    reply = make_adapter().ack(events[:3], 2)
    assert reply.status == 200 and reply.content_type == "application/json"
    assert json.loads(reply.body) == {"status": "ok", "accepted": 3, "duplicates": 2}
    assert json.loads(make_adapter().ack([], ["dup"]).body)["duplicates"] == 1


def test_routing_reply():
    decision = RoutingDecision("redirect", ["101", "102"], timeout=20, caller_name="ООО Ромашка")
    reply = make_adapter().routing_reply(decision)
    assert json.loads(reply.body) == {
        "status": "ok",
        "route": {
            "action": "redirect",
            "targets": ["101", "102"],
            "timeout": 20,
            "caller_name": "ООО Ромашка",
        },
    }
    reject = json.loads(make_adapter().routing_reply(RoutingDecision("reject")).body)
    assert reject == {"status": "ok", "route": {"action": "reject"}}
    default = json.loads(make_adapter().routing_reply(RoutingDecision()).body)
    assert default == {"status": "ok", "route": {"action": "default"}}


def test_error_reply():
    reply = make_adapter().error_reply(MalformedEventError("event.id: required field is missing"))
    assert reply.status == 400
    assert json.loads(reply.body) == {
        "status": "error",
        "error": "event.id: required field is missing",
    }
    assert make_adapter().error_reply(SignatureError("Invalid signature")).status == 403


# -- REST --------------------------------------------------------------------------------------


def response(status=200, payload=None, headers=None, content=None):
    return http_response(status, payload, headers, content)


def patched(*responses, **config):
    return patch_transport(make_adapter(**config), *responses)


def test_originate():
    adapter, transport = patched(response(payload={"status": "ok", "call_id": "c-9"}))
    result = adapter.originate("101", "+74951234567", caller_id="+74950000000")
    call = transport.calls[0]
    assert (call["method"], call["url"]) == ("POST", "https://pbx.example/originate")
    assert call["json"] == {"from": "101", "to": "+74951234567", "caller_id": "+74950000000"}
    assert call["headers"]["Authorization"] == "Bearer k-123"
    assert result.call_id == "c-9"


def test_list_extensions_and_history():
    extensions = {"extensions": [{"extension": "101", "name": "Anna"}, {"extension": 102}, {}]}
    calls = {
        "calls": [
            {
                "call_id": "c-1",
                "direction": "outbound",
                "from": "101",
                "to": "+74951234567",
                "extension": "101",
                "start": "2024-01-15T10:00:00+03:00",
                "duration": 30,
                "disposition": "answered",
                "recording_id": "r-1",
            },
            {"call_id": "c-2", "direction": "weird", "start": "bad", "disposition": "odd"},
        ]
    }
    adapter, transport = patched(response(payload=extensions), response(payload=calls))
    assert [(e.extension, e.name) for e in adapter.list_extensions()] == [
        ("101", "Anna"),
        ("102", ""),
    ]
    start = datetime(2024, 1, 15, tzinfo=timezone.utc)
    first, second = adapter.call_history(start, start + timedelta(days=1))
    assert transport.calls[1]["url"] == "https://pbx.example/calls"
    assert transport.calls[1]["params"] == {
        "start": "2024-01-15T00:00:00+00:00",
        "end": "2024-01-16T00:00:00+00:00",
    }
    assert first.started_at == datetime(2024, 1, 15, 7, tzinfo=timezone.utc)
    assert (first.direction, first.duration, first.recording_ref) == ("outbound", 30, "r-1")
    assert (second.direction, second.started_at, second.disposition) == ("inbound", None, "")


def test_recording_link_is_the_api_url():
    link = make_adapter(base_url="https://pbx.example/api/").recording_link("rec/42 x")
    assert link.url == "https://pbx.example/api/recordings/rec%2F42%20x"
    with pytest.raises(PermanentError, match="No recording id"):
        make_adapter().recording_link("")


def test_test_connection():
    adapter, _transport = patched(response(payload={"extensions": [{"extension": "1"}]}))
    assert adapter.test_connection() == "Connected, 1 extensions"
    assert make_adapter(base_url="").test_connection().startswith("Webhook only")


@pytest.mark.parametrize(
    "answer, error, message",
    [
        (response(401, {"status": "error", "error": "bad key"}), AuthError, "bad key"),
        (response(403, content=b""), AuthError, "HTTP 403"),
        (response(429, {}, headers={"Retry-After": "5"}), RateLimitError, "HTTP 429"),
        (response(500, content=b"boom"), RetryableError, "HTTP 500"),
        (response(503, {"error": "maintenance"}), RetryableError, "maintenance"),
        (
            response(404, {"status": "error", "error": "no such extension"}),
            PermanentError,
            "no such",
        ),
        (response(422, content=b"nope"), PermanentError, "HTTP 422"),
        (response(200, {"status": "error", "error": "busy line"}), PermanentError, "busy line"),
        (response(200, content=b"<html>"), PermanentError, "no JSON object"),
    ],
)
def test_error_mapping(answer, error, message):
    adapter, _transport = patched(answer)
    with pytest.raises(error, match=message) as caught:
        adapter.originate("101", "+74951234567")
    assert type(caught.value) is error
    if error is RateLimitError:
        assert caught.value.retry_after == 5


def test_rest_needs_configuration():
    with pytest.raises(PermanentError, match="Base URL"):
        make_adapter(base_url="").originate("101", "1")
    with pytest.raises(AuthError, match="API key is not configured"):
        make_adapter(api_key="").list_extensions()


def test_download_sends_api_key_only_to_the_api():
    audio = b"ID3\x04\x00" + b"\x00" * 100

    def responder(request):
        return 200, {"Content-Type": "audio/mpeg"}, audio

    with local_http.LocalServer(responder) as api, local_http.LocalServer(responder) as cdn:
        adapter = make_adapter(base_url=api.url)
        link = adapter.recording_link("rec-42")
        assert b"".join(adapter.download(link.url, max_bytes=1000).chunks) == audio
        assert b"".join(adapter.download(cdn.url + "/file.mp3", max_bytes=1000).chunks) == audio
    assert api.requests[0]["path"] == "/recordings/rec-42"
    assert api.requests[0]["headers"]["Authorization"] == "Bearer k-123"
    assert "Authorization" not in cdn.requests[0]["headers"]


def test_reads_call_history_only_with_its_optional_rest_api():
    adapter_class = generic.GenericWebhookAdapter
    assert not adapter_class({"secret": "s"}).reads_call_history()
    assert not adapter_class(
        {"secret": "s", "base_url": "https://pbx.example"}
    ).reads_call_history()
    configured = {"secret": "s", "base_url": "https://pbx.example", "api_key": "k"}
    assert adapter_class(configured).reads_call_history()
