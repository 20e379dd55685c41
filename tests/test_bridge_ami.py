"""The bridge's AMI client against a small AMI server on loopback: banner, Challenge/MD5
login, events cut anywhere (a half-read frame), actions matched by ActionID, list actions,
a dropped connection reconnected with backoff and its reason logged, a refused login
retried without a crash loop."""

import hashlib
import pathlib
import socket
import sys
import threading
import time

import pytest

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "bridge"
if str(BRIDGE) not in sys.path:
    sys.path.insert(0, str(BRIDGE))

from pbx_bridge.ami import AmiClient, AmiError  # noqa: E402
from pbx_bridge.amiwire import AmiDecoder, encode  # noqa: E402
from pbx_bridge.poster import Backoff  # noqa: E402

CHALLENGE = "840146012"


class TinyAmiServer:
    """Accepts connections one after the other; ``script(connection)`` may push events."""

    def __init__(self, secret="s3cret", endpoints=("101", "102")):
        self.secret = secret
        self.endpoints = endpoints
        self.actions = []
        self.connections = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.ignore_pings = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _send(self, connection, message):
        try:
            connection.sendall(encode(message))
        except OSError:
            pass

    def _serve(self, connection):
        connection.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        decoder = AmiDecoder(expect_banner=False)
        while True:
            try:
                data = connection.recv(4096)
            except OSError:
                return
            if not data:
                return
            for action in decoder.feed(data):
                self.actions.append(action)
                self._answer(connection, action)

    def _answer(self, connection, action):
        action_id = action.get("ActionID", "")
        name = action.get("Action")
        if name == "Challenge":
            reply = {"Response": "Success", "ActionID": action_id, "Challenge": CHALLENGE}
            self._send(connection, reply)
        elif name == "Login":
            key = hashlib.md5((CHALLENGE + self.secret).encode()).hexdigest()
            if action.get("Key") == key:
                self._send(connection, {"Response": "Success", "ActionID": action_id})
            else:
                self._send(
                    connection,
                    {
                        "Response": "Error",
                        "ActionID": action_id,
                        "Message": "Authentication failed",
                    },
                )
                connection.close()
        elif name == "Ping" and not self.ignore_pings:
            self._send(connection, {"Response": "Success", "ActionID": action_id, "Ping": "Pong"})
        elif name == "PJSIPShowEndpoints":
            self._send(
                connection,
                {
                    "Response": "Success",
                    "ActionID": action_id,
                    "EventList": "start",
                    "Message": "A listing of Endpoints follows, presented as EndpointList events",
                },
            )
            for endpoint in self.endpoints:
                event = {"Event": "EndpointList", "ActionID": action_id, "ObjectName": endpoint}
                self._send(connection, event)
            complete = {"Event": "EndpointListComplete", "ActionID": action_id}
            self._send(connection, {**complete, "EventList": "Complete"})
        elif name == "Originate":
            self._send(
                connection,
                {"Response": "Success", "ActionID": action_id, "Message": "Originate queued"},
            )

    def push_in_pieces(self, message, pieces=5):
        """Send an event cut into ``pieces`` writes, with pauses: a half-read frame."""
        data = encode(message)
        step = max(1, len(data) // pieces)
        connection = self.connections[-1]
        for start in range(0, len(data), step):
            connection.sendall(data[start : start + step])
            time.sleep(0.01)

    def drop(self):
        connection = self.connections[-1]
        connection.shutdown(socket.SHUT_RDWR)
        connection.close()

    def close(self):
        self.listener.close()
        for connection in self.connections:
            try:
                connection.close()
            except OSError:
                pass


def _wait(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def server():
    tiny = TinyAmiServer()
    yield tiny
    tiny.close()


def _client(server, secret="s3cret", **kwargs):
    events = []
    client = AmiClient(
        "127.0.0.1",
        server.port,
        "crm",
        secret,
        ping_interval=kwargs.pop("ping_interval", 0.2),
        action_timeout=kwargs.pop("action_timeout", 1.0),
        on_event=events.append,
        **kwargs,
    )
    client.backoff = Backoff(base=0.05, cap=0.2)
    return client, events


def test_login_events_in_pieces_and_a_reconnect(server, caplog):
    client, events = _client(server)
    client.start()
    try:
        assert _wait(lambda: client.connected)
        login = next(action for action in server.actions if action["Action"] == "Login")
        assert login["AuthType"] == "MD5"
        assert login["Key"] == hashlib.md5((CHALLENGE + "s3cret").encode()).hexdigest()
        assert login["Events"] == "call,cdr"
        assert "Secret" not in login

        hangup = {"Event": "Hangup", "Uniqueid": "1.1", "Linkedid": "1.1", "Cause": "16"}
        server.push_in_pieces(hangup)
        server.push_in_pieces({"Event": "SomethingNew", "Weird": "yes"})
        assert _wait(lambda: len(events) == 2)
        assert events[0] == hangup
        assert events[1]["Event"] == "SomethingNew"

        server.drop()
        assert _wait(lambda: client.connections == 2)
        assert "connection to 127.0.0.1" in caplog.text and "closed by the PBX" in caplog.text
        server.push_in_pieces({"Event": "Newchannel", "Uniqueid": "2.1"})
        assert _wait(lambda: len(events) == 3)
        assert _wait(lambda: any(a["Action"] == "Ping" for a in server.actions))
    finally:
        client.stop()
    assert not client.connected


def test_refused_login_is_retried_with_backoff(server, caplog):
    client, _events = _client(server, secret="wrong")
    client.start()
    try:
        assert _wait(lambda: caplog.text.count("login failed") >= 2)
        assert not client.connected
        assert "Authentication failed" in client.last_drop_reason
    finally:
        client.stop()


def test_unanswered_ping_drops_the_connection(server, caplog):
    client, _events = _client(server, ping_interval=0.1, action_timeout=0.2)
    client.start()
    try:
        assert _wait(lambda: client.connected)
        server.ignore_pings = True
        assert _wait(lambda: "ping unanswered" in caplog.text)
        server.ignore_pings = False
        assert _wait(lambda: client.connected and client.connections >= 2)
    finally:
        client.stop()


def test_actions_list_and_originate(server):
    client, _events = _client(server, ping_interval=30)
    client.start()
    try:
        assert _wait(lambda: client.connected)
        assert client.extensions() == [("101", ""), ("102", "")]
        client.originate("PJSIP/101", "from-internal", "79161234567", 1, "", 30, "chan-1", "42")
        originate = next(action for action in server.actions if action["Action"] == "Originate")
        assert originate["Async"] == "true"
        assert originate["ChannelId"] == "chan-1"
        assert originate["Variable"] == "CRM_VOIP_REF=42"
        assert originate["Timeout"] == "30000"
        assert originate["Exten"] == "79161234567"
    finally:
        client.stop()


def test_actions_without_a_connection_fail_at_once():
    client = AmiClient("127.0.0.1", 9, "crm", "x")
    with pytest.raises(AmiError, match="not connected"):
        client.action({"Action": "Ping"})


def test_unreachable_pbx_is_retried(caplog):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there any more
    client = AmiClient("127.0.0.1", port, "crm", "x", connect_timeout=0.2)
    client.backoff = Backoff(base=0.02, cap=0.05)
    client.start()
    try:
        assert _wait(lambda: caplog.text.count("cannot connect") >= 3)
    finally:
        client.stop()
