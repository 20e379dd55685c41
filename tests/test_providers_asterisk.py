"""The Asterisk/FreePBX adapter: the generic webhook scheme keyed with the shared secret,
the bridge's heartbeat as the account's peer status, and every request to the bridge
signed over its request line and body (checked by the bridge's own API code)."""

import hashlib
import hmac
import json
import pathlib
import sys
import time
from datetime import datetime, timezone

import pytest
from provider_support import http_response, patch_transport
from voip_providers import base
from voip_providers import events as ev
from voip_providers.errors import AuthError, PermanentError, SignatureError
from voip_providers.events import WebhookRequest
from voip_providers.registry import get_adapter_class

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "bridge"
if str(BRIDGE) not in sys.path:
    sys.path.insert(0, str(BRIDGE))

from pbx_bridge import config as bridge_config  # noqa: E402
from pbx_bridge.api import BridgeApi  # noqa: E402

SECRET = "shared-secret"
BASE = "http://10.0.0.5:8089"


def make_adapter(**config):
    return get_adapter_class("asterisk")({"secret": SECRET, "base_url": BASE, **config})


def webhook(payload, secret=SECRET, timestamp=None):
    body = json.dumps(payload).encode()
    timestamp = str(timestamp or int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return WebhookRequest(
        method="POST",
        url="https://odoo/crm_voip/webhook/t",
        path="/crm_voip/webhook/t",
        query={},
        form={},
        headers={
            "X-Crm-Voip-Timestamp": timestamp,
            "X-Crm-Voip-Signature": f"v1={digest.hexdigest()}",
        },
        body=body,
        content_type="application/json",
        remote_addr="10.0.0.5",
        received_at=datetime.now(timezone.utc),
    )


HEALTH = {
    "status": "ok",
    "version": "1.0.0",
    "source": "ami",
    "connected": True,
    "last_drop_reason": "",
    "last_event": "2026-12-06T05:00:00+00:00",
    "spool_depth": 3,
    "spool_error": "",
    "dead_letters": 1,
    "delivery_error": "",
}


def test_declarations():
    adapter_class = get_adapter_class("asterisk")
    assert adapter_class.routes_synchronously and adapter_class.has_call_history
    assert adapter_class.lists_extensions()
    assert adapter_class.reports_peer_status()
    assert not get_adapter_class("generic").reports_peer_status()
    assert [item.name for item in adapter_class.config_fields] == ["secret", "replay_window"]
    assert adapter_class.config_field("secret").generated


def test_events_verified_with_the_shared_secret_and_origin_ref_kept():
    adapter = make_adapter()
    event = {
        "id": "1.1:answered",
        "type": "call.answered",
        "call_id": "1.1",
        "from": "101",
        "to": "79161234567",
        "direction": "outbound",
        "timestamp": 1765000000.25,
        "origin_ref": "c2c-42",
    }
    request = webhook({"events": [event]})
    adapter.verify(request)
    [parsed] = adapter.parse(request)
    assert parsed.kind == ev.ANSWERED and parsed.origin_ref == "c2c-42"
    assert adapter.peer_status(request) is None
    with pytest.raises(SignatureError):
        adapter.verify(webhook({"events": [event]}, secret="wrong"))
    with pytest.raises(SignatureError):
        adapter.verify(webhook({"events": [event]}, timestamp=int(time.time()) - 3600))


def test_heartbeat_is_a_status_without_events():
    adapter = make_adapter()
    request = webhook({"bridge": HEALTH})
    adapter.verify(request)
    assert adapter.parse(request) == []
    assert adapter.peer_status(request) == {
        "connected": True,
        "last_event": "2026-12-06T05:00:00+00:00",
        "queue_depth": 3,
        "dead_letters": 1,
        "version": "1.0.0",
        "problem": "",
    }
    assert set(adapter.peer_status(request)) == set(base.PEER_STATUS_KEYS)
    down = {
        **HEALTH,
        "connected": False,
        "last_drop_reason": "closed by the PBX",
        "spool_depth": "x",
    }
    status = adapter.peer_status(webhook({"bridge": down}))
    assert status["connected"] is False and status["problem"] == "closed by the PBX"
    assert status["queue_depth"] is None


def test_originate_is_signed_and_carries_the_reference():
    adapter, transport = patch_transport(
        make_adapter(), http_response(200, {"status": "ok", "call_id": "chan-1"})
    )
    result = adapter.originate("101", "+79161234567", request_ref="c2c-7")
    assert result.call_id == "chan-1"
    call = transport.calls[0]
    assert call["method"] == "POST" and call["url"] == BASE + "/originate"
    assert json.loads(call["data"]) == {"from": "101", "to": "+79161234567", "request_ref": "c2c-7"}
    timestamp = call["headers"]["X-Crm-Voip-Timestamp"]
    expected = hmac.new(
        SECRET.encode(),
        timestamp.encode() + b".POST /originate\n" + call["data"],
        hashlib.sha256,
    ).hexdigest()
    assert call["headers"]["X-Crm-Voip-Signature"] == f"v1={expected}"


def test_errors_of_the_bridge_are_typed():
    adapter, _transport = patch_transport(
        make_adapter(),
        http_response(403, {"status": "error", "error": "invalid signature"}),
        http_response(502, {"status": "error", "error": "the PBX refused the call"}),
    )
    with pytest.raises(AuthError, match="invalid signature"):
        adapter.list_extensions()
    with pytest.raises(Exception, match="the PBX refused the call"):
        adapter.originate("101", "1")
    with pytest.raises(PermanentError, match="Base URL"):
        get_adapter_class("asterisk")({"secret": SECRET}).list_extensions()


def test_test_connection_reports_the_bridge_health():
    adapter, transport = patch_transport(make_adapter(), http_response(200, HEALTH))
    message = adapter.test_connection()
    assert message == (
        "Bridge 1.0.0: AMI connected, last event 2026-12-06T05:00:00+00:00, "
        "3 events waiting for Odoo, 1 refused events kept aside"
    )
    assert adapter.last_peer_status["queue_depth"] == 3
    assert transport.calls[0]["url"] == BASE + "/health"


def test_recording_link_and_download_headers():
    adapter = make_adapter()
    link = adapter.recording_link("2026/12/06/in-101-1.1.wav")
    assert link.url == BASE + "/recordings/2026%2F12%2F06%2Fin-101-1.1.wav"
    headers = adapter._download_headers(link.url)
    assert headers["X-Crm-Voip-Signature"].startswith("v1=")
    assert adapter._download_headers("http://elsewhere/recordings/x") == {}


class _Ops:
    def __init__(self, recording_dir):
        self.config = bridge_config.Config(
            odoo=bridge_config.OdooConfig("http://odoo/w", SECRET), recording_dir=str(recording_dir)
        )

    def health(self):
        return HEALTH

    def extensions(self):
        return [("101", "Anna"), ("102", "")]

    def history(self, start, end):
        return [
            {
                "call_id": "1.1",
                "direction": "inbound",
                "from": "79161234567",
                "to": "74951234567",
                "extension": "101",
                "start": datetime.fromtimestamp(start + 60, timezone.utc).isoformat(),
                "duration": 42,
                "disposition": "answered",
                "recording_id": "2026/in.wav",
            }
        ]

    def originate(self, extension, number, caller_id, ref):
        return f"chan-{ref}"

    def open_recording(self, recording_id):
        from pbx_bridge.service import Bridge

        return Bridge.open_recording(self, recording_id)


def test_against_the_bridge_api(tmp_path):
    """The adapter's signatures as the bridge's API checks them, over real HTTP."""
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026" / "in.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x01" * 100)
    server = BridgeApi(_Ops(tmp_path), bridge_config.ApiConfig(listen="127.0.0.1", port=0), SECRET)
    server.start()
    try:
        adapter = get_adapter_class("asterisk")(
            {"secret": SECRET, "base_url": f"http://127.0.0.1:{server.port}"}
        )
        assert adapter.test_connection().startswith("Bridge 1.0.0: AMI connected")
        assert [item.extension for item in adapter.list_extensions()] == ["101", "102"]
        assert adapter.originate("101", "79161234567", request_ref="c2c-9").call_id == "chan-c2c-9"
        start = datetime(2026, 12, 6, tzinfo=timezone.utc)
        [call] = adapter.call_history(start, datetime(2026, 12, 7, tzinfo=timezone.utc))
        assert call.call_id == "1.1" and call.duration == 42 and call.recording_ref == "2026/in.wav"
        link = adapter.recording_link(call.recording_ref)
        with adapter.download(link.url, max_bytes=10_000) as download:
            assert download.mimetype == "audio/wav"
            assert b"".join(download.chunks).startswith(b"RIFF")
        wrong = get_adapter_class("asterisk")(
            {"secret": "wrong", "base_url": f"http://127.0.0.1:{server.port}"}
        )
        with pytest.raises(AuthError):
            wrong.test_connection()
    finally:
        server.stop()


def test_reads_call_history_with_the_bridge_url_and_secret():
    adapter_class = get_adapter_class("asterisk")
    assert not adapter_class({"secret": "s"}).reads_call_history()
    assert adapter_class(
        {"secret": "s", "base_url": "https://pbx.example:8089"}
    ).reads_call_history()
