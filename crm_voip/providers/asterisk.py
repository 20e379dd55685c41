"""Asterisk / FreePBX, self-hosted, through the bridge program beside it (``bridge/``).

The bridge folds the PBX's AMI or ARI events into the generic protocol's events and
posts them signed exactly as ``generic`` verifies, with the account's shared secret; a
post may instead carry only the bridge's status (``{"bridge": {...}}``, its heartbeat).
Odoo calls the bridge's own API at the account's base URL (the bridge's URL), each
request signed with the same secret over ``<timestamp>.<METHOD> <path?query>\\n<body>``:
``/originate``, ``/extensions``, ``/recordings/<id>``, ``/history``, ``/health``.
"""

import json
import time
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from .base import ConfigField, _lt
from .events import OriginateResult, ensure_utc
from .generic import SIGNATURE_HEADER, TIMESTAMP_HEADER, GenericWebhookAdapter, sign
from .registry import register

STATUS_KEY = "bridge"
PROBLEM_MAX_LEN = 300


def request_payload(method, target, body=b""):
    """What a request to the bridge signs after ``<timestamp>.`` (the bridge's ``api.py``)."""
    return f"{method.upper()} {target}\n".encode() + (body or b"")


@register("asterisk")
class AsteriskBridgeAdapter(GenericWebhookAdapter):
    """Uses config ``base_url`` (the bridge's API), ``secret`` (shared with the bridge)
    and ``replay_window``."""

    name = "Asterisk / FreePBX"
    label = _lt("Asterisk / FreePBX (bridge)")
    config_fields = (
        ConfigField(
            "secret",
            _lt("Shared secret"),
            _lt(
                "The bridge's odoo.secret: it signs the events the bridge posts here and "
                "the requests Odoo sends to the bridge."
            ),
            secret=True,
            required=True,
            generated=True,
        ),
        ConfigField(
            "replay_window",
            _lt("Replay window (s)"),
            _lt("Requests signed longer ago (or later) than this are refused."),
            kind="integer",
            default=300,
        ),
    )
    routes_synchronously = True
    has_call_history = True

    def __init__(self, config=None):
        super().__init__(config)
        # The generic verification reads the signing key under its own name.
        self.config["webhook_secret"] = self.config.get("secret")

    # -- webhooks ------------------------------------------------------------------------------

    def _payload(self, request):
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        return payload if isinstance(payload, dict) else None

    def parse(self, request):
        payload = self._payload(request)
        if payload is not None and "events" not in payload and STATUS_KEY in payload:
            return []  # a heartbeat: the status alone
        return super().parse(request)

    def _event(self, reader):
        event = super()._event(reader)
        # The bridge gives back the click-to-call's reference Odoo sent with /originate.
        origin_ref = reader.text("origin_ref")
        return replace(event, origin_ref=origin_ref) if origin_ref else event

    def peer_status(self, request):
        payload = self._payload(request)
        status = payload.get(STATUS_KEY) if payload else None
        return self._status(status) if isinstance(status, dict) else None

    @staticmethod
    def _status(health):
        """The bridge's health (``/health`` or heartbeat) in ``PEER_STATUS_KEYS``."""

        def count(value):
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        last_event = health.get("last_event")
        try:
            last_event = ensure_utc(datetime.fromisoformat(last_event)).isoformat()
        except (TypeError, ValueError):
            last_event = None
        problems = [
            str(health.get(key))
            for key in ("spool_error", "delivery_error")
            if isinstance(health.get(key), str) and health.get(key)
        ]
        connected = health.get("connected") is True
        if not connected and isinstance(health.get("last_drop_reason"), str):
            problems.insert(0, health["last_drop_reason"])
        return {
            "connected": connected,
            "last_event": last_event,
            "queue_depth": count(health.get("spool_depth")),
            "dead_letters": count(health.get("dead_letters")),
            "version": str(health.get("version") or "")[:40],
            "problem": "; ".join(problems)[:PROBLEM_MAX_LEN],
        }

    # -- the bridge's API ----------------------------------------------------------------------

    def _signed_headers(self, method, url, body=b""):
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        secret = self._require("secret", "Shared secret")
        timestamp = str(int(time.time()))
        digest = sign(secret, timestamp, request_payload(method, target, body))
        return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"v1={digest}"}

    def _api(self, method, path, *, params=None, json=None):
        url = self._require_base_url() + path
        if params:
            url += "?" + urlencode(params)
        body = b""
        headers = {"Accept": "application/json"}
        if json is not None:
            body = _json_bytes(json)
            headers["Content-Type"] = "application/json"
        headers.update(self._signed_headers(method, url, body))
        response = self._request(method, url, data=body or None, headers=headers)
        return self._json_reply(response, path, who="the bridge")

    def _download_headers(self, url):
        # Signed for the bridge only, never for another host.
        if self.base_url and url.startswith(self.base_url + "/"):
            return self._signed_headers("GET", url)
        return {}

    def originate(self, extension, number, caller_id=None, request_ref=None):
        body = {"from": str(extension), "to": str(number)}
        if caller_id:
            body["caller_id"] = str(caller_id)
        if request_ref:
            body["request_ref"] = str(request_ref)
        payload = self._api("POST", "/originate", json=body)
        return OriginateResult(call_id=str(payload.get("call_id") or ""), raw=payload)

    def reads_call_history(self):
        # The bridge keeps the calls it folded: its URL and the secret are enough.
        return bool(self.config.get("base_url") and self.config.get("secret"))

    def call_history(self, start, end):
        params = {"start": ensure_utc(start).isoformat(), "end": ensure_utc(end).isoformat()}
        payload = self._api("GET", "/history", params=params)
        return [
            self._history_call(row) for row in payload.get("calls") or [] if isinstance(row, dict)
        ]

    def test_connection(self):
        health = self._api("GET", "/health")
        status = self._status(health)
        self.last_peer_status = status
        source = str(health.get("source") or "AMI").upper()
        link = "connected" if status["connected"] else "NOT connected"
        parts = [f"Bridge {status['version'] or '?'}: {source} {link}"]
        if not status["connected"] and status["problem"]:
            parts[0] += f" ({status['problem']})"
        parts.append(f"last event {status['last_event'] or 'none yet'}")
        parts.append(f"{status['queue_depth'] or 0} events waiting for Odoo")
        if status["dead_letters"]:
            parts.append(f"{status['dead_letters']} refused events kept aside")
        return ", ".join(parts)


def _json_bytes(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
