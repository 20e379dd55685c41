"""The suite's own generic signed JSON protocol, for any PBX or script.

Wire format from ``__manifest_docs__/generic_webhook.md`` (the specification; what
implements each rule: ``protocols/generic.md``): JSON events (section "Body") signed with
``X-Crm-Voip-Timestamp``/``X-Crm-Voip-Signature`` (section "Transport"), and the optional
REST API behind a bearer token (section "REST endpoints the PBX side may expose").
The signature is written here independently of ``crm_voip/providers/generic.py``.
"""

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from .. import calls
from ..clock import iso_utc, parse_when
from ..rest import Reply, audio_reply
from . import register
from .base import CliOption, Pbx, RetryPolicy

BATCH_MAX = 100

# Field order of an event (a receiver does not care; a reader of the payloads does).
_ORDER = (
    "id",
    "type",
    "call_id",
    "leg_id",
    "direction",
    "from",
    "to",
    "did",
    "extension",
    "timestamp",
    "disposition",
    "duration",
    "recording_id",
)


@dataclass
class GenericAccount:
    """A sender of the generic protocol: events go to ``webhook_url`` signed with
    ``webhook_secret``; the REST API wants ``Authorization: Bearer <api_key>``."""

    webhook_url: str
    webhook_secret: str
    api_key: str


def signature(secret, timestamp, body):
    """``v1=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def body_of(payload):
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@register("generic")
class Generic(Pbx):
    label = "generic signed JSON protocol"
    # Our own protocol: a sender retries any attempt not answered 2xx within 10 s, after 2,
    # 10 and 30 s; the event id makes a repeat harmless (generic_webhook.md).
    webhook_retry = RetryPolicy(
        delays=(2, 10, 30), known=True, note="ours: retried after 2, 10 and 30 s"
    )
    Account = GenericAccount
    path_prefix = "/generic"
    missed_disposition = "no_answer"
    malformed_body = b'{"events": [{"id": "evt_broken", "type": "call.started", "call_id": '
    # use_missed_event: end an unanswered call with call.missed instead of call.ended.
    scenario_params = frozenset({"use_missed_event"})
    # batch: post the events as {"events": [...]}; timestamp_offset: seconds added to the
    # signed timestamp (to test the replay window).
    play_options = {"batch": False, "timestamp_offset": 0}
    cli_account_options = (
        CliOption(("--generic-webhook",), "webhook_url", "where to post call events", True, "URL"),
        CliOption(("--generic-secret",), "webhook_secret", "webhook signing secret", True, "S"),
        CliOption(("--generic-api-key",), "api_key", "bearer token of the REST API", True, "K"),
    )
    cli_play_options = (
        CliOption(("--batch",), "batch", "generic: one batch of events", switch=True),
    )

    # --- scenarios ------------------------------------------------------------------------

    def new_call_id(self, direction):
        return "call_" + secrets.token_hex(12)

    def new_recording_id(self, start, extension, tzinfo):
        return "rec_" + secrets.token_hex(12)

    def encode_step(self, step, call, tzinfo, params):
        kind = step.kind
        cid = call.call_id
        when = iso_utc(call.start + dt.timedelta(seconds=step.offset))
        event = {"id": "evt_" + secrets.token_hex(16), "call_id": cid}
        if kind == calls.RECORDING_READY:
            event.update(type="call.recording", recording_id=call.recording_id, timestamp=when)
            if call.recording_extension:
                event["extension"] = call.recording_extension
            return _ordered(event)
        if call.outbound:
            event.update(direction="outbound", **{"from": call.extension, "to": call.number})
            event["extension"] = call.extension
        else:
            event.update(direction="inbound", **{"from": call.caller, "to": call.did})
            event["did"] = call.did
        if kind == calls.STARTED:
            event["type"] = "call.started"
        elif kind in (calls.RINGING, calls.ANSWERED):
            event["type"] = "call.ringing" if kind == calls.RINGING else "call.answered"
            event["to"] = step.extension
            event["extension"] = step.extension
            event["leg_id"] = f"{cid}:{step.extension}"
        elif kind == calls.OUTGOING_STARTED:
            event["type"] = "call.outgoing"
        elif kind in (calls.ENDED, calls.OUTGOING_ENDED):
            missed = call.disposition != "answered" and params.get("use_missed_event")
            event["type"] = "call.missed" if missed else "call.ended"
            if kind == calls.ENDED and step.extension:
                event["extension"] = step.extension
            event["disposition"] = call.disposition
            event["duration"] = call.duration
            if call.recorded:
                event["recording_id"] = call.recording_id
        else:
            raise ValueError(f"the generic protocol cannot encode a {kind!r} step")
        event["timestamp"] = when
        return _ordered(event)

    # --- webhooks -------------------------------------------------------------------------

    def webhook_payloads(self, payloads, options):
        if not options["batch"]:
            return list(payloads)
        events = [p for p in payloads if isinstance(p, dict)]
        raw = [p for p in payloads if not isinstance(p, dict)]
        return [
            {"events": events[i : i + BATCH_MAX]} for i in range(0, len(events), BATCH_MAX)
        ] + raw

    def webhook_request(self, account, payload, signing, options):
        """One event, a batch or raw bytes, signed over the timestamp of the moment it is sent."""
        body = body_of(payload)
        ts = int(time.time() + options["timestamp_offset"])
        headers = {"Content-Type": "application/json", "X-Crm-Voip-Timestamp": str(ts)}
        if signing == "valid":
            headers["X-Crm-Voip-Signature"] = signature(account.webhook_secret, ts, body)
        elif signing == "bad":
            headers["X-Crm-Voip-Signature"] = signature(
                account.webhook_secret + "-tampered", ts, body
            )
        return body, headers

    def event_name(self, payload):
        if isinstance(payload, dict):
            if "events" in payload:
                return f"batch of {len(payload['events'])}"
            return payload.get("type") or "?"
        return "raw bytes"

    # --- REST -----------------------------------------------------------------------------

    def error_payload(self, message):
        return {"status": "error", "error": message}

    def handle_rest(self, sim, request):
        account = sim.accounts.get(self.code)
        if account is None:
            raise self.error(404, "no generic account is simulated")
        header = (request.header("Authorization") or "").strip()
        scheme, _sep, token = header.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), account.api_key.encode()
        )
        request.auth_ok = ok
        if not ok:
            request.auth_error = "missing or wrong bearer token"
            raise self.error(401, "unauthorized")
        route = request.route.rstrip("/") or "/"
        if route == "/originate" and request.method == "POST":
            self._originate(sim, request)
        if request.method not in ("GET", "HEAD"):
            raise self.error(405, "method not allowed")
        if route.startswith("/recordings/") and route.count("/") == 2:
            self._recording(sim, request, route[len("/recordings/") :])
        if route == "/extensions":
            raise Reply(
                200,
                {
                    "extensions": [
                        {"extension": number, "name": name}
                        for number, name in sorted(sim.extensions.items())
                    ]
                },
            )
        if route == "/calls":
            self._calls(sim, request.params)
        raise self.error(404, "not found")

    def _originate(self, sim, request):
        body = request.json if isinstance(request.json, dict) else {}
        source, target = str(body.get("from") or ""), str(body.get("to") or "")
        if not source or not target:
            raise self.error(400, "'from' and 'to' are required")
        extra = {"did": str(body["caller_id"])} if body.get("caller_id") else {}
        call_id = sim.originate(self.code, source, target, **extra)
        raise Reply(200, {"status": "ok", "call_id": call_id})

    def _recording(self, sim, request, recording_id):
        known = [
            r
            for r in sim.recordings
            if r["recording_id"] == recording_id and r["provider"] == self.code
        ]
        if not known:
            raise self.error(404, "unknown recording")
        raise audio_reply(request, sim.recording_bytes(recording_id), sim.recording_mimetype)

    def _calls(self, sim, params):
        """The call history of the calls played for this PBX."""
        try:
            start = parse_when(params["start"]) if params.get("start") else None
            end = parse_when(params["end"]) if params.get("end") else None
        except ValueError:
            raise self.error(400, "start and end must be ISO 8601")
        history = []
        for call in sim.calls:
            if call.provider != self.code:
                continue
            if (start and call.start < start) or (end and call.start > end):
                continue
            history.append(
                {
                    "call_id": call.call_id,
                    "direction": call.direction,
                    "from": call.caller,
                    "to": call.number,
                    "extension": call.extension or None,
                    "start": iso_utc(call.start),
                    "duration": call.duration,
                    "disposition": call.disposition,
                    "recording_id": call.recording_id or None,
                }
            )
        history.sort(key=lambda item: item["start"])
        raise Reply(200, {"calls": history})


def _ordered(event):
    ordered = {key: event[key] for key in _ORDER if key in event}
    ordered.update((key, value) for key, value in event.items() if key not in ordered)
    return ordered
