"""UIS / CoMagic (and CallGear, the same platform under its international brand).

UIS has no webhook protocol of its own: the customer writes, in UIS's web account, one HTTP
notification per event type with a body template of ``{{placeholders}}``. We ship those
templates (``notification_templates``): JSON bodies that name our event kind and hold the
account's secret. UIS substitutes the values raw, so the parser is lenient. Outgoing, the
Call API (click-to-call) and the Data API (employees, call history, recordings) are JSON-RPC
2.0 with an access token. Facts and sources: __manifest_docs__/protocols/uis.md.
"""

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

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
from .events import (
    CallEvent,
    Extension,
    HistoryCall,
    NotificationTemplate,
    OriginateResult,
    RecordingLink,
)
from .registry import register

PLATFORMS = (
    ("uiscom.ru", "UIS (uiscom.ru)"),
    ("comagic.ru", "CoMagic (comagic.ru)"),
    ("callgear.com", "CallGear (callgear.com)"),
)
CALL_API_VERSION = "v4.0"
DATA_API_VERSION = "v2.0"

# -- the notification templates -------------------------------------------------------------

# Every body names its kind: the parser never has to trust UIS's own mnemonic.
EVENT_FIELD = "event"
SECRET_FIELD = "secret"
# Placeholders of each template, in body order (after "event"; "secret" closes the body).
# ``external_id`` is our click-to-call's id, echoed by UIS on the calls it places.
TEMPLATE_FIELDS = {
    ev.CALL_STARTED: (
        "call_session_id",
        "virtual_phone_number",
        "contact_phone_number",
        "notification_time",
    ),
    ev.AGENT_RINGING: (
        "call_session_id",
        "leg_id",
        "employee_id",
        "direction",
        "virtual_phone_number",
        "contact_phone_number",
        "external_id",
        "notification_time",
    ),
    ev.ANSWERED: (
        "call_session_id",
        "leg_id",
        "employee_id",
        "direction",
        "virtual_phone_number",
        "contact_phone_number",
        "external_id",
        "notification_time",
    ),
    ev.ENDED: (
        "call_session_id",
        "employee_id",
        "direction",
        "virtual_phone_number",
        "contact_phone_number",
        "external_id",
        "talk_time_duration",
        "total_time_duration",
        "wait_time_duration",
        "finish_reason",
        "notification_time",
    ),
    ev.MISSED: (
        "call_session_id",
        "employee_id",
        "direction",
        "virtual_phone_number",
        "contact_phone_number",
        "total_time_duration",
        "wait_time_duration",
        "finish_reason",
        "notification_time",
    ),
    ev.OUTGOING_STARTED: (
        "call_session_id",
        "employee_id",
        "virtual_phone_number",
        "contact_phone_number",
        "external_id",
        "notification_time",
    ),
    ev.RECORDING_READY: (
        "call_session_id",
        "communication_id",
        "employee_id",
        "external_id",
        "file_link",
        "file_duration",
        "notification_time",
    ),
}
# What each template is, in UIS's own words (its event type to choose), for the form.
TEMPLATE_TITLES = {
    ev.CALL_STARTED: _lt("Inbound call on a virtual number"),
    ev.AGENT_RINGING: _lt("Waiting for the answer (an employee is being rung)"),
    ev.ANSWERED: _lt("Talk started"),
    ev.ENDED: _lt("Call finished"),
    ev.MISSED: _lt("Lost call"),
    ev.OUTGOING_STARTED: _lt("Outbound call"),
    ev.RECORDING_READY: _lt("Call recording completed"),
}
TEMPLATE_HELP = _lt(
    "In UIS's web account, open Notifications and add one notification of this event type: "
    "method POST, the URL and the body below, pasted as they are."
)

# Data API ``finish_reason`` of a call nobody answered → normalized outcome.
FINISH_DISPOSITIONS = {
    "subscriber_disconnects": "cancel",
    "operator_busy": "busy",
    "employee_busy": "busy",
    "numa_in_black_list": "failed",
    "no_money": "failed",
    "sip_offline": "failed",
}
DIRECTIONS = {"in": ev.INBOUND, "out": ev.OUTBOUND}

# -- JSON-RPC errors ----------------------------------------------------------------------

TOKEN_ERROR = -32001
IP_NOT_WHITELISTED = -32003
COMPONENT_DISABLED = -32008
ACCOUNT_INACTIVE = -32009
LIMIT_EXCEEDED = -32029
INTERNAL_ERROR = -32603
LIMIT_MNEMONICS = frozenset({"limit_exceeded", "data_limit_exceeded"})
IP_HINT = _lt(
    "UIS accepts API requests only from allowed IP addresses. In UIS's web account, open "
    "Administrator > Account > Rules and security settings > API and add this Odoo server's "
    "public IP address."
)
TOKEN_HINT = _lt(
    "Check the UIS login and password, or the permanent access key (UIS's web account: "
    "Administrator > Users > the user > API access by key)."
)
COMPONENT_HINT = _lt(
    "Enable the API options (Call API, Data API) in UIS's web account: Administrator > "
    "Account > Tariffs and options."
)
ACCOUNT_HINT = _lt("The UIS account is inactive (blocked or out of money).")
NO_NUMBER_HINT = _lt(
    "Fill in the virtual number clients see on the UIS account in Odoo (a number of UIS's "
    "web account: Virtual numbers)."
)

# Tokens of ``login.user`` by (API URL, login, SHA-256 of the password): every adapter of
# the process shares them, so a click-to-call does not log in again each time.
_TOKENS = {}
_TOKENS_LOCK = threading.Lock()
TOKEN_EARLY_REFRESH = 60  # seconds before ``expire_at``
# The Data API serves at most 3 months per report; we ask month by month.
REPORT_WINDOW = timedelta(days=30)
REPORT_PAGE = 1000
REPORT_FIELDS = (
    "id",
    "start_time",
    "finish_time",
    "finish_reason",
    "direction",
    "is_lost",
    "contact_phone_number",
    "virtual_phone_number",
    "communication_id",
    "talk_duration",
    "call_records",
    "employees",
    "ext_id",
)
UIS_TIME = "%Y-%m-%d %H:%M:%S"
_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?$")
_PLACEHOLDER_RE = re.compile(r"^\{\{\s*[\w.]*\s*\}\}$")
_MEDIA_PATH_RE = re.compile(r"/system/media/(?:talk|wav)/(\d+)/([A-Za-z0-9_-]+)/?$")
_RECORDING_PAIR_RE = re.compile(r"^(\d+)/([A-Za-z0-9_-]+)$")
# Unix times outside 2000..2100 are mistakes; above, milliseconds.
_UNIX_RANGE = (946684800, 4102444800)
# A call's length beyond a week is no length (it would also overflow the time arithmetic).
MAX_CALL_SECONDS = 7 * 86400


# -- lenient reading of a rendered template ---------------------------------------------------


def _clean(value):
    """A value as text: ``None``, ``null``, an unsubstituted ``{{x}}`` and quotes UIS (or a
    template edited by hand) put around it removed."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return ""
    text = str(value).strip()
    while len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    if text.lower() in ("null", "none") or _PLACEHOLDER_RE.match(text):
        return ""
    return text


_FIELD_START_RE = re.compile(r'[{,]\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*:')


def _tolerant_fields(text):
    """Key/value pairs of a JSON-ish body that ``json`` refused: values left unquoted or
    empty (``"a":,``), doubled quotes, quotes inside a name. A value runs up to the next
    ``, "name":``, so a stray quote inside it stays in it."""
    matches = list(_FIELD_START_RE.finditer(text))
    values = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        raw = text[match.end() : end].strip()
        if index + 1 == len(matches):
            raw = raw.removesuffix("}").rstrip()
        values.setdefault(match.group(1), raw.removesuffix(",").strip())
    return values


def read_notification(body):
    """The fields of a notification body as text (JSON first, else the tolerant reader)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedEventError("UIS notification body is not UTF-8") from None
    try:
        payload = json.loads(text)
    except RecursionError:
        raise MalformedEventError("UIS notification body is nested too deeply") from None
    except ValueError:
        payload = _tolerant_fields(text)
        if not payload:
            raise MalformedEventError("UIS notification body is neither JSON nor ours") from None
    if not isinstance(payload, dict):
        raise MalformedEventError("UIS notification body is not a JSON object")
    return {str(key): _clean(value) for key, value in payload.items()}


def _int(value):
    text = _clean(value)
    try:
        return int(float(text)) if text else None
    except (TypeError, ValueError, OverflowError):
        return None


def _digits(value):
    return "".join(char for char in str(value or "") if char.isdigit())


def parse_uis_time(value, tzinfo):
    """``YYYY-MM-DD hh:mm:ss[.ffffff]`` in the account's zone, or Unix seconds/ms, as aware
    UTC; ``None`` when empty or unreadable."""
    text = _clean(value)
    if not text:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        seconds = float(text)
        if seconds > _UNIX_RANGE[1]:
            seconds /= 1000.0
        if not _UNIX_RANGE[0] <= seconds <= _UNIX_RANGE[1]:
            return None
        return datetime.fromtimestamp(seconds, timezone.utc)
    match = _TIME_RE.match(text)
    if not match:
        return None
    date_part, time_part, fraction = match.groups()
    try:
        moment = datetime.strptime(f"{date_part} {time_part}", UIS_TIME)
        if fraction:
            moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
        return moment.replace(tzinfo=tzinfo).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted by the zone
        return None


def unanswered_disposition(finish_reason):
    """The outcome of a call nobody answered, from UIS's ``finish_reason``."""
    return FINISH_DISPOSITIONS.get(_clean(finish_reason), "no_answer")


def _event_key(*parts):
    key = "|".join(str(part) for part in parts)
    if len(key) > ev.EVENT_KEY_MAX_LEN:
        # surrogatepass: a lone surrogate (refused later) must not fail the hashing.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{parts[0]}|sha256:{digest}"
    return key


def forget_tokens():
    """Drop every cached ``login.user`` token (tests; a changed password drops its own)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


@register("uis")
class UisAdapter(ProviderAdapter):
    """UIS / CoMagic / CallGear.

    A call is keyed on ``call_session_id``; an Odoo extension is a UIS employee id. The
    notification bodies are ours (``notification_templates``), authenticated by the
    account's secret they hold and by the webhook URL's token.
    """

    name = "UIS"
    label = _lt("UIS / CoMagic")
    config_fields = (
        ConfigField(
            "platform",
            _lt("Platform"),
            _lt(
                "Where the account lives: UIS (uiscom.ru), CoMagic (comagic.ru) or CallGear "
                "(callgear.com). Accounts of one are not valid on the others."
            ),
            kind="selection",
            choices=PLATFORMS,
            default="uiscom.ru",
        ),
        ConfigField(
            "access_key",
            _lt("Permanent access key"),
            _lt(
                "UIS's web account: Administrator > Users > the API user > \"API access by "
                'key": the key. Either it, or the login and password below.'
            ),
            secret=True,
        ),
        ConfigField(
            "login",
            _lt("API login"),
            _lt(
                "The login of a UIS user allowed to use the API (Administrator > Users), "
                "when no permanent key is given; Odoo logs in and renews the one-hour token."
            ),
        ),
        ConfigField(
            "password",
            _lt("API password"),
            _lt("The password of that UIS user."),
            secret=True,
        ),
        ConfigField(
            "notification_secret",
            _lt("Notification secret"),
            _lt(
                "Generated by Odoo and written into every notification template below: UIS "
                "sends it back with each event. Changing it means pasting the templates again."
            ),
            secret=True,
            generated=True,
        ),
        ConfigField(
            "virtual_number",
            _lt("Virtual number shown"),
            _lt(
                "The virtual number (UIS's web account: Virtual numbers; digits, e.g. "
                "74951234567) clients see when Odoo places a call."
            ),
        ),
    )
    # UIS reports "recording completed" once the file is there.
    recording_fetch_delay = 5
    whole_call_ref_prefix = "session:"
    has_call_history = True

    # -- hosts -----------------------------------------------------------------------------

    @property
    def _domain(self):
        return self._setting("platform") or "uiscom.ru"

    def _api_url(self, api):
        """``callapi``/``dataapi``'s URL; below the common base URL when one is set (the
        simulator serves both there)."""
        version = CALL_API_VERSION if api == "callapi" else DATA_API_VERSION
        if self.config.get("base_url"):
            return f"{self.base_url}/{api}/{version}"
        return f"https://{api}.{self._domain}/{version}"

    @property
    def media_url(self):
        """Where recordings are served: ``https://app.<domain>`` (or the base URL)."""
        return self.base_url if self.config.get("base_url") else f"https://app.{self._domain}"

    def download_hosts(self):
        return super().download_hosts() | {urlsplit(self.media_url).hostname or ""} - {""}

    # -- notification templates ------------------------------------------------------------

    def notification_templates(self, webhook_url):
        """The seven notifications to create in UIS's web account, the account's secret in
        each body. Values are quoted: UIS substitutes them raw."""
        secret = self.config.get("notification_secret") or ""
        templates = []
        for kind, fields in TEMPLATE_FIELDS.items():
            lines = [f'"{EVENT_FIELD}":"{kind}"']
            lines += [f'"{name}":"{{{{{name}}}}}"' for name in fields]
            lines.append(f'"{SECRET_FIELD}":"{secret}"')
            body = "{\n  " + ",\n  ".join(lines) + "\n}"
            templates.append(
                NotificationTemplate(
                    key=kind,
                    title=TEMPLATE_TITLES[kind],
                    method="POST",
                    url=webhook_url,
                    body=body,
                    help=TEMPLATE_HELP,
                )
            )
        return templates

    # -- webhooks --------------------------------------------------------------------------

    @staticmethod
    def _fields(request):
        """The notification's fields, read once per request (``verify`` and ``parse``)."""
        cached = getattr(request, "_uis_fields", None)
        if cached is not None:
            return cached
        if request.body.strip():
            fields = read_notification(request.body)
        else:  # a GET notification: the template is the query string
            fields = {
                key: _clean(value) for key, value in {**request.query, **request.form}.items()
            }
        request._uis_fields = fields
        return fields

    def verify(self, request):
        """The body must hold this account's notification secret (compared in constant
        time); the URL's token was checked by the controller already."""
        self.check_source(request.remote_addr)
        expected = self.config.get("notification_secret") or ""
        if not expected:
            raise SignatureError("UIS notification secret is not configured")
        fields = self._fields(request)
        given = fields.get(SECRET_FIELD, "")
        if not given:
            raise SignatureError("UIS notification carries no secret")
        # "replace": a lone surrogate (a JSON escape) is no secret, and no 500 either.
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
            raise SignatureError("UIS notification secret does not match")
        kind = fields.get(EVENT_FIELD, "")
        if kind not in TEMPLATE_FIELDS:
            raise MalformedEventError(f"Unknown UIS notification event {kind[:40]!r}")
        return f"secret ok, {kind}"

    def parse(self, request):
        fields = self._fields(request)
        kind = fields.get(EVENT_FIELD, "")
        if kind not in TEMPLATE_FIELDS:
            raise MalformedEventError(f"Unknown UIS notification event {kind[:40]!r}")
        session = _digits(fields.get("call_session_id")) or fields.get("call_session_id", "")
        if not session or len(session) > 64:
            raise MalformedEventError("Missing field 'call_session_id'")
        tzinfo = self.account_timezone()
        occurred = parse_uis_time(fields.get("notification_time"), tzinfo) or request.received_at
        employee = _digits(fields.get("employee_id"))
        contact = fields.get("contact_phone_number", "")[:64]
        virtual = fields.get("virtual_phone_number", "")[:64]
        direction = DIRECTIONS.get(fields.get("direction", "").lower())
        raw = {key: value for key, value in fields.items() if key != SECRET_FIELD}
        common = {
            "provider_call_id": session,
            "occurred_at": occurred,
            "provider_event": kind,
            "origin_ref": fields.get("external_id", "")[:128],
            "raw": raw,
        }
        leg = fields.get("leg_id", "")[:64]
        if kind == ev.RECORDING_READY:
            recording_ref = self._recording_ref(fields.get("file_link", ""), session)
            return [
                CallEvent(
                    kind=kind,
                    event_key=_event_key(kind, session, recording_ref),
                    direction=direction or ev.INBOUND,  # the call knows its own
                    extension=employee,
                    recording_ref=recording_ref,
                    **common,
                )
            ]
        if kind == ev.OUTGOING_STARTED or direction == ev.OUTBOUND:
            numbers = {
                "direction": ev.OUTBOUND,
                "from_number": employee,
                "to_number": contact,
                "extension": employee,
            }
        else:
            numbers = {
                "direction": ev.INBOUND,
                "from_number": contact,
                "to_number": virtual,
                "did": virtual,
                "extension": employee,
            }
        values = {}
        if kind in (ev.AGENT_RINGING, ev.ANSWERED):
            if not employee:
                raise MalformedEventError(f"UIS {kind} notification names no employee_id")
            values["leg_id"] = leg
            key = _event_key(kind, session, leg or employee)
        elif kind in (ev.ENDED, ev.MISSED):
            talk = _int(fields.get("talk_time_duration")) or 0
            if kind == ev.ENDED and talk > 0:
                values.update(disposition="answered", duration=talk)
            else:
                kind = ev.MISSED
                values.update(
                    disposition=unanswered_disposition(fields.get("finish_reason")), duration=0
                )
                numbers["extension"] = employee if numbers["direction"] == ev.OUTBOUND else ""
            total = _int(fields.get("total_time_duration"))
            if total and 0 < total <= MAX_CALL_SECONDS:
                values["call_started_at"] = occurred - timedelta(seconds=total)
            key = _event_key(fields[EVENT_FIELD], session)
        else:  # CALL_STARTED, OUTGOING_STARTED
            key = _event_key(kind, session)
        return [CallEvent(kind=kind, event_key=key, **common, **numbers, **values)]

    def _recording_ref(self, file_link, session):
        """What names a recording: UIS's ``communication_id/record`` pair when the link is
        the documented media URL, the link itself when it is https on UIS's own domain,
        else the whole call (resolved through the Data API)."""
        link = _clean(file_link)
        try:
            parts = urlsplit(link) if link else None
            host = (parts.hostname or "").lower() if parts else ""
        except ValueError:  # not a URL ("Invalid IPv6 URL", a bad port): not UIS's link
            parts = None
        if parts and parts.scheme in ("http", "https"):
            match = _MEDIA_PATH_RE.search(parts.path)
            if match:
                return f"{match.group(1)}/{match.group(2)}"
            if parts.scheme == "https" and (
                host == self._domain or host.endswith("." + self._domain)
            ):
                return link[:1024]
        return self.whole_call_ref(session)

    # -- JSON-RPC --------------------------------------------------------------------------

    def _rpc(self, api, method, params, *, authenticated=True):
        """``result`` of ``method`` on ``api`` (``callapi``/``dataapi``), errors mapped; a
        rejected ``login.user`` token is dropped and renewed once."""
        url = self._api_url(api)
        for attempt in (1, 2):
            body = dict(params)
            if authenticated:
                body = {"access_token": self._access_token(url), **body}
            try:
                return self._call(url, method, body)
            except _TokenRejected as error:
                uses_login = not self.config.get("access_key")
                if uses_login:
                    self._forget_token(url)
                if attempt == 2 or not uses_login:
                    raise AuthError(error.message, hint=TOKEN_HINT) from None
        raise AssertionError("unreachable")

    def _call(self, url, method, params):
        payload = {"jsonrpc": "2.0", "id": uuid.uuid4().hex[:16], "method": method}
        payload["params"] = params
        response = self._request(
            "POST",
            url,
            json=payload,
            headers={"Content-Type": "application/json; charset=UTF-8"},
        )
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self._check_response(response)
            raise RetryableError(f"UIS answered {method} with no JSON-RPC body")
        if answer.get("error"):
            self._raise_rpc_error(method, answer["error"], response)
        self._check_response(response)
        result = answer.get("result")
        if not isinstance(result, dict):
            raise PermanentError(f"UIS answered {method} without a result")
        return result

    def _raise_rpc_error(self, method, error, response):
        error = error if isinstance(error, dict) else {}
        code = _int(error.get("code"))
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        mnemonic = _clean(data.get("mnemonic"))[:64]
        message = _clean(error.get("message"))[:200] or "error"
        detail = f"UIS {method}: {message} ({mnemonic or 'no mnemonic'}, code {code})"
        status = response.status_code
        if code == TOKEN_ERROR:
            raise _TokenRejected(detail, status_code=status)
        if code == IP_NOT_WHITELISTED or mnemonic == "ip_not_whitelisted":
            raise AuthError(detail, status_code=status, hint=IP_HINT)
        if code == ACCOUNT_INACTIVE:
            raise AuthError(detail, status_code=status, hint=ACCOUNT_HINT)
        if code == LIMIT_EXCEEDED or mnemonic in LIMIT_MNEMONICS:
            raise RateLimitError(detail, self._limit_reset(data, response), status_code=status)
        if code == COMPONENT_DISABLED:
            raise PermanentError(detail, status_code=status, hint=COMPONENT_HINT)
        if code == INTERNAL_ERROR or status >= 500:
            raise RetryableError(detail, status_code=status)
        raise PermanentError(detail, status_code=status)

    def _limit_reset(self, data, response):
        """Seconds until the minute's points come back (``metadata.limits.minute_reset``,
        a delay or a Unix time), else ``Retry-After``."""
        limits = {}
        try:
            answer = response.json()
            limits = (
                ((answer.get("error") or {}).get("data") or {}).get("metadata", {}).get("limits")
                or (answer.get("metadata") or {}).get("limits")
                or {}
            )
        except (ValueError, AttributeError):
            pass
        reset = _int(limits.get("minute_reset")) if isinstance(limits, dict) else None
        if reset:
            if reset > _UNIX_RANGE[0]:
                reset -= int(time.time())
            return max(1, min(reset, 60))
        return self._retry_after(response)

    # -- access token ----------------------------------------------------------------------

    def _token_key(self, url):
        password = self.config.get("password") or ""
        return (url, self.config.get("login") or "", hashlib.sha256(password.encode()).hexdigest())

    def _access_token(self, url):
        """The permanent key, else a ``login.user`` token, cached until a minute before its
        ``expire_at``."""
        key = self.config.get("access_key")
        if key:
            return key
        login = self._require("login", "UIS access key or API login")
        password = self._require("password", "UIS API password")
        cache_key = self._token_key(url)
        with _TOKENS_LOCK:
            cached = _TOKENS.get(cache_key)
        if cached and cached[1] - TOKEN_EARLY_REFRESH > time.time():
            return cached[0]
        try:
            result = self._call(url, "login.user", {"login": login, "password": password})
        except _TokenRejected as error:
            raise AuthError(error.message, status_code=error.status_code, hint=TOKEN_HINT) from None
        data = result.get("data") if isinstance(result.get("data"), dict) else {}
        token = _clean(data.get("access_token"))
        if not token:
            raise AuthError("UIS login.user returned no access token", hint=TOKEN_HINT)
        expire_at = _int(data.get("expire_at")) or int(time.time()) + 3600
        with _TOKENS_LOCK:
            _TOKENS[cache_key] = (token, expire_at)
        return token

    def _forget_token(self, url):
        with _TOKENS_LOCK:
            _TOKENS.pop(self._token_key(url), None)

    # -- REST ------------------------------------------------------------------------------

    def originate(self, extension, number, caller_id=None, request_ref=None):
        """``start.employee_call``: UIS rings the employee first, then the client, showing
        the virtual number; ``external_id`` (Odoo's id) comes back in the notifications."""
        employee = _digits(extension)
        contact = _digits(number)
        if not employee or not contact:
            raise PermanentError("Click-to-call needs a UIS employee id and a number")
        virtual = _digits(caller_id or self.config.get("virtual_number"))
        if not virtual:
            raise PermanentError("No UIS virtual number to show", hint=NO_NUMBER_HINT)
        params = {
            "first_call": "employee",
            "switch_at_once": True,
            "direction": "out",
            "virtual_phone_number": virtual,
            "contact": contact,
            "employee": {"id": int(employee)},
        }
        if request_ref:
            params["external_id"] = request_ref
        result = self._rpc("callapi", "start.employee_call", params)
        data = result.get("data") if isinstance(result.get("data"), dict) else {}
        session = _clean(data.get("call_session_id"))
        return OriginateResult(call_id=session, raw={"call_session_id": session})

    def recording_link(self, recording_ref, call_id=None):
        """A ``communication_id/record`` pair or a whole call (``session:<id>``, looked up in
        ``get.calls_report``) → the media URL; a UIS https link is used as it is."""
        if not recording_ref:
            raise PermanentError("No UIS recording reference")
        if self.is_whole_call_ref(recording_ref):
            session = recording_ref[len(self.whole_call_ref_prefix) :]
            recording_ref = self._session_recording(session)
        match = _RECORDING_PAIR_RE.match(recording_ref)
        if match:
            communication, record = match.groups()
            return RecordingLink(
                url=f"{self.media_url}/system/media/talk/{communication}/{record}/"
            )
        if recording_ref.startswith("https://"):
            return RecordingLink(url=recording_ref)
        raise PermanentError(f"Unreadable UIS recording reference {recording_ref[:64]!r}")

    def _session_recording(self, session):
        """The first recording of call ``session`` from the Data API."""
        session_id = _int(session)
        if session_id is None:
            raise PermanentError(f"UIS call session {session[:32]!r} is not a number")
        now = datetime.now(self.account_timezone())
        params = {
            # The report needs a period: the last 3 months hold any recording still kept.
            "date_from": (now - timedelta(days=89)).strftime(UIS_TIME),
            "date_till": (now + timedelta(days=1)).strftime(UIS_TIME),
            "filter": {"field": "id", "operator": "=", "value": session_id},
            "fields": ["id", "communication_id", "call_records"],
        }
        rows = self._report_rows(self._rpc("dataapi", "get.calls_report", params))
        for row in rows:
            records = row.get("call_records") or []
            communication = _clean(row.get("communication_id"))
            if records and communication:
                return f"{communication}/{_clean(records[0])}"
        raise PermanentError(f"UIS has no recording of call {session_id} (yet)")

    @staticmethod
    def _report_rows(result):
        data = result.get("data")
        if not isinstance(data, list):
            raise PermanentError("UIS returned an unreadable report")
        return [row for row in data if isinstance(row, dict)]

    def list_extensions(self):
        """UIS's employees (``get.employees``): the id is the Odoo extension."""
        extensions = []
        offset = 0
        while True:
            params = {"limit": REPORT_PAGE, "offset": offset}
            rows = self._report_rows(self._rpc("dataapi", "get.employees", params))
            for row in rows:
                employee = _clean(row.get("id"))
                if employee:
                    extensions.append(
                        Extension(
                            extension=employee,
                            name=_clean(row.get("full_name"))[:255],
                            email=_clean(row.get("email"))[:255],
                        )
                    )
            if len(rows) < REPORT_PAGE:
                return extensions
            offset += REPORT_PAGE

    def call_history(self, start, end):
        """``get.calls_report`` month by month (UIS serves at most 3 months a request), page
        by page, in the account's time zone."""
        tzinfo = self.account_timezone()
        start, end = ev.ensure_utc(start), ev.ensure_utc(end)
        calls = []
        window = start
        while window < end:
            window_end = min(window + REPORT_WINDOW, end)
            offset = 0
            while True:
                params = {
                    "date_from": window.astimezone(tzinfo).strftime(UIS_TIME),
                    "date_till": window_end.astimezone(tzinfo).strftime(UIS_TIME),
                    "fields": list(REPORT_FIELDS),
                    "limit": REPORT_PAGE,
                    "offset": offset,
                }
                rows = self._report_rows(self._rpc("dataapi", "get.calls_report", params))
                calls.extend(self._history_call(row, tzinfo) for row in rows)
                if len(rows) < REPORT_PAGE:
                    break
                offset += REPORT_PAGE
            window = window_end
        return [call for call in calls if call]

    def _history_call(self, row, tzinfo):
        session = _clean(row.get("id"))
        if not session:
            return None
        direction = DIRECTIONS.get(_clean(row.get("direction")), ev.INBOUND)
        talk = _int(row.get("talk_duration")) or 0
        lost = row.get("is_lost") in (True, "true", 1, "1")
        answered = talk > 0 and not lost
        employees = row.get("employees") if isinstance(row.get("employees"), list) else []
        employee = ""
        for item in employees:
            if isinstance(item, dict) and _clean(item.get("employee_id")):
                employee = _clean(item.get("employee_id"))
                if answered and item.get("is_answered") in (True, "true", 1):
                    break
        contact = _clean(row.get("contact_phone_number"))
        virtual = _clean(row.get("virtual_phone_number"))
        records = row.get("call_records") if isinstance(row.get("call_records"), list) else []
        communication = _clean(row.get("communication_id"))
        recording = f"{communication}/{_clean(records[0])}" if records and communication else ""
        outbound = direction == ev.OUTBOUND
        return HistoryCall(
            call_id=session,
            direction=direction,
            from_number=employee if outbound else contact,
            to_number=contact if outbound else virtual,
            extension=employee,
            started_at=parse_uis_time(row.get("start_time"), tzinfo),
            duration=talk if answered else 0,
            disposition="answered"
            if answered
            else unanswered_disposition(row.get("finish_reason")),
            recording_ref=recording,
        )

    def test_connection(self):
        """One Data API call, and the points left for today."""
        result = self._rpc("dataapi", "get.employees", {"limit": 1, "offset": 0})
        limits = (result.get("metadata") or {}).get("limits") or {}
        remaining = _int(limits.get("day_remaining"))
        total = _int(limits.get("day_limit"))
        line = f"Connected to UIS ({self._domain})"
        if remaining is not None:
            line += f", {remaining}" + (f" of {total}" if total else "") + " API points left today"
        return line


class _TokenRejected(AuthError):
    """UIS refused the access token (expired, blocked, invalid): -32001."""
