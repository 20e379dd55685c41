"""The VATS simulator against the protocol documents' test vectors and a tiny local receiver.

The reference signatures below are written again here, differently from ``vats_simulator``,
so that a mistake in the simulator's signing code cannot pass by agreeing with itself.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import vats_simulator
from vats_simulator import GenericAccount, Simulator, ZadarmaAccount, scenario_events
from vats_simulator.cli import main as cli_main
from vats_simulator.pbx.generic import signature as generic_signature
from vats_simulator.pbx.zadarma import (
    auth_header as zadarma_auth_header,
)
from vats_simulator.pbx.zadarma import (
    sign as zadarma_sign,
)
from vats_simulator.pbx.zadarma import (
    webhook_signature as zadarma_webhook_signature,
)

KEY, SECRET = "KEY123", "SECRET456"
GENERIC_SECRET, GENERIC_KEY = "whsec-test", "api-key-test"
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


def ref_generic_ok(secret, headers, body, window=300):
    stamp = headers.get("X-Crm-Voip-Timestamp") or ""
    given = headers.get("X-Crm-Voip-Signature") or ""
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > window:
        return False
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(f"v1={mac}", value.strip()) for value in given.split(","))


# --- a tiny receiving server ---------------------------------------------------------------


class Receiver:
    """Records every request and answers like a well-behaved webhook endpoint would."""

    def __init__(self):
        self.hits = []
        self.seen_ids = set()
        self.echo_override = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                receiver.hits.append(("GET", self.path, dict(self.headers.items()), b""))
                answer = receiver.echo_override or query.get("zd_echo", "")
                self._reply(200, answer.encode(), "text/plain")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits.append(("POST", self.path, dict(self.headers.items()), body))
                if self.path.endswith("/zadarma"):
                    status, answer = receiver.zadarma(self.headers, body)
                else:
                    status, answer = receiver.generic(self.headers, body)
                self._reply(status, json.dumps(answer).encode(), "application/json")

            def _reply(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def zadarma(self, headers, body):
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

    def generic(self, headers, body):
        if not ref_generic_ok(GENERIC_SECRET, headers, body):
            return 403, {"status": "error", "error": "signature"}
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {"status": "error", "error": "malformed"}
        events = payload["events"] if "events" in payload else [payload]
        accepted = duplicates = 0
        for event in events:
            if event["id"] in self.seen_ids:
                duplicates += 1
            else:
                self.seen_ids.add(event["id"])
                accepted += 1
        return 200, {"status": "ok", "accepted": accepted, "duplicates": duplicates}

    def posts(self):
        return [hit for hit in self.hits if hit[0] == "POST"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def sim(receiver):
    simulator = Simulator(
        zadarma=ZadarmaAccount(receiver.base + "/hook/zadarma", KEY, SECRET),
        generic=GenericAccount(receiver.base + "/hook/generic", GENERIC_SECRET, GENERIC_KEY),
        recording_size=4096,
        originate_delay=0.05,
    ).start()
    yield simulator
    simulator.stop()


def rest(sim, path, params=None, method="GET", headers=None, body=None):
    """Call the simulator's REST API; returns (status, headers, body bytes)."""
    url = sim.base_url + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def zadarma_get(sim, path, params=None, key=KEY, secret=SECRET):
    params = dict(params or {})
    auth = ref_auth(key, secret, path, params)
    status, headers, body = rest(
        sim, path, {**params, "format": "json"}, headers={"Authorization": auth}
    )
    return status, headers, json.loads(body) if body.startswith(b"{") else body


def generic_call(sim, path, method="GET", payload=None, token=GENERIC_KEY, headers=None):
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    return rest(sim, "/generic" + path, method=method, headers=headers, body=body)


# --- test vectors --------------------------------------------------------------------------


def test_rest_auth_vectors():
    params = {"from": "100", "to": "442037691881"}
    expected = "KEY123:M2NmMmM5N2IyMDBlMzQyNTNjNDBmYjQxNGY0YzY4YmVkN2VkNDA4Zg=="
    assert zadarma_auth_header(KEY, SECRET, "/v1/request/callback/", params) == expected
    assert ref_auth(KEY, SECRET, "/v1/request/callback/", params) == expected
    stats = {"start": "2024-01-01 00:00:00", "end": "2024-01-31 23:59:59", "version": "2"}
    expected = "KEY123:YzczZmFlYzdiMWJmYTA4NDJkNGY1NDBmMDljYjIyYmM0OGM1YzU3ZA=="
    assert zadarma_auth_header(KEY, SECRET, "/v1/statistics/pbx/", stats) == expected
    assert ref_auth(KEY, SECRET, "/v1/statistics/pbx/", stats) == expected
    # PHP's encoding of "~" and "*" (what the PHP SDK signs).
    expected = "KEY123:MmFmM2FkYmZkZTFmMDZlMzk2OGQzZTc3MmYxZDM5ZjZkMDdkZDUwNQ=="
    assert zadarma_auth_header(KEY, SECRET, "/v1/info/", {"note": "a~b*c"}) == expected


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
    assert zadarma_webhook_signature(SECRET, payload) == hex_sig
    assert zadarma_webhook_signature(SECRET, payload, "base64_raw") == raw_sig
    assert ref_webhook_ok(SECRET, payload, hex_sig) and ref_webhook_ok(SECRET, payload, raw_sig)
    assert zadarma_sign(SECRET, "x") == ref_sign(SECRET, "x")


def test_generic_signature_matches_protocol():
    body = b'{"id":"e1","type":"call.started"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert generic_signature("s3cret", 1700000000, body) == "v1=" + expected


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
GENERIC_NAMES = {
    "START": "started",
    "INTERNAL": "ringing",
    "ANSWER": "answered",
    "END": "ended",
    "OUT_START": "outgoing",
    "OUT_END": "ended",
    "RECORD": "recording",
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_ZADARMA))
def test_scenario_event_sequences(scenario):
    zadarma = scenario_events("zadarma", scenario)
    assert " ".join(e["event"][len("NOTIFY_") :] for e in zadarma) == EXPECTED_ZADARMA[scenario]
    generic = scenario_events("generic", scenario)
    expected = [f"call.{GENERIC_NAMES[n]}" for n in EXPECTED_ZADARMA[scenario].split()]
    assert [e["type"] for e in generic] == expected
    assert {e["call_id"] for e in generic} == {generic[0]["call_id"]}
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
    group = scenario_events("generic", "ring_group_answered_elsewhere")
    assert [e.get("extension") for e in group] == [None, "101", "102", "103", "102", "102"]
    busy = scenario_events("zadarma", "busy")[-1]
    assert (busy["disposition"], busy["status_code"], busy["duration"]) == ("busy", "17", "0")
    missed = scenario_events("generic", "missed", disposition="cancel", use_missed_event=True)
    assert (missed[-1]["type"], missed[-1]["disposition"]) == ("call.missed", "cancel")
    assert scenario_events("zadarma", "missed", disposition="no_answer")[-1]["disposition"] == (
        "no answer"
    )
    dup = scenario_events("generic", "duplicates")
    assert [e["id"] for e in dup[::2]] == [e["id"] for e in dup[1::2]]
    assert len({e["id"] for e in dup}) == len(dup) // 2
    started = scenario_events("generic", "answered", call_start=DOC_START)[0]
    assert started["timestamp"] == "2024-01-15T07:00:00+00:00"
    assert started["direction"] == "inbound" and started["did"] == started["to"]
    outgoing = scenario_events("generic", "outgoing", extension="101", number="79990001122")[0]
    assert (outgoing["direction"], outgoing["from"], outgoing["to"]) == (
        "outbound",
        "101",
        "79990001122",
    )
    with pytest.raises(TypeError):
        scenario_events("zadarma", "answered", colour="blue")
    with pytest.raises(ValueError):
        scenario_events("zadarma", "nope")


def test_signature_failures_are_refused(sim, receiver):
    for provider in ("zadarma", "generic"):
        assert [d.status for d in sim.play(provider, "bad_signature")] == [403]
        assert [d.status for d in sim.play(provider, "unsigned")] == [403]
        assert [d.status for d in sim.play(provider, "malformed")] == [400]
    assert [d.status for d in sim.play("generic", "answered", timestamp_offset=-900)] == [403] * 4
    assert not any(call.call_id for call in sim.calls if call.provider == "zadarma")
    unsigned = [h for h in receiver.posts() if h[1].endswith("/generic")][1]
    assert "X-Crm-Voip-Signature" not in unsigned[2] and "X-Crm-Voip-Timestamp" in unsigned[2]


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
    receiver.echo_override = "something else"
    assert sim.verify_url("zadarma") is False
    with pytest.raises(ValueError):
        sim.verify_url("generic")


def test_unreachable_webhook_reports_error():
    simulator = Simulator(
        zadarma=ZadarmaAccount("http://127.0.0.1:9/hook", KEY, SECRET), webhook_timeout=1
    )
    delivery = simulator.play("zadarma", "recording_ready")[0]
    assert delivery.status is None and delivery.error and not delivery.ok


# --- generic webhooks -----------------------------------------------------------------------


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


# --- Zadarma REST ---------------------------------------------------------------------------


def test_rest_auth_accept_and_reject(sim):
    status, _headers, body = zadarma_get(sim, "/v1/info/balance/")
    assert (status, body) == (200, {"status": "success", "balance": 10.5, "currency": "USD"})
    status, _headers, body = zadarma_get(sim, "/v1/info/balance/", secret="wrong")
    assert (status, body) == (401, {"status": "error", "message": "Auth error"})
    status, _headers, body = zadarma_get(sim, "/v1/info/balance/", key="OTHER")
    assert status == 401
    # Signed with format=json but sent without it.
    auth = ref_auth(KEY, SECRET, "/v1/info/balance/", {})
    assert rest(sim, "/v1/info/balance/", headers={"Authorization": auth})[0] == 401
    assert rest(sim, "/v1/info/balance/", {"format": "json"})[0] == 401
    # A value with a space and a colon, parameters sent in another order than signed.
    stats = {"start": "2024-01-01 00:00:00", "end": "2024-01-31 23:59:59", "version": "2"}
    auth = "KEY123:YzczZmFlYzdiMWJmYTA4NDJkNGY1NDBmMDljYjIyYmM0OGM1YzU3ZA=="
    sent = {"version": "2", "start": stats["start"], "end": stats["end"], "format": "json"}
    assert rest(sim, "/v1/statistics/pbx/", sent, headers={"Authorization": auth})[0] == 200
    log = sim.requests
    assert [r.auth_ok for r in log] == [True, False, False, False, False, True]
    assert "bad signature" in log[1].auth_error and log[-1].params["version"] == "2"
    assert log[0].headers["Authorization"].startswith("KEY123:")


def test_rate_limit_and_failure_knobs(sim):
    sim.rate_limit_next(2, retry_after=7)
    sim.fail_next(1, status=503)
    status, headers, body = zadarma_get(sim, "/v1/info/balance/")
    assert (status, headers["Retry-After"]) == (429, "7")
    assert body == {"status": "error", "message": "You exceeded the rate limit"}
    assert generic_call(sim, "/extensions")[0] == 429
    assert zadarma_get(sim, "/v1/info/balance/")[0] == 503
    status, headers, _body = zadarma_get(sim, "/v1/info/balance/")
    assert status == 200 and int(headers["X-RateLimit-Limit"]) == 100
    assert [r.status for r in sim.requests] == [429, 429, 503, 200]


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
    status, headers, audio = rest(sim, path)
    assert (status, headers["Content-Type"], len(audio)) == (200, "audio/mpeg", 4096)
    assert audio[:3] == b"ID3" and audio == rest(sim, path)[2]
    status, headers, part = rest(sim, path, headers={"Range": "bytes=100-199"})
    assert (status, headers["Content-Range"], part) == (206, "bytes 100-199/4096", audio[100:200])
    assert rest(sim, path, headers={"Range": "bytes=-10"})[2] == audio[-10:]
    assert rest(sim, path, headers={"Range": "bytes=5000-"})[0] == 416
    status, _h, body = zadarma_get(sim, "/v1/pbx/record/request/", {"pbx_call_id": call_id})
    assert status == 200 and len(body["links"]) == 1
    assert zadarma_get(sim, "/v1/pbx/record/request/", {"call_id": "nope"})[0] == 404
    sim.advance_clock(181)
    assert rest(sim, path)[0] == 404
    assert rest(sim, urllib.parse.urlsplit(body["links"][0]).path)[0] == 200


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


# --- generic REST ---------------------------------------------------------------------------


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


# --- live mode and the program -------------------------------------------------------------


def test_live_mode(sim, receiver):
    played = sim.run_live("zadarma", interval=0, max_calls=6, seed=7, extensions=["100", "101"])
    assert len(played) == 6 and all(call.ok for call in played)
    assert {call.scenario for call in played} <= {s for s, _w in vats_simulator.LIVE_MIX}
    assert len(sim.calls) == 6
    again = Simulator(zadarma=sim.accounts["zadarma"]).run_live(
        "zadarma", interval=0, max_calls=6, seed=7, extensions=["100", "101"]
    )
    assert [c.scenario for c in again] == [c.scenario for c in played]
    stop = threading.Event()
    worker = threading.Thread(
        target=sim.run_live, args=("generic",), kwargs={"interval": 0.01, "stop_event": stop}
    )
    worker.start()
    time.sleep(0.15)
    stop.set()
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert any(d.provider == "generic" and d.ok for d in sim.deliveries)


def test_program(receiver, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--help"])
    assert exit_info.value.code == 0
    assert "--zadarma-webhook" in capsys.readouterr().out
    args = ["--zadarma-webhook", receiver.base + "/hook/zadarma"]
    args += ["--zadarma-key", KEY, "--zadarma-secret", SECRET, "--log-level", "WARNING"]
    assert cli_main([*args, "--scenario", "answered", "--record"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["200", "NOTIFY_START"], ["200", "NOTIFY_INTERNAL"], ["200", "NOTIFY_ANSWER"],
        ["200", "NOTIFY_END"], ["200", "NOTIFY_RECORD"],
    ]  # fmt: skip
    assert cli_main([*args, "--verify-url"]) == 0
    assert cli_main([*args, "--live", "zadarma", "--interval", "0", "--max-calls", "2"]) == 0
    assert len(receiver.posts()) >= 7
    with pytest.raises(SystemExit):
        cli_main(["--zadarma-webhook", "http://x"])


def test_program_stops_cleanly_on_sigterm():
    command = [sys.executable, "-m", "vats_simulator", "--port", "0"]
    command += ["--generic-webhook", "http://127.0.0.1:9/x", "--generic-secret", "s"]
    command += ["--generic-api-key", "k"]
    root = pathlib.Path(__file__).resolve().parents[1]
    process = subprocess.Popen(command, cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 5
        line = ""
        while "serving until" not in line and time.monotonic() < deadline:
            line = process.stderr.readline()
        assert "serving until" in line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_control_endpoint_plays_a_call_later(sim):
    """``POST /_simulator/play`` answers 202 at once, then posts the scenario's webhooks."""
    body = json.dumps(
        {"provider": "generic", "scenario": "missed", "params": {"caller": "79161234567"}}
    ).encode()
    request = urllib.request.Request(
        sim.base_url + "/_simulator/play", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202
        call_id = json.loads(response.read())["call_id"]
    sim.wait_background()
    assert sim.deliveries and all(d.ok for d in sim.deliveries)
    assert {d.event["call_id"] for d in sim.deliveries} == {call_id}


def test_control_endpoint_refuses_unknown_scenarios(sim):
    body = json.dumps({"provider": "generic", "scenario": "nope"}).encode()
    request = urllib.request.Request(
        sim.base_url + "/_simulator/play", data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)
    assert error.value.code == 400
