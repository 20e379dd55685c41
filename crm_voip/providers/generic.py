"""The generic signed JSON webhook (``__manifest_docs__/generic_webhook.md``).

Our own protocol for any PBX, middleware or script: HMAC-SHA256 over ``<timestamp>.<body>``, a
replay window, one event or a batch of up to 100, idempotent on the sender's event ``id``.
"""

import hashlib
import hmac
import json
import math
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from . import events as ev
from .base import ConfigField, ProviderAdapter, _lt
from .errors import MalformedEventError, PermanentError, SignatureError
from .events import (
    CallEvent,
    Extension,
    HistoryCall,
    OriginateResult,
    RecordingLink,
    WebhookResponse,
    ensure_utc,
)
from .registry import register

TIMESTAMP_HEADER = "X-Crm-Voip-Timestamp"
SIGNATURE_HEADER = "X-Crm-Voip-Signature"
MAX_BATCH = 100
ID_MAX_LEN = 128
TEXT_MAX_LEN = 255
RECORDING_ID_MAX_LEN = 1024

TYPE_KINDS = {
    "call.started": ev.CALL_STARTED,
    "call.ringing": ev.AGENT_RINGING,
    "call.answered": ev.ANSWERED,
    "call.ended": ev.ENDED,
    "call.missed": ev.MISSED,
    "call.outgoing": ev.OUTGOING_STARTED,
    "call.recording": ev.RECORDING_READY,
}

# Unix times outside 2000..2100 are mistakes (often milliseconds).
_UNIX_RANGE = (946684800, 4102444800)
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)$"
)


def sign(secret, timestamp, body):
    """The ``v1`` signature: lowercase hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret, timestamp, body):
    """Value of ``X-Crm-Voip-Signature`` for a sender (used by tests and the simulator)."""
    return f"v1={sign(secret, timestamp, body)}"


def parse_timestamp(value):
    """ISO 8601 with an offset, or Unix seconds (number or digit string) → aware UTC.
    Raises ``ValueError`` with a short reason."""
    if isinstance(value, bool):
        raise ValueError("expected ISO 8601 with offset or Unix seconds")
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, (int, float)):
        if not _UNIX_RANGE[0] <= value <= _UNIX_RANGE[1]:
            raise ValueError("Unix time out of range (seconds expected, not milliseconds)")
        return datetime.fromtimestamp(value, timezone.utc)
    if not isinstance(value, str):
        raise ValueError("expected ISO 8601 with offset or Unix seconds")
    match = _ISO_RE.match(value.strip())
    if not match:
        if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?$", value.strip()):
            raise ValueError("ISO 8601 time must include a UTC offset (e.g. +03:00 or Z)")
        raise ValueError("expected ISO 8601 with offset or Unix seconds")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset in ("Z", "z"):
        tz = timezone.utc
    else:
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if delta >= timedelta(hours=24):
            raise ValueError("invalid UTC offset")
        tz = timezone(-delta if offset[0] == "-" else delta)
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second or 0),
        microsecond,
        tzinfo=tz,
    )
    return moment.astimezone(timezone.utc)


class _EventReader:
    """Reads the fields of one event object, with errors naming the offending field."""

    def __init__(self, item, where):
        self.item = item
        self.where = where

    def error(self, name, reason):
        return MalformedEventError(f"{self.where}.{name}: {reason}")

    def text(self, name, required=False, max_len=TEXT_MAX_LEN):
        value = self.item.get(name)
        if value is None or value == "":
            if required:
                raise self.error(name, "required field is missing")
            return ""
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {type(value).__name__}")
        if len(value) > max_len:
            raise self.error(name, f"longer than {max_len} characters")
        return value

    def choice(self, name, allowed, required=False):
        value = self.text(name, required=required)
        if value and value not in allowed:
            raise self.error(name, f"must be one of {', '.join(allowed)}, got {value[:40]!r}")
        return value

    def timestamp(self, name):
        if self.item.get(name) in (None, ""):
            raise self.error(name, "required field is missing")
        try:
            return parse_timestamp(self.item[name])
        except (ValueError, OverflowError, OSError) as error:
            raise self.error(name, str(error)) from None

    def seconds(self, name):
        value = self.item.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(name, "expected an integer number of seconds")
        if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity, 1e400
            raise self.error(name, "expected a finite number of seconds")
        if value != int(value) or value < 0:
            raise self.error(name, "expected a non-negative integer number of seconds")
        return int(value)


@register("generic")
class GenericWebhookAdapter(ProviderAdapter):
    """Any PBX or script that speaks our signed JSON webhook.

    Uses config ``webhook_secret`` (signatures), ``replay_window`` (seconds) and, for the
    optional REST side, ``base_url`` and ``api_key`` (Bearer).
    """

    name = "Generic webhook"
    label = _lt("Generic signed JSON webhook")
    config_fields = (
        ConfigField(
            "webhook_secret",
            _lt("Webhook secret"),
            _lt("The HMAC-SHA256 key the sender signs each webhook with."),
            secret=True,
            required=True,
        ),
        ConfigField(
            "replay_window",
            _lt("Replay window (s)"),
            _lt("Webhooks signed longer ago (or later) than this are refused."),
            kind="integer",
            default=300,
        ),
        ConfigField(
            "api_key",
            _lt("API key"),
            _lt(
                "Bearer token of the PBX's optional REST API (click-to-call, recordings, "
                "extensions, call history), at the API base URL."
            ),
            secret=True,
        ),
    )
    routes_synchronously = True
    has_call_history = True

    # -- webhooks ------------------------------------------------------------------------------

    def verify(self, request):
        self.check_source(request.remote_addr)
        secret = self.config.get("webhook_secret")
        if not secret:
            raise SignatureError("Webhook secret is not configured: cannot check the signature")
        timestamp = request.header(TIMESTAMP_HEADER).strip()
        if not timestamp:
            raise SignatureError(f"Missing {TIMESTAMP_HEADER} header")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix time in whole seconds")
        signatures = request.header(SIGNATURE_HEADER).strip()
        if not signatures:
            raise SignatureError(f"Missing {SIGNATURE_HEADER} header")
        window = int(self._setting("replay_window"))
        skew = abs(request.received_at.timestamp() - int(timestamp))
        if skew > window:
            raise SignatureError(
                f"Timestamp is {int(skew)} s away from server time (limit {window} s)"
            )
        candidates = [
            value.strip()[3:].strip().lower()
            for value in signatures.split(",")
            if value.strip().startswith("v1=")
        ]
        if not candidates:
            raise SignatureError(f"{SIGNATURE_HEADER} has no v1= value")
        expected = sign(secret, timestamp, request.body).encode()
        matched = False
        for candidate in candidates:
            # Compare every value so timing does not reveal which one matched.
            if hmac.compare_digest(expected, candidate.encode("utf-8", "replace")):
                matched = True
        if not matched:
            raise SignatureError("Invalid signature")

    def parse(self, request):
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise MalformedEventError("Body is not valid UTF-8") from None
        except ValueError as error:
            raise MalformedEventError(f"Body is not valid JSON: {error}") from None
        except RecursionError:
            raise MalformedEventError("Body is nested too deeply") from None
        if not isinstance(payload, dict):
            raise MalformedEventError("Body must be a JSON object")
        if "events" in payload:
            items = payload["events"]
            if not isinstance(items, list) or not items:
                raise MalformedEventError("events: expected a non-empty list")
            if len(items) > MAX_BATCH:
                raise MalformedEventError(f"events: at most {MAX_BATCH} events per request")
            where = "events[{}]"
        else:
            items = [payload]
            where = "event"
        result = []
        for index, item in enumerate(items):
            label = where.format(index)
            if not isinstance(item, dict):
                raise MalformedEventError(f"{label}: expected an object")
            result.append(self._event(_EventReader(item, label)))
        return result

    def _event(self, reader):
        event_id = reader.text("id", required=True, max_len=ID_MAX_LEN)
        event_type = reader.choice("type", tuple(TYPE_KINDS), required=True)
        call_id = reader.text("call_id", required=True, max_len=ID_MAX_LEN)
        default_direction = ev.OUTBOUND if event_type == "call.outgoing" else ev.INBOUND
        direction = reader.choice("direction", ev.DIRECTIONS) or default_direction
        from_number = reader.text("from", required=event_type != "call.recording")
        occurred_at = reader.timestamp("timestamp")
        disposition = reader.choice(
            "disposition", ev.DISPOSITIONS, required=event_type == "call.ended"
        )
        recording_id = reader.text(
            "recording_id",
            required=event_type == "call.recording",
            max_len=RECORDING_ID_MAX_LEN,
        )
        kind = TYPE_KINDS[event_type]
        if event_type == "call.ended" and disposition != "answered":
            kind = ev.MISSED  # ended without an answer is a missed call
        elif event_type == "call.missed":
            if disposition == "answered":
                raise reader.error("disposition", "'answered' contradicts call.missed")
            disposition = disposition or "no_answer"
        starts_call = event_type in ("call.started", "call.outgoing")
        return CallEvent(
            kind=kind,
            provider_call_id=call_id,
            event_key=event_id,
            occurred_at=occurred_at,
            direction=direction,
            from_number=from_number,
            to_number=reader.text("to"),
            did=reader.text("did"),
            extension=reader.text("extension"),
            leg_id=reader.text("leg_id"),
            call_started_at=occurred_at if starts_call else None,
            disposition=disposition,
            duration=reader.seconds("duration"),
            recording_ref=recording_id,
            provider_event=event_type,
            raw=reader.item,
        )

    def routing_reply(self, decision):
        route = {"action": decision.action}
        if decision.action == ev.REDIRECT:
            route["targets"] = list(decision.targets)
            if decision.timeout is not None:
                route["timeout"] = int(decision.timeout)
            if decision.forward_number:
                route["forward_number"] = decision.forward_number
        if decision.caller_name:
            route["caller_name"] = decision.caller_name
        return WebhookResponse.json({"status": "ok", "route": route})

    def ack(self, events, duplicates=0):
        if not isinstance(duplicates, int):
            duplicates = len(duplicates)
        payload = {"status": "ok", "accepted": len(events), "duplicates": duplicates}
        return WebhookResponse.json(payload)

    def error_reply(self, error):
        payload = {"status": "error", "error": error.reason}
        return WebhookResponse.json(payload, status=error.status)

    # -- REST ----------------------------------------------------------------------------------

    def _require_base_url(self):
        if not self.base_url:
            raise PermanentError("Base URL of the PBX API is not configured")
        return self.base_url

    def _auth_headers(self):
        api_key = self._require("api_key", "API key")
        return {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}

    def _api(self, method, path, *, params=None, json=None):
        url = self._require_base_url() + path
        response = self._request(
            method, url, params=params, json=json, headers=self._auth_headers()
        )
        return self._json_reply(response, path)

    def _json_reply(self, response, path, who="the PBX"):
        """The JSON object a REST endpoint of this protocol answered, or a clear error."""
        self._check_response(response, self._error_message(response))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise PermanentError(f"{path}: {who} answered with no JSON object")
        if payload.get("status") == "error":
            raise PermanentError(f"{path}: {str(payload.get('error') or 'request failed')[:200]}")
        return payload

    def originate(self, extension, number, caller_id=None, request_ref=None):
        body = {"from": str(extension), "to": str(number)}
        if caller_id:
            body["caller_id"] = str(caller_id)
        payload = self._api("POST", "/originate", json=body)
        return OriginateResult(call_id=str(payload.get("call_id") or ""), raw=payload)

    def recording_link(self, recording_ref, call_id=None):
        """The API's own download URL; no request is needed to get it."""
        if not recording_ref:
            raise PermanentError("No recording id to download")
        base_url = self._require_base_url()
        return RecordingLink(url=f"{base_url}/recordings/{quote(recording_ref, safe='')}")

    def _download_headers(self, url):
        # Send the API key only to the configured API, never to a third-party host.
        if self.base_url and url.startswith(self.base_url + "/"):
            return self._auth_headers()
        return {}

    def list_extensions(self):
        payload = self._api("GET", "/extensions")
        result = []
        for row in payload.get("extensions") or []:
            if isinstance(row, dict) and row.get("extension") not in (None, ""):
                result.append(Extension(str(row["extension"]), str(row.get("name") or "")))
        return result

    def reads_call_history(self):
        # The REST endpoints are optional in the generic protocol: no URL, no history.
        return bool(self.config.get("base_url") and self.config.get("api_key"))

    def call_history(self, start, end):
        params = {"start": ensure_utc(start).isoformat(), "end": ensure_utc(end).isoformat()}
        payload = self._api("GET", "/calls", params=params)
        return [
            self._history_call(row) for row in payload.get("calls") or [] if isinstance(row, dict)
        ]

    @staticmethod
    def _history_call(row):
        try:
            started_at = parse_timestamp(row.get("start"))
        except (ValueError, OverflowError, OSError):
            started_at = None
        duration = row.get("duration")
        direction = row.get("direction")
        disposition = row.get("disposition")
        return HistoryCall(
            call_id=str(row.get("call_id") or ""),
            direction=direction if direction in ev.DIRECTIONS else ev.INBOUND,
            from_number=str(row.get("from") or ""),
            to_number=str(row.get("to") or ""),
            extension=str(row.get("extension") or ""),
            started_at=started_at,
            duration=int(duration) if isinstance(duration, (int, float)) else None,
            disposition=disposition if disposition in ev.DISPOSITIONS else "",
            recording_ref=str(row.get("recording_id") or ""),
        )

    def test_connection(self):
        if not self.base_url:
            return "Webhook only: no API base URL configured"
        extensions = self.list_extensions()
        return f"Connected, {len(extensions)} extensions"
