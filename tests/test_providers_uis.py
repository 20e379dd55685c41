"""The UIS adapter alone: the templates it ships (equal, byte for byte, to the ones the
simulator renders), the lenient reading of what UIS makes of them, the secret, and its
JSON-RPC calls with the transport patched (``tests/provider_support.py``)."""

import dataclasses
import datetime as dt
import json
import pathlib
import time

import pytest
from provider_support import http_response, patch_transport
from voip_providers import events as ev
from voip_providers import uis
from voip_providers.errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from voip_providers.events import WebhookRequest
from voip_providers.uis import UisAdapter, parse_uis_time, read_notification

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "vats_simulator" / "pbx" / "uis_templates.json"
SECRET = "s3cret-of-the-account"
MSK = dt.timezone(dt.timedelta(hours=3))


@pytest.fixture(autouse=True)
def _fresh_tokens():
    uis.forget_tokens()
    yield
    uis.forget_tokens()


def adapter(**config):
    values = {"notification_secret": SECRET, "timezone": "Europe/Moscow", **config}
    return UisAdapter(values)


def request(body):
    return WebhookRequest(body=body, content_type="application/json", remote_addr="10.0.0.1")


def body(event, secret=SECRET, **values):
    return json.dumps({"event": event, **values, "secret": secret})


def parsed(text, **config):
    instance = adapter(**config)
    webhook = request(text)
    instance.verify(webhook)
    return instance.parse(webhook)


# -- the templates -------------------------------------------------------------------------


def test_shipped_templates_are_the_simulators_byte_for_byte():
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    shipped = adapter(notification_secret=data["notification_secret"])
    templates = [dataclasses.asdict(t) for t in shipped.notification_templates(data["webhook_url"])]
    regenerated = {**data, "templates": templates}
    text = json.dumps(regenerated, ensure_ascii=False, indent=1) + "\n"
    assert text == SHIPPED.read_text(encoding="utf-8"), (
        "the templates changed: regenerate vats_simulator/pbx/uis_templates.json"
    )


def test_templates_are_json_with_the_secret_and_one_per_event_type():
    templates = adapter().notification_templates("https://odoo.example.com/crm_voip/webhook/t")
    assert [t.key for t in templates] == [
        ev.CALL_STARTED,
        ev.AGENT_RINGING,
        ev.ANSWERED,
        ev.ENDED,
        ev.MISSED,
        ev.OUTGOING_STARTED,
        ev.RECORDING_READY,
    ]
    for template in templates:
        payload = json.loads(template.body)
        assert payload["event"] == template.key and payload["secret"] == SECRET
        assert payload["call_session_id"] == "{{call_session_id}}"
        assert template.method == "POST" and template.url.endswith("/webhook/t")
    assert UisAdapter.shows_notification_templates()
    field = UisAdapter.config_field("notification_secret")
    assert field.generated and field.secret


# -- lenient reading -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"event":"ended","call_session_id":"12","talk_time_duration":"30","employee_id":"7"}',
        '{"event":"ended","call_session_id":12,"talk_time_duration":30,"employee_id":7}',
        '{"event":"ended","call_session_id":""12"","talk_time_duration":30,"employee_id":"7"}',
        '{"event":"ended", "call_session_id": 12, "talk_time_duration":30 ,"employee_id":7 }',
        '{"event":ended,"call_session_id":12,"talk_time_duration":30,"employee_id":7,"x":}',
    ],
)
def test_values_quoted_or_not(text):
    fields = read_notification(text.encode())
    assert (fields["event"], fields["call_session_id"]) == ("ended", "12")
    assert (fields["talk_time_duration"], fields["employee_id"]) == ("30", "7")


def test_empty_unsubstituted_and_quoted_names():
    fields = read_notification(
        b'{"event":"answered","external_id":,"leg_id":{{leg_id}},'
        b'"employee_full_name":"Anna "Sunny" Petrova","direction":"{{direction}}","secret":"s"}'
    )
    assert fields["external_id"] == fields["leg_id"] == fields["direction"] == ""
    assert fields["employee_full_name"] == 'Anna "Sunny" Petrova'
    assert fields["secret"] == "s"


def test_unreadable_bodies():
    for text in (b"\xff\xfe", b"<html>no</html>", b"[1, 2]"):
        with pytest.raises(MalformedEventError):
            read_notification(text)


def test_times():
    expected = dt.datetime(2026, 11, 2, 7, 0, 5, tzinfo=dt.timezone.utc)
    assert parse_uis_time("2026-11-02 10:00:05", MSK) == expected
    assert parse_uis_time("2026-11-02T10:00:05.5", MSK) == expected.replace(microsecond=500000)
    assert parse_uis_time(str(int(expected.timestamp())), MSK) == expected
    assert parse_uis_time(str(int(expected.timestamp() * 1000)), MSK) == expected
    assert parse_uis_time("{{notification_time}}", MSK) is None
    assert parse_uis_time("yesterday", MSK) is None


# -- verify and parse ----------------------------------------------------------------------


def test_secret_is_required_and_compared():
    good = body(ev.CALL_STARTED, call_session_id="1")
    assert adapter().verify(request(good)).startswith("secret ok")
    for text in (body(ev.CALL_STARTED, secret="other"), body(ev.CALL_STARTED, secret="")):
        with pytest.raises(SignatureError):
            adapter().verify(request(text))
    with pytest.raises(SignatureError, match="not configured"):
        adapter(notification_secret="").verify(request(good))
    with pytest.raises(SignatureError, match="allow-list"):
        adapter(ip_allowlist=["192.0.2.0/24"]).verify(request(good))
    with pytest.raises(MalformedEventError, match="Unknown"):
        adapter().verify(request(body("weather", call_session_id="1")))


def test_missing_session_is_malformed():
    with pytest.raises(MalformedEventError, match="call_session_id"):
        parsed(body(ev.CALL_STARTED, call_session_id="{{call_session_id}}"))
    with pytest.raises(MalformedEventError, match="employee"):
        parsed(body(ev.AGENT_RINGING, call_session_id="5", employee_id=""))


def test_inbound_call_events():
    common = {
        "call_session_id": "901",
        "virtual_phone_number": "74951234567",
        "contact_phone_number": "79161234567",
        "notification_time": "2026-11-02 10:00:00",
    }
    (started,) = parsed(body(ev.CALL_STARTED, **common))
    assert (started.kind, started.provider_call_id, started.direction) == (
        ev.CALL_STARTED,
        "901",
        ev.INBOUND,
    )
    assert (started.from_number, started.did) == ("79161234567", "74951234567")
    assert started.occurred_at == dt.datetime(2026, 11, 2, 7, tzinfo=dt.timezone.utc)
    assert "secret" not in started.raw
    leg = {**common, "employee_id": "101", "leg_id": "55", "direction": "in"}
    (ringing,) = parsed(body(ev.AGENT_RINGING, **leg))
    (again,) = parsed(body(ev.AGENT_RINGING, **leg))
    assert ringing.extension == "101" and ringing.event_key == again.event_key
    (answered,) = parsed(body(ev.ANSWERED, **leg))
    assert answered.kind == ev.ANSWERED and answered.event_key != ringing.event_key
    end = {**common, "employee_id": "101", "direction": "in", "total_time_duration": "40"}
    (ended,) = parsed(body(ev.ENDED, talk_time_duration="30", **end))
    assert (ended.kind, ended.disposition, ended.duration) == (ev.ENDED, "answered", 30)
    assert ended.call_started_at == started.occurred_at - dt.timedelta(seconds=40)
    (lost,) = parsed(body(ev.ENDED, talk_time_duration="0", finish_reason="operator_busy", **end))
    assert (lost.kind, lost.disposition, lost.extension) == (ev.MISSED, "busy", "")
    (lost_call,) = parsed(body(ev.MISSED, **end))
    assert (lost_call.kind, lost_call.disposition) == (ev.MISSED, "no_answer")
    assert lost_call.event_key != lost.event_key


def test_outbound_and_click_to_call_events():
    values = {
        "call_session_id": "902",
        "employee_id": "102",
        "virtual_phone_number": "74951234567",
        "contact_phone_number": "74955404444",
        "external_id": "c2c-0f",
    }
    (started,) = parsed(body(ev.OUTGOING_STARTED, **values))
    assert (started.kind, started.direction, started.extension, started.to_number) == (
        ev.OUTGOING_STARTED,
        ev.OUTBOUND,
        "102",
        "74955404444",
    )
    assert started.origin_ref == "c2c-0f"
    (ended,) = parsed(body(ev.ENDED, direction="out", talk_time_duration="0", **values))
    assert (ended.kind, ended.direction, ended.extension) == (ev.MISSED, ev.OUTBOUND, "102")


def test_recording_references():
    values = {"call_session_id": "903", "communication_id": "300000001"}
    media = "https://app.uiscom.ru/system/media/talk/300000001/abcdef0123/"
    (ready,) = parsed(body(ev.RECORDING_READY, file_link=media, **values))
    assert ready.recording_ref == "300000001/abcdef0123"
    other = "https://media.uiscom.ru/files/x.mp3"
    (ready,) = parsed(body(ev.RECORDING_READY, file_link=other, **values))
    assert ready.recording_ref == other
    for link in ("", "http://evil.example.com/x.mp3", "https://uiscom.ru.evil.example/x"):
        (ready,) = parsed(body(ev.RECORDING_READY, file_link=link, **values))
        assert ready.recording_ref == "session:903"
    instance = adapter()
    assert instance.recording_link("300000001/abcdef0123").url == (
        "https://app.uiscom.ru/system/media/talk/300000001/abcdef0123/"
    )
    assert adapter(platform="comagic.ru").media_url == "https://app.comagic.ru"


# -- JSON-RPC ------------------------------------------------------------------------------


def rpc_result(data, limits=None):
    result = {"data": data}
    if limits:
        result["metadata"] = {"limits": limits}
    return http_response(200, {"jsonrpc": "2.0", "id": "x", "result": result})


def rpc_error(code, mnemonic, status=200, **data):
    error = {"code": code, "message": "refused", "data": {"mnemonic": mnemonic, **data}}
    return http_response(status, {"jsonrpc": "2.0", "id": "x", "error": error})


def login_ok(token="tok-1", expire_at=None):
    return rpc_result({"access_token": token, "expire_at": expire_at or int(time.time()) + 3600})


def api_adapter(**config):
    values = {"login": "api", "password": "pw", "virtual_number": "74951234567", **config}
    return adapter(**values)


def test_click_to_call_request():
    instance, transport = patch_transport(
        api_adapter(), login_ok(), rpc_result({"call_session_id": 12345})
    )
    result = instance.originate("101", "+7 (495) 540-44-44", request_ref="c2c-1")
    assert result.call_id == "12345"
    login, call = transport.calls
    assert login["url"] == "https://callapi.uiscom.ru/v4.0"
    assert login["json"]["method"] == "login.user"
    assert login["json"]["params"] == {"login": "api", "password": "pw"}
    assert call["json"]["method"] == "start.employee_call"
    assert call["json"]["jsonrpc"] == "2.0"
    assert call["json"]["params"] == {
        "access_token": "tok-1",
        "first_call": "employee",
        "switch_at_once": True,
        "direction": "out",
        "virtual_phone_number": "74951234567",
        "contact": "74955404444",
        "employee": {"id": 101},
        "external_id": "c2c-1",
    }


def test_hosts_follow_the_platform_or_the_base_url():
    assert api_adapter(platform="callgear.com")._api_url("dataapi") == (
        "https://dataapi.callgear.com/v2.0"
    )
    local = api_adapter(base_url="http://127.0.0.1:8/uis/")
    assert local._api_url("callapi") == "http://127.0.0.1:8/uis/callapi/v4.0"
    assert local.media_url == "http://127.0.0.1:8/uis"


def test_permanent_key_needs_no_login():
    instance, transport = patch_transport(
        api_adapter(access_key="perm", login=""), rpc_result({"call_session_id": 1})
    )
    instance.originate("101", "74955404444")
    assert transport.calls[0]["json"]["params"]["access_token"] == "perm"


def test_token_cached_until_a_minute_before_it_expires():
    first, transport = patch_transport(
        api_adapter(),
        login_ok(),
        rpc_result({"call_session_id": 1}),
        rpc_result({"call_session_id": 2}),
    )
    first.originate("101", "74955404444")
    second, more = patch_transport(api_adapter(), rpc_result({"call_session_id": 3}))
    second.originate("101", "74955404444")
    assert len(transport.calls) == 2 and len(more.calls) == 1
    uis.forget_tokens()
    soon, calls = patch_transport(
        api_adapter(),
        login_ok(expire_at=int(time.time()) + 30),
        rpc_result({"call_session_id": 4}),
        login_ok("tok-2"),
        rpc_result({"call_session_id": 5}),
    )
    soon.originate("101", "74955404444")
    soon.originate("101", "74955404444")
    assert [c["json"]["method"] for c in calls.calls].count("login.user") == 2


def test_expired_token_renewed_once_then_refused():
    instance, transport = patch_transport(
        api_adapter(),
        login_ok(),
        rpc_error(-32001, "access_token_expired"),
        login_ok("tok-2"),
        rpc_result({"call_session_id": 7}),
    )
    assert instance.originate("101", "74955404444").call_id == "7"
    assert transport.calls[-1]["json"]["params"]["access_token"] == "tok-2"
    uis.forget_tokens()
    instance, _ = patch_transport(
        api_adapter(),
        login_ok(),
        rpc_error(-32001, "access_token_blocked"),
        login_ok("tok-2"),
        rpc_error(-32001, "access_token_blocked"),
    )
    with pytest.raises(AuthError, match="access_token_blocked") as refused:
        instance.originate("101", "74955404444")
    assert refused.value.hint == uis.TOKEN_HINT
    revoked, calls = patch_transport(
        api_adapter(access_key="perm"), rpc_error(-32001, "access_token_invalid")
    )
    with pytest.raises(AuthError):
        revoked.originate("101", "74955404444")
    assert len(calls.calls) == 1


def test_errors_mapped():
    cases = [
        (rpc_error(-32003, "ip_not_whitelisted"), AuthError, uis.IP_HINT),
        (rpc_error(-32009, "account_inactive"), AuthError, uis.ACCOUNT_HINT),
        (rpc_error(-32602, "employee_not_found"), PermanentError, ""),
        (rpc_error(-32008, "component_disabled"), PermanentError, uis.COMPONENT_HINT),
        (rpc_error(-32603, "internal_error"), RetryableError, ""),
        (rpc_error(-32602, "simulated", status=503), RetryableError, ""),
        (http_response(502, content=b"<html>Bad gateway</html>"), RetryableError, ""),
    ]
    for answer, error_class, hint in cases:
        instance, _ = patch_transport(api_adapter(access_key="k"), answer)
        with pytest.raises(error_class) as raised:
            instance.originate("101", "74955404444")
        assert raised.value.hint == hint
    limited = rpc_error(-32029, "limit_exceeded", metadata={"limits": {"minute_reset": 17}})
    instance, _ = patch_transport(api_adapter(access_key="k"), limited)
    with pytest.raises(RateLimitError) as raised:
        instance.list_extensions()
    assert raised.value.retry_after == 17


def test_click_to_call_needs_a_virtual_number():
    with pytest.raises(PermanentError) as raised:
        api_adapter(virtual_number="").originate("101", "74955404444")
    assert raised.value.hint == uis.NO_NUMBER_HINT
    with pytest.raises(PermanentError):
        api_adapter().originate("", "74955404444")


def test_employees_paged_and_connection_line():
    page = [{"id": n, "full_name": f"E {n}", "email": f"e{n}@x.ru"} for n in range(1000)]
    instance, transport = patch_transport(
        api_adapter(access_key="k"),
        rpc_result(page),
        rpc_result([{"id": 5000, "full_name": "Last"}]),
        rpc_result([], {"day_limit": 10000, "day_remaining": 9876}),
    )
    extensions = instance.list_extensions()
    assert len(extensions) == 1001 and extensions[-1] == ev.Extension("5000", "Last", "")
    assert [c["json"]["params"]["offset"] for c in transport.calls] == [0, 1000]
    assert transport.calls[0]["url"] == "https://dataapi.uiscom.ru/v2.0"
    assert instance.test_connection() == (
        "Connected to UIS (uiscom.ru), 9876 of 10000 API points left today"
    )


def test_whole_call_recording_through_the_calls_report():
    instance, transport = patch_transport(
        api_adapter(access_key="k"),
        rpc_result([{"id": 903, "communication_id": 300000001, "call_records": ["ab12"]}]),
    )
    link = instance.recording_link("session:903")
    assert link.url == "https://app.uiscom.ru/system/media/talk/300000001/ab12/"
    params = transport.calls[0]["json"]["params"]
    assert params["filter"] == {"field": "id", "operator": "=", "value": 903}
    instance, _ = patch_transport(api_adapter(access_key="k"), rpc_result([]))
    with pytest.raises(PermanentError, match="no recording"):
        instance.recording_link("session:903")


def test_call_history_windows_and_rows():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rows = [
        {
            "id": 1,
            "start_time": "2026-01-01 12:00:00",
            "direction": "in",
            "is_lost": False,
            "talk_duration": 30,
            "contact_phone_number": "79161234567",
            "virtual_phone_number": "74951234567",
            "communication_id": 300000001,
            "call_records": ["ab"],
            "employees": [{"employee_id": 101, "is_answered": True}],
        },
        {
            "id": 2,
            "start_time": "2026-01-02 12:00:00",
            "direction": "in",
            "is_lost": True,
            "talk_duration": 0,
            "finish_reason": "subscriber_disconnects",
            "contact_phone_number": "79161234567",
        },
    ]
    instance, transport = patch_transport(
        api_adapter(access_key="k"), rpc_result(rows), rpc_result([]), rpc_result([])
    )
    calls = instance.call_history(start, start + dt.timedelta(days=75))
    assert len(transport.calls) == 3  # 30 + 30 + 15 days
    first = transport.calls[0]["json"]["params"]
    assert (first["date_from"], first["date_till"]) == (
        "2026-01-01 03:00:00",
        "2026-01-31 03:00:00",
    )
    answered, lost = calls
    assert (answered.call_id, answered.disposition, answered.duration, answered.extension) == (
        "1",
        "answered",
        30,
        "101",
    )
    assert answered.started_at == dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc)
    assert answered.recording_ref == "300000001/ab"
    assert (lost.disposition, lost.duration, lost.recording_ref) == ("cancel", 0, "")
