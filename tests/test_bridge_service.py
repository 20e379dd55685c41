"""The whole bridge in-process: an AMI server on loopback plays a call, the bridge folds
it, spools it and posts it to an Odoo stand-in that checks the signature as the generic
adapter does; Odoo answering 500, then the bridge restarted, loses and repeats nothing."""

import json
import pathlib
import sys
import time

import pytest
import voip_providers
import voip_test_local_http
from test_bridge_ami import TinyAmiServer

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "bridge"
if str(BRIDGE) not in sys.path:
    sys.path.insert(0, str(BRIDGE))

from pbx_bridge.api import api_headers  # noqa: E402
from pbx_bridge.config import from_dict  # noqa: E402
from pbx_bridge.service import Bridge  # noqa: E402

SECRET = "bridge-secret"


def _channel(name, uid, linkedid, state, context, exten, caller, stamp):
    return {
        "Privilege": "call,all",
        "Timestamp": f"{stamp:.6f}",
        "Channel": name,
        "ChannelState": str(state),
        "ChannelStateDesc": {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}[state],
        "CallerIDNum": caller,
        "CallerIDName": "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": context,
        "Exten": exten,
        "Priority": "1",
        "Uniqueid": uid,
        "Linkedid": linkedid,
    }


def answered_call(linkedid, start):
    """AMI events of an inbound call from the trunk to PJSIP/101, answered, hung up."""
    trunk = ("PJSIP/trunk-00000001", linkedid, linkedid)
    phone = ("PJSIP/101-00000002", f"{linkedid}1", linkedid)

    def chan(which, state, stamp, context="from-pstn", exten="74951234567", caller="79161234567"):
        return _channel(*which, state, context, exten, caller, start + stamp)

    def dest(fields):
        return {f"Dest{key}": value for key, value in fields.items() if key != "Privilege"}

    phone_down = chan(phone, 0, 1, "from-internal", "", "101")
    return [
        {"Event": "Newchannel", **chan(trunk, 4, 0)},
        {"Event": "Newchannel", **phone_down},
        {"Event": "DialBegin", **chan(trunk, 4, 1), **dest(phone_down), "DialString": "101"},
        {"Event": "Newstate", **chan(phone, 5, 1, "from-internal", "", "101")},
        {"Event": "Newstate", **chan(phone, 6, 7, "from-internal", "", "101")},
        {
            "Event": "DialEnd",
            **chan(trunk, 4, 7),
            **dest(chan(phone, 6, 7, "from-internal", "", "101")),
            "DialStatus": "ANSWER",
        },
        {"Event": "Hangup", **chan(trunk, 6, 49), "Cause": "16", "Cause-txt": "Normal Clearing"},
        {
            "Event": "Hangup",
            **chan(phone, 6, 49, "from-internal", "", "101"),
            "Cause": "16",
            "Cause-txt": "Normal Clearing",
        },
    ]


class OdooStandIn:
    def __init__(self):
        self.failing = 0
        self.events = []
        self.heartbeats = []
        self.adapter = voip_providers.get_adapter_class("generic")({"webhook_secret": SECRET})

    def __call__(self, request):
        from datetime import datetime, timezone

        webhook = voip_providers.events.WebhookRequest(
            method="POST",
            url="http://odoo/w",
            path="/w",
            query={},
            form={},
            headers=request["headers"],
            body=request["body"],
            content_type="application/json",
            remote_addr="127.0.0.1",
            received_at=datetime.now(timezone.utc),
        )
        self.adapter.verify(webhook)
        if self.failing:
            self.failing -= 1
            return 500, {}, "down"
        payload = json.loads(request["body"])
        if "bridge" in payload:
            self.heartbeats.append(payload["bridge"])
        else:
            self.adapter.parse(webhook)  # each event as Odoo reads it
            self.events.extend(payload["events"])
        return 200, {"Content-Type": "application/json"}, '{"status": "ok"}'


def _config(tmp_path, ami_port, odoo_url):
    return from_dict(
        {
            "source": "ami",
            "odoo": {
                "webhook_url": odoo_url,
                "secret": SECRET,
                "heartbeat_interval": 0.3,
                "retry_max": 0.2,
                "timeout": 2.0,
            },
            "ami": {"host": "127.0.0.1", "port": ami_port, "username": "crm", "secret": "s3cret"},
            "api": {"listen": "127.0.0.1", "port": 0, "route_token": "tok"},
            "spool": {"dir": str(tmp_path / "state")},
            "recordings": {"dir": str(tmp_path)},
        }
    )


def _wait(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def ami():
    server = TinyAmiServer()
    yield server
    server.close()


def test_a_call_through_the_bridge_survives_an_outage_and_a_restart(tmp_path, ami):
    odoo = OdooStandIn()
    with voip_test_local_http.LocalServer(odoo) as server:
        config = _config(tmp_path, ami.port, server.url + "/crm_voip/webhook/t")
        bridge = Bridge(config).start()
        try:
            assert _wait(lambda: bridge.source.connected)
            odoo.failing = 10**6  # Odoo is down
            for message in answered_call("1765000000.1", time.time() - 60):
                ami.push_in_pieces(message, pieces=3)
            assert _wait(lambda: bridge.spool.depth() >= 3)
            health = requests_health(bridge)
            assert health["connected"] is True and health["spool_depth"] >= 3
            assert health["last_event"]
        finally:
            bridge.stop()
        assert odoo.events == []

        odoo.failing = 2  # back, after two more failures
        bridge = Bridge(config).start()
        try:
            # Delivered, and a heartbeat has said so since.
            assert _wait(lambda: odoo.heartbeats and odoo.heartbeats[-1]["spool_depth"] == 0)
        finally:
            bridge.stop()
    kinds = [event["type"] for event in odoo.events]
    assert kinds == ["call.started", "call.ringing", "call.answered", "call.ended"]
    assert len({event["id"] for event in odoo.events}) == len(odoo.events)
    ended = odoo.events[-1]
    assert ended["disposition"] == "answered" and ended["duration"] == 42
    assert ended["extension"] == "101"
    assert odoo.heartbeats[-1]["spool_depth"] == 0
    # The journal answers /history for reconciliation.
    [row] = Bridge(config).journal.calls(time.time() - 3600, time.time())
    assert row["call_id"] == "1765000000.1" and row["disposition"] == "answered"


def requests_health(bridge):
    import requests

    headers = api_headers(SECRET, "GET", "/health")
    url = f"http://127.0.0.1:{bridge.api_port}/health"
    return requests.get(url, headers=headers, timeout=5).json()


def test_route_posts_the_start_and_answers_the_dial_string(tmp_path, ami):
    import requests

    def odoo(request):
        payload = json.loads(request["body"])
        if payload.get("type") == "call.started":
            route = {"action": "redirect", "targets": ["101", "102"]}
            return 200, {"Content-Type": "application/json"}, json.dumps({"route": route})
        return 200, {}, "{}"

    with voip_test_local_http.LocalServer(odoo) as server:
        bridge = Bridge(_config(tmp_path, ami.port, server.url + "/w")).start()
        try:
            base = f"http://127.0.0.1:{bridge.api_port}"
            answer = requests.get(
                base + "/route",
                params={"token": "tok", "from": "79161234567", "did": "74951234567",
                        "uniqueid": "9.1", "linkedid": "9.1"},
                timeout=5,
            )  # fmt: skip
            assert answer.text == "PJSIP/101&PJSIP/102"
            bodies = [json.loads(request["body"]) for request in server.requests]
            [started] = [body for body in bodies if body.get("type") == "call.started"]
            assert started["id"] == "9.1:started" and started["did"] == "74951234567"
            # Odoo too slow: the dialplan gets an empty answer within the budget.
            bridge.api.config.route_budget = 0.2
            server.server.responder = lambda request: (200, {"X-Test-Delay": "1"}, b"{}")
            began = time.monotonic()
            slow = requests.get(
                base + "/route",
                params={"token": "tok", "from": "1", "uniqueid": "9.2"},
                timeout=5,
            )
            assert slow.text == "" and time.monotonic() - began < 0.8
        finally:
            bridge.stop()
