"""Contract tests of the Telfin adapter against the protocol facts of
__manifest_docs__/protocols/telfin.md: event fields as a public integration shows them
(GET query or POST form, EventTime and Duration in microseconds), the OAuth2 token, and
the REST answers shaped as the Telphin Go SDK's test data."""

import json
import pathlib
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from provider_support import http_response, patch_transport
from voip_providers import events as ev
from voip_providers import telfin
from voip_providers.errors import AuthError, MalformedEventError, PermanentError, RateLimitError
from voip_providers.events import WebhookRequest
from voip_providers.telfin import TelfinAdapter

HOOK = "/crm_voip/webhook/token123"
FORM = "application/x-www-form-urlencoded"
RECEIVED = datetime(2017, 9, 19, 12, 40, tzinfo=timezone.utc)
EVENTS = json.loads((pathlib.Path(__file__).parent / "fixtures/telfin/events.json").read_text())
TOKEN = {
    "access_token": "59sBiAq3LOTp40CGQAoc6EqQpjwSTdr0",
    "token_type": "Bearer",
    "expires_in": 3600,
}


@pytest.fixture(autouse=True)
def no_cached_tokens():
    telfin._tokens.clear()
    yield
    telfin._tokens.clear()


def make_adapter(**config):
    return TelfinAdapter({"client_id": "app", "client_secret": "secret", **config})


def post(fields, kind="phone"):
    return WebhookRequest(
        method="POST",
        path=f"{HOOK}/{kind}",
        body=urlencode(fields).encode(),
        content_type=FORM,
        received_at=RECEIVED,
    )


def get(fields, kind="phone"):
    return WebhookRequest(
        method="GET",
        url=f"https://odoo.example{HOOK}/{kind}?{urlencode(fields)}",
        received_at=RECEIVED,
    )


def parsed(request):
    adapter = make_adapter()
    adapter.verify(request)
    return adapter.parse(request)


def test_short_extension_and_call_key():
    assert telfin.short_extension("3515*101@sipproxy.telphin.ru") == "101"
    assert telfin.short_extension("3515*101") == "101"
    assert telfin.short_extension("101") == "101"
    assert telfin.full_name("3515*101@sipproxy.telphin.ru") == "3515*101"
    assert telfin.call_key("CAA308E3333C4A19AAED9C0254B9C61B") == "caa308e3333c4a19aaed9c0254b9c61b"


@pytest.mark.parametrize("deliver", [post, get])
def test_dial_in_starts_the_call_and_rings_the_phone(deliver):
    started, ringing = parsed(deliver(EVENTS["dial_in"]))
    assert (started.kind, ringing.kind) == (ev.CALL_STARTED, ev.AGENT_RINGING)
    assert started.provider_call_id == "76c8491e9d3711e7bd2379424bc8e8c8"
    assert (ringing.extension, ringing.from_number, ringing.did) == (
        "101",
        "+74957654321",
        "74951204567",
    )
    assert ringing.leg_id == EVENTS["dial_in"]["SubCallID"]
    # EventTime: microseconds since 1970.
    assert ringing.occurred_at == datetime(2017, 9, 19, 12, 38, 44, 746286, tzinfo=timezone.utc)
    # Several phones rung: one start per call, one ringing per leg.
    other = dict(EVENTS["dial_in"], SubCallID="124576-x", CalledExtension="3515*102@d")
    again, second = parsed(post(other))
    assert again.event_key == started.event_key and second.event_key != ringing.event_key


def test_answer_and_answered_hangup_with_talk_and_recording():
    (answered,) = parsed(post(EVENTS["answer"]))
    assert (answered.kind, answered.extension, answered.direction) == (
        ev.ANSWERED,
        "101",
        "inbound",
    )
    ended, recording = parsed(post(EVENTS["hangup_in"]))
    assert (ended.kind, ended.disposition, ended.duration) == (ev.ENDED, "answered", 83)
    assert recording.kind == ev.RECORDING_READY
    assert recording.recording_ref == "124575-79a2b6069d3711e7845f79424bc8e8c8"
    # The same delivery again gives the same keys.
    assert [e.event_key for e in parsed(post(EVENTS["hangup_in"]))] == [
        ended.event_key,
        recording.event_key,
    ]


def test_unanswered_incoming_leg_changes_nothing_and_the_menu_hangup_misses_the_call():
    leg = dict(EVENTS["hangup_in"], CallStatus="NOANSWER", Duration="0")
    del leg["RecID"]
    assert parsed(post(leg)) == []
    (missed,) = parsed(post(EVENTS["ivr_hangup_missed"], "ivr"))
    assert (missed.kind, missed.disposition, missed.from_number, missed.did) == (
        ev.MISSED,
        "cancel",
        "+74957654321",
        "74951204567",
    )
    # The menu's leg lasted the whole call (31 s): the call started then.
    assert missed.call_started_at == datetime(2017, 9, 19, 12, 39, 47, 346287, tzinfo=timezone.utc)
    busy = dict(EVENTS["ivr_hangup_missed"], CallStatus="BUSY")
    assert parsed(post(busy, "queue"))[0].disposition == "busy"
    bridged = dict(EVENTS["ivr_hangup_missed"], Bridged="yes", CallStatus="ANSWER")
    assert parsed(post(bridged, "ivr")) == []


def test_outgoing_call():
    (started,) = parsed(post(EVENTS["dial_out"]))
    assert (started.kind, started.extension, started.to_number, started.direction) == (
        ev.OUTGOING_STARTED,
        "101",
        "+74953730763",
        "outbound",
    )
    busy = dict(EVENTS["dial_out"], EventType="hangup", CallStatus="BUSY")
    (ended,) = parsed(post(busy))
    assert (ended.kind, ended.disposition) == (ev.ENDED, "busy")
    forwarded = dict(EVENTS["dial_out"], Transfered="yes")
    assert parsed(post(forwarded)) == []


def test_click_to_call_legs_are_one_call():
    ended, recording = parsed(post(EVENTS["hangup_callback_out"]))
    assert ended.provider_call_id == "ed7007fbd6404b9691150d649e0c253d"
    assert (ended.extension, ended.to_number, ended.duration) == ("101", "89523326838", 6)
    assert recording.recording_ref
    # The employee's own leg of a click-to-call is not an incoming call.
    own_leg = dict(EVENTS["dial_in"], CallBackID="ed7007fbd6404b9691150d649e0c253d")
    assert parsed(post(own_leg)) == []


def test_local_time_string_is_read_in_the_account_zone():
    fields = dict(EVENTS["answer"], EventTime="2017-09-19 15:38:54")
    (answered,) = parsed(post(fields))
    assert answered.occurred_at == datetime(2017, 9, 19, 12, 38, 54, tzinfo=timezone.utc)
    (fallback,) = parsed(post(dict(EVENTS["answer"], EventTime="soon")))
    assert fallback.occurred_at == RECEIVED


@pytest.mark.parametrize(
    "fields, kind, reason",
    [
        ({"EventType": "dial-in"}, "phone", "no EventType or CallID"),
        ({"CallID": "x"}, "phone", "no EventType or CallID"),
        ({"EventType": "fax-in", "CallID": "x"}, "phone", "Unknown Telfin event type"),
        (EVENTS["answer"], "weather", "Unknown Telfin event path"),
        (dict(EVENTS["answer"], CallFlow="sideways"), "phone", "CallFlow"),
    ],
)
def test_bad_deliveries_are_refused(fields, kind, reason):
    adapter = make_adapter()
    request = post(fields, kind)
    with pytest.raises(MalformedEventError, match=reason):
        adapter.verify(request)
        adapter.parse(request)


def test_other_event_types_are_acknowledged():
    assert parsed(post({"EventType": "message-in", "CallID": "x"})) == []


def test_token_is_cached_and_a_401_takes_a_new_one():
    adapter, transport = patch_transport(
        make_adapter(base_url="http://sim"),
        http_response(payload=TOKEN),
        http_response(payload=[]),
        http_response(payload=[]),
        http_response(401, {"message": "Invalid token"}),
        http_response(payload=dict(TOKEN, access_token="second")),
        http_response(payload=[]),
    )
    adapter.list_extensions()
    adapter.list_extensions()
    adapter.list_extensions()
    urls = [call["url"] for call in transport.calls]
    assert urls.count("http://sim/oauth/token") == 2
    assert transport.calls[0]["data"] == {
        "grant_type": "client_credentials",
        "client_id": "app",
        "client_secret": "secret",
    }
    assert transport.calls[1]["url"] == "http://sim/api/ver1.0/client/@me/extension/"
    assert transport.calls[-1]["headers"] == {"Authorization": "Bearer second"}


def test_refused_grant_is_an_auth_error_with_telfin_words_and_a_hint():
    adapter, _transport = patch_transport(
        make_adapter(),
        http_response(401, {"error": "invalid_client", "error_description": "Bad secret"}),
    )
    with pytest.raises(AuthError, match="invalid_client: Bad secret") as caught:
        adapter.test_connection()
    assert caught.value.hint == telfin.HINT_CREDENTIALS
    assert adapter.api_host == "https://altapi.telphin.ru"


def test_extensions_and_click_to_call():
    rows = [
        {"id": 469101, "name": "000*101@sipproxy.telphin.ru", "type": "phone", "label": "Anna"},
        {"id": 469099, "name": "000*099", "type": "ivr", "label": "Menu"},
    ]
    adapter, transport = patch_transport(
        make_adapter(),
        http_response(payload=TOKEN),
        http_response(payload=rows),
        http_response(payload=rows),
        http_response(payload={"call_api_id": "02ABB9EE685A11EA94BFE17EB6EAECBA", "call_id": ""}),
    )
    assert [(e.extension, e.name) for e in adapter.list_extensions()] == [("101", "Anna")]
    result = adapter.originate("101", "+7 (495) 765-43-21")
    call = transport.calls[-1]
    assert call["url"].endswith("/api/ver1.0/extension/469101/callback/")
    assert call["json"] == {"src_num": ["000*101"], "dst_num": "+74957654321"}
    assert result.call_id == "02abb9ee685a11ea94bfe17eb6eaecba"


def test_recording_link_falls_back_to_the_file():
    adapter, transport = patch_transport(
        make_adapter(base_url="http://sim"),
        http_response(payload=TOKEN),
        http_response(payload={"record_url": "https://storage.telphin.ru/12345"}),
        http_response(404, {"message": "Record not found"}),
    )
    assert adapter.recording_link("469100-ABC").url == "https://storage.telphin.ru/12345"
    link = adapter.recording_link("469100-ABC")
    assert link.url == "http://sim/api/ver1.0/client/@me/record/469100-ABC/"
    assert adapter._download_headers(link.url) == {
        "Authorization": "Bearer " + TOKEN["access_token"]
    }
    assert adapter._download_headers("https://storage.telphin.ru/12345") == {}


def test_call_history_and_its_one_request_at_a_time():
    sdk_row = json.loads(
        (pathlib.Path(__file__).parent / "fixtures/telfin/call_history_row.json").read_text()
    )
    adapter, transport = patch_transport(
        make_adapter(),
        http_response(payload=TOKEN),
        http_response(payload={"page": 1, "per_page": 500, "call_history": [sdk_row]}),
        http_response(
            429, {"message": "Stats request already exists, concurrent request not allowed"}
        ),
    )
    start = datetime(2021, 1, 1, tzinfo=timezone.utc)
    end = datetime(2021, 1, 2, tzinfo=timezone.utc)
    (call,) = adapter.call_history(start, end)
    assert transport.calls[1]["params"]["start_datetime"] == "2021-01-01 00:00:00"
    assert (call.call_id, call.direction, call.extension, call.to_number) == (
        "caa308e3333c4a19aaed9c0254b9c61b",
        "outbound",
        "0111",
        "+71111111111",
    )
    assert (call.disposition, call.duration) == ("answered", 24)
    assert call.recording_ref == "469100-5D36E5557F1845FEB577EDE8A19C5108"
    assert call.started_at == datetime(2021, 1, 1, 16, 29, 38, tzinfo=timezone.utc)
    with pytest.raises(RateLimitError) as caught:
        adapter.call_history(start, end)
    assert caught.value.retry_after == telfin.HISTORY_BUSY_RETRY


def test_unknown_extension_for_click_to_call():
    adapter, _transport = patch_transport(
        make_adapter(), http_response(payload=TOKEN), http_response(payload=[])
    )
    with pytest.raises(PermanentError, match="no phone extension 105"):
        adapter.originate("105", "74957654321")
