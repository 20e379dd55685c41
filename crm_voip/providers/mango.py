"""Mango Office, VPBX API v1.

Both ways, every request is a form POST of ``vpbx_api_key``, ``sign`` and ``json`` (a JSON
string), signed ``sha256_hex(key + json + salt)`` over the exact string. Mango posts its
events to our URL plus a path (``/events/call``, ``/events/summary``, ``/events/recording``,
``/result/callback``...); we call ``https://app.mango-office.ru/vpbx/<command>``. Facts and
sources: __manifest_docs__/protocols/mango.md.
"""

import csv
import hashlib
import hmac
import io
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

from . import events as ev
from .base import ConfigField, ProviderAdapter, _lt
from .errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from .events import CallEvent, Extension, HistoryCall, OriginateResult, RecordingLink
from .registry import register

# What Mango posts to, below our URL: call-changing ones, and those we only acknowledge.
CALL_EVENT = "events/call"
SUMMARY_EVENT = "events/summary"
RECORDING_EVENT = "events/recording"
CALLBACK_RESULT = "result/callback"
ACKNOWLEDGED_PATHS = frozenset(
    {
        "ping",
        "events/dtmf",
        "events/sms",
        "result/callback_group",
        "result/call/hangup",
        "result/recording/start",
        "result/route",
        "result/transfer",
        "result/sms",
        "result/stats",
    }
)
KNOWN_PATHS = ACKNOWLEDGED_PATHS | {CALL_EVENT, SUMMARY_EVENT, RECORDING_EVENT, CALLBACK_RESULT}

RESULT_OK = 1000
# Mango's call directions in events/summary.
SUMMARY_DIRECTIONS = {0: ev.INTERNAL, 1: ev.INBOUND, 2: ev.OUTBOUND}
# Disconnect reasons of a call nobody answered → normalized outcome (others: by class).
UNANSWERED_DISPOSITIONS = {
    1110: "cancel",  # the caller hung up first
    1121: "busy",
    1122: "busy",  # rejected
    1123: "busy",  # do not disturb
}
# A refused command, by code class (an unknown code reads as its class: 2219 as 2210).
REFUSAL_REASONS = (
    (2000, 3000, _lt("the PBX account is out of money or over its billing limits")),
    (3000, 4000, _lt("the PBX found the request invalid (check the extension and the number)")),
    (4501, 4502, _lt("too many calls in a short time")),
    (4502, 4503, _lt("the number is on the PBX's blacklist")),
    (4200, 4300, _lt("the PBX could not reach the phone")),
    (4000, 5000, _lt("the PBX cannot place this call")),
    (5000, 6000, _lt("the PBX is overloaded; try again in a minute")),
)
DEFAULT_REFUSAL = _lt("the PBX refused the call")
# Codes of a request Mango could not authenticate.
AUTH_CODES = (3102, 3105)
# Mango keeps statistics of at most one month per request, and answers a poll of its
# result at most every 5 s.
STATS_WINDOW = timedelta(days=30)
STATS_POLL_INTERVAL = 5
STATS_FIELDS = (
    "records",
    "start",
    "finish",
    "answer",
    "from_extension",
    "from_number",
    "to_extension",
    "to_number",
    "disconnect_reason",
    "line_number",
    "location",
    "entry_id",
)
# Events of calls started longer ago than this (or this far ahead) are refused: the
# signature has no timestamp of its own.
FUTURE_TOLERANCE = 600


# -- signing ---------------------------------------------------------------------------------


def sign(api_key, json_text, api_salt):
    """Mango's ``sign``: hex SHA-256 of the key, the exact JSON string and the salt."""
    return hashlib.sha256(f"{api_key}{json_text}{api_salt}".encode()).hexdigest()


def encode_json(payload):
    """``payload`` as the compact JSON string we sign and send (we sign our own bytes, so
    Mango's PHP escaping of ``/`` and non-ASCII does not matter for what we send)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_form(api_key, api_salt, payload):
    """The form fields of a request carrying ``payload``."""
    text = payload if isinstance(payload, str) else encode_json(payload)
    return {"vpbx_api_key": api_key, "sign": sign(api_key, text, api_salt), "json": text}


def refusal_reason(code):
    """Why Mango refused a command, from its result code (a marked, untranslated text)."""
    for low, high, reason in REFUSAL_REASONS:
        if low <= code < high:
            return reason
    return DEFAULT_REFUSAL


def disposition(entry_result, talk_time, reason, direction):
    """A finished call's normalized outcome. Mango's ``entry_result`` says whether somebody
    talked; an incoming call that ended in the voice menu may carry 1 without any talk
    time, so an incoming call without talk time counts as unanswered."""
    if entry_result == 1 and (talk_time or direction != ev.INBOUND):
        return "answered"
    if reason in UNANSWERED_DISPOSITIONS:
        return UNANSWERED_DISPOSITIONS[reason]
    if reason is not None and (reason >= 2000 or 1130 <= reason < 1160):
        return "failed"  # billing, bad request, restrictions on either side
    return "no_answer"


def _int(value):
    """Mango sends numbers as numbers or as strings; ``None`` when absent or not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(value, limit=128):
    return value.strip()[:limit] if isinstance(value, str) else ""


def _party(payload, name):
    """``from``/``to`` of a payload: a dict even when absent or malformed."""
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def _epoch(value):
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    # Beyond year 2100: milliseconds, not seconds.
    if seconds > 4102444800:
        raise MalformedEventError(f"Time {seconds} is not Unix seconds")
    return datetime.fromtimestamp(seconds, timezone.utc)


def _event_key(*parts):
    key = "|".join(str(part) for part in parts)
    if len(key) > ev.EVENT_KEY_MAX_LEN:
        # surrogatepass: a lone surrogate (refused later) must not fail the hashing.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{parts[0]}|sha256:{digest}"
    return key


@register("mango")
class MangoAdapter(ProviderAdapter):
    """Mango Office VPBX.

    ``api_key`` (Mango's "unique code") and ``api_salt`` (its "signing key") sign both ways.
    A call is keyed on ``entry_id`` (stable across transfers); each of its legs on
    ``call_id``. Mango's events only report a leg; ``events/summary`` is the call's end.
    """

    name = "Mango Office"
    label = _lt("Mango Office")
    DEFAULT_BASE_URL = "https://app.mango-office.ru"
    config_fields = (
        ConfigField(
            "api_key",
            _lt("Unique code (API key)"),
            _lt("Mango Office account > Integrations > API connection: the unique code."),
            secret=True,
            required=True,
        ),
        ConfigField(
            "api_salt",
            _lt("Signing key (salt)"),
            _lt(
                "Mango Office account > Integrations > API connection: the signing key. "
                "Both sides sign every request with it."
            ),
            secret=True,
            required=True,
        ),
        ConfigField(
            "caller_id_line",
            _lt("Caller ID line"),
            _lt(
                "The Mango line (a number of the account, digits) clients see when Odoo "
                "places a call. Empty: the employee's own outgoing line."
            ),
        ),
        ConfigField(
            "route_timeout",
            _lt("Routing wait (s)"),
            _lt(
                "How long Odoo waits for Mango to take a call to the client's manager; "
                "past it, the account's own scenario routes the call."
            ),
            kind="integer",
            default=3,
        ),
        ConfigField(
            "max_event_age",
            _lt("Maximum event age (s)"),
            _lt(
                "Mango's signatures carry no timestamp: events older than this are refused "
                "as replays."
            ),
            kind="integer",
            default=86400,
        ),
        ConfigField(
            "history_wait",
            _lt("Call history wait (s)"),
            _lt("How long to wait for Mango to prepare a call history report."),
            kind="integer",
            default=60,
        ),
    )
    # Mango saves a recording some time after the call and advises asking again each
    # minute until it is there.
    recording_fetch_delay = 60
    routes_by_command = True
    has_call_history = True

    # -- webhooks ------------------------------------------------------------------------------

    @staticmethod
    def event_path(request):
        """What Mango posted to: the path below our webhook URL (``events/call``...)."""
        path = (request.path or "").strip("/")
        for known in KNOWN_PATHS:
            if path == known or path.endswith("/" + known):
                return known
        return ""

    @staticmethod
    def _form(request):
        """The request's form fields; decoded from the body once, then kept on the request
        (``verify`` and ``parse`` both read them)."""
        if request.form:
            return request.form
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEventError("Mango request body is not UTF-8") from None
        form = {}
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=20)
        except ValueError:
            raise MalformedEventError("Mango request has too many form fields") from None
        for key, value in pairs:
            form.setdefault(key, value)
        request.form = form
        return form

    def verify(self, request):
        """The key must be ours and ``sign`` must match the raw ``json`` value."""
        self.check_source(request.remote_addr)
        form = self._form(request)
        for field in ("vpbx_api_key", "sign"):
            if not form.get(field):
                raise SignatureError(f"Unsigned request: no {field!r}")
        if "json" not in form:
            raise MalformedEventError("Missing form field 'json'")
        api_key = self.config.get("api_key") or ""
        api_salt = self.config.get("api_salt") or ""
        if not api_key or not api_salt:
            raise SignatureError("Mango API key or salt is not configured")
        if not hmac.compare_digest(form["vpbx_api_key"].encode(), api_key.encode()):
            raise SignatureError("vpbx_api_key is not this account's key")
        expected = sign(api_key, form["json"], api_salt)
        if not hmac.compare_digest(expected.encode(), form["sign"].strip().lower().encode()):
            raise SignatureError("Invalid sign")
        path = self.event_path(request)
        if not path:
            raise MalformedEventError(f"Unknown Mango event path {request.path[-64:]!r}")
        payload = self._payload(form)
        self._check_freshness(payload, request.received_at)
        return f"sign ok, {path}"

    @staticmethod
    def _payload(form):
        try:
            payload = json.loads(form["json"])
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            raise MalformedEventError("Field 'json' is not JSON") from None
        if not isinstance(payload, dict):
            raise MalformedEventError("Field 'json' is not a JSON object")
        return payload

    def _check_freshness(self, payload, now):
        moment = payload.get("timestamp") or payload.get("end_time")
        if moment in (None, ""):
            return  # results carry no time: they answer a command of ours
        when = _epoch(moment)
        if when is None:
            raise MalformedEventError("Field 'timestamp' is not Unix seconds")
        age = (now - when).total_seconds()
        limit = int(self._setting("max_event_age"))
        if age > limit:
            raise SignatureError(f"Stale event: {int(age)} s old (limit {limit} s)")
        if age < -FUTURE_TOLERANCE:
            raise SignatureError(f"Event is {int(-age)} s in the future")

    def parse(self, request):
        path = self.event_path(request)
        if not path:
            raise MalformedEventError(f"Unknown Mango event path {request.path[-64:]!r}")
        if path in ACKNOWLEDGED_PATHS:
            return []
        payload = self._payload(self._form(request))
        if path == CALL_EVENT:
            events = self._leg_event(payload, request)
        elif path == SUMMARY_EVENT:
            events = self._summary_event(payload, request)
        elif path == RECORDING_EVENT:
            events = self._recording_event(payload, request)
        else:
            events = self._callback_result(payload, request)
        return events

    @staticmethod
    def _entry_id(payload):
        entry_id = _text(payload.get("entry_id"))
        if not entry_id:
            raise MalformedEventError("Missing field 'entry_id'")
        return entry_id

    def _leg_event(self, payload, request):
        """One leg's change (``events/call``) → the call event it means, if any.

        A leg that appears in the voice menu or a queue is a call coming in; one that
        appears on an employee is ringing him (incoming) or his call going out; a leg
        answered is the call answered. A leg's end is not the call's (a ring group rings
        several legs): ``events/summary`` ends it.
        """
        entry_id = self._entry_id(payload)
        leg_id = _text(payload.get("call_id"))
        state = _text(payload.get("call_state"))
        if not leg_id or not state:
            raise MalformedEventError("Missing field 'call_id' or 'call_state'")
        location = _text(payload.get("location"))
        caller, called = _party(payload, "from"), _party(payload, "to")
        caller_ext, called_ext = _text(caller.get("extension")), _text(called.get("extension"))
        line = _text(called.get("line_number"))
        seq = _int(payload.get("seq"))
        common = {
            "provider_call_id": entry_id,
            "leg_id": leg_id,
            "event_key": _event_key("call", leg_id, seq if seq is not None else "", state),
            "occurred_at": _epoch(payload.get("timestamp")) or request.received_at,
            "provider_event": f"{CALL_EVENT} {state}",
            "origin_ref": _text(payload.get("command_id")),
            "raw": payload,
        }
        if caller_ext:
            direction = ev.INTERNAL if called_ext else ev.OUTBOUND
            values = {
                "direction": direction,
                "from_number": caller_ext,
                "to_number": called_ext or _text(called.get("number")),
                "extension": caller_ext,
            }
        else:
            values = {
                "direction": ev.INBOUND,
                "from_number": _text(caller.get("number")),
                "to_number": line or _text(called.get("number")),
                "did": line,
                "extension": called_ext,
            }
        if state == "Appeared":
            if caller_ext:
                kind = ev.OUTGOING_STARTED
            elif called_ext:
                kind = ev.AGENT_RINGING
            elif location in ("ivr", "queue", ""):
                kind = ev.CALL_STARTED
            else:
                return []
        elif state == "Connected":
            if not caller_ext and not called_ext:
                return []  # the voice menu picked up, nobody talks yet
            kind = ev.ANSWERED
        else:  # OnHold, Disconnected: the leg, not the call
            return []
        return [CallEvent(kind=kind, **common, **values)]

    def _summary_event(self, payload, request):
        """``events/summary``: the call is over, with Mango's own verdict."""
        entry_id = self._entry_id(payload)
        direction = SUMMARY_DIRECTIONS.get(_int(payload.get("call_direction")))
        if direction is None:
            raise MalformedEventError("Field 'call_direction' is not 0, 1 or 2")
        caller, called = _party(payload, "from"), _party(payload, "to")
        talk = _int(payload.get("talk_time")) or 0
        end = _int(payload.get("end_time")) or 0
        outcome = disposition(
            _int(payload.get("entry_result")),
            talk,
            _int(payload.get("disconnect_reason")),
            direction,
        )
        line = _text(payload.get("line_number"))
        if direction == ev.INBOUND:
            numbers = {
                "from_number": _text(caller.get("number")),
                "to_number": line or _text(called.get("number")),
                "did": line,
                # Who answered; on a missed call, only the first one the call was sent to.
                "extension": _text(called.get("extension")) if outcome == "answered" else "",
            }
        else:
            extension = _text(caller.get("extension"))
            numbers = {
                "from_number": extension or _text(caller.get("number")),
                "to_number": _text(called.get("extension")) or _text(called.get("number")),
                "extension": extension,
            }
        return [
            CallEvent(
                kind=ev.ENDED if outcome == "answered" else ev.MISSED,
                provider_call_id=entry_id,
                event_key=_event_key("summary", entry_id),
                occurred_at=_epoch(end) or request.received_at,
                call_started_at=_epoch(payload.get("create_time")),
                direction=direction,
                disposition=outcome,
                duration=max(end - talk, 0) if talk and end else 0,
                provider_event=SUMMARY_EVENT,
                raw=payload,
                **numbers,
            )
        ]

    def _recording_event(self, payload, request):
        """A recording saved in Mango's cloud; one only mailed, or too short, has nothing
        to fetch."""
        entry_id = self._entry_id(payload)
        recording_id = _text(payload.get("recording_id"), 1024)
        if not recording_id:
            raise MalformedEventError("Missing field 'recording_id'")
        if _text(payload.get("recording_state")) != "Completed":
            return []
        code = _int(payload.get("completion_code"))
        if code not in (None, RESULT_OK) or "cloud" not in _text(payload.get("recipient")).lower():
            return []
        return [
            CallEvent(
                kind=ev.RECORDING_READY,
                provider_call_id=entry_id,
                leg_id=_text(payload.get("call_id")),
                event_key=_event_key("recording", recording_id),
                occurred_at=_epoch(payload.get("timestamp")) or request.received_at,
                direction=ev.INBOUND,  # unknown here; the call already knows its own
                extension=_text(payload.get("extension")),
                recording_ref=recording_id,
                provider_event=RECORDING_EVENT,
                raw=payload,
            )
        ]

    def _callback_result(self, payload, request):
        """``result/callback``: Mango's verdict on a click-to-call we asked for. Accepted,
        the call's legs follow; refused, Odoo's call ends failed with the reason."""
        command_id = _text(payload.get("command_id"))
        code = _int(payload.get("result"))
        if not command_id or code is None:
            raise MalformedEventError("Missing field 'command_id' or 'result'")
        if code == RESULT_OK:
            return []
        return [
            CallEvent(
                kind=ev.ORIGINATE_REFUSED,
                provider_call_id=command_id,
                origin_ref=command_id,
                event_key=_event_key("callback", command_id),
                occurred_at=request.received_at,
                direction=ev.OUTBOUND,
                disposition="failed",
                reason=refusal_reason(code),
                reason_code=str(code),
                provider_event=CALLBACK_RESULT,
                raw=payload,
            )
        ]

    # -- REST ----------------------------------------------------------------------------------

    def _post(self, command, payload, allow_redirects=True, timeout=None):
        """POST ``payload`` signed to ``command``; the response, errors mapped."""
        api_key = self._require("api_key", "Mango API key")
        api_salt = self._require("api_salt", "Mango signing key")
        response = self._request(
            "POST",
            f"{self.base_url}/vpbx/{command}",
            data=signed_form(api_key, api_salt, payload),
            allow_redirects=allow_redirects,
            timeout=timeout,
        )
        self._check_mango_response(response)
        return response

    def _check_mango_response(self, response):
        """Mango answers a refused request with HTTP 420 and ``{"code": ...}``, or 200 with
        a ``result`` other than 1000; 503 means too many requests."""
        status = response.status_code
        code = None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = _int(body.get("code", body.get("result")))
        if status == 503:
            raise RateLimitError("Mango: request limit exceeded", self._retry_after(response))
        if status < 400 and code in (None, RESULT_OK):
            return
        detail = f"Mango: {refusal_reason(code) if code else 'request failed'}"
        detail += f" (code {code}, HTTP {status})" if code else f" (HTTP {status})"
        if code in AUTH_CODES or status in (401, 403):
            raise AuthError(detail, status_code=status)
        if status >= 500 or (code is not None and code >= 5000):
            raise RetryableError(detail, status_code=status)
        raise PermanentError(detail, status_code=status)

    def originate(self, extension, number, caller_id=None, request_ref=None):
        """``commands/callback``: Mango rings ``extension``, then ``number``. Its verdict comes
        later to ``result/callback``, and the call's legs carry ``request_ref`` as their
        ``command_id``."""
        extension = str(extension or "").strip()
        digits = "".join(char for char in str(number or "") if char.isdigit())
        if not extension or not digits:
            raise PermanentError("Click-to-call needs an extension and a number")
        command_id = request_ref or f"crm-voip-{uuid.uuid4().hex}"
        payload = {"command_id": command_id, "from": {"extension": extension}, "to_number": digits}
        line = caller_id or self.config.get("caller_id_line")
        if line:
            payload["line_number"] = "".join(char for char in str(line) if char.isdigit())
        self._post("commands/callback", payload)
        return OriginateResult(call_id="", raw={"command_id": command_id})

    def route(self, event, decision, request_ref=None):
        """``commands/route`` sends the leg that entered the voice menu or the queue to the
        first target; a rejected call is hung up (``commands/call/hangup``). Mango takes one
        target: the later steps of the chain are its own scenario's."""
        if not event.leg_id:
            raise PermanentError("Mango routes a leg: the event names none")
        command_id = request_ref or f"crm-voip-{uuid.uuid4().hex}"
        timeout = int(self._setting("route_timeout"))
        if decision.action == ev.REJECT:
            payload = {"command_id": command_id, "call_id": event.leg_id}
            self._post("commands/call/hangup", payload, timeout=timeout)
            return True
        if decision.action != ev.REDIRECT or not decision.targets:
            return False
        payload = {
            "command_id": command_id,
            "call_id": event.leg_id,
            "to_number": decision.targets[0],
        }
        self._post("commands/route", payload, timeout=timeout)
        return True

    #: Where ``queries/recording/post`` redirects to (one-time links).
    recording_hosts = ("files.mango-office.ru",)

    def recording_link(self, recording_ref, call_id=None):
        """``queries/recording/post`` answers with a redirect to a one-time link: read the
        link without following it, for the download to use once."""
        if not recording_ref:
            raise PermanentError("Mango names every recording: no recording id given")
        response = self._post(
            "queries/recording/post",
            {"recording_id": recording_ref, "action": "download"},
            allow_redirects=False,
        )
        location = response.headers.get("Location") if response.is_redirect else None
        if not location:
            raise PermanentError(f"Mango gave no recording link (HTTP {response.status_code})")
        return RecordingLink(url=location)

    def list_extensions(self):
        """The account's employees (``config/users/request``), with their e-mail."""
        response = self._post("config/users/request", {})
        try:
            users = (response.json() or {}).get("users") or []
        except (ValueError, AttributeError):
            raise PermanentError("Mango returned an unreadable user list") from None
        extensions = []
        for user in users:
            if not isinstance(user, dict):
                continue
            general, telephony = user.get("general") or {}, user.get("telephony") or {}
            extension = _text(str(telephony.get("extension") or ""))
            if extension:
                extensions.append(
                    Extension(
                        extension=extension,
                        name=_text(general.get("name"), 255),
                        email=_text(general.get("email"), 255),
                    )
                )
        return extensions

    def call_history(self, start, end):
        """Calls between ``start`` and ``end`` from Mango's statistics: a report asked for
        each month (``stats/request``), then polled (``stats/result``) every 5 s until it
        is ready, within config ``history_wait`` seconds."""
        start, end = ev.ensure_utc(start), ev.ensure_utc(end)
        calls = []
        window = start
        while window < end:
            window_end = min(window + STATS_WINDOW, end)
            request = {
                "date_from": str(int(window.timestamp())),
                "date_to": str(int(window_end.timestamp())),
                "fields": ",".join(STATS_FIELDS),
                "request_id": uuid.uuid4().hex,
            }
            key = (self._post("stats/request", request).json() or {}).get("key")
            if not key:
                raise PermanentError("Mango returned no statistics key")
            calls.extend(self._history_rows(self._stats_result(key)))
            window = window_end
        return calls

    def _stats_result(self, key):
        deadline = time.monotonic() + int(self._setting("history_wait"))
        while True:
            time.sleep(STATS_POLL_INTERVAL)
            response = self._post("stats/result", {"key": key})
            if response.status_code == 200:
                return response.text
            if response.status_code != 204:
                raise PermanentError(f"Mango statistics failed (HTTP {response.status_code})")
            if time.monotonic() >= deadline:
                raise RetryableError("Mango did not prepare the call history in time")

    def _history_rows(self, text):
        """Mango's statistics CSV (``;`` between fields, no quoting) → ``HistoryCall``s."""
        calls = []
        reader = csv.reader(io.StringIO(text), delimiter=";", quoting=csv.QUOTE_NONE)
        for row in reader:
            if len(row) != len(STATS_FIELDS):
                continue
            values = dict(zip(STATS_FIELDS, row, strict=True))
            from_ext, to_ext = values["from_extension"], values["to_extension"]
            if from_ext:
                direction = ev.INTERNAL if to_ext else ev.OUTBOUND
            else:
                direction = ev.INBOUND
            begin, answer, finish = (_int(values[name]) for name in ("start", "answer", "finish"))
            answered = bool(answer)
            outcome = disposition(
                1 if answered else 0, answer, _int(values["disconnect_reason"]), direction
            )
            records = values["records"].strip("[]")
            calls.append(
                HistoryCall(
                    call_id=values["entry_id"],
                    direction=direction,
                    from_number=from_ext or values["from_number"],
                    to_number=to_ext or values["to_number"],
                    extension=to_ext if direction == ev.INBOUND else from_ext,
                    started_at=_epoch(begin),
                    duration=max(finish - answer, 0) if answered and finish else 0,
                    disposition=outcome,
                    recording_ref=records.split(",")[0].strip() if records else "",
                )
            )
        return calls

    def test_connection(self):
        """Mango has no "who am I": reading the user list proves the key and the salt."""
        count = len(self.list_extensions())
        return f"Connected to Mango Office, {count} employees with an extension"
