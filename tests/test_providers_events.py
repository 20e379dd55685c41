"""Provider-neutral data classes and errors the Odoo side relies on."""

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from voip_providers import errors
from voip_providers import events as ev
from voip_providers.events import CallEvent, Headers, RoutingDecision, WebhookRequest

T0 = datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)


def make_event(**values):
    base = {
        "kind": ev.ENDED,
        "provider_call_id": "in_1",
        "event_key": "NOTIFY_END|in_1",
        "occurred_at": T0,
        "direction": "inbound",
    }
    base.update(values)
    return CallEvent(**base)


def test_call_event_fields_are_exactly_the_contract():
    names = [field.name for field in dataclasses.fields(CallEvent)]
    assert names == [
        "kind",
        "provider_call_id",
        "event_key",
        "occurred_at",
        "direction",
        "from_number",
        "to_number",
        "did",
        "extension",
        "leg_id",
        "call_started_at",
        "disposition",
        "duration",
        "recording_ref",
        "origin_ref",
        "reason",
        "reason_code",
        "provider_event",
        "raw",
    ]


def test_event_kind_constants():
    assert (
        ev.CALL_STARTED,
        ev.AGENT_RINGING,
        ev.ANSWERED,
        ev.ENDED,
        ev.MISSED,
        ev.OUTGOING_STARTED,
        ev.RECORDING_READY,
    ) == (
        "call_started",
        "agent_ringing",
        "answered",
        "ended",
        "missed",
        "outgoing_started",
        "recording_ready",
    )


def test_round_trip():
    event = make_event(
        call_started_at=T0 - timedelta(seconds=65),
        from_number="442037691880",
        disposition="answered",
        duration=65,
        recording_ref="rec",
        provider_event="NOTIFY_END",
        raw={"event": "NOTIFY_END", "nested": {"a": [1, 2]}},
    )
    data = event.to_dict()
    assert data["occurred_at"] == "2024-01-15T07:00:00+00:00"
    assert data["call_started_at"] == "2024-01-15T06:58:55+00:00"
    text = json.dumps(data)
    assert CallEvent.from_dict(json.loads(text)) == event
    assert CallEvent.from_dict(json.loads(event.to_json())) == event


def test_round_trip_without_optional_times_and_with_unknown_keys():
    event = make_event()
    data = event.to_dict()
    assert data["call_started_at"] is None
    data["added_in_a_later_version"] = 1
    assert CallEvent.from_dict(data) == event


def test_datetimes_are_normalized_to_aware_utc():
    moscow = timezone(timedelta(hours=3))
    event = make_event(
        occurred_at=datetime(2024, 1, 15, 10, 0, tzinfo=moscow),
        call_started_at=datetime(2024, 1, 15, 6, 59),  # naive: taken as UTC (Odoo's convention)
    )
    assert event.occurred_at == T0 and event.occurred_at.tzinfo is timezone.utc
    assert event.call_started_at.tzinfo is timezone.utc
    restored = CallEvent.from_dict({**event.to_dict(), "occurred_at": "2024-01-15T10:00:00+03:00"})
    assert restored.occurred_at == T0


@pytest.mark.parametrize(
    "values, message",
    [
        ({"kind": "hangup"}, "Unknown event kind"),
        ({"direction": "incoming"}, "Unknown call direction"),
        ({"disposition": "no answer"}, "Unknown disposition"),
        ({"provider_call_id": ""}, "provider_call_id is empty"),
        ({"event_key": ""}, "event_key must be 1 to 255"),
        ({"event_key": "k" * 256}, "event_key must be 1 to 255"),
        ({"occurred_at": "2024-01-15"}, "Expected a datetime"),
    ],
)
def test_call_event_validation(values, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_event(**values)


def test_headers_are_case_insensitive():
    headers = Headers({"Content-Type": "text/plain", "X-Crm-Voip-Signature": "v1=a"})
    assert headers["content-type"] == "text/plain"
    assert headers.get("X-CRM-VOIP-SIGNATURE") == "v1=a"
    assert "CONTENT-TYPE" in headers
    assert list(headers) == ["Content-Type", "X-Crm-Voip-Signature"]
    headers["content-type"] = "application/json"
    assert len(headers) == 2 and headers["Content-Type"] == "application/json"
    del headers["CONTENT-type"]
    assert "Content-Type" not in headers
    assert Headers([("A", "1")])["a"] == "1"


def test_webhook_request_normalization():
    request = WebhookRequest(
        method="post",
        url="https://odoo.example/crm_voip/webhook/tok?zd_echo=1&x=2&x=3",
        form={"event": ["NOTIFY_START", "second"], "n": 5, "none": None},
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        body="event=NOTIFY_START",
        received_at=datetime(2024, 1, 15, 7, 0),
    )
    assert request.method == "POST"
    assert request.path == "/crm_voip/webhook/tok"
    assert request.query == {"zd_echo": "1", "x": "2"}
    assert request.form == {"event": "NOTIFY_START", "n": "5", "none": ""}
    assert request.content_type.startswith("application/x-www-form-urlencoded")
    assert request.mimetype == "application/x-www-form-urlencoded"
    assert request.body == b"event=NOTIFY_START"
    assert request.received_at == T0
    assert request.header("Content-Type") == request.header("CONTENT-TYPE")
    assert request.header("Missing") == "" and request.header("Missing", None) is None


def test_webhook_request_defaults():
    request = WebhookRequest()
    assert request.body == b"" and request.form == {} and request.query == {}
    assert request.received_at.tzinfo is timezone.utc
    assert abs(request.received_at - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_webhook_response_helpers():
    response = ev.WebhookResponse.json({"status": "ok", "name": "Ромашка"}, status=201)
    assert response.status == 201 and response.content_type == "application/json"
    assert json.loads(response.body) == {"status": "ok", "name": "Ромашка"}
    assert response.body.isascii()
    text = ev.WebhookResponse.text("abc")
    assert (text.status, text.body, text.content_type) == (200, b"abc", "text/plain; charset=utf-8")


def test_routing_decision():
    decision = RoutingDecision("redirect", [101, "102"], timeout=20)
    assert decision.targets == ["101", "102"]
    assert RoutingDecision().action == "default"
    with pytest.raises(ValueError, match="Unknown routing action"):
        RoutingDecision("transfer")


def test_small_result_types():
    assert ev.OriginateResult().call_id == ""
    assert ev.RecordingLink("https://x/1.mp3").expires_at is None
    assert ev.Extension("101").name == ""
    call = ev.HistoryCall("c1", "inbound")
    assert (call.duration, call.started_at, call.recording_ref) == (None, None, "")


def test_error_hierarchy():
    assert issubclass(errors.AuthError, errors.ProviderError)
    assert issubclass(errors.RateLimitError, errors.ProviderError)
    assert issubclass(errors.RetryableError, errors.ProviderError)
    assert issubclass(errors.PermanentError, errors.ProviderError)
    assert issubclass(errors.SignatureError, errors.WebhookError)
    assert issubclass(errors.MalformedEventError, errors.WebhookError)
    assert not issubclass(errors.WebhookError, errors.ProviderError)
    assert (errors.SignatureError("x").status, errors.MalformedEventError("x").status) == (403, 400)
    assert errors.MalformedEventError("event.id: missing").reason == "event.id: missing"
    assert [cls.retryable for cls in (errors.RetryableError, errors.RateLimitError)] == [True, True]
    assert [cls.retryable for cls in (errors.AuthError, errors.PermanentError)] == [False, False]
    limited = errors.RateLimitError("slow down", retry_after=0, status_code=429)
    assert (limited.retry_after, limited.status_code, str(limited)) == (1, 429, "slow down")
    assert errors.RateLimitError("x").retry_after == 60
