"""The simulated Zadarma against the protocol notes' test vectors and a tiny local receiver.

The reference signatures below are written again here, differently from
``vats_simulator/pbx/zadarma.py``, so that a mistake in the simulator's signing code cannot
pass by agreeing with itself. Protocol: ``__manifest_docs__/protocols/zadarma.md``.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest
from simulator_support import rest

from vats_simulator import Simulator, ZadarmaAccount, scenario_events
from vats_simulator.cli import main as cli_main
from vats_simulator.pbx.zadarma import auth_header, sign, webhook_signature

KEY, SECRET = "KEY123", "SECRET456"
DOC_CALL_ID = "in_ae6b03b3b0765d127ec0b739209346bbc4f0d52d"
DOC_REC_ID = "1-1458313316.343456-100-2016-01-11-100155"
# 2024-01-15 10:00:00 in Moscow (UTC+3), the documents' example time.
DOC_START = dt.datetime(2024, 1, 15, 7, 0, 0, tzinfo=dt.timezone.utc)

# --- independent reference implementations ------------------------------------------------

REF_FIELDS = {
    "NOTIFY_START": "caller_id called_did call_start",
    "NOTIFY_INTERNAL": "caller_id called_did call_start",
    "NOTIFY_ANSWER": "caller_id destination call_start",
    "NOTIFY_END": "caller_id called_did call_start",
    "NOTIFY_OUT_START": "internal destination call_start",
    "NOTIFY_OUT_END": "internal destination call_start",
    "NOTIFY_RECORD": "pbx_call_id call_id_with_rec",
}


def ref_sign(secret, text, raw=False):
    mac = hmac.new(secret.encode(), text.encode(), "sha1")
    return base64.b64encode(mac.digest() if raw else mac.hexdigest().encode()).decode()


def ref_auth(key, secret, method, params):
    params = {**params, "format": "json"}
    qs = urllib.parse.urlencode(sorted(params.items())).replace("~", "%7E")
    return f"{key}:{ref_sign(secret, method + qs + hashlib.md5(qs.encode()).hexdigest())}"


def ref_webhook_ok(secret, form, header):
    names = REF_FIELDS.get(form.get("event"), "").split()
    text = "".join(form.get(name, "") for name in names)
    return bool(header) and any(
        hmac.compare_digest(ref_sign(secret, text, raw), header) for raw in (False, True)
    )


def ref_receive(headers, body):
    """What a well-behaved Zadarma webhook endpoint answers (``Receiver.verifiers``)."""
    if headers.get("Content-Type", "").startswith("multipart/form-data"):
        form = parse_buggy_multipart(headers["Content-Type"], body)
    else:
        try:
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
    if not form.get("event", "").startswith("NOTIFY_"):
        return 400, {"status": "error", "error": "malformed"}
    if not ref_webhook_ok(SECRET, form, headers.get("Signature")):
        return 403, {"status": "error", "error": "signature"}
    return 200, {"status": "ok"}


def parse_buggy_multipart(content_type, body):
    boundary = content_type.split("boundary=", 1)[1]
    text = body.decode("utf-8")
    delimiter = "--" + boundary
    if ("\r\n" + delimiter + "\r\n") not in ("\r\n" + text) and ("--" + delimiter) in text:
        delimiter = "--" + delimiter  # the body carries an extra leading "--"
    form = {}
    for part in text.split(delimiter)[1:]:
        if part.startswith("--"):
            break
        head, _sep, value = part.partition("\r\n\r\n")
        name = head.split('name="', 1)[1].split('"', 1)[0]
        form[name] = value[: -len("\r\n")] if value.endswith("\r\n") else value
    return form


@pytest.fixture
def receiver(receiver):
    receiver.verifiers["zadarma"] = ref_receive
    receiver.answer_get = lambda query: query.get("zd_echo", "")
    return receiver


@pytest.fixture
def sim(receiver):
    simulator = Simulator(
        zadarma=ZadarmaAccount(receiver.hook("zadarma"), KEY, SECRET),
        recording_size=4096,
        originate_delay=0.05,
    ).start()
    yield simulator
    simulator.stop()


def zadarma_rest(sim, path, *args, **kwargs):
    return rest(sim.api_url("zadarma") + path, *args, **kwargs)


def zadarma_get(sim, path, params=None, key=KEY, secret=SECRET):
    params = dict(params or {})
    auth = ref_auth(key, secret, path, params)
    status, headers, body = zadarma_rest(
        sim, path, {**params, "format": "json"}, headers={"Authorization": auth}
    )
    return status, headers, json.loads(body) if body.startswith(b"{") else body


# --- test vectors --------------------------------------------------------------------------


def test_rest_auth_vectors():
    params = {"from": "100", "to": "442037691881"}
    expected = "KEY123:M2NmMmM5N2IyMDBlMzQyNTNjNDBmYjQxNGY0YzY4YmVkN2VkNDA4Zg=="
    assert auth_header(KEY, SECRET, "/v1/request/callback/", params) == expected
    assert ref_auth(KEY, SECRET, "/v1/request/callback/", params) == expected
    stats = {"start": "2024-01-01 00:00:00", "end": "2024-01-31 23:59:59", "version": "2"}
    expected = "KEY123:YzczZmFlYzdiMWJmYTA4NDJkNGY1NDBmMDljYjIyYmM0OGM1YzU3ZA=="
    assert auth_header(KEY, SECRET, "/v1/statistics/pbx/", stats) == expected
    assert ref_auth(KEY, SECRET, "/v1/statistics/pbx/", stats) == expected
    # PHP's encoding of "~" and "*" (what the PHP SDK signs).
    expected = "KEY123:MmFmM2FkYmZkZTFmMDZlMzk2OGQzZTc3MmYxZDM5ZjZkMDdkZDUwNQ=="
    assert auth_header(KEY, SECRET, "/v1/info/", {"note": "a~b*c"}) == expected


@pytest.mark.parametrize(
    "payload, hex_sig, raw_sig",
    [
        (
            {
                "event": "NOTIFY_START",
                "call_start": "2024-01-15 10:00:00",
                "pbx_call_id": DOC_CALL_ID,
                "caller_id": "442037691880",
                "called_did": "442037691881",
            },
            "ZThlNDk1YzE5ZTMyNWExOTgxYzA3ODRiNTQwMzFiMjBkYTZhMTQ4ZQ==",
            "6OSVwZ4yWhmBwHhLVAMbINpqFI4=",
        ),
        (
            {
                "event": "NOTIFY_OUT_START",
                "call_start": "2024-01-15 10:05:00",
                "pbx_call_id": "out_x",
                "internal": "100",
                "destination": "442037691881",
            },
            "ZDIzYTNmYzNhOWE4MTdjOTgzNTVkMDkwZDFiODAzMDllOGIwY2E3Zg==",
            "0jo/w6moF8mDVdCQ0bgDCeiwyn8=",
        ),
        (
            {"event": "NOTIFY_RECORD", "call_id_with_rec": DOC_REC_ID, "pbx_call_id": DOC_CALL_ID},
            "YmE2OWQ3ZTUyODg2MGY5MjllNjY0MjU1Nzg4NGY3OGQwNDE1OWY5ZQ==",
            "umnX5SiGD5KeZkJVeIT3jQQVn54=",
        ),
    ],
)
def test_webhook_signature_vectors(payload, hex_sig, raw_sig):
    assert webhook_signature(SECRET, payload) == hex_sig
    assert webhook_signature(SECRET, payload, "base64_raw") == raw_sig
    assert ref_webhook_ok(SECRET, payload, hex_sig) and ref_webhook_ok(SECRET, payload, raw_sig)
    assert sign(SECRET, "x") == ref_sign(SECRET, "x")


# --- Zadarma webhooks on the wire ----------------------------------------------------------


def test_zadarma_answered_bodies_byte_exact(sim, receiver):
    deliveries = sim.play(
        "zadarma",
        "answered",
        call_id=DOC_CALL_ID,
        caller="442037691880",
        did="442037691881",
        extensions=["100"],
        talk_seconds=65,
        record=True,
        recording_id=DOC_REC_ID,
        call_start=DOC_START,
    )
    assert [d.status for d in deliveries] == [200] * 5
    common = "call_start=2024-01-15+10%3A00%3A00&pbx_call_id=" + DOC_CALL_ID
    parties = "caller_id=442037691880&called_did=442037691881"
    expected = [
        f"event=NOTIFY_START&{common}&{parties}",
        f"event=NOTIFY_INTERNAL&{common}&{parties}&internal=100",
        "event=NOTIFY_ANSWER&caller_id=442037691880&destination=442037691881&"
        f"{common}&internal=100",
        f"event=NOTIFY_END&{common}&{parties}&internal=100&duration=65&disposition=answered"
        f"&status_code=16&is_recorded=1&call_id_with_rec={DOC_REC_ID}",
        f"event=NOTIFY_RECORD&call_id_with_rec={DOC_REC_ID}&pbx_call_id={DOC_CALL_ID}",
    ]
    posts = receiver.posts()
    assert [body.decode() for _m, _p, _h, body in posts] == expected
    for _method, _path, headers, _body in posts:
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert posts[0][2]["Signature"] == "ZThlNDk1YzE5ZTMyNWExOTgxYzA3ODRiNTQwMzFiMjBkYTZhMTQ4ZQ=="
    assert posts[4][2]["Signature"] == "YmE2OWQ3ZTUyODg2MGY5MjllNjY0MjU1Nzg4NGY3OGQwNDE1OWY5ZQ=="
    assert deliveries[0].json() == {"status": "ok"}
    assert sim.deliveries == deliveries


def test_zadarma_missed_and_outgoing_bodies(sim, receiver):
    start = DOC_START + dt.timedelta(minutes=10)
    sim.play("zadarma", "missed", call_id="in_0b1c", caller="442037691880",
             did="442037691881", call_start=start)  # fmt: skip
    body = receiver.posts()[-1][3].decode()
    assert body == (
        "event=NOTIFY_END&call_start=2024-01-15+10%3A10%3A00&pbx_call_id=in_0b1c"
        "&caller_id=442037691880&called_did=442037691881&duration=0&disposition=cancel"
        "&status_code=16&is_recorded=0&call_id_with_rec="
    )
    deliveries = sim.play(
        "zadarma",
        "outgoing",
        call_id="out_1",
        extension="100",
        number="442037691881",
        did="442037691880",
        call_start=DOC_START + dt.timedelta(minutes=5),
        talk_seconds=30,
    )
    posts = receiver.posts()[-2:]
    assert posts[0][3] == (
        b"event=NOTIFY_OUT_START&call_start=2024-01-15+10%3A05%3A00&pbx_call_id=out_1"
        b"&internal=100&destination=442037691881"
    )
    assert posts[0][2]["Signature"] == "ZDIzYTNmYzNhOWE4MTdjOTgzNTVkMDkwZDFiODAzMDllOGIwY2E3Zg=="
    end = dict(urllib.parse.parse_qsl(posts[1][3].decode(), keep_blank_values=True))
    assert list(end) == [
        "event", "call_start", "pbx_call_id", "caller_id", "destination", "internal",
        "duration", "disposition", "status_code", "is_recorded", "call_id_with_rec",
    ]  # fmt: skip
    assert end["caller_id"] == "442037691880" and end["duration"] == "30"
    assert [d.status for d in deliveries] == [200, 200]


def test_zadarma_raw_encoding_and_timezone(receiver):
    account = ZadarmaAccount(
        receiver.base + "/hook/zadarma",
        KEY,
        SECRET,
        timezone="UTC",
        signature_encoding="base64_raw",
    )
    simulator = Simulator(zadarma=account)
    simulator.play("zadarma", "unsigned", call_start=DOC_START)
    simulator.play("zadarma", "bad_signature", call_start=DOC_START)
    deliveries = simulator.play(
        "zadarma", "recording_ready", call_id=DOC_CALL_ID, recording_id=DOC_REC_ID
    )
    assert deliveries[0].request_headers["Signature"] == "umnX5SiGD5KeZkJVeIT3jQQVn54="
    assert deliveries[0].status == 200
    first = receiver.posts()[0]
    assert b"call_start=2024-01-15+07%3A00%3A00" in first[3]
    assert "Signature" not in first[2]
    with pytest.raises(ValueError):
        ZadarmaAccount("http://x", KEY, SECRET, signature_encoding="hex")


EXPECTED_ZADARMA = {
    "answered": "START INTERNAL ANSWER END",
    "missed": "START INTERNAL END",
    "busy": "START INTERNAL END",
    "transferred": "START INTERNAL ANSWER INTERNAL ANSWER END",
    "ring_group_answered_elsewhere": "START INTERNAL INTERNAL INTERNAL ANSWER END",
    "outgoing": "OUT_START OUT_END",
    "recording_ready": "RECORD",
    "duplicates": "START START INTERNAL INTERNAL ANSWER ANSWER END END",
    "out_of_order": "END ANSWER",
    "bad_signature": "START",
    "unsigned": "START",
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_ZADARMA))
def test_scenario_event_sequences(scenario):
    zadarma = scenario_events("zadarma", scenario)
    assert " ".join(e["event"][len("NOTIFY_") :] for e in zadarma) == EXPECTED_ZADARMA[scenario]
    assert {e["pbx_call_id"] for e in zadarma if "pbx_call_id" in e} == {zadarma[0]["pbx_call_id"]}
    if scenario in ("answered", "transferred", "ring_group_answered_elsewhere", "outgoing"):
        recorded = scenario_events("zadarma", scenario, record=True)
        assert recorded[-1]["event"] == "NOTIFY_RECORD"
        assert recorded[-2]["is_recorded"] == "1"
        assert recorded[-1]["call_id_with_rec"] == recorded[-2]["call_id_with_rec"]


def test_scenario_details():
    ids = {scenario_events("zadarma", "answered")[0]["pbx_call_id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) == 43 and i.startswith("in_") for i in ids)
    out = scenario_events("zadarma", "outgoing")[0]["pbx_call_id"]
    assert out.startswith("out_") and len(out) == 44
    transfer = scenario_events("zadarma", "transferred", extensions=["201", "202"])
    assert [e.get("internal") for e in transfer] == [None, "201", "201", "202", "202", "202"]
    busy = scenario_events("zadarma", "busy")[-1]
    assert (busy["disposition"], busy["status_code"], busy["duration"]) == ("busy", "17", "0")
    missed = scenario_events("zadarma", "missed")[-1]
    assert (missed["disposition"], missed["status_code"]) == ("cancel", "16")
    assert scenario_events("zadarma", "missed", disposition="no_answer")[-1]["disposition"] == (
        "no answer"
    )
    failed = scenario_events("zadarma", "missed", disposition="failed")[-1]
    assert (failed["disposition"], failed["status_code"]) == ("failed", "41")
    recording = scenario_events("zadarma", "recording_ready", call_start=DOC_START)[0]
    assert recording["call_id_with_rec"].endswith("-100-2024-01-15-100000")
    utc = scenario_events("zadarma", "answered", timezone="UTC", call_start=DOC_START)[0]
    assert utc["call_start"] == "2024-01-15 07:00:00"
    with pytest.raises(TypeError):
        scenario_events("zadarma", "missed", use_missed_event=True)


def test_signature_failures_are_refused(sim, receiver):
    assert [d.status for d in sim.play("zadarma", "bad_signature")] == [403]
    assert [d.status for d in sim.play("zadarma", "unsigned")] == [403]
    assert [d.status for d in sim.play("zadarma", "malformed")] == [400]
    assert not sim.calls
    unsigned = receiver.posts()[1]
    assert "Signature" not in unsigned[2]
    assert receiver.posts()[2][3].startswith(b"\xff\xfe")
    with pytest.raises(TypeError):
        sim.play("zadarma", "answered", batch=True)


def test_multipart_with_boundary_bug(sim, receiver):
    deliveries = sim.play("zadarma", "answered", multipart=True, call_start=DOC_START)
    assert [d.status for d in deliveries] == [200] * 4
    _method, _path, headers, body = receiver.posts()[0]
    boundary = headers["Content-Type"].split("boundary=")[1]
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert body.startswith(f"----{boundary}\r\n".encode())
    assert body.endswith(f"----{boundary}--\r\n".encode())
    assert b'name="call_start"\r\n\r\n2024-01-15 10:00:00\r\n' in body
    clean = sim.play("zadarma", "recording_ready", multipart=True, multipart_bug=False)[0]
    boundary = clean.request_headers["Content-Type"].split("boundary=")[1]
    assert clean.request_body.startswith(f"--{boundary}\r\n".encode()) and clean.status == 200


def test_verify_url(sim, receiver):
    assert sim.verify_url("zadarma") is True
    assert "zd_echo=" in receiver.hits[-1][1]
    receiver.answer_get = lambda query: "something else"
    assert sim.verify_url("zadarma") is False
    assert sim.verify_url() is False  # the only account that checks its URL


def test_rest_auth_accept_and_reject(sim):
    status, _headers, body = zadarma_get(sim, "/v1/info/balance/")
    assert (status, body) == (200, {"status": "success", "balance": 10.5, "currency": "USD"})
    status, _headers, body = zadarma_get(sim, "/v1/info/balance/", secret="wrong")
    assert (status, body) == (401, {"status": "error", "message": "Auth error"})
    status, _headers, body = zadarma_get(sim, "/v1/info/balance/", key="OTHER")
    assert status == 401
    # Signed with format=json but sent without it.
    auth = ref_auth(KEY, SECRET, "/v1/info/balance/", {})
    assert zadarma_rest(sim, "/v1/info/balance/", headers={"Authorization": auth})[0] == 401
    assert zadarma_rest(sim, "/v1/info/balance/", {"format": "json"})[0] == 401
    # A value with a space and a colon, parameters sent in another order than signed.
    stats = {"start": "2024-01-01 00:00:00", "end": "2024-01-31 23:59:59", "version": "2"}
    auth = "KEY123:YzczZmFlYzdiMWJmYTA4NDJkNGY1NDBmMDljYjIyYmM0OGM1YzU3ZA=="
    sent = {"version": "2", "start": stats["start"], "end": stats["end"], "format": "json"}
    assert zadarma_rest(sim, "/v1/statistics/pbx/", sent, headers={"Authorization": auth})[0] == 200
    log = sim.requests
    assert [r.auth_ok for r in log] == [True, False, False, False, False, True]
    assert "bad signature" in log[1].auth_error and log[-1].params["version"] == "2"
    assert log[0].headers["Authorization"].startswith("KEY123:")


def test_rate_limit_headers_and_failure_knobs(sim):
    sim.rate_limit_next(1, retry_after=7)
    sim.fail_next(1, status=503)
    status, headers, body = zadarma_get(sim, "/v1/info/balance/")
    assert (status, headers["Retry-After"]) == (429, "7")
    assert body == {"status": "error", "message": "You exceeded the rate limit"}
    assert zadarma_get(sim, "/v1/info/balance/")[0] == 503
    status, headers, _body = zadarma_get(sim, "/v1/info/balance/")
    assert status == 200 and int(headers["X-RateLimit-Limit"]) == 100
    assert int(headers["X-RateLimit-Remaining"]) == 99
    assert [r.status for r in sim.requests] == [429, 503, 200]


def test_enforced_statistics_rate_limit(receiver):
    simulator = Simulator(
        zadarma=ZadarmaAccount(receiver.base + "/hook/zadarma", KEY, SECRET),
        enforce_rate_limits=True,
        rate_limits={"statistics": 2},
    ).start()
    try:
        window = {"start": "2024-01-01 00:00:00", "end": "2024-01-02 00:00:00"}
        codes = [zadarma_get(simulator, "/v1/statistics/pbx/", window)[0] for _ in range(3)]
        assert codes == [200, 200, 429]
        assert zadarma_get(simulator, "/v1/info/balance/")[0] == 200
    finally:
        simulator.stop()


def test_recording_link_range_and_expiry(sim, receiver):
    deliveries = sim.play("zadarma", "answered", record=True, extensions=["101"])
    rec_id = deliveries[-1].event["call_id_with_rec"]
    call_id = deliveries[0].event["pbx_call_id"]
    status, _h, body = zadarma_get(
        sim, "/v1/pbx/record/request/", {"call_id": rec_id, "lifetime": "180"}
    )
    assert status == 200 and body["status"] == "success" and "lifetime_till" in body
    link = body["link"]
    assert link.startswith(sim.base_url + "/v1/pbx/record/download/")
    assert link.endswith(f"/{rec_id}.mp3")
    path = urllib.parse.urlsplit(link).path
    status, headers, audio = zadarma_rest(sim, path)
    assert (status, headers["Content-Type"], len(audio)) == (200, "audio/mpeg", 4096)
    assert audio[:3] == b"ID3" and audio == zadarma_rest(sim, path)[2]
    status, headers, part = zadarma_rest(sim, path, headers={"Range": "bytes=100-199"})
    assert (status, headers["Content-Range"], part) == (206, "bytes 100-199/4096", audio[100:200])
    assert zadarma_rest(sim, path, headers={"Range": "bytes=-10"})[2] == audio[-10:]
    assert zadarma_rest(sim, path, headers={"Range": "bytes=5000-"})[0] == 416
    status, _h, body = zadarma_get(sim, "/v1/pbx/record/request/", {"pbx_call_id": call_id})
    assert status == 200 and len(body["links"]) == 1
    assert zadarma_get(sim, "/v1/pbx/record/request/", {"call_id": "nope"})[0] == 404
    sim.advance_clock(181)
    assert zadarma_rest(sim, path)[0] == 404
    assert zadarma_rest(sim, urllib.parse.urlsplit(body["links"][0]).path)[0] == 200


def test_callback_plays_outgoing_call(sim, receiver):
    status, _h, body = zadarma_get(
        sim, "/v1/request/callback/", {"from": "101", "to": "79990001122"}
    )
    assert status == 200 and body["status"] == "success"
    assert (body["from"], body["to"]) == ("101", "79990001122")
    assert abs(body["time"] - time.time()) < 5
    assert sim.wait_background(timeout=2)
    forms = [dict(urllib.parse.parse_qsl(h[3].decode())) for h in receiver.posts()]
    assert [f["event"] for f in forms] == ["NOTIFY_OUT_START", "NOTIFY_OUT_END"]
    assert (forms[0]["internal"], forms[0]["destination"]) == ("101", "79990001122")
    assert forms[1]["disposition"] == "answered" and forms[0]["pbx_call_id"].startswith("out_")
    assert zadarma_get(sim, "/v1/request/callback/", {"from": "101"})[0] == 400
    sim.auto_play_originate = False
    zadarma_get(sim, "/v1/request/callback/", {"from": "101", "to": "7999"})
    assert sim.wait_background(timeout=1) and len(receiver.posts()) == 2


def test_extensions_timezone_and_statistics(sim):
    status, _h, body = zadarma_get(sim, "/v1/pbx/internal/")
    assert (status, body["numbers"]) == (200, ["100", "101", "102", "103"])
    assert body["pbx_id"] == 1234
    assert zadarma_get(sim, "/v1/pbx/internal/101/info/")[2]["name"] == "Boris Ivanov"
    assert zadarma_get(sim, "/v1/pbx/internal/999/status/")[0] == 404
    status, _h, body = zadarma_get(sim, "/v1/info/timezone/")
    assert status == 200 and body["timezone"] == "UTC+3"
    assert abs(body["unixtime"] - time.time()) < 5
    sim.play("zadarma", "answered", call_start=DOC_START, caller="79160000001", record=True)
    sim.play("zadarma", "missed", call_start=DOC_START + dt.timedelta(hours=1))
    sim.play("zadarma", "outgoing", call_start=DOC_START + dt.timedelta(hours=2), number="7916")
    sim.play("zadarma", "answered", call_start=DOC_START + dt.timedelta(days=3))
    window = {"start": "2024-01-15 00:00:00", "end": "2024-01-15 23:59:59", "version": "2"}
    status, _h, body = zadarma_get(sim, "/v1/statistics/pbx/", window)
    assert status == 200 and (body["start"], body["end"]) == (window["start"], window["end"])
    stats = body["stats"]
    assert [s["disposition"] for s in stats] == ["answered", "cancel", "answered"]
    assert stats[0]["callstart"] == "2024-01-15 10:00:00" and stats[0]["clid"] == "79160000001"
    assert stats[0]["is_recorded"] is True and stats[0]["seconds"] == 42
    assert stats[0]["pbx_call_id"].startswith("in_") and stats[2]["destination"] == "7916"
    window["call_type"], window["skip"] = "in", "1"
    inbound = zadarma_get(sim, "/v1/statistics/pbx/", window)[2]["stats"]
    assert [s["disposition"] for s in inbound] == ["cancel"]
    assert zadarma_get(sim, "/v1/statistics/pbx/", {"start": "yesterday"})[0] == 400


def test_numbers_as_int_and_unknown_routes(receiver):
    account = ZadarmaAccount(receiver.hook("zadarma"), KEY, SECRET, internal_numbers_as_int=True)
    with Simulator(zadarma=account) as simulator:
        assert zadarma_get(simulator, "/v1/pbx/internal/")[2]["numbers"] == [100, 101, 102, 103]
        assert zadarma_get(simulator, "/v1/nothing/")[2] == {
            "status": "error",
            "message": "Method not found",
        }
        assert rest(simulator.base_url + "/elsewhere")[0] == 404
        assert [r.provider for r in simulator.requests] == ["zadarma"] * 3


def test_program_checks_the_url_and_posts_multipart(receiver, capsys):
    args = ["--zadarma-webhook", receiver.hook("zadarma")]
    args += ["--zadarma-key", KEY, "--zadarma-secret", SECRET, "--log-level", "WARNING"]
    assert cli_main([*args, "--scenario", "answered", "--record"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["200", "NOTIFY_START"], ["200", "NOTIFY_INTERNAL"], ["200", "NOTIFY_ANSWER"],
        ["200", "NOTIFY_END"], ["200", "NOTIFY_RECORD"],
    ]  # fmt: skip
    assert cli_main([*args, "--scenario", "recording_ready", "--multipart"]) == 0
    assert receiver.posts()[-1][2]["Content-Type"].startswith("multipart/form-data")
    assert cli_main([*args, "--verify-url"]) == 0
    assert "URL check ok" in capsys.readouterr().out
    # The former option names of the account's timezone and signature encoding.
    assert cli_main([*args, "--timezone", "UTC", "--signature-encoding", "base64_raw",
                     "--scenario", "unsigned"]) == 0  # fmt: skip
    with pytest.raises(SystemExit):
        cli_main([*args, "--signature-encoding", "hex"])
