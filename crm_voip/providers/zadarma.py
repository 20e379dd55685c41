"""Zadarma (and its Russian brand Novofon, same API v1).

Webhooks: one URL receives every ``NOTIFY_*`` event as a form POST, signed in the ``Signature``
header with the API secret. REST: ``https://api.zadarma.com/v1/...`` with
``Authorization: <key>:<signature>``. Facts and sources: __manifest_docs__/protocols/zadarma.md.
"""

import base64
import hashlib
import hmac
import logging
import re
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value
from urllib.parse import parse_qsl, urlencode

from . import events as ev
from .base import ConfigField, ProviderAdapter, _lt
from .errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    SignatureError,
)
from .events import (
    CallEvent,
    Extension,
    HistoryCall,
    OriginateResult,
    RecordingLink,
    WebhookResponse,
    ensure_utc,
)
from .numbers import is_extension
from .registry import register

_logger = logging.getLogger(__name__)

# The fields whose concatenation (no separator) is signed, per event (vendor PHP/TS SDKs).
SIG_FIELDS = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
}

# Zadarma's disposition values (statistics spec and webhook docblocks) → normalized outcome.
DISPOSITION_MAP = {
    "answered": "answered",
    "busy": "busy",
    "cancel": "cancel",
    "no answer": "no_answer",
    "noanswer": "no_answer",
    "call failed": "failed",
    "failed": "failed",
    "no money": "failed",
    "unallocated number": "failed",
    "no limit": "failed",
    "no day limit": "failed",
    "line limit": "failed",
}

# Signatures carry no timestamp: an event is only accepted this far ahead of our clock.
FUTURE_TOLERANCE = 600
# Events of a call are accepted this long after its ``call_start`` (the account setting):
# no call lasts longer. A captured request can be replayed only within it.
DEFAULT_MAX_EVENT_AGE = 4 * 3600
# A call's first event comes as it starts; its end ``duration`` seconds of talk later,
# after ringing, menus and queues (at most this long) and delivery. Only while the
# account's maximum age is at most the default.
START_EVENTS = frozenset({"NOTIFY_START", "NOTIFY_OUT_START"})
END_EVENTS = frozenset({"NOTIFY_END", "NOTIFY_OUT_END"})
EVENT_DELAY = 1800
# Zadarma posts several of these per call, one per extension (``internal``, unsigned):
# each extension rung, answering (a transfer), hanging up.
PER_EXTENSION_EVENTS = frozenset(
    {"NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END", "NOTIFY_OUT_END"}
)
# ``call_id_with_rec`` is ``1-<unix time of the call>.<micro>-<extension>-<local time>``.
_RECORDING_TIME_RE = re.compile(r"^\d+-(\d{9,11})\.\d+-")
# Where Zadarma's notifications come from: the address of the vendor's own example
# (my.zadarma.com/api/, its SDKs), within the /30 block integrators allow.
NOTIFICATION_SOURCES = ("185.45.152.40/30",)
ECHO_MAX_LEN = 128
STATS_PAGE_SIZE = 1000
# Zadarma allows a few statistics requests a minute per key (3 by its English docs): the
# adapters of a process keep to it rather than collect 429s.
STATS_PER_MINUTE = 3
STATS_RATE_PERIOD = 60
# A history that needs more pages than the budget allows is read over time: once its first
# page is in, the adapter waits for the next slot, up to this many seconds in all per read
# (short enough for an HTTP worker's time limit), then refuses with the seconds to wait.
STATS_HISTORY_WAIT = 90
# Statistics requests sent, by (API host, key): monotonic times of the last minute.
_stats_requests = {}
_stats_requests_lock = threading.Lock()
# The statistics API accepts at most one month per request.
STATS_WINDOW = timedelta(days=30)
RECORDING_LIFETIME_DEFAULT = 1800
RECORDING_LIFETIME_RANGE = (180, 5184000)
# Prefix of a recording_ref that names a whole call (history rows have no recording id).
PBX_CALL_REF_PREFIX = "pbx_call_id:"
# Zadarma validates rewrite_forward_number with this pattern (PHP SDK).
_FORWARD_NUMBER_RE = re.compile(r"^\+*\d{5,}$")
_DIALABLE_STRIP_RE = re.compile(r"[\s()\-.]")


# -- signing ---------------------------------------------------------------------------------


def sign(secret, text, raw=False):
    """``base64(HMAC-SHA1(secret, text))`` of the hex digest (Zadarma's REST and PHP webhook
    form) or, with ``raw``, of the 20 digest bytes (the TS SDK webhook helper's form)."""
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha1)
    digest = mac.digest() if raw else mac.hexdigest().encode()
    return base64.b64encode(digest).decode()


def _flatten(params):
    """Parameter pairs in PHP ``ksort`` + ``http_build_query`` order: keys sorted, arrays
    expanded as ``key[0]``, ``key[1]``; ``None`` values dropped."""
    pairs = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((f"{key}[{index}]", str(item)) for index, item in enumerate(value))
        else:
            pairs.append((key, str(value)))
    return pairs


def encode_params(params):
    """The query string Zadarma signs: sorted, RFC 1738 (space as ``+``) like PHP's
    ``http_build_query``, which also escapes ``~`` (Python leaves it bare)."""
    return urlencode(_flatten(params)).replace("~", "%7E")


def auth_header(api_key, api_secret, method_path, params):
    """``Authorization`` value for ``method_path`` (e.g. ``/v1/info/balance/``) and ``params``
    (which must already contain ``format``)."""
    query = encode_params(params)
    line = method_path + query + hashlib.md5(query.encode()).hexdigest()
    return f"{api_key}:{sign(api_secret, line)}"


def match_signature(secret, signed_text, signature):
    """Which encoding of the expected signature equals ``signature``: ``'base64_hex'``,
    ``'base64_raw'`` or ``None``. Both are compared, in constant time."""
    received = signature.encode("utf-8", "replace")
    matched = None
    for encoding, raw in (("base64_hex", False), ("base64_raw", True)):
        expected = sign(secret, signed_text, raw=raw).encode()
        if hmac.compare_digest(expected, received) and matched is None:
            matched = encoding
    return matched


# -- webhook body ----------------------------------------------------------------------------


def _content_type_params(content_type):
    message = Message()
    message["Content-Type"] = content_type or "application/octet-stream"
    return message


def _decode(data, charset):
    try:
        return data.decode(charset or "utf-8")
    except LookupError:
        return data.decode("utf-8")


def _find_delimiter(body, boundary):
    """The part delimiter line actually used in ``body``.

    Zadarma has sent bodies whose boundary has an extra leading ``--`` compared with the
    header, so both spellings (either way round) are looked for. Without a boundary in the
    header, the first ``--`` line is taken.
    """
    candidates = set()
    if boundary:
        candidates = {b"--" + boundary, b"----" + boundary}
        if boundary.startswith(b"--"):
            candidates.add(boundary)
    for line in body.splitlines():
        line = line.rstrip()
        if not line.startswith(b"--"):
            continue
        if not candidates or line in candidates:
            return line
        if line.endswith(b"--") and line[:-2] in candidates:
            return line[:-2]  # an empty body: only the close delimiter
    return None


def parse_multipart(body, content_type):
    """``multipart/form-data`` fields as str → str (first value wins; file parts skipped)."""
    header = _content_type_params(content_type)
    boundary = header.get_param("boundary")
    boundary = collapse_rfc2231_value(boundary).encode() if boundary else b""
    delimiter = _find_delimiter(body, boundary)
    if delimiter is None:
        raise MalformedEventError("Multipart body does not use the boundary of its Content-Type")
    charset = header.get_content_charset("utf-8")
    form = {}
    for part in re.split(rb"(?:\r?\n|^)" + re.escape(delimiter), body)[1:]:
        if part.startswith(b"--"):
            break  # close delimiter
        _rest_of_delimiter_line, _newline, part = part.partition(b"\n")
        split = re.search(rb"\r?\n\r?\n", part)
        if part.startswith((b"\r\n", b"\n")):
            head, content = b"", part.split(b"\n", 1)[1]
        elif split:
            head, content = part[: split.start()], part[split.end() :]
        else:
            raise MalformedEventError("Multipart part has no header/content separator")
        headers = BytesHeaderParser().parsebytes(head)
        name = headers.get_param("name", header="content-disposition")
        if not name or headers.get_filename():
            continue
        name = collapse_rfc2231_value(name)
        if name not in form:
            form[name] = _decode(content, headers.get_content_charset(charset))
    return form


def parse_form_body(body, content_type):
    """Decode a webhook body (urlencoded or multipart) into str → str, first value wins."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        if mimetype == "multipart/form-data" or (not mimetype and body.startswith(b"--")):
            return parse_multipart(body, content_type)
        if mimetype not in ("", "application/x-www-form-urlencoded", "text/plain"):
            raise MalformedEventError(f"Unsupported Content-Type {mimetype!r} for Zadarma")
        charset = _content_type_params(content_type).get_content_charset("utf-8")
        form = {}
        pairs = parse_qsl(_decode(body, charset), keep_blank_values=True, max_num_fields=1000)
        for key, value in pairs:
            form.setdefault(key, value)
        return form
    except UnicodeDecodeError:
        raise MalformedEventError("Webhook body is not valid UTF-8") from None
    except ValueError as error:  # too many fields
        raise MalformedEventError(f"Unreadable webhook body: {error}") from None


def normalize_disposition(value):
    """Zadarma disposition → 'answered', 'busy', 'no_answer', 'cancel' or 'failed' ('' if
    empty). Unknown values count as failures."""
    value = (value or "").strip().lower().replace("_", " ")
    if not value:
        return ""
    return DISPOSITION_MAP.get(value, "failed")


def _int_or_none(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@register("zadarma")
class ZadarmaAdapter(ProviderAdapter):
    """Zadarma / Novofon.

    Webhook signatures use config ``api_secret`` (Zadarma has no separate webhook secret).
    ``call_start`` values are read in config ``timezone`` (the account's time zone).
    """

    name = "Zadarma"
    label = _lt("Zadarma / Novofon")
    DEFAULT_BASE_URL = "https://api.zadarma.com"
    config_fields = (
        ConfigField(
            "api_key",
            _lt("API key"),
            _lt("Personal account > Settings > API and integrations: the key."),
            secret=True,
            required=True,
        ),
        ConfigField(
            "api_secret",
            _lt("API secret"),
            _lt("The secret next to the key. Zadarma signs its webhooks with it too."),
            secret=True,
            required=True,
        ),
        ConfigField(
            "max_event_age",
            _lt("Maximum call age (s)"),
            _lt(
                "Zadarma's signatures carry no timestamp: events of calls started longer "
                "ago are refused as replays (a call's first event, and its end after its "
                "duration, within a shorter window still)."
            ),
            kind="integer",
            default=DEFAULT_MAX_EVENT_AGE,
        ),
        ConfigField(
            "recording_lifetime",
            _lt("Recording link lifetime (s)"),
            _lt("How long a recording link Zadarma gives stays valid (180 to 5184000)."),
            kind="integer",
            default=RECORDING_LIFETIME_DEFAULT,
        ),
    )
    # Zadarma advises asking for a recording about 40 s after the call ended.
    recording_fetch_delay = 40
    whole_call_ref_prefix = PBX_CALL_REF_PREFIX
    routes_synchronously = True
    has_call_history = True
    notification_sources = NOTIFICATION_SOURCES

    # -- webhooks ------------------------------------------------------------------------------

    def handshake(self, request):
        """Zadarma checks the URL with ``GET ?zd_echo=<random>`` and expects the value back."""
        if request.method != "GET" or "zd_echo" not in request.query:
            return None
        echo = request.query["zd_echo"]
        # Reflect only short printable ASCII: never let the endpoint echo arbitrary content.
        if not echo or len(echo) > ECHO_MAX_LEN or not (echo.isascii() and echo.isprintable()):
            return None
        return WebhookResponse.text(echo)

    def _form(self, request):
        if request.body:
            return parse_form_body(request.body, request.content_type)
        return dict(request.form)

    def verify(self, request):
        """Returns which of the two signature encodings matched."""
        self.check_source(request.remote_addr)
        form = self._form(request)
        event = form.get("event", "")
        if not event:
            raise MalformedEventError("Missing field 'event'")
        fields = SIG_FIELDS.get(event)
        if fields is None:
            raise MalformedEventError(f"Unknown Zadarma event {event!r}")
        secret = self.config.get("api_secret")
        if not secret:
            raise SignatureError("API secret is not configured: cannot check the signature")
        signature = request.header("Signature").strip()
        if not signature:
            raise SignatureError("Missing Signature header")
        signed_text = "".join(form.get(field, "") for field in fields)
        encoding = match_signature(secret, signed_text, signature)
        if encoding is None:
            raise SignatureError(f"Invalid signature for {event}")
        self._check_freshness(form, request.received_at)
        return f"signature {encoding}"

    def _check_freshness(self, form, now):
        """Replay protection: the signature has no timestamp, so bound the age of the
        call's start (``call_start``, or the time in a recording's signed id): by the
        account's maximum, by less for the events that come at the call's start and
        end. The duration is not signed: a forged one only widens the end's window up
        to the maximum."""
        event = form["event"]
        max_age = int(self._setting("max_event_age"))
        if event == "NOTIFY_RECORD":
            started = self._recording_call_start(form.get("call_id_with_rec", ""))
            if started is None:
                raise SignatureError(
                    "NOTIFY_RECORD: the recording id names no call time; its age is unknown"
                )
        else:
            started = self._call_start(form)
            if started is None:
                raise MalformedEventError("Missing field 'call_start'")
            # An account whose maximum is raised above the default (to replay an
            # outage's history) takes every event within it.
            tight = max_age <= DEFAULT_MAX_EVENT_AGE
            if tight and event in START_EVENTS:
                max_age = min(max_age, EVENT_DELAY)
            elif tight and event in END_EVENTS:
                duration = _int_or_none(form.get("duration"))
                if duration is not None and duration >= 0:
                    max_age = min(max_age, duration + EVENT_DELAY)
        age = (now - started).total_seconds()
        if age > max_age:
            raise SignatureError(
                f"Stale event: {event} of a call started {int(age)} s ago (limit {max_age} s)"
            )
        if age < -FUTURE_TOLERANCE:
            raise SignatureError(
                f"{event} of a call starting {int(-age)} s in the future "
                f"(check the timezone setting)"
            )

    @staticmethod
    def _recording_call_start(recording_id):
        """The call's start in a recording id (``1-1458313316.343456-100-...``), or None."""
        match = _RECORDING_TIME_RE.match(recording_id or "")
        if not match:
            return None
        return datetime.fromtimestamp(int(match.group(1)), timezone.utc)

    def _local_datetime(self, value, field_name):
        """A Zadarma account-local time string (``YYYY-MM-DD HH:MM:SS``) as aware UTC."""
        value = (value or "").strip()
        if not value:
            return None
        # Any input gives a time or this refusal: a huge or non-ASCII number, year 1
        # shifted by the zone, overflow in the conversions otherwise.
        refusal = MalformedEventError(
            f"Field '{field_name}' is not a 'YYYY-MM-DD HH:MM:SS' time: {value[:40]!r}"
        )
        try:
            if value.isdigit():
                if not value.isascii() or len(value) > 12:
                    raise refusal
                return datetime.fromtimestamp(int(value), timezone.utc)
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.account_timezone())
            return moment.astimezone(timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise refusal from None

    def _call_start(self, form):
        return self._local_datetime(form.get("call_start"), "call_start")

    @staticmethod
    def _event_key(form):
        """The event and what its signature covers: a captured request replayed with
        other unsigned fields (another ``pbx_call_id``, disposition, duration) is the
        same event again, a duplicate. The extension is added for the events Zadarma
        posts once per extension; it is not signed."""
        event = form.get("event", "")
        parts = [event, *(form.get(name, "") for name in SIG_FIELDS.get(event, ()))]
        if event in PER_EXTENSION_EVENTS:
            parts.append(form.get("internal", ""))
        key = "|".join(parts)
        if len(key) > ev.EVENT_KEY_MAX_LEN:
            # surrogatepass: a lone surrogate (refused later) must not fail the hashing.
            digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
            key = f"{parts[0]}|sha256:{digest}"
        return key

    def parse(self, request):
        form = self._form(request)
        event = form.get("event", "")
        if not event:
            raise MalformedEventError("Missing field 'event'")
        if event == "NOTIFY_IVR":
            return []  # voice-menu steps do not change the call's state
        if event not in SIG_FIELDS:
            raise MalformedEventError(f"Unknown Zadarma event {event!r}")
        pbx_call_id = form.get("pbx_call_id", "").strip()
        if not pbx_call_id:
            raise MalformedEventError(f"Missing field 'pbx_call_id' in {event}")
        common = {
            "provider_call_id": pbx_call_id,
            "event_key": self._event_key(form),
            "occurred_at": request.received_at,
            "call_started_at": self._call_start(form),
            "provider_event": event,
            "raw": form,
        }
        caller_id = form.get("caller_id", "")
        called_did = form.get("called_did", "")
        destination = form.get("destination", "")
        internal = form.get("internal", "")
        if event == "NOTIFY_START":
            values = {
                "kind": ev.CALL_STARTED,
                "direction": ev.INBOUND,
                "from_number": caller_id,
                "to_number": called_did,
                "did": called_did,
            }
        elif event == "NOTIFY_INTERNAL":
            values = {
                "kind": ev.AGENT_RINGING,
                "direction": ev.INBOUND,
                "from_number": caller_id,
                "to_number": called_did,
                "did": called_did,
                "extension": internal,
            }
        elif event == "NOTIFY_ANSWER":
            values = {
                "kind": ev.ANSWERED,
                "direction": self._answer_direction(caller_id, destination),
                "from_number": caller_id,
                "to_number": destination,
                "extension": internal,
            }
        elif event == "NOTIFY_END":
            values = {
                "direction": ev.INBOUND,
                "from_number": caller_id,
                "to_number": called_did,
                "did": called_did,
                "extension": internal,
                **self._end_values(form),
            }
        elif event == "NOTIFY_OUT_START":
            values = {
                "kind": ev.OUTGOING_STARTED,
                "direction": self._outgoing_direction(destination),
                "from_number": internal,
                "to_number": destination,
                "extension": internal,
            }
        elif event == "NOTIFY_OUT_END":
            # caller_id is the external CallerID in production, not the extension.
            values = {
                "direction": self._outgoing_direction(destination),
                "from_number": internal or caller_id,
                "to_number": destination,
                "extension": internal,
                **self._end_values(form),
            }
        else:  # NOTIFY_RECORD
            recording = form.get("call_id_with_rec", "").strip()
            if not recording:
                raise MalformedEventError("Missing field 'call_id_with_rec' in NOTIFY_RECORD")
            values = {
                "kind": ev.RECORDING_READY,
                # Only a guess from the id prefix; the call record already knows its direction.
                "direction": ev.OUTBOUND if pbx_call_id.startswith("out_") else ev.INBOUND,
                "recording_ref": recording,
            }
        return [CallEvent(**common, **values)]

    @staticmethod
    def _end_values(form):
        disposition = normalize_disposition(form.get("disposition"))
        recorded = form.get("is_recorded", "").strip() in ("1", "true")
        return {
            "kind": ev.ENDED if disposition == "answered" else ev.MISSED,
            "disposition": disposition,
            "duration": _int_or_none(form.get("duration")),
            "recording_ref": form.get("call_id_with_rec", "").strip() if recorded else "",
        }

    @staticmethod
    def _outgoing_direction(destination):
        return ev.INTERNAL if is_extension(destination) else ev.OUTBOUND

    @staticmethod
    def _answer_direction(caller_id, destination):
        if is_extension(caller_id):
            return ev.INTERNAL if is_extension(destination) else ev.OUTBOUND
        return ev.INBOUND

    def routing_reply(self, decision):
        """JSON answer to NOTIFY_START. Zadarma takes a single redirect target.

        See zadarma.md, section Routing reply.
        """
        reply = {}
        if decision.action == ev.REJECT:
            reply["redirect"] = "blacklist"  # Zadarma rejects with "busy"
        elif decision.action == ev.REDIRECT and decision.targets:
            reply["redirect"] = decision.targets[0]
            if decision.timeout is not None:
                # 0 = never return to the menu; otherwise Zadarma needs at least 3 s.
                timeout = int(decision.timeout)
                reply["return_timeout"] = 0 if timeout <= 0 else max(3, timeout)
            if decision.forward_number:
                if _FORWARD_NUMBER_RE.match(decision.forward_number):
                    reply["rewrite_forward_number"] = decision.forward_number
                else:
                    _logger.warning(
                        "Zadarma: forward number %r ignored (digits only expected)",
                        decision.forward_number,
                    )
        caller_name = " ".join((decision.caller_name or "").split())
        if caller_name:
            reply["caller_name"] = caller_name
        if not reply:
            return WebhookResponse()
        return WebhookResponse.json(reply)

    # -- REST ----------------------------------------------------------------------------------

    def _api(self, method, path, params=None):
        """Call ``path`` signed; return the JSON object of a successful answer."""
        params = dict(params or {})
        params.setdefault("format", "json")
        api_key = self._require("api_key", "Zadarma API key")
        api_secret = self._require("api_secret", "Zadarma API secret")
        headers = {"Authorization": auth_header(api_key, api_secret, path, params)}
        query = encode_params(params)
        url = self.base_url + path
        if method in ("GET", "DELETE"):
            response = self._request(method, f"{url}?{query}", headers=headers)
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._request(method, url, data=query, headers=headers)
        return self._payload(response)

    def _payload(self, response):
        """Map Zadarma's answer to a dict or a typed error.

        See zadarma.md, section REST errors and rate limits.
        """
        try:
            payload = response.json()
        except ValueError:
            payload = None
        message = ""
        if isinstance(payload, dict) and isinstance(payload.get("message"), str):
            message = payload["message"][:200]
        failed = isinstance(payload, dict) and payload.get("status") == "error"
        if response.status_code >= 400 or failed:
            status = response.status_code
            if message.strip().lower() == "auth error":
                raise AuthError(f"Zadarma: {message}", status_code=status)
            self._check_response(response, message)
            if "rate limit" in message.lower():
                raise RateLimitError(f"Zadarma: {message}", self._retry_after(response))
            raise PermanentError(f"Zadarma: {message or 'request failed'}", status_code=status)
        if not isinstance(payload, dict):
            raise PermanentError(
                f"Zadarma returned a non-JSON answer (HTTP {response.status_code})",
                status_code=response.status_code,
            )
        return payload

    def originate(self, extension, number, caller_id=None, request_ref=None):
        """Callback: Zadarma rings ``extension`` first, then ``number``. ``caller_id`` is the
        extension/SIP whose CallerID and recording rules apply. No call id is returned; the
        call shows up through NOTIFY_OUT_* webhooks."""
        extension = str(extension or "").strip()
        number = _DIALABLE_STRIP_RE.sub("", str(number or "")).lstrip("+")
        if not extension or not number:
            raise PermanentError("Click-to-call needs an extension and a number")
        params = {"from": extension, "to": number}
        if caller_id:
            params["sip"] = str(caller_id)
        payload = self._api("GET", "/v1/request/callback/", params)
        return OriginateResult(call_id="", raw=payload)

    def recording_link(self, recording_ref, call_id=None):
        """Temporary link to a recording, by its ``call_id_with_rec`` or, failing that, the
        first recording of the call ``call_id`` (``pbx_call_id``)."""
        params = {}
        if self.is_whole_call_ref(recording_ref):
            params["pbx_call_id"] = recording_ref[len(PBX_CALL_REF_PREFIX) :]
        elif recording_ref:
            params["call_id"] = recording_ref
        elif call_id:
            params["pbx_call_id"] = call_id
        else:
            raise PermanentError("No recording id or call id to fetch a recording for")
        lifetime = _int_or_none(self.config.get("recording_lifetime"))
        low, high = RECORDING_LIFETIME_RANGE
        params["lifetime"] = min(max(lifetime or RECORDING_LIFETIME_DEFAULT, low), high)
        payload = self._api("GET", "/v1/pbx/record/request/", params)
        link = payload.get("link")
        if not link and isinstance(payload.get("links"), list) and payload["links"]:
            link = payload["links"][0]
        if not link or not isinstance(link, str):
            raise PermanentError("Zadarma returned no recording link")
        try:
            expires_at = self._local_datetime(payload.get("lifetime_till"), "lifetime_till")
        except MalformedEventError:
            expires_at = None
        return RecordingLink(url=link, expires_at=expires_at)

    def list_extensions(self):
        """The PBX extensions (numbers only: names would cost one request each)."""
        payload = self._api("GET", "/v1/pbx/internal/")
        numbers = payload.get("numbers") or []
        return [Extension(extension=str(number)) for number in numbers]

    def call_history(self, start, end):
        """PBX statistics (version 2) between ``start`` and ``end``, paged by 1000 and split
        into 30-day windows. Beware: Zadarma allows only a few statistics calls a minute."""
        start, end = ensure_utc(start), ensure_utc(end)
        tz = self.account_timezone()
        calls = []
        waited, pages = 0.0, 0
        window_start = start
        while window_start < end:
            window_end = min(window_start + STATS_WINDOW, end)
            skip = 0
            while True:
                params = {
                    "start": window_start.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                    "end": window_end.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                    "version": 2,
                    "limit": STATS_PAGE_SIZE,
                    "skip": skip,
                }
                waited += self._wait_statistics_slot(started=pages > 0, waited=waited)
                payload = self._api("GET", "/v1/statistics/pbx/", params)
                pages += 1
                rows = payload.get("stats") or []
                calls.extend(self._history_call(row) for row in rows if isinstance(row, dict))
                if len(rows) < STATS_PAGE_SIZE:
                    break
                skip += STATS_PAGE_SIZE
            window_start = window_end
        return calls

    def _wait_statistics_slot(self, started, waited):
        """Take a statistics slot; within a read already under way (``started``), wait for
        it while the read's waits stay under ``STATS_HISTORY_WAIT``. Returns the seconds
        waited; raises ``RateLimitError`` otherwise."""
        slept = 0.0
        while True:
            try:
                self._take_statistics_slot()
                return slept
            except RateLimitError as refused:
                if not started or waited + slept + refused.retry_after > STATS_HISTORY_WAIT:
                    raise
                _logger.info(
                    "Zadarma: statistics budget spent, next page in %s s", refused.retry_after
                )
                time.sleep(refused.retry_after)
                slept += refused.retry_after

    def _take_statistics_slot(self):
        """Count a statistics request, or raise ``RateLimitError`` (with the seconds until
        one is allowed) when this key has spent its requests of the last minute."""
        key = (self.base_url, self.config.get("api_key") or "")
        now = time.monotonic()
        with _stats_requests_lock:
            sent = _stats_requests.setdefault(key, deque())
            while sent and sent[0] <= now - STATS_RATE_PERIOD:
                sent.popleft()
            if len(sent) >= STATS_PER_MINUTE:
                wait = int(sent[0] + STATS_RATE_PERIOD - now) + 1
                raise RateLimitError(
                    f"Zadarma: {STATS_PER_MINUTE} statistics requests a minute already sent",
                    wait,
                    kept=True,
                )
            sent.append(now)

    def _history_call(self, row):
        pbx_call_id = str(row.get("pbx_call_id") or "")
        clid = str(row.get("clid") or "")
        destination = str(row.get("destination") or "")
        if pbx_call_id.startswith("out_") or (pbx_call_id[:3] != "in_" and is_extension(clid)):
            direction = ev.INTERNAL if is_extension(destination) else ev.OUTBOUND
        else:
            direction = ev.INBOUND
        recorded = row.get("is_recorded") in (True, 1, "1", "true")
        try:
            started_at = self._local_datetime(str(row.get("callstart") or ""), "callstart")
        except MalformedEventError:
            started_at = None
        return HistoryCall(
            call_id=pbx_call_id or str(row.get("call_id") or ""),
            direction=direction,
            from_number=clid,
            to_number=destination,
            extension=str(row.get("sip") or ""),
            started_at=started_at,
            duration=_int_or_none(row.get("seconds")),
            disposition=normalize_disposition(str(row.get("disposition") or "")),
            # Statistics have no recording id: point at the whole call instead.
            recording_ref=self.whole_call_ref(pbx_call_id) if recorded and pbx_call_id else "",
        )

    def test_connection(self):
        payload = self._api("GET", "/v1/info/balance/")
        balance = payload.get("balance")
        currency = payload.get("currency") or ""
        if balance is None:
            return "Connected to Zadarma"
        return f"Connected to Zadarma, balance {balance} {currency}".rstrip()
