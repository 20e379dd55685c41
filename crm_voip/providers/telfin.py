"""Telfin (Telphin), REST API ver1.0.

We call ``{host}/api/ver1.0/...`` with an OAuth2 bearer token of a "trusted" application
(``POST {host}/oauth/token``, client credentials). Telfin posts its events per extension
and event type, to the URLs subscribed through ``/extension/{id}/event/``: we subscribe
``<webhook URL>/phone``, ``/ivr`` and ``/queue`` so that each event says what kind of
extension sent it. Events are form fields, in the query (GET) or the body (POST), and are
not signed. Facts and sources: __manifest_docs__/protocols/telfin.md.

The Odoo extension is the short number: Telfin writes extensions ``prefix*NNN@domain`` (or
``prefix*NNN``), the prefix being the client's own and the same for all its extensions; we
keep ``NNN``.
"""

import hashlib
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlsplit

from . import events as ev
from .base import ConfigField, ProviderAdapter, _lt
from .errors import (
    AuthError,
    MalformedEventError,
    PermanentError,
    RateLimitError,
    RetryableError,
)
from .events import CallEvent, Extension, HistoryCall, OriginateResult, RecordingLink
from .registry import register

API_PREFIX = "/api/ver1.0"
HOSTS = (
    # The Telphin Go SDK moved its constant from apiproxy to altapi in 2022.
    ("https://altapi.telphin.ru", "altapi.telphin.ru"),
    ("https://apiproxy.telphin.ru", "apiproxy.telphin.ru"),
)
DEFAULT_CLIENT = "@me"

# Extension types, and the events we subscribe on each (Telfin's recommended set).
PHONE, IVR, QUEUE = "phone", "ivr", "queue"
CALL_EVENT_TYPES = ("dial-in", "dial-out", "answer", "hangup")
WANTED_EVENTS = {PHONE: CALL_EVENT_TYPES, IVR: ("hangup",), QUEUE: ("hangup",)}
# Event types Telfin has that we never subscribe: acknowledged if they come anyway.
OTHER_EVENT_TYPES = frozenset({"message-in", "message-out", "voicemail"})
SUBSCRIPTION_METHOD = "POST"

# CallStatus of a hangup nobody answered → normalized outcome.
UNANSWERED_STATUS = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CANCEL": "cancel",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
}
# call_history ``result`` → normalized outcome.
HISTORY_RESULTS = {
    "answered": "answered",
    "bridged": "answered",
    "busy": "busy",
    "rejected": "busy",
    "failed": "failed",
    "not answered": "no_answer",
}
HISTORY_FORMAT = "%Y-%m-%d %H:%M:%S"
HISTORY_PAGE = 500
EXTENSION_PAGE = 100
MAX_PAGES = 200
# Seconds before a token's announced expiry at which we take a new one.
TOKEN_MARGIN = 60
# When the token answer gives no lifetime.
DEFAULT_TOKEN_LIFETIME = 300
# Telfin refuses a second concurrent call_history request; it is worth a short wait.
HISTORY_BUSY_RETRY = 5
HINT_CREDENTIALS = _lt(
    "Check the trusted application in Telfin's web account (its App ID and App Secret, "
    "and that it is not deleted) and the API host."
)
HINT_ACCESS = _lt(
    "The Telfin application may lack access: in Telfin's web account, give the trusted "
    "application the access level 'All'."
)
_HEX_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")

# Tokens by (host, client id, sha256 of the secret): shared by the adapters of a process.
_tokens = {}
_tokens_lock = threading.Lock()
# One call_history request at a time per account (host, client id) within a process:
# Telfin refuses a concurrent one, and a cron and an administrator may both ask.
_history_locks = {}
_history_locks_guard = threading.Lock()
# Seconds to wait for another history request of the account before giving up.
HISTORY_LOCK_WAIT = 10


def short_extension(value):
    """``NNN`` of Telfin's ``prefix*NNN@domain`` (or ``prefix*NNN``, or ``NNN``)."""
    value = (value or "").strip()
    value = value.split("@", 1)[0]
    return value.rsplit("*", 1)[-1].strip()


def full_name(value):
    """``prefix*NNN`` of ``prefix*NNN@domain``: how Telfin dials its own extensions."""
    return (value or "").strip().split("@", 1)[0]


def call_key(value):
    """A call id as we store it: Telfin's hex ids are lowercase in events and uppercase in
    the call history."""
    value = (value or "").strip()[:128]
    return value.lower() if _HEX_ID.fullmatch(value) else value


def _text(value, limit=128):
    return value.strip()[:limit] if isinstance(value, str) else ""


def _event_key(*parts):
    key = "|".join(str(part) for part in parts)
    if len(key) > ev.EVENT_KEY_MAX_LEN:
        # surrogatepass: a lone surrogate (refused later) must not fail the hashing.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{parts[0]}|sha256:{digest}"
    return key


def _micro_seconds(value):
    """Whole seconds of Telfin's microsecond counts (``Duration``)."""
    text = _text(value, 32)
    if not (text.isascii() and text.isdigit()):
        return None
    return int(round(int(text) / 1_000_000))


def _history_time(value):
    text = _text(value, 32)
    if not text:
        return None
    try:
        return datetime.strptime(text.split(".", 1)[0], HISTORY_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


@register("telfin")
class TelfinAdapter(ProviderAdapter):
    """Telfin (Telphin) cloud PBX.

    A call is keyed on ``CallID`` (kept across transfers), or on ``CallBackID`` for a
    click-to-call (it ties the call's legs); a leg on ``SubCallID``. A missed incoming call
    is the hang-up of the voice menu or queue with ``Bridged=no``.
    """

    name = "Telfin"
    label = _lt("Telfin")
    config_fields = (
        ConfigField(
            "client_id",
            _lt("App ID (client_id)"),
            _lt(
                "Telfin web account > API: the App ID of a 'trusted' application with access "
                "'All' (created at https://altapi.telphin.ru/app/register, logged in as the "
                "PBX administrator)."
            ),
            secret=True,
            required=True,
        ),
        ConfigField(
            "client_secret",
            _lt("App Secret (client_secret)"),
            _lt("The App Secret of the same trusted application."),
            secret=True,
            required=True,
        ),
        ConfigField(
            "api_host",
            _lt("API host"),
            _lt("Telfin's API server: altapi.telphin.ru unless Telfin told you otherwise."),
            kind="selection",
            choices=HOSTS,
            default=HOSTS[0][0],
        ),
        ConfigField(
            "client_account",
            _lt("Client id"),
            _lt(
                "The client part of the API paths: @me (the application's own client) or the "
                "client's number."
            ),
            default=DEFAULT_CLIENT,
        ),
    )
    has_call_history = True
    # GET (query) and POST (form) deliveries, as each subscription says.
    webhook_methods = ("GET", "POST")

    # -- configuration -------------------------------------------------------------------------

    @property
    def api_host(self):
        """The simulator's URL (the common ``base_url``) wins over the chosen host."""
        return (self.config.get("base_url") or self._setting("api_host")).rstrip("/")

    @property
    def client_path(self):
        client = str(self._setting("client_account") or DEFAULT_CLIENT).strip()
        return f"/client/{quote(client, safe='@')}"

    # -- webhooks ------------------------------------------------------------------------------

    @staticmethod
    def event_path(request):
        """The extension type the subscription's URL names (``phone``, ``ivr``, ``queue``)."""
        last = (request.path or "").rstrip("/").rsplit("/", 1)[-1]
        return last if last in WANTED_EVENTS else ""

    @staticmethod
    def _fields(request):
        """The event's fields: the query of a GET, the form body of a POST (parsed once)."""
        if request.method == "GET":
            return request.query
        if request.form:
            return request.form
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEventError("Telfin request body is not UTF-8") from None
        form = {}
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=60)
        except ValueError:
            raise MalformedEventError("Telfin request has too many form fields") from None
        for key, value in pairs:
            form.setdefault(key, value)
        request.form = form or dict(request.query)
        return request.form

    def verify(self, request):
        """Telfin signs nothing: the URL's token (checked by the controller) and the IP
        allow-list are all there is. What is not a Telfin call event is refused."""
        self.check_source(request.remote_addr)
        fields = self._fields(request)
        event_type = _text(fields.get("EventType"))
        if not event_type or not _text(fields.get("CallID")):
            raise MalformedEventError("Not a Telfin event: no EventType or CallID")
        if event_type not in CALL_EVENT_TYPES and event_type not in OTHER_EVENT_TYPES:
            raise MalformedEventError(f"Unknown Telfin event type {event_type[:32]!r}")
        path = self.event_path(request)
        if not path:
            raise MalformedEventError(f"Unknown Telfin event path {request.path[-64:]!r}")
        return f"unsigned (URL token), {event_type} on {path}"

    def _event_time(self, value, fallback):
        """``EventTime``: microseconds since 1970 as Telfin sends it; a local time string
        (``YYYY-MM-DD hh:mm:ss``, the account's zone) is read too."""
        text = _text(value, 32)
        if text.isascii() and text.isdigit():
            number = int(text)
            for scale in (1_000_000, 1_000, 1):  # µs, ms, s by magnitude
                if number >= 1e9 * scale:
                    break
            seconds = number / scale
            if 946684800 <= seconds <= 4102444800:  # 2000 to 2100
                return datetime.fromtimestamp(seconds, timezone.utc)
            return fallback
        if text:
            try:
                local = datetime.strptime(text[:19], HISTORY_FORMAT)
                return local.replace(tzinfo=self.account_timezone()).astimezone(timezone.utc)
            except (ValueError, OverflowError):  # OverflowError: year 1 shifted by the zone
                return fallback
        return fallback

    def parse(self, request):
        path = self.event_path(request)
        if not path:
            raise MalformedEventError(f"Unknown Telfin event path {request.path[-64:]!r}")
        fields = self._fields(request)
        event_type = _text(fields.get("EventType"))
        telfin_call = _text(fields.get("CallID"))
        if not event_type or not telfin_call:
            raise MalformedEventError("Not a Telfin event: no EventType or CallID")
        if event_type in OTHER_EVENT_TYPES:
            return []
        if event_type not in CALL_EVENT_TYPES:
            raise MalformedEventError(f"Unknown Telfin event type {event_type[:32]!r}")
        leg = _text(fields.get("SubCallID"))
        callback = _text(fields.get("CallBackID"))
        common = {
            "provider_call_id": call_key(callback or telfin_call),
            "leg_id": leg,
            "occurred_at": self._event_time(fields.get("EventTime"), request.received_at),
            "provider_event": f"{event_type} {path}",
            "raw": dict(fields),
        }
        key = _event_key(event_type, telfin_call, leg, path)
        status = _text(fields.get("CallStatus")).upper()
        if path != PHONE:
            return self._group_hangup(event_type, fields, status, key, common)
        flow = _text(fields.get("CallFlow")).lower()
        if not flow:
            flow = {"dial-in": "in", "dial-out": "out"}.get(event_type, "")
        if flow not in ("in", "out"):
            raise MalformedEventError("Field 'CallFlow' is not in or out")
        if flow == "in" and callback:
            return []  # a click-to-call ringing its own employee first
        if flow == "out" and _text(fields.get("Transfered")).lower() == "yes":
            return []  # an incoming call forwarded onwards: the incoming legs tell it
        if flow == "in":
            extension = short_extension(
                _text(fields.get("CalledExtension")) or _text(fields.get("CalledNumber"))
            )
            did = _text(fields.get("CalledDID"))
            values = {
                "direction": ev.INBOUND,
                "from_number": _text(fields.get("CallerIDNum")),
                "to_number": did or extension,
                "did": did,
                "extension": extension,
            }
        else:
            extension = short_extension(
                _text(fields.get("CallerExtension")) or _text(fields.get("CallerIDNum"))
            )
            values = {
                "direction": ev.OUTBOUND,
                "from_number": extension,
                "to_number": _text(fields.get("CalledNumber")),
                "extension": extension,
            }
        if event_type == "dial-in":
            if flow != "in":
                return []
            return [
                # Several phones rung give one start: keyed on the call.
                CallEvent(
                    kind=ev.CALL_STARTED,
                    event_key=_event_key("call-started", telfin_call),
                    **common,
                    **values,
                ),
                CallEvent(kind=ev.AGENT_RINGING, event_key=key, **common, **values),
            ]
        if event_type == "dial-out":
            return [CallEvent(kind=ev.OUTGOING_STARTED, event_key=key, **common, **values)]
        if event_type == "answer":
            return [CallEvent(kind=ev.ANSWERED, event_key=key, **common, **values)]
        return self._phone_hangup(fields, flow, status, key, common, values)

    def _phone_hangup(self, fields, flow, status, key, common, values):
        """A phone's leg is over. Answered: the call's talk (and its recording). Not
        answered: an outgoing call ends; an incoming one may still ring elsewhere, the
        voice menu's or queue's hang-up ends it."""
        if status == "ANSWER":
            events = [
                CallEvent(
                    kind=ev.ENDED,
                    event_key=key,
                    disposition="answered",
                    duration=_micro_seconds(fields.get("Duration")),
                    **common,
                    **values,
                )
            ]
            record = _text(fields.get("RecID"), 255)
            if record:
                events.append(
                    CallEvent(
                        kind=ev.RECORDING_READY,
                        event_key=_event_key("record", record),
                        recording_ref=record,
                        **common,
                        **values,
                    )
                )
            return events
        if flow == "out":
            return [
                CallEvent(
                    kind=ev.ENDED,
                    event_key=key,
                    disposition=UNANSWERED_STATUS.get(status, "failed"),
                    duration=0,
                    **common,
                    **values,
                )
            ]
        return []

    def _group_hangup(self, event_type, fields, status, key, common):
        """A voice menu or queue: only its hang-up matters. ``Bridged=no``: nobody took
        the call, a missed call; ``yes``: the phone's own hang-up told the talk."""
        if event_type != "hangup":
            return []
        if _text(fields.get("Bridged")).lower() != "no":
            return []
        did = _text(fields.get("CalledDID"))
        # The menu's leg lasts the whole call: its duration dates the call's start, which
        # the phones' first dial-in comes after.
        waited = _micro_seconds(fields.get("Duration"))
        started = common["occurred_at"] - timedelta(seconds=waited) if waited else None
        return [
            CallEvent(
                kind=ev.MISSED,
                call_started_at=started,
                event_key=key,
                direction=ev.INBOUND,
                from_number=_text(fields.get("CallerIDNum")),
                to_number=did or short_extension(_text(fields.get("CalledExtension"))),
                did=did,
                disposition=UNANSWERED_STATUS.get(status, "no_answer"),
                duration=0,
                **common,
            )
        ]

    # -- OAuth2 --------------------------------------------------------------------------------

    def _token_key(self):
        client_id = self._require("client_id", "Telfin App ID")
        secret = self._require("client_secret", "Telfin App Secret")
        return (self.api_host, client_id, hashlib.sha256(secret.encode()).hexdigest())

    def _token(self):
        """The cached bearer token, or a new one (client credentials grant)."""
        key = self._token_key()
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            response = self._request(
                "POST",
                f"{self.api_host}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.config["client_id"],
                    "client_secret": self.config["client_secret"],
                },
            )
            try:
                payload = response.json()
            except ValueError:
                payload = None
            token = payload.get("access_token") if isinstance(payload, dict) else None
            if response.status_code >= 400 or not token:
                self._raise(response, "refused the application's credentials", HINT_CREDENTIALS)
            try:
                lifetime = int(payload.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
            except (TypeError, ValueError):
                lifetime = DEFAULT_TOKEN_LIFETIME
            _tokens[key] = (token, time.monotonic() + max(lifetime - TOKEN_MARGIN, 1))
            return token

    def _drop_token(self):
        with _tokens_lock:
            _tokens.pop(self._token_key(), None)

    def _vendor_error(self, response):
        """Telfin's own words: ``message``, or OAuth's ``error`` and its description."""
        try:
            payload = response.json()
        except ValueError:
            return ""
        if not isinstance(payload, dict):
            return ""
        parts = [payload.get(name) for name in ("message", "error", "error_description")]
        return ": ".join(part for part in parts if isinstance(part, str) and part)[:200]

    def _raise(self, response, what, hint=""):
        """Map a refused answer to a typed error carrying Telfin's own message."""
        status = response.status_code
        vendor = self._vendor_error(response)
        detail = f"Telfin {what}" + (f": {vendor}" if vendor else "") + f" (HTTP {status})"
        if status in (401, 403) or (hint and status == 400):
            # A refused grant is a 400 or 401 in OAuth2; a refused token a 401.
            hint = hint or (HINT_ACCESS if status == 403 else HINT_CREDENTIALS)
            raise AuthError(detail, status_code=status, hint=hint)
        if status == 429:
            raise RateLimitError(detail, self._retry_after(response), status_code=status)
        if status >= 500:
            raise RetryableError(detail, status_code=status)
        raise PermanentError(detail, status_code=status)

    # -- REST ----------------------------------------------------------------------------------

    def _api(self, method, path, *, params=None, json=None, stream=False, what="refused"):
        """``method`` on ``/api/ver1.0<path>`` with the bearer token; a 401 drops the token
        and tries once more with a new one. Returns the successful response."""
        url = f"{self.api_host}{API_PREFIX}{path}"
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}"}
            response = self._request(
                method, url, params=params, json=json, headers=headers, stream=stream
            )
            if response.status_code == 401 and attempt == 1:
                self._drop_token()
                continue
            break
        if response.status_code >= 400:
            self._raise(response, what)
        return response

    def _json(self, response, expected):
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, expected):
            raise PermanentError("Telfin returned an unreadable answer")
        return payload

    def _extensions(self):
        """Every extension of the client, as Telfin gives them (``id``, ``name``, ``type``,
        ``label``...), page after page."""
        found, seen = [], set()
        for page in range(1, MAX_PAGES + 1):
            response = self._api(
                "GET",
                f"{self.client_path}/extension/",
                params={"page": page, "per_page": EXTENSION_PAGE},
                what="refused the extension list",
            )
            rows = [row for row in self._json(response, list) if isinstance(row, dict)]
            fresh = [row for row in rows if row.get("id") not in seen]
            seen.update(row.get("id") for row in rows)
            found.extend(fresh)
            # A short page is the last; an API that ignores paging repeats itself.
            if len(rows) < EXTENSION_PAGE or not fresh:
                break
        return found

    def list_extensions(self):
        """The client's phone extensions, by short number, named by their label."""
        extensions = []
        for row in self._extensions():
            if _text(row.get("type")) != PHONE:
                continue
            number = short_extension(_text(row.get("name")))
            if number:
                label = _text(row.get("label"), 255)
                extensions.append(Extension(extension=number, name=label or number))
        return extensions

    def _phone(self, extension):
        """Telfin's record of the phone extension ``NNN``."""
        for row in self._extensions():
            name = _text(row.get("name"))
            if _text(row.get("type")) == PHONE and short_extension(name) == extension:
                return row
        raise PermanentError(f"Telfin has no phone extension {extension}")

    def originate(self, extension, number, caller_id=None, request_ref=None):
        """``/extension/{id}/callback/``: Telfin rings the employee's extension, then the
        number. It cannot carry Odoo's id: the call is found by extension and number."""
        extension = short_extension(str(extension or ""))
        raw = str(number or "").strip()
        digits = "".join(char for char in raw if char.isdigit())
        if not extension or not digits:
            raise PermanentError("Click-to-call needs an extension and a number")
        phone = self._phone(extension)
        payload = {
            "src_num": [full_name(_text(phone.get("name")))],
            "dst_num": f"+{digits}" if raw.startswith("+") else digits,
        }
        if caller_id:
            payload["dst_ani"] = "".join(char for char in str(caller_id) if char.isdigit())
        response = self._api(
            "POST",
            f"/extension/{phone.get('id')}/callback/",
            json=payload,
            what="refused the call",
        )
        answer = self._json(response, dict)
        call_id = _text(answer.get("call_id")) or _text(answer.get("call_api_id"))
        return OriginateResult(call_id=call_key(call_id), raw=answer)

    def recording_link(self, recording_ref, call_id=None):
        """``record/{record_uuid}/storage_url/`` (a link to Telfin's storage); without one,
        the file endpoint itself, read with our token."""
        if not recording_ref:
            raise PermanentError("Telfin names every recording: no record id given")
        record = f"{self.client_path}/record/{quote(recording_ref, safe='')}/"
        try:
            response = self._api("GET", f"{record}storage_url/", what="has no such recording")
        except PermanentError as error:
            if error.status_code != 404:
                raise
            return RecordingLink(url=f"{self.api_host}{API_PREFIX}{record}")
        url = _text(self._json(response, dict).get("record_url"), 2048)
        if not url:
            raise PermanentError("Telfin gave no recording link")
        return RecordingLink(url=url)

    #: Where ``storage_url`` points (``record_url``).
    recording_hosts = ("storage.telphin.ru",)

    def download_hosts(self):
        return super().download_hosts() | {urlsplit(self.api_host).hostname or ""} - {""}

    def _download_headers(self, url):
        """Our own API's file endpoint wants the bearer token; storage links do not."""
        if url.startswith(f"{self.api_host}{API_PREFIX}/"):
            return {"Authorization": f"Bearer {self._token()}"}
        return {}

    def call_history(self, start, end):
        """``call_history`` between ``start`` and ``end`` (UTC), page after page. Telfin
        serves one such request at a time: a concurrent one is a short ``RateLimitError``."""
        start, end = ev.ensure_utc(start), ev.ensure_utc(end)
        lock = self._history_lock()
        if not lock.acquire(timeout=HISTORY_LOCK_WAIT):
            raise RateLimitError(
                "Telfin: another call history request of this account is running",
                HISTORY_BUSY_RETRY,
            )
        try:
            return self._call_history(start, end)
        finally:
            lock.release()

    def _history_lock(self):
        key = (self.api_host, self._token_key()[1])
        with _history_locks_guard:
            return _history_locks.setdefault(key, threading.Lock())

    def _call_history(self, start, end):
        calls = []
        for page in range(1, MAX_PAGES + 1):
            params = {
                "start_datetime": start.strftime(HISTORY_FORMAT),
                "end_datetime": end.strftime(HISTORY_FORMAT),
                "page": page,
                "per_page": HISTORY_PAGE,
                "order": "asc",
            }
            try:
                response = self._api(
                    "GET",
                    f"{self.client_path}/call_history/",
                    params=params,
                    what="refused the call history",
                )
            except RateLimitError as error:
                if "already exists" in error.message:
                    raise RateLimitError(
                        error.message, HISTORY_BUSY_RETRY, status_code=error.status_code
                    ) from None
                raise
            payload = self._json(response, dict)
            rows = payload.get("call_history") or []
            calls.extend(self._history_call(row) for row in rows if isinstance(row, dict))
            if len(rows) < HISTORY_PAGE:
                break
        return [call for call in calls if call is not None]

    @staticmethod
    def _history_call(row):
        call_id = call_key(_text(row.get("call_uuid")))
        if not call_id:
            return None
        flow = _text(row.get("flow")).lower()
        direction = {"in": ev.INBOUND, "out": ev.OUTBOUND}.get(flow, ev.INTERNAL)
        legs = [leg for leg in row.get("cdr") or [] if isinstance(leg, dict)]
        phones = [leg for leg in legs if _text(leg.get("extension_type")) == PHONE]
        answered_phone = next(
            (leg for leg in phones if _text(leg.get("result")) == "answered"), None
        )
        outcome = HISTORY_RESULTS.get(_text(row.get("result")).lower(), "failed")
        if outcome == "no_answer" and _text(row.get("hangup_disposition")) == "caller_cancel":
            outcome = "cancel"
        if direction == ev.OUTBOUND:
            extension = short_extension(_text(row.get("from_username")))
            numbers = {
                "from_number": extension,
                "to_number": _text(row.get("dest_number")) or _text(row.get("to_username")),
            }
        else:
            owner = answered_phone or {}
            extension = short_extension(_text(owner.get("extension_name")))
            numbers = {
                "from_number": _text(row.get("from_username")),
                "to_number": _text(row.get("did_number")) or _text(row.get("to_username")),
            }
        records = [_text(leg.get("record_uuid"), 255) for leg in phones]
        record = next((uuid for uuid in records if uuid), "")
        try:
            talk = int(row.get("bridged_duration") or 0)
        except (TypeError, ValueError):
            talk = 0
        return HistoryCall(
            call_id=call_id,
            direction=direction,
            extension=extension,
            started_at=_history_time(row.get("init_time_gmt") or row.get("start_time_gmt")),
            duration=talk if outcome == "answered" else 0,
            disposition=outcome,
            recording_ref=record,
            **numbers,
        )

    # -- event subscriptions ---------------------------------------------------------------

    @staticmethod
    def _ours(url, webhook_url):
        return url == webhook_url or url.startswith(webhook_url + "/")

    def _subscriptions(self, extension_id):
        response = self._api(
            "GET", f"/extension/{extension_id}/event/", what="refused the event list"
        )
        return [row for row in self._json(response, list) if isinstance(row, dict)]

    def subscribe_events(self, webhook_url):
        """For every extension, the events Telfin recommends (all four on phones, the
        hang-up on voice menus and queues) to ``<webhook_url>/<type>`` by POST: ours that
        are right are kept, ours that are not are deleted, the missing ones created.
        Subscriptions of other URLs (another system, another token) are left alone."""
        webhook_url = webhook_url.rstrip("/")
        report = ev.SubscriptionReport()
        skipped = []
        used = 0
        for row in self._extensions():
            kind = _text(row.get("type"))
            number = short_extension(_text(row.get("name"))) or str(row.get("id"))
            if kind not in WANTED_EVENTS:
                continue
            report.extensions += 1
            url = f"{webhook_url}/{kind}"
            missing = list(WANTED_EVENTS[kind])
            for subscription in self._subscriptions(row.get("id")):
                target = _text(subscription.get("url"), 2048)
                if not self._ours(target, webhook_url):
                    used += 1
                    continue
                event_type = _text(subscription.get("event_type"))
                method = _text(subscription.get("method")).upper()
                if target == url and method == SUBSCRIPTION_METHOD and event_type in missing:
                    missing.remove(event_type)
                    report.kept += 1
                    used += 1
                    continue
                self._api(
                    "DELETE",
                    f"/extension/{row.get('id')}/event/{subscription.get('id')}",
                    what="refused to delete an event subscription",
                )
                report.removed += 1
            for event_type in missing:
                try:
                    self._api(
                        "POST",
                        f"/extension/{row.get('id')}/event/",
                        json={"url": url, "method": SUBSCRIPTION_METHOD, "event_type": event_type},
                        what="refused an event subscription",
                    )
                except PermanentError as error:
                    skipped.append(f"{number} {event_type}: {error.message}")
                    continue
                report.created += 1
                used += 1
        report.used = used
        report.limit = self._subscription_limit()
        report.skipped = tuple(skipped)
        return report

    def unsubscribe_events(self, webhook_url):
        """Delete the subscriptions of ``webhook_url`` (and below) on every extension."""
        webhook_url = webhook_url.rstrip("/")
        removed = 0
        for row in self._extensions():
            for subscription in self._subscriptions(row.get("id")):
                if self._ours(_text(subscription.get("url"), 2048), webhook_url):
                    self._api(
                        "DELETE",
                        f"/extension/{row.get('id')}/event/{subscription.get('id')}",
                        what="refused to delete an event subscription",
                    )
                    removed += 1
        return removed

    def _subscription_limit(self):
        """The client's limit of event subscriptions (``/limit/``), or ``None``. Its shape
        is not documented publicly: the first whole number named after events is taken."""
        try:
            response = self._api("GET", f"{self.client_path}/limit/", what="has no limits")
        except PermanentError:
            return None
        try:
            payload = response.json()
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        for name, value in payload.items():
            if "event" not in str(name).lower():
                continue
            if isinstance(value, dict):
                value = next((value[k] for k in ("limit", "max", "value") if k in value), None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    def test_connection(self):
        """A token, then the extension list."""
        extensions = self._extensions()
        phones = sum(1 for row in extensions if _text(row.get("type")) == PHONE)
        return f"Connected to Telfin, {len(extensions)} extensions ({phones} phones)"
