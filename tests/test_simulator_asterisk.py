"""The simulated Asterisk: the AMI server over real TCP, the ARI REST API and events
WebSocket, and the bridge's folding of what they stream (the two halves must agree).

Protocol notes: ``__manifest_docs__/protocols/asterisk.md``.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import time

import pytest
from pbx_bridge.amiwire import AmiDecoder, encode
from pbx_bridge.fold import AmiFolder, AriFolder
from simulator_support import rest

from vats_simulator import AsteriskAccount, Simulator
from vats_simulator.pbx import asterisk

USER, SECRET = "odoo", "s3cret"
EXTENSIONS = ["100", "101", "102", "103"]


@pytest.fixture
def sim(tmp_path):
    account = AsteriskAccount(
        ami_username=USER,
        ami_secret=SECRET,
        recording_dir=str(tmp_path / "monitor"),
        refusing_extensions=("103",),
    )
    simulator = Simulator(asterisk=account, recording_size=2048, originate_delay=0.05).start()
    yield simulator
    simulator.stop()


class Ami:
    """A minimal manager client: real socket, the bridge's decoder."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.decoder = AmiDecoder()
        self.queue = []

    def send(self, **message):
        self.sock.sendall(encode(message))

    def read(self, timeout=5):
        deadline = time.monotonic() + timeout
        while not self.queue:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.queue += self.decoder.feed(data)
        return self.queue.pop(0)

    def until(self, predicate, timeout=5):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            message = self.read(deadline - time.monotonic())
            seen.append(message)
            if predicate(message):
                return seen
        raise AssertionError(f"not seen in {seen}")

    def login(self, events="call,cdr", md5=True):
        assert self.read()["Banner"].startswith("Asterisk Call Manager/")
        if md5:
            self.send(Action="Challenge", AuthType="MD5", ActionID="c")
            challenge = self.read()["Challenge"]
            key = hashlib.md5((challenge + SECRET).encode()).hexdigest()  # noqa: S324
            self.send(Action="Login", AuthType="MD5", Username=USER, Key=key, Events=events)
        else:
            self.send(Action="Login", Username=USER, Secret=SECRET, Events=events)
        return self.read()

    def close(self):
        self.sock.close()


@pytest.fixture
def ami(sim):
    client = Ami(sim.accounts["asterisk"].services.port)
    yield client
    client.close()


def wait_sessions(sim, count):
    deadline = time.monotonic() + 5
    while len(sim.accounts["asterisk"].services.sessions()) < count:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def collect(client, until_final, timeout=5):
    """Call events until ``until_final`` calls have ended (their last Cdr)."""
    events = []
    deadline = time.monotonic() + timeout
    while sum(1 for e in events if e.get("Event") == "Cdr") < until_final:
        events.append(client.read(deadline - time.monotonic()))
    return events


# --- AMI: connection, login, actions ---------------------------------------------------------


def test_md5_challenge_login(ami):
    answer = ami.login()
    assert answer == {"Response": "Success", "Message": "Authentication accepted"}
    ami.send(Action="Ping", ActionID="p1")
    pong = ami.read()
    assert (pong["Response"], pong["Ping"], pong["ActionID"]) == ("Success", "Pong", "p1")


def test_md5_key_is_the_documented_one():
    # vats_protocols.md §7.2: challenge 840146012, secret s3cret.
    digest = hashlib.md5(b"840146012s3cret").hexdigest()  # noqa: S324
    assert digest == "1658844c91125f84d3dbb3a08005f6a5"


def test_plain_login_and_full_event_mask(sim, ami):
    assert ami.login(events="on", md5=False)["Response"] == "Success"
    assert ami.read()["Event"] == "FullyBooted"  # the system class is on


@pytest.mark.parametrize(
    "login",
    [
        {"Username": USER, "Secret": "wrong"},
        {"Username": "nobody", "Secret": SECRET},
        {"Username": USER, "AuthType": "MD5", "Key": "0" * 32},  # no challenge asked
    ],
)
def test_a_wrong_login_is_refused_and_dropped(ami, login):
    ami.read()  # banner
    ami.send(Action="Login", **login)
    assert ami.read() == {"Response": "Error", "Message": "Authentication failed"}
    with pytest.raises((EOFError, ConnectionResetError)):
        ami.read()


def test_actions_need_a_login(ami):
    ami.read()
    ami.send(Action="Originate", Channel="PJSIP/101", Exten="79161234567", ActionID="x")
    assert ami.read() == {"Response": "Error", "ActionID": "x", "Message": "Permission denied"}
    ami.send(Action="Challenge", AuthType="plain")
    assert ami.read()["Message"] == "Must specify AuthType"


def test_unknown_action_and_logoff(ami):
    ami.login()
    ami.send(Action="NoSuchThing")
    assert ami.read() == {"Response": "Error", "Message": "Invalid/unknown command"}
    ami.send(Action="Command", Command="core show version", ActionID="v")
    assert ami.read()["Output"].startswith("Asterisk 20")
    ami.send(Action="Logoff")
    assert ami.read()["Response"] == "Goodbye"
    with pytest.raises((EOFError, ConnectionResetError)):
        ami.read()


@pytest.mark.parametrize(
    ("action", "item", "complete"),
    [
        ("PJSIPShowEndpoints", "EndpointList", "EndpointListComplete"),
        ("SIPpeers", "PeerEntry", "PeerlistComplete"),
    ],
)
def test_extension_listings(sim, ami, action, item, complete):
    ami.login()
    ami.send(Action=action, ActionID="list-1")
    seen = ami.until(lambda m: m.get("Event") == complete)
    assert seen[0]["Response"] == "Success" and seen[0]["EventList"] == "start"
    names = [m["ObjectName"] for m in seen if m.get("Event") == item]
    assert names == sorted(sim.extensions)
    assert all(m["ActionID"] == "list-1" for m in seen)
    assert seen[-1]["ListItems"] == str(len(names))


def test_event_filter(sim, ami):
    """``Events: call,cdr``: no dialplan (VarSet) or system (FullyBooted) events."""
    ami.login()
    wait_sessions(sim, 1)
    sim.play("asterisk", "answered", record=True)
    events = collect(ami, 1)
    names = {e["Event"] for e in events}
    assert {"Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "Hangup", "Cdr"} <= names
    assert "VarSet" not in names and "FullyBooted" not in names
    assert all("call" in e["Privilege"] or "cdr" in e["Privilege"] for e in events)
    ami.send(Action="Events", EventMask="off")
    assert ami.read() == {"Response": "Success", "Events": "Off"}
    sim.play("asterisk", "busy")
    ami.send(Action="Ping")
    assert ami.read()["Ping"] == "Pong"  # and no event came before it


def test_bad_bytes_reach_the_client_as_they_are(sim, ami):
    """The ``malformed`` scenario: half a frame and a line that is not ``Key: Value``; the
    decoder keeps the half frame and skips the line, with a reason."""
    ami.login()
    wait_sessions(sim, 1)
    sim.send("asterisk", asterisk.Asterisk.malformed_body)
    sim.send("asterisk", b"0.1\r\n\r\n")
    message = ami.read()
    assert message == {"Event": "Newchannel", "Uniqueid": "170.1"}
    assert ami.decoder.dropped == 1


# --- the two halves agree: every scenario, folded ---------------------------------------------

SCENARIOS = {
    "answered": (
        {"record": True},
        [
            ("started", ""),
            ("ringing", "100"),
            ("answered", "100"),
            ("ended", "100"),
            ("recording", "100"),
        ],
    ),
    "missed": ({}, [("started", ""), ("ringing", "100"), ("missed", "")]),
    "busy": ({}, [("started", ""), ("ringing", "100"), ("missed", "")]),
    "transferred": (
        {},
        [
            ("started", ""),
            ("ringing", "100"),
            ("answered", "100"),
            ("ringing", "101"),
            ("answered", "101"),
            ("ended", "101"),
        ],
    ),
    "ring_group_answered_elsewhere": (
        {},
        [
            ("started", ""),
            ("ringing", "101"),
            ("ringing", "102"),
            ("ringing", "103"),
            ("answered", "102"),
            ("ended", "102"),
        ],
    ),
    "outgoing": ({}, [("outgoing", "100"), ("answered", "100"), ("ended", "100")]),
    "duplicates": (
        {},
        [("started", ""), ("ringing", "100"), ("answered", "100"), ("ended", "100")],
    ),
}
DISPOSITIONS = {"missed": "no_answer", "busy": "busy"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_folding_the_stream_of_every_scenario(sim, ami, scenario):
    params, expected = SCENARIOS[scenario]
    ami.login()
    wait_sessions(sim, 1)
    sim.play("asterisk", scenario, caller="79161234567", **params)
    events = collect(ami, 2 if scenario == "duplicates" else 1)
    folder = AmiFolder(recording_dir=asterisk.RECORDING_DIR)
    folded = [item for message in events for item in folder.feed(message)]
    assert [(e["type"][5:], e["extension"]) for e in folded] == expected
    call = sim.calls[-1]
    assert {e["call_id"] for e in folded} == {call.call_id}
    final = next(e for e in folded if e["type"] in ("call.ended", "call.missed"))
    assert final["disposition"] == DISPOSITIONS.get(scenario, "answered")
    assert final["duration"] == call.duration
    # The scenarios' busy phone answers at once; any other call ends after ring and talk.
    length = 2 if scenario == "busy" else call.ring_seconds + call.duration
    assert round(final["timestamp"] - folded[0]["timestamp"]) == length
    if scenario == "answered":
        recording = folded[-1]
        assert recording["recording_id"] == call.recording_id
        path = os.path.join(sim.accounts["asterisk"].recording_dir, call.recording_id)
        with open(path, "rb") as handle:
            assert handle.read(4) == b"RIFF"
    assert folder.open_calls() == 0


def test_live_mode_folds_into_whole_calls(sim, ami):
    ami.login()
    wait_sessions(sim, 1)
    played = sim.run_live("asterisk", interval=0, max_calls=8, seed=3, extensions=EXTENSIONS)
    events = collect(ami, 8)
    folder = AmiFolder()
    folded = [item for message in events for item in folder.feed(message)]
    finals = [e for e in folded if e["type"] in ("call.ended", "call.missed")]
    assert sorted(e["call_id"] for e in finals) == sorted(c.params["call_id"] for c in played)
    assert folder.open_calls() == 0


# --- click-to-call ---------------------------------------------------------------------------


def test_originate_plays_a_click_to_call(sim, ami):
    ami.login()
    channel_id = "0b0a6c2e-1f6e-4c3a-9a1b-7d7f2f0c0001"
    ami.send(
        Action="Originate",
        ActionID="c2c-42",
        Channel="PJSIP/101",
        Context="from-internal",
        Exten="79161234567",
        Priority="1",
        CallerID='"CRM" <101>',
        Timeout="30000",
        Variable=["CRM_VOIP_REF=42", "OTHER=x"],
        Async="true",
        ChannelId=channel_id,
    )
    answer = ami.read()
    assert answer["Response"] == "Success" and answer["ActionID"] == "c2c-42"
    events = collect(ami, 1)
    response = next(e for e in events if e["Event"] == "OriginateResponse")
    assert (response["ActionID"], response["Response"]) == ("c2c-42", "Success")
    folder = AmiFolder()
    folded = [item for message in events for item in folder.feed(message)]
    assert [(e["type"], e["call_id"], e["origin_ref"]) for e in folded] == [
        ("call.outgoing", channel_id, "42"),
        ("call.answered", channel_id, "42"),
        ("call.ended", channel_id, "42"),
    ]
    assert folded[0]["to"] == "79161234567" and folded[0]["extension"] == "101"


def test_originate_refused_by_the_phone(sim, ami):
    ami.login()
    ami.send(Action="Originate", Channel="PJSIP/103", Exten="79161234567", Async="true")
    assert ami.read()["Response"] == "Success"
    events = collect_until(ami, "OriginateResponse")
    assert events[-1]["Response"] == "Failure"
    folder = AmiFolder()
    folded = [item for message in events for item in folder.feed(message)]
    assert [(e["type"], e.get("disposition", "")) for e in folded] == [
        ("call.outgoing", ""),
        ("call.ended", "busy"),
    ]


def collect_until(client, name):
    return client.until(lambda m: m.get("Event") == name)


def test_originate_needs_a_channel_and_a_number(ami):
    ami.login()
    ami.send(Action="Originate", Channel="PJSIP/101")
    assert ami.read()["Response"] == "Error"


# --- ARI -------------------------------------------------------------------------------------


def ari(sim, path, method="GET", params=None, body=None, auth=(USER, SECRET)):
    headers = {}
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    return rest(sim.api_url("asterisk") + path, params, method, headers, body)


def test_ari_auth(sim):
    assert sim.api_url("asterisk").endswith("/ari")
    status, headers, body = ari(sim, "/endpoints", auth=None)
    assert status == 401 and json.loads(body) == {"message": "Authentication required"}
    assert ari(sim, "/endpoints", auth=(USER, "wrong"))[0] == 401
    status, _h, body = ari(sim, "/endpoints", params={"api_key": f"{USER}:{SECRET}"}, auth=None)
    assert status == 200
    assert [row["resource"] for row in json.loads(body)] == sorted(sim.extensions)
    assert json.loads(body)[0]["technology"] == "PJSIP"


class WebSocket:
    """A minimal client: the RFC 6455 handshake, masked frames out, frames in."""

    def __init__(self, sim, query):
        host, port = "127.0.0.1", sim.port
        self.sock = socket.create_connection((host, port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        token = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        request = (
            f"GET /ari/events?{query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Basic {token}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        headers = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _sep, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status = int(status.split()[1])
        self.headers = headers
        expected = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        self.accepted = headers.get("sec-websocket-accept") == expected

    def send(self, opcode, payload=b""):
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def frame(self):
        first, second = self.file.read(2)
        assert not second & 0x80  # a server never masks
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self.file.read(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self.file.read(8))[0]
        return first & 0x0F, self.file.read(size)

    def events(self, until_type, count=1, timeout=5):
        self.sock.settimeout(timeout)
        found = []
        seen = 0
        while seen < count:
            opcode, payload = self.frame()
            assert opcode == 0x1
            item = json.loads(payload)
            found.append(item)
            seen += item["type"] == until_type
        return found

    def close(self):
        self.sock.close()


def wait_streams(sim, count):
    deadline = time.monotonic() + 5
    while len(sim.accounts["asterisk"].services._streams) < count:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_ari_websocket_streams_folded_calls(sim):
    socket_ = WebSocket(sim, "app=crm&subscribeAll=true")
    try:
        assert socket_.status == 101 and socket_.accepted
        wait_streams(sim, 1)
        socket_.send(0x9, b"hi")
        assert socket_.frame() == (0xA, b"hi")
        sim.play("asterisk", "ring_group_answered_elsewhere")
        sim.play("asterisk", "answered", record=True)
        # Channels: the trunk, 3 phones and 3 Local pairs, then the trunk and one phone.
        events = socket_.events("ChannelDestroyed", count=1 + 3 + 3 * 2 + 2)
        assert {e["application"] for e in events} == {"crm"}
        folder = AriFolder()
        folded = [item for event in events for item in folder.feed(event)]
        rows = [(e["type"][5:], e.get("extension", "")) for e in folded]
        assert rows == [
            ("started", ""),
            ("ringing", "101"),
            ("ringing", "102"),
            ("ringing", "103"),
            ("answered", "102"),
            ("ended", "102"),
            ("started", ""),
            ("ringing", "100"),
            ("answered", "100"),
            ("ended", "100"),
            ("recording", "100"),
        ]
        assert folded[-1]["recording_id"] == sim.calls[-1].recording_id
        call = sim.calls[-1]  # dated as over AMI: from the trunk's creation to its hang-up
        assert round(folded[9]["timestamp"] - folded[6]["timestamp"]) == 7 + call.duration
        assert folded[9]["duration"] == call.duration
        socket_.send(0x8, struct.pack("!H", 1000))
        assert socket_.frame()[0] == 0x8
    finally:
        socket_.close()


def test_ari_websocket_refusals(sim):
    socket_ = WebSocket(sim, "subscribeAll=true")
    assert socket_.status == 400
    socket_.close()
    plain = ari(sim, "/events", params={"app": "crm"})
    assert plain[0] == 400  # no upgrade asked


def test_ari_endpoint_subscription(sim):
    status, _h, body = ari(
        sim, "/applications/crm/subscription", "POST", params={"eventSource": "endpoint:PJSIP/102"}
    )
    assert status == 200 and json.loads(body)["endpoint_ids"] == ["PJSIP/102"]
    socket_ = WebSocket(sim, "app=crm")
    try:
        wait_streams(sim, 1)
        sim.play("asterisk", "answered")  # rings 100 only: nothing for this app
        sim.play("asterisk", "answered", answered_by="102", extensions=["102"])
        events = socket_.events("ChannelDestroyed")
        names = {e["channel"]["name"] for e in events if "channel" in e}
        names |= {e["peer"]["name"] for e in events if "peer" in e}
        assert all("PJSIP/102-" in name or "trunk" in name for name in names)
        assert any("PJSIP/102-" in name for name in names)
    finally:
        socket_.close()


def test_ari_click_to_call(sim):
    socket_ = WebSocket(sim, "app=crm&subscribeAll=true")
    try:
        wait_streams(sim, 1)
        status, _h, body = ari(
            sim,
            "/channels",
            "POST",
            params={
                "endpoint": "PJSIP/101",
                "extension": "79161234567",
                "context": "from-internal",
                "timeout": "30",
                "channelId": "c2c-ari-1",
            },
            body={"variables": {"CRM_VOIP_REF": "77"}},
        )
        assert status == 200 and json.loads(body)["id"] == "c2c-ari-1"
        events = socket_.events("ChannelDestroyed", count=2)
        folder = AriFolder()
        folder.expect_originate("c2c-ari-1", extension="101", number="79161234567", ref="77")
        folded = [item for event in events for item in folder.feed(event)]
        assert [(e["type"], e["call_id"], e["origin_ref"]) for e in folded] == [
            ("call.outgoing", "c2c-ari-1", "77"),
            ("call.answered", "c2c-ari-1", "77"),
            ("call.ended", "c2c-ari-1", "77"),
        ]
    finally:
        socket_.close()
    assert ari(sim, "/channels", "POST", params={"endpoint": "PJSIP/101"})[0] == 400


def test_ari_stored_recordings(sim, ami):
    ami.login()
    wait_sessions(sim, 1)
    sim.play("asterisk", "answered", record=True)
    collect(ami, 1)
    recording_id = sim.calls[-1].recording_id
    name = recording_id.rpartition(".")[0]
    status, _h, body = ari(sim, "/recordings/stored")
    assert status == 200 and {"name": name, "format": "wav"} in json.loads(body)
    status, headers, data = ari(sim, f"/recordings/stored/{name}/file")
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert data[:4] == b"RIFF" and len(data) == 2048
    assert ari(sim, "/recordings/stored/nope/file")[0] == 404


def test_stopping_closes_the_manager_socket(tmp_path):
    account = AsteriskAccount(ami_username=USER, ami_secret=SECRET)
    simulator = Simulator(asterisk=account).start()
    port = account.services.port
    client = Ami(port)
    client.login()
    simulator.stop()
    assert account.services is None
    with pytest.raises((EOFError, ConnectionResetError, OSError)):
        while True:
            client.read(timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
