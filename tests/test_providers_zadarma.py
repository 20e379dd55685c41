"""Contract tests of the Zadarma / Novofon adapter against the protocol facts of
__manifest_docs__/protocols/zadarma.md.
"""

import base64
import hashlib
import hmac
import importlib.util
import json
import pathlib
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from provider_support import FakeTransport, http_response, patch_transport
from voip_providers import events as ev
from voip_providers import zadarma
from voip_providers.errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from voip_providers.events import RoutingDecision, WebhookRequest
from voip_providers.zadarma import ZadarmaAdapter

FIXTURES_DIR = pathlib.Path(__file__).parent / "fixtures"
VECTORS = json.loads((FIXTURES_DIR / "zadarma" / "webhooks.json").read_text())
SECRET = VECTORS["secret"]
FORM = "application/x-www-form-urlencoded"
# 10:00:30 in Moscow, 30 s after the vectors' call_start.
RECEIVED = datetime(2024, 1, 15, 7, 0, 30, tzinfo=timezone.utc)
PBX_CALL_ID = "in_ae6b03b3b0765d127ec0b739209346bbc4f0d52d"
RECORDING = "1-1458313316.343456-100-2016-01-11-100155"
# When the documented recording's notification may come: its id names its call's start.
RECORDING_RECEIVED = datetime.fromtimestamp(1458313316 + 120, timezone.utc)

# The signed fields as documented (written out again: this is the contract, not the code).
DOC_SIG_FIELDS = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
}


def _load_local_http():
    if "voip_test_local_http" not in sys.modules:
        path = FIXTURES_DIR / "local_http.py"
        spec = importlib.util.spec_from_file_location("voip_test_local_http", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["voip_test_local_http"] = module
    return sys.modules["voip_test_local_http"]


def make_adapter(**config):
    return ZadarmaAdapter({"api_key": "KEY123", "api_secret": SECRET, **config})


def doc_signature(fields, secret=SECRET, raw=False):
    """Independent implementation of the documented webhook signature."""
    text = "".join(fields.get(name, "") for name in DOC_SIG_FIELDS[fields["event"]])
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest() if raw else mac.hexdigest().encode()).decode()


def webhook(body, signature=None, *, content_type=FORM, received_at=RECEIVED, **kwargs):
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["Signature"] = signature
    if isinstance(body, dict):
        body = urlencode(body)
    if isinstance(body, str):
        body = body.encode()
    return WebhookRequest(
        method="POST",
        url="https://odoo.example.com/crm_voip/webhook/token",
        headers=headers,
        body=body,
        received_at=received_at,
        **kwargs,
    )


def signed_webhook(fields, **kwargs):
    return webhook(fields, doc_signature(fields), **kwargs)


def example(name):
    """An example payload (zadarma.md, section Test vectors) as a dict."""
    return {
        key: values[0]
        for key, values in parse_qs(
            VECTORS["unsigned_examples"][name], keep_blank_values=True
        ).items()
    }


def parse_one(fields):
    events = make_adapter().parse(webhook(fields))
    assert len(events) == 1
    return events[0]


# -- REST authentication vectors (zadarma.md, section REST authentication) ---------------------


@pytest.mark.parametrize("vector", VECTORS["rest_vectors"], ids=lambda v: v["method"])
def test_rest_auth_vectors(vector):
    assert zadarma.encode_params(vector["params"]) == vector["query"]
    header = zadarma.auth_header("KEY123", "SECRET456", vector["method"], vector["params"])
    assert header == vector["authorization"]


def test_encode_params_php_rfc1738():
    assert zadarma.encode_params({"b": "x y", "a": "1:2", "c": None}) == "a=1%3A2&b=x+y"


# -- webhook signatures (zadarma.md, section Webhook signatures) -------------------------------


@pytest.mark.parametrize("name", sorted(VECTORS["events"]))
@pytest.mark.parametrize("encoding", ["base64_hex", "base64_raw"])
def test_webhook_signature_vectors(name, encoding):
    vector = VECTORS["events"][name]
    signature = vector["signature_hex" if encoding == "base64_hex" else "signature_raw"]
    assert zadarma.sign(SECRET, vector["signed_text"], raw=encoding == "base64_raw") == signature
    received_at = RECORDING_RECEIVED if name == "record" else RECEIVED
    note = make_adapter().verify(webhook(vector["body"], signature, received_at=received_at))
    assert note == f"signature {encoding}"


@pytest.mark.parametrize("name", sorted(VECTORS["events"]))
def test_webhook_signature_vector_wrong_secret(name):
    vector = VECTORS["events"][name]
    adapter = make_adapter(api_secret="OTHER")
    with pytest.raises(SignatureError, match="Invalid signature"):
        adapter.verify(webhook(vector["body"], vector["signature_hex"]))


@pytest.mark.parametrize("name", ["internal", "answer", "end_answered", "out_end", "ivr"])
@pytest.mark.parametrize("raw", [False, True])
def test_every_event_signature_string(name, raw):
    fields = example(name)
    make_adapter().verify(webhook(fields, doc_signature(fields, raw=raw)))


def test_signature_header_name_is_case_insensitive():
    vector = VECTORS["events"]["start"]
    request = webhook(vector["body"])
    request.headers["SIGNATURE"] = vector["signature_hex"]
    make_adapter().verify(request)
    assert request.header("signature") == vector["signature_hex"]


def test_missing_signature_header_is_rejected():
    with pytest.raises(SignatureError, match="Missing Signature header"):
        make_adapter().verify(webhook(VECTORS["events"]["start"]["body"]))
    with pytest.raises(SignatureError, match="Missing Signature header"):
        make_adapter().verify(webhook(VECTORS["events"]["start"]["body"], "  "))


@pytest.mark.parametrize("config", [{"api_secret": ""}, {"api_secret": None}])
def test_missing_secret_fails_closed(config):
    vector = VECTORS["events"]["start"]
    with pytest.raises(SignatureError, match="not configured"):
        make_adapter(**config).verify(webhook(vector["body"], vector["signature_hex"]))


def test_tampered_field_is_rejected():
    vector = VECTORS["events"]["start"]
    body = vector["body"].replace("caller_id=442037691880", "caller_id=442037691889")
    with pytest.raises(SignatureError, match="Invalid signature for NOTIFY_START"):
        make_adapter().verify(webhook(body, vector["signature_hex"]))


def test_signature_of_other_event_type_is_rejected():
    vector = VECTORS["events"]["start"]
    # NOTIFY_ANSWER signs "destination", not "called_did": the same header must not verify.
    body = vector["body"].replace("NOTIFY_START", "NOTIFY_ANSWER")
    with pytest.raises(SignatureError):
        make_adapter().verify(webhook(body, vector["signature_hex"]))


def test_missing_signed_field_counts_as_empty_string():
    fields = example("internal")
    fields["call_start"] = "2024-01-15 10:00:00"
    del fields["called_did"]
    make_adapter().verify(webhook(fields, doc_signature(fields)))
    # The TS SDK's "undefined" for a missing field must not be accepted.
    text = fields["caller_id"] + "undefined" + fields["call_start"]
    bad = zadarma.sign(SECRET, text)
    with pytest.raises(SignatureError):
        make_adapter().verify(webhook(fields, bad))


def test_non_ascii_signature_header_is_rejected_not_crashing():
    with pytest.raises(SignatureError):
        make_adapter().verify(webhook(VECTORS["events"]["start"]["body"], "подпись"))


def test_match_signature_helper():
    vector = VECTORS["events"]["record"]
    text = vector["signed_text"]
    assert zadarma.match_signature(SECRET, text, vector["signature_hex"]) == "base64_hex"
    assert zadarma.match_signature(SECRET, text, vector["signature_raw"]) == "base64_raw"
    assert zadarma.match_signature(SECRET, text, "x") is None


# -- replay protection -------------------------------------------------------------------------


CALL_START = datetime(2024, 1, 15, 7, 0, 0, tzinfo=timezone.utc)  # the examples' call_start


def test_stale_call_start_is_rejected():
    """A call's first event comes as it starts: replayed half an hour later, refused."""
    vector = VECTORS["events"]["start"]
    late = CALL_START + timedelta(seconds=zadarma.EVENT_DELAY + 1)
    with pytest.raises(SignatureError, match="Stale event"):
        make_adapter().verify(webhook(vector["body"], vector["signature_hex"], received_at=late))
    # Exactly at the limit is still fine.
    on_time = CALL_START + timedelta(seconds=zadarma.EVENT_DELAY)
    make_adapter().verify(webhook(vector["body"], vector["signature_hex"], received_at=on_time))


def test_events_during_the_call_are_bounded_by_the_account_maximum():
    fields = example("internal")
    four_hours = CALL_START + timedelta(hours=4)
    make_adapter().verify(signed_webhook(fields, received_at=four_hours))
    with pytest.raises(SignatureError, match="limit 14400 s"):
        make_adapter().verify(signed_webhook(fields, received_at=four_hours + timedelta(seconds=1)))


def test_end_is_bounded_by_the_call_duration():
    """An end comes after its duration of talk and the ringing before it, not a day later."""
    fields = example("end_answered")
    limit = int(fields["duration"]) + zadarma.EVENT_DELAY
    make_adapter().verify(signed_webhook(fields, received_at=CALL_START + timedelta(seconds=limit)))
    too_late = CALL_START + timedelta(seconds=limit + 1)
    with pytest.raises(SignatureError, match=f"limit {limit} s"):
        make_adapter().verify(signed_webhook(fields, received_at=too_late))
    # The duration is not signed: a forged one widens the window up to the maximum only.
    fields["duration"] = str(10**9)
    with pytest.raises(SignatureError, match="limit 14400 s"):
        make_adapter().verify(signed_webhook(fields, received_at=CALL_START + timedelta(days=1)))


def test_max_event_age_is_configurable():
    vector = VECTORS["events"]["start"]
    later = RECEIVED + timedelta(minutes=10)
    request = webhook(vector["body"], vector["signature_hex"], received_at=later)
    with pytest.raises(SignatureError, match=r"limit 300 s"):
        make_adapter(max_event_age=300).verify(request)
    make_adapter(max_event_age=3600).verify(request)


def test_future_call_start_is_rejected():
    vector = VECTORS["events"]["start"]
    early = datetime(2024, 1, 15, 6, 49, 59, tzinfo=timezone.utc)  # call_start is 10:01 ahead
    with pytest.raises(SignatureError, match="in the future"):
        make_adapter().verify(webhook(vector["body"], vector["signature_hex"], received_at=early))
    slightly_early = datetime(2024, 1, 15, 6, 55, tzinfo=timezone.utc)  # 5 min: clock skew
    make_adapter().verify(
        webhook(vector["body"], vector["signature_hex"], received_at=slightly_early)
    )


def test_call_start_uses_account_timezone():
    vector = VECTORS["events"]["start"]
    # In UTC the same wall-clock time is 3 h later: "in the future" from RECEIVED's viewpoint.
    with pytest.raises(SignatureError, match="in the future"):
        make_adapter(timezone="UTC").verify(webhook(vector["body"], vector["signature_hex"]))
    at_utc = datetime(2024, 1, 15, 10, 0, 30, tzinfo=timezone.utc)
    request = webhook(vector["body"], vector["signature_hex"], received_at=at_utc)
    make_adapter(timezone="UTC").verify(request)
    make_adapter(timezone="UTC+0").verify(request)
    make_adapter(timezone="Europe/London").verify(request)
    make_adapter(timezone="UTC+3").verify(webhook(vector["body"], vector["signature_hex"]))


def test_unknown_timezone_is_a_configuration_error():
    vector = VECTORS["events"]["start"]
    with pytest.raises(PermanentError, match="Unknown timezone 'Mars/Olympus'"):
        make_adapter(timezone="Mars/Olympus").verify(
            webhook(vector["body"], vector["signature_hex"])
        )


def test_notify_record_is_fresh_by_the_call_time_in_its_signed_id():
    vector = VECTORS["events"]["record"]
    body, signature = vector["body"], vector["signature_hex"]
    make_adapter().verify(webhook(body, signature, received_at=RECORDING_RECEIVED))
    years_later = RECEIVED + timedelta(days=3000)
    with pytest.raises(SignatureError, match="Stale event: NOTIFY_RECORD"):
        make_adapter().verify(webhook(body, signature, received_at=years_later))
    fields = {"event": "NOTIFY_RECORD", "pbx_call_id": PBX_CALL_ID, "call_id_with_rec": "rec-1"}
    with pytest.raises(SignatureError, match="names no call time"):
        make_adapter().verify(signed_webhook(fields))


def test_missing_or_bad_call_start_is_malformed():
    fields = example("internal")
    fields["call_start"] = ""
    with pytest.raises(MalformedEventError, match="Missing field 'call_start'"):
        make_adapter().verify(signed_webhook(fields))
    fields["call_start"] = "15.01.2024 10:00"
    with pytest.raises(MalformedEventError, match="Field 'call_start' is not a"):
        make_adapter().verify(signed_webhook(fields))


# -- source address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "allowlist, remote_addr",
    [
        (["185.45.152.42"], "185.45.152.42"),
        (["185.45.152.40/30"], "185.45.152.43"),
        ("185.45.152.40/30, 10.0.0.0/8", "10.1.2.3"),
        (["185.45.152.40/30"], "::ffff:185.45.152.41"),
        (["2001:db8::/32"], "2001:db8::1"),
        ([], "203.0.113.9"),
    ],
)
def test_ip_allowlist_accepts(allowlist, remote_addr):
    vector = VECTORS["events"]["start"]
    request = webhook(vector["body"], vector["signature_hex"], remote_addr=remote_addr)
    make_adapter(ip_allowlist=allowlist).verify(request)


@pytest.mark.parametrize(
    "allowlist, remote_addr, message",
    [
        (["185.45.152.40/30"], "185.45.152.44", "not in the IP allow-list"),
        (["185.45.152.42"], "", "Invalid source address"),
        (["185.45.152.42"], "not-an-ip", "Invalid source address"),
        (["185.45.152.300"], "185.45.152.42", "Invalid IP allow-list entry"),
        (["2001:db8::/32"], "185.45.152.42", "not in the IP allow-list"),
    ],
)
def test_ip_allowlist_rejects(allowlist, remote_addr, message):
    vector = VECTORS["events"]["start"]
    request = webhook(vector["body"], vector["signature_hex"], remote_addr=remote_addr)
    with pytest.raises(SignatureError, match=message):
        make_adapter(ip_allowlist=allowlist).verify(request)


# -- body parsing ------------------------------------------------------------------------------


def multipart_body(fields, body_boundary):
    lines = []
    for name, value in fields.items():
        lines += [f"--{body_boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines.append(f"--{body_boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize(
    "header_boundary, body_boundary",
    [
        ("XyZ123", "XyZ123"),  # well-formed
        ("XyZ123", "--XyZ123"),  # Zadarma's bug: the body has an extra leading "--"
        ("--XyZ123", "XyZ123"),  # the same bug the other way round
        ('"quoted boundary"', "quoted boundary"),
    ],
)
def test_multipart_webhook(header_boundary, body_boundary):
    vector = VECTORS["events"]["start"]
    fields = {key: values[0] for key, values in parse_qs(vector["body"]).items()}
    body = multipart_body(fields, body_boundary)
    content_type = f"multipart/form-data; boundary={header_boundary}"
    request = webhook(body, vector["signature_hex"], content_type=content_type)
    adapter = make_adapter()
    adapter.verify(request)
    (event,) = adapter.parse(request)
    assert event.kind == ev.CALL_STARTED
    assert event.raw == fields


def test_multipart_with_lf_newlines_and_charset():
    body = (
        '--B\nContent-Disposition: form-data; name="event"\n\nNOTIFY_START\n'
        '--B\nContent-Disposition: form-data; name="pbx_call_id"\n\nin_1\n'
        '--B\nContent-Disposition: form-data; name="caller_id"\n'
        "Content-Type: text/plain; charset=utf-8\n\nИван\n"
        '--B\nContent-Disposition: form-data; name="upload"; filename="x.txt"\n\nignored\n'
        "--B--\n"
    ).encode()
    form = zadarma.parse_form_body(body, "multipart/form-data; boundary=B")
    assert form == {"event": "NOTIFY_START", "pbx_call_id": "in_1", "caller_id": "Иван"}


def test_multipart_with_unknown_boundary_is_malformed():
    body = multipart_body({"event": "NOTIFY_START"}, "other")
    with pytest.raises(MalformedEventError, match="boundary"):
        make_adapter().parse(webhook(body, content_type="multipart/form-data; boundary=XyZ"))


def test_multipart_without_boundary_parameter_uses_body_delimiter():
    body = multipart_body({"event": "NOTIFY_IVR", "pbx_call_id": "in_1"}, "abc")
    assert make_adapter().parse(webhook(body, content_type="multipart/form-data")) == []


def test_urlencoded_first_value_wins_and_arrays_are_flat():
    form = zadarma.parse_form_body(b"event=A&event=B&wait_dtmf%5Bname%5D=menu", FORM)
    assert form == {"event": "A", "wait_dtmf[name]": "menu"}


def test_form_given_by_controller_is_used_when_body_is_empty():
    fields = example("internal")
    request = WebhookRequest(form={k: [v] for k, v in fields.items()}, received_at=RECEIVED)
    (event,) = make_adapter().parse(request)
    assert event.kind == ev.AGENT_RINGING and event.extension == "100"


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b'{"event": "NOTIFY_START"}', "application/json", "Unsupported Content-Type"),
        (b"event=NOTIFY_START&caller_id=\xff", FORM, "not valid UTF-8"),
        (b"caller_id=1", FORM, "Missing field 'event'"),
        (b"", FORM, "Missing field 'event'"),
        (b"event=NOTIFY_SMS&pbx_call_id=in_1", FORM, "Unknown Zadarma event 'NOTIFY_SMS'"),
        (b"event=NOTIFY_START&call_start=2024-01-15+10:00:00", FORM, "'pbx_call_id'"),
        (b"event=NOTIFY_RECORD&pbx_call_id=in_1", FORM, "'call_id_with_rec'"),
    ],
)
def test_malformed_payloads(body, content_type, message):
    with pytest.raises(MalformedEventError, match=message) as caught:
        make_adapter().parse(webhook(body, content_type=content_type))
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "body, message",
    [
        (b"caller_id=1", "Missing field 'event'"),
        (b"event=NOTIFY_SMS", "Unknown Zadarma event"),
    ],
)
def test_verify_reports_malformed_before_signature(body, message):
    with pytest.raises(MalformedEventError, match=message):
        make_adapter().verify(webhook(body, "sig"))


# -- zd_echo -----------------------------------------------------------------------------------


def test_zd_echo_handshake():
    request = WebhookRequest(method="GET", query={"zd_echo": "a1B2c3-_.~"})
    response = make_adapter().handshake(request)
    assert response.status == 200
    assert response.body == b"a1B2c3-_.~"
    assert response.content_type.startswith("text/plain")


def test_zd_echo_from_url_query():
    request = WebhookRequest(method="get", url="https://x.example/crm_voip/webhook/t?zd_echo=42")
    assert make_adapter().handshake(request).body == b"42"


@pytest.mark.parametrize(
    "method, query",
    [
        ("POST", {"zd_echo": "abc"}),
        ("GET", {}),
        ("GET", {"zd_echo": ""}),
        ("GET", {"zd_echo": "x" * 129}),
        ("GET", {"zd_echo": "abc\r\nSet-Cookie: x"}),
        ("GET", {"zd_echo": "пример"}),
    ],
)
def test_zd_echo_refused(method, query):
    assert make_adapter().handshake(WebhookRequest(method=method, query=query)) is None


# -- event mapping (zadarma.md, section Webhook events) ----------------------------------------


def test_notify_start_mapping():
    vector = VECTORS["events"]["start"]
    (event,) = make_adapter().parse(webhook(vector["body"], vector["signature_hex"]))
    assert event.kind == ev.CALL_STARTED
    assert event.direction == "inbound"
    assert event.provider_call_id == PBX_CALL_ID
    assert event.from_number == "442037691880"
    assert event.to_number == event.did == "442037691881"
    assert event.extension == ""
    assert event.occurred_at == RECEIVED
    assert event.call_started_at == datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)
    assert event.provider_event == "NOTIFY_START"
    assert event.raw["caller_id"] == "442037691880"


def test_notify_internal_mapping():
    event = parse_one(example("internal"))
    assert (event.kind, event.direction, event.extension) == (ev.AGENT_RINGING, "inbound", "100")
    assert event.from_number == "442037691880"
    assert event.did == "442037691881"


def test_notify_answer_mapping():
    event = parse_one(example("answer"))
    assert (event.kind, event.direction, event.extension) == (ev.ANSWERED, "inbound", "100")
    assert event.to_number == "442037691881"


def test_notify_end_answered_mapping():
    event = parse_one(example("end_answered"))
    assert event.kind == ev.ENDED
    assert event.disposition == "answered"
    assert event.duration == 65
    assert event.recording_ref == RECORDING
    assert event.extension == "100"
    assert event.direction == "inbound"


def test_notify_end_missed_mapping():
    event = parse_one(example("end_missed"))
    assert event.kind == ev.MISSED
    assert event.disposition == "cancel"
    assert event.duration == 0
    assert event.recording_ref == ""
    assert event.call_started_at == datetime(2024, 1, 15, 7, 10, tzinfo=timezone.utc)


def test_not_recorded_end_has_no_recording_ref():
    fields = example("end_answered")
    fields["is_recorded"] = "0"
    assert parse_one(fields).recording_ref == ""


@pytest.mark.parametrize(
    "raw, kind, disposition",
    [
        ("answered", ev.ENDED, "answered"),
        ("busy", ev.MISSED, "busy"),
        ("cancel", ev.MISSED, "cancel"),
        ("no answer", ev.MISSED, "no_answer"),
        ("NO ANSWER", ev.MISSED, "no_answer"),
        ("call failed", ev.MISSED, "failed"),
        ("failed", ev.MISSED, "failed"),
        ("no money", ev.MISSED, "failed"),
        ("unallocated number", ev.MISSED, "failed"),
        ("no limit", ev.MISSED, "failed"),
        ("no day limit", ev.MISSED, "failed"),
        ("line limit", ev.MISSED, "failed"),
        ("something new", ev.MISSED, "failed"),
        ("", ev.MISSED, ""),
    ],
)
def test_end_dispositions(raw, kind, disposition):
    fields = example("end_missed")
    fields["disposition"] = raw
    event = parse_one(fields)
    assert (event.kind, event.disposition) == (kind, disposition)


def test_notify_out_start_mapping():
    vector = VECTORS["events"]["out_start"]
    (event,) = make_adapter().parse(webhook(vector["body"], vector["signature_hex"]))
    assert event.kind == ev.OUTGOING_STARTED
    assert event.direction == "outbound"
    assert (event.from_number, event.to_number, event.extension) == ("100", "442037691881", "100")
    assert event.call_started_at == datetime(2024, 1, 15, 7, 5, tzinfo=timezone.utc)


def test_outgoing_call_to_an_extension_is_internal():
    fields = {
        "event": "NOTIFY_OUT_START",
        "call_start": "2024-01-15 10:05:00",
        "pbx_call_id": "out_1",
        "internal": "100",
        "destination": "101",
    }
    assert parse_one(fields).direction == "internal"


def test_notify_out_end_mapping():
    event = parse_one(example("out_end"))
    assert event.kind == ev.ENDED
    assert event.direction == "outbound"
    assert event.from_number == "100"  # the extension, not the external CallerID
    assert event.to_number == "442037691881"
    assert event.duration == 42
    assert event.recording_ref == "1-1705302300.123-100-2024-01-15-100500"
    assert event.raw["calltype"] == "normal"


def test_notify_out_end_unanswered_is_missed():
    fields = example("out_end")
    fields.update(disposition="no answer", duration="0", is_recorded="0")
    event = parse_one(fields)
    assert (event.kind, event.direction, event.disposition) == (ev.MISSED, "outbound", "no_answer")


def test_notify_record_mapping():
    vector = VECTORS["events"]["record"]
    (event,) = make_adapter().parse(webhook(vector["body"], vector["signature_raw"]))
    assert event.kind == ev.RECORDING_READY
    assert event.recording_ref == RECORDING
    assert event.provider_call_id == PBX_CALL_ID
    assert event.call_started_at is None
    assert event.direction == "inbound"


def test_notify_ivr_yields_no_event():
    assert make_adapter().parse(webhook(example("ivr"))) == []


def test_event_keys_deduplicate_redeliveries_only():
    adapter = make_adapter()
    names = ["internal", "answer", "end_answered", "end_missed", "out_end", "ivr"]
    bodies = [VECTORS["events"][name]["body"] for name in VECTORS["events"]]
    bodies += [VECTORS["unsigned_examples"][name] for name in names]
    keys = [event.event_key for body in bodies for event in adapter.parse(webhook(body))]
    assert len(keys) == len(set(keys)) == 8
    # The same webhook delivered twice (even at another time) gives the same key.
    again = adapter.parse(webhook(bodies[0], received_at=RECEIVED + timedelta(seconds=5)))
    assert again[0].event_key == keys[0]
    # Another extension rung for the same call is a different event.
    other_leg = example("internal")
    other_leg["internal"] = "101"
    assert parse_one(other_leg).event_key != parse_one(example("internal")).event_key
    assert all(len(key) <= 255 for key in keys)


def test_event_key_is_bounded():
    fields = example("end_answered")
    fields["caller_id"] = "r" * 400
    key = parse_one(fields).event_key
    assert len(key) <= 255 and key.startswith("NOTIFY_END|sha256:")


def test_parsed_event_round_trips_through_json():
    event = parse_one(example("end_answered"))
    stored = json.loads(json.dumps(event.to_dict()))
    assert ev.CallEvent.from_dict(stored) == event


# -- routing reply (zadarma.md, section Routing reply) -----------------------------------------


@pytest.mark.parametrize(
    "decision, expected",
    [
        (
            RoutingDecision("redirect", ["101", "102"], timeout=20, caller_name="ООО Ромашка"),
            {"redirect": "101", "return_timeout": 20, "caller_name": "ООО Ромашка"},
        ),
        (RoutingDecision("redirect", ["0-1"]), {"redirect": "0-1"}),
        (RoutingDecision("redirect", ["101"], timeout=0), {"redirect": "101", "return_timeout": 0}),
        (RoutingDecision("redirect", ["101"], timeout=1), {"redirect": "101", "return_timeout": 3}),
        (
            RoutingDecision("redirect", ["101"], timeout=15, forward_number="+79161234567"),
            {"redirect": "101", "return_timeout": 15, "rewrite_forward_number": "+79161234567"},
        ),
        (
            RoutingDecision("redirect", ["101"], forward_number="+7 916 123"),
            {"redirect": "101"},
        ),
        (RoutingDecision("reject"), {"redirect": "blacklist"}),
        (RoutingDecision("default", caller_name="Ivan\nPetrov"), {"caller_name": "Ivan Petrov"}),
    ],
)
def test_routing_reply(decision, expected):
    response = make_adapter().routing_reply(decision)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert json.loads(response.body) == expected


def test_routing_reply_default_is_empty():
    response = make_adapter().routing_reply(RoutingDecision())
    assert (response.status, response.body) == (200, b"")
    assert make_adapter().routing_reply(RoutingDecision("redirect", [])).body == b""


def test_ack_and_error_reply():
    adapter = make_adapter()
    assert (adapter.ack([], 0).status, adapter.ack([], 0).body) == (200, b"")
    reply = adapter.error_reply(SignatureError("Invalid signature for NOTIFY_START"))
    assert (reply.status, reply.body) == (403, b"Invalid signature for NOTIFY_START")


# -- REST through a patched _request ------------------------------------------------------------


def response(status=200, payload=None, headers=None, content=None):
    """Zadarma's answers default to ``{"status": "success"}``."""
    if payload is None and content is None:
        payload = {"status": "success"}
    return http_response(status, payload, headers, content)


class QueryTransport(FakeTransport):
    def query(self, index=0):
        return {k: v[0] for k, v in parse_qs(urlsplit(self.calls[index]["url"]).query).items()}


def patched(*responses, **config):
    return patch_transport(make_adapter(**config), *responses, transport_class=QueryTransport)


def test_originate_request():
    payload = {"status": "success", "from": 100, "to": 442037691881, "time": 1435573082}
    adapter, transport = patched(response(payload=payload))
    result = adapter.originate("100", "+44 (20) 3769-1881")
    call = transport.calls[0]
    assert call["method"] == "GET"
    assert call["url"] == (
        "https://api.zadarma.com/v1/request/callback/?format=json&from=100&to=442037691881"
    )
    assert call["headers"]["Authorization"] == VECTORS["rest_vectors"][0]["authorization"]
    assert result.call_id == "" and result.raw == payload


def test_originate_with_caller_id_and_base_url():
    adapter, transport = patched(response(), base_url="https://api.novofon.com/")
    adapter.originate("101", "74951234567", caller_id="100")
    assert transport.calls[0]["url"].startswith("https://api.novofon.com/v1/request/callback/?")
    assert transport.query() == {"format": "json", "from": "101", "sip": "100", "to": "74951234567"}


def test_originate_needs_extension_and_number():
    adapter, transport = patched()
    with pytest.raises(PermanentError, match="needs an extension and a number"):
        adapter.originate("", "74951234567")
    assert transport.calls == []


def test_recording_link_by_recording_id():
    payload = {
        "status": "success",
        "link": "https://api.zadarma.com/v1/pbx/record/download/NjM3/x.mp3",
        "lifetime_till": "2024-01-15 10:30:00",
    }
    adapter, transport = patched(response(payload=payload))
    link = adapter.recording_link(RECORDING, call_id=PBX_CALL_ID)
    assert transport.calls[0]["url"].startswith("https://api.zadarma.com/v1/pbx/record/request/?")
    assert transport.query() == {"call_id": RECORDING, "format": "json", "lifetime": "1800"}
    assert link.url == payload["link"]
    assert link.expires_at == datetime(2024, 1, 15, 7, 30, tzinfo=timezone.utc)


def test_recording_link_by_call_id_takes_first_link():
    payload = {"status": "success", "links": ["https://a.example/1.mp3", "https://a.example/2"]}
    adapter, transport = patched(response(payload=payload), recording_lifetime=60)
    link = adapter.recording_link("", call_id=PBX_CALL_ID)
    assert transport.query() == {"pbx_call_id": PBX_CALL_ID, "format": "json", "lifetime": "180"}
    assert link.url == "https://a.example/1.mp3"
    assert link.expires_at is None


def test_recording_link_from_history_reference():
    adapter, transport = patched(response(payload={"status": "success", "links": ["u"]}))
    adapter.recording_link(zadarma.PBX_CALL_REF_PREFIX + PBX_CALL_ID)
    assert transport.query()["pbx_call_id"] == PBX_CALL_ID


def test_recording_link_errors():
    adapter, _transport = patched(response(payload={"status": "success", "links": []}))
    with pytest.raises(PermanentError, match="no recording link"):
        adapter.recording_link(RECORDING)
    with pytest.raises(PermanentError, match="No recording id or call id"):
        adapter.recording_link("")


def test_list_extensions():
    payload = {"status": "success", "pbx_id": 1234, "numbers": [100, 101, "102"]}
    adapter, transport = patched(response(payload=payload))
    extensions = adapter.list_extensions()
    assert [e.extension for e in extensions] == ["100", "101", "102"]
    assert transport.calls[0]["url"] == "https://api.zadarma.com/v1/pbx/internal/?format=json"


def stats_row(index, **values):
    row = {
        "call_id": f"1439981389.{index}",
        "sip": "100",
        "callstart": "2024-01-15 10:00:00",
        "clid": "442037691880",
        "destination": "100",
        "disposition": "answered",
        "seconds": 65,
        "is_recorded": True,
        "pbx_call_id": f"in_{index}",
    }
    row.update(values)
    return row


def test_call_history_pages_and_maps():
    first_page = {"status": "success", "stats": [stats_row(i) for i in range(1000)]}
    second_page = {
        "status": "success",
        "stats": [
            stats_row(1000, disposition="no answer", seconds=0, is_recorded=False),
            stats_row(1001, pbx_call_id="out_9", clid="100", destination="74951234567"),
            stats_row(1002, pbx_call_id="", clid="100", destination="101"),
        ],
    }
    adapter, transport = patched(response(payload=first_page), response(payload=second_page))
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    calls = adapter.call_history(start, start + timedelta(days=10))
    assert len(calls) == 1003
    assert [transport.query(i)["skip"] for i in range(2)] == ["0", "1000"]
    query = transport.query(0)
    assert query["start"] == "2024-01-01 03:00:00"  # account-local (Moscow) time
    assert query["end"] == "2024-01-11 03:00:00"
    assert (query["version"], query["limit"]) == ("2", "1000")
    first = calls[0]
    assert (first.call_id, first.direction) == ("in_0", "inbound")
    assert first.from_number == "442037691880"
    assert first.started_at == datetime(2024, 1, 15, 7, 0, tzinfo=timezone.utc)
    assert (first.duration, first.disposition, first.extension) == (65, "answered", "100")
    assert first.recording_ref == "pbx_call_id:in_0"
    missed, outgoing, internal = calls[1000:]
    assert (missed.disposition, missed.recording_ref) == ("no_answer", "")
    assert outgoing.direction == "outbound"
    assert (internal.direction, internal.call_id) == ("internal", "1439981389.1002")


def test_call_history_splits_into_month_windows():
    empty = {"status": "success", "stats": []}
    adapter, transport = patched(response(payload=empty), response(payload=empty))
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert adapter.call_history(start, start + timedelta(days=45)) == []
    assert len(transport.calls) == 2
    assert transport.query(0)["end"] == transport.query(1)["start"] == "2024-01-31 03:00:00"


def test_test_connection():
    payload = {"status": "success", "balance": 10.34, "currency": "USD"}
    adapter, transport = patched(response(payload=payload))
    assert adapter.test_connection() == "Connected to Zadarma, balance 10.34 USD"
    assert transport.calls[0]["url"] == "https://api.zadarma.com/v1/info/balance/?format=json"


@pytest.mark.parametrize(
    "answer, error, message",
    [
        (response(401, {"status": "error", "message": "Auth error"}), AuthError, "Auth error"),
        (response(403, content=b"<html>Forbidden</html>"), AuthError, "HTTP 403"),
        (response(400, {"status": "error", "message": "Auth error"}), AuthError, "Auth error"),
        (response(200, {"status": "error", "message": "Auth error"}), AuthError, "Auth error"),
        (response(500, content=b"oops"), RetryableError, "HTTP 500"),
        (response(502, content=b""), RetryableError, "HTTP 502"),
        (response(503, {"status": "error", "message": "Try later"}), RetryableError, "Try later"),
        (
            response(400, {"status": "error", "message": "Check phone's number"}),
            PermanentError,
            "Check phone's number",
        ),
        (response(404, content=b"Not found"), PermanentError, "HTTP 404"),
        (
            response(200, {"status": "error", "message": "Wrong parameters"}),
            PermanentError,
            "Wrong parameters",
        ),
        (response(200, content=b"<html>"), PermanentError, "non-JSON"),
    ],
)
def test_error_mapping(answer, error, message):
    adapter, _transport = patched(answer)
    with pytest.raises(error, match=message) as caught:
        adapter.test_connection()
    assert type(caught.value) is error


@pytest.mark.parametrize(
    "headers, retry_after",
    [
        ({"Retry-After": "17"}, 17),
        ({"X-RateLimit-Reset": "42"}, 42),
        ({}, 60),
        ({"Retry-After": "soon"}, 60),
    ],
)
def test_rate_limit_mapping(headers, retry_after):
    payload = {"status": "error", "message": "You exceeded the rate limit"}
    adapter, _transport = patched(response(429, payload, headers=headers))
    with pytest.raises(RateLimitError, match="rate limit") as caught:
        adapter.test_connection()
    assert caught.value.retry_after == retry_after
    assert caught.value.retryable and caught.value.status_code == 429


def test_rate_limit_reset_as_unix_time():
    reset = str(int(datetime.now(timezone.utc).timestamp()) + 30)
    adapter, _transport = patched(response(429, headers={"X-RateLimit-Reset": reset}))
    with pytest.raises(RateLimitError) as caught:
        adapter.list_extensions()
    assert 25 <= caught.value.retry_after <= 31


@pytest.mark.parametrize("missing", ["api_key", "api_secret"])
def test_missing_credentials(missing):
    adapter, transport = patched(**{missing: ""})
    with pytest.raises(AuthError, match="not configured"):
        adapter.test_connection()
    assert transport.calls == []


# -- end to end over real HTTP -----------------------------------------------------------------


def test_rest_end_to_end_authorization_header():
    local_http = _load_local_http()
    answer = {"status": "success", "from": 100, "to": 442037691881, "time": 1435573082}

    def responder(request):
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    with local_http.LocalServer(responder) as server:
        adapter = make_adapter(base_url=server.url)
        adapter.originate("100", "442037691881")
        stats = VECTORS["rest_vectors"][1]
        adapter._api("GET", "/v1/statistics/pbx/", dict(stats["params"]))
        tilde = VECTORS["rest_vectors"][3]
        adapter._api("GET", "/v1/info/", dict(tilde["params"]))
    callback, statistics, info = server.requests
    assert callback["method"] == "GET"
    assert callback["path"] == "/v1/request/callback/?format=json&from=100&to=442037691881"
    assert callback["headers"]["Authorization"] == VECTORS["rest_vectors"][0]["authorization"]
    assert statistics["path"] == "/v1/statistics/pbx/?" + stats["query"]
    assert statistics["headers"]["Authorization"] == stats["authorization"]
    # Signed as PHP does ("%7E"); requests re-normalizes the unreserved "~" on the wire, which
    # decodes to the same value.
    assert info["headers"]["Authorization"] == tilde["authorization"]
    assert parse_qs(urlsplit(info["path"]).query)["note"] == ["a~b*c"]


def test_event_key_is_what_the_signature_covers():
    """A captured request replayed with other unsigned fields is the same event again."""
    genuine = example("end_answered")
    forged = dict(genuine, pbx_call_id="in_forged", disposition="busy", duration="1")
    assert parse_one(forged).event_key == parse_one(genuine).event_key
    # What is signed tells events apart.
    other_call = dict(genuine, call_start="2024-01-15 10:00:01")
    assert parse_one(other_call).event_key != parse_one(genuine).event_key
