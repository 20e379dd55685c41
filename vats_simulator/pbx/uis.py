"""UIS / CoMagic: HTTP notifications rendered from the customer's templates, and the Call
API and Data API (JSON-RPC 2.0).

Wire format as ``__manifest_docs__/protocols/uis.md`` records it. UIS has no notification
format of its own: the customer pastes one body template per event type in UIS's web account,
and UIS substitutes the ``{{placeholders}}``, raw. The account holds those templates
(``UisAccount.templates``; by default the ones the suite ships, from ``uis_templates.json``,
with the account's secret in them), and every post is one of them rendered.

A payload of this module is one notification, ``{"template": <event>, "values": {...}}``;
a scenario step may be several (``{"step": <kind>, "posts": [...]}``: a lost call is both
"call finished" and "lost call"), which ``webhook_payloads`` spreads.
"""

import datetime as dt
import json
import pathlib
import re
import secrets
import threading
from dataclasses import dataclass, field

from .. import calls
from ..clock import resolve_timezone
from ..rest import Reply, audio_reply
from . import register
from .base import CliOption, Pbx, RetryPolicy, is_bundle, unbundle

TEMPLATES_FILE = pathlib.Path(__file__).with_name("uis_templates.json")
CALL_API_ROUTE = "/callapi/v4.0"
DATA_API_ROUTE = "/dataapi/v2.0"
MEDIA_ROUTE = re.compile(r"^/system/media/(?:talk|wav)/(\d+)/([A-Za-z0-9_-]+)/?$")
MEDIA_HOST = "https://app.uiscom.ru"
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
UIS_TIME = "%Y-%m-%d %H:%M:%S"
TOKEN_LIFETIME = 3600
DAY_LIMIT, MINUTE_LIMIT = 10000, 120
REPORT_MAX_DAYS = 92

# The events of the shipped templates.
CALL_STARTED, RINGING, ANSWERED = "call_started", "agent_ringing", "answered"
ENDED, LOST, OUTGOING, RECORDED = "ended", "missed", "outgoing_started", "recording_ready"

# Neutral disposition → the ``finish_reason`` UIS reports (Data API enum).
FINISH_REASONS = {
    "answered": "subscriber_disconnects",
    "no_answer": "no_success_operator_call",
    "busy": "operator_busy",
    "cancel": "subscriber_disconnects",
    "failed": "numa_in_black_list",
}
# How UIS puts the values into a template: raw (as text, the documented behaviour), JSON
# encoded (numbers bare, text quoted), or into a template whose placeholders are not quoted
# (as public templates write them: numbers bare, empty values as nothing).
RENDERINGS = ("raw", "json", "bare")

TOKEN_ERROR, IP_NOT_WHITELISTED, INVALID_PARAMS = -32001, -32003, -32602
LIMIT_EXCEEDED, METHOD_NOT_FOUND, PARSE_ERROR = -32029, -32601, -32700


def load_shipped_templates():
    """``(secret written in them, {event: body})`` of the templates the suite ships."""
    data = json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))
    return data["notification_secret"], {item["key"]: item["body"] for item in data["templates"]}


def render(template, values, rendering="raw", unfilled=()):
    """``template`` with its placeholders replaced as UIS does; those in ``unfilled`` (and
    those UIS does not know) are left as written."""
    if rendering not in RENDERINGS:
        raise ValueError(f"rendering must be one of {RENDERINGS}")
    if rendering == "bare":
        template = re.sub(r'"(\{\{\s*\w+\s*\}\})"', r"\1", template)

    def substitute(match):
        name = match.group(1)
        if name in unfilled or name not in values:
            return match.group(0)
        value = values[name]
        if rendering == "json":
            return json.dumps(value, ensure_ascii=False)
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(substitute, template)


def split_recording(recording_id, call_id):
    """``(communication_id, record)`` of a recording id ``<communication_id>/<record>``."""
    communication, sep, record = str(recording_id).partition("/")
    if sep and communication.isdigit() and record:
        return communication, record
    return communication_id(call_id), str(recording_id)


def communication_id(call_id):
    """The Data API's ``communication_id`` of a call (stable per call session)."""
    digits = "".join(char for char in str(call_id) if char.isdigit()) or "1"
    return str(int(digits[-9:]) + 300000000)


def _uis_time(moment, tzinfo):
    return moment.astimezone(tzinfo).strftime(UIS_TIME)


# --- the account -------------------------------------------------------------------------


@dataclass
class UisAccount:
    """A UIS account: notifications go to ``webhook_url`` with ``notification_secret`` in
    their bodies; the APIs take ``access_key`` (the permanent key) or a ``login.user`` token
    of ``login``/``password``. ``templates`` are the bodies the customer pasted, by event
    (default: the shipped ones). ``timezone``: the account's, for the times UIS writes.

    Knobs: ``api_error`` (a JSON-RPC code, e.g. -32003 ``ip_not_whitelisted``) refuses every
    API request; ``token_lifetime`` seconds of a ``login.user`` token (``expire_tokens()``
    ends them at once); ``emails`` (employee id → e-mail) for ``get.employees``. What the
    Call API was asked is kept on ``employee_calls``.
    """

    webhook_url: str
    notification_secret: str
    access_key: str = ""
    login: str = ""
    password: str = ""
    templates: dict = field(default_factory=dict)
    timezone: str = "Europe/Moscow"
    emails: dict = field(default_factory=dict)
    api_error: int | None = None
    token_lifetime: int = TOKEN_LIFETIME
    tzinfo: dt.tzinfo = field(default=None, init=False, repr=False)
    tokens: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    employee_calls: list = field(default_factory=list, init=False, repr=False, compare=False)
    lock: object = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.tzinfo = resolve_timezone(self.timezone)
        if not self.templates:
            shipped_secret, bodies = load_shipped_templates()
            self.templates = {
                key: body.replace(shipped_secret, self.notification_secret)
                for key, body in bodies.items()
            }
        if isinstance(self.emails, str):  # the command line: "101=anna@example.com,..."
            pairs = (item.partition("=") for item in self.emails.split(","))
            self.emails = {ext.strip(): mail.strip() for ext, _sep, mail in pairs if mail}
        if self.api_error not in (None, ""):
            self.api_error = int(self.api_error)
        self.token_lifetime = int(self.token_lifetime)

    def issue_token(self, now):
        token = secrets.token_hex(32)
        expire_at = int(now) + self.token_lifetime
        with self.lock:
            self.tokens[token] = expire_at
        return token, expire_at

    def token_state(self, token, now):
        """``""`` when ``token`` is good, else UIS's mnemonic for it."""
        if self.access_key and token == self.access_key:
            return ""
        with self.lock:
            expire_at = self.tokens.get(token)
        if expire_at is None:
            return "access_token_invalid"
        return "" if expire_at > now else "access_token_expired"

    def expire_tokens(self):
        """Every ``login.user`` token issued so far expires now."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0

    def email(self, employee_id, name):
        if employee_id in self.emails:
            return self.emails[employee_id]
        local = ".".join(part.lower() for part in (name or "").split() if part.isalnum())
        return f"{local if local.isascii() and local else 'employee' + employee_id}@example.com"


def notification(template, **values):
    return {"template": template, "values": values}


@register("uis")
class Uis(Pbx):
    label = "UIS / CoMagic"
    # Not documented. Chosen: never retried.
    webhook_retry = RetryPolicy(note="not documented; never retried (chosen)")
    Account = UisAccount
    path_prefix = "/uis"
    missed_disposition = "no_answer"
    # Cut inside a value, and not UTF-8: nothing of it can be read.
    malformed_body = b'{"event":"ended","call_session_id":"\xff\xfe'
    # external_id: the id a click-to-call gave (start.employee_call), echoed by every
    # notification of that call.
    scenario_params = frozenset({"external_id"})
    # rendering: see RENDERINGS; unfilled: placeholders UIS leaves as written; file_link:
    # "media" (the documented media URL) or "missing" (an empty link).
    play_options = {"rendering": "raw", "unfilled": (), "file_link": "media"}
    cli_account_options = (
        CliOption(("--uis-webhook",), "webhook_url", "where UIS posts notifications", True, "URL"),
        CliOption(("--uis-secret",), "notification_secret", "secret in the templates", True, "S"),
        CliOption(("--uis-access-key",), "access_key", "permanent API key", metavar="K"),
        CliOption(("--uis-login",), "login", "API login (login.user)", metavar="L"),
        CliOption(("--uis-password",), "password", "API password", metavar="P"),
    )
    cli_play_options = (
        CliOption(
            ("--uis-rendering",), "rendering", "uis: how values are put in", choices=RENDERINGS
        ),
    )

    # --- scenarios ------------------------------------------------------------------------

    def new_call_id(self, direction):
        return str(secrets.randbelow(9 * 10**8) + 10**9)

    def new_recording_id(self, start, extension, tzinfo):
        return f"{secrets.randbelow(9 * 10**8) + 10**8}/{secrets.token_hex(16)}"

    def encode_step(self, step, call, tzinfo, params):
        kind = step.kind
        session = int(call.call_id) if call.call_id.isdigit() else call.call_id
        when = _uis_time(call.start + dt.timedelta(seconds=step.offset), tzinfo)
        external = str(params.get("external_id") or "")
        base = {"call_session_id": session, "notification_time": when}
        outside = {"virtual_phone_number": call.did}
        if kind == calls.RECORDING_READY:
            communication, record = split_recording(call.recording_id, call.call_id)
            return notification(
                RECORDED,
                **base,
                communication_id=int(communication),
                employee_id=_employee(call.recording_extension),
                external_id=external,
                file_link=f"{MEDIA_HOST}/system/media/talk/{communication}/{record}/",
                file_duration=call.duration,
            )
        if call.outbound:
            outside["contact_phone_number"] = call.number
            employee = _employee(call.extension)
            if kind == calls.OUTGOING_STARTED:
                return notification(
                    OUTGOING, **base, **outside, employee_id=employee, external_id=external
                )
            if kind == calls.OUTGOING_ENDED:
                return self._end(call, base, outside, employee, "out", external)
            raise ValueError(f"UIS cannot encode a {kind!r} step of an outgoing call")
        outside["contact_phone_number"] = call.caller
        if kind == calls.STARTED:
            return notification(CALL_STARTED, **base, **outside)
        if kind in (calls.RINGING, calls.ANSWERED):
            return notification(
                RINGING if kind == calls.RINGING else ANSWERED,
                **base,
                **outside,
                leg_id=_leg_id(call.call_id, step.extension),
                employee_id=_employee(step.extension),
                direction="in",
                external_id=external,
            )
        if kind == calls.ENDED:
            employee = _employee(step.extension or (call.extensions[-1] if call.extensions else ""))
            return self._end(call, base, outside, employee, "in", external)
        raise ValueError(f"UIS cannot encode a {kind!r} step")

    def _end(self, call, base, outside, employee, direction, external):
        """ "Call finished"; an inbound call nobody answered is also a "lost call"."""
        durations = {
            "total_time_duration": call.ring_seconds + call.duration,
            "wait_time_duration": call.ring_seconds,
            "finish_reason": FINISH_REASONS[call.disposition],
        }
        finished = notification(
            ENDED,
            **base,
            **outside,
            employee_id=employee,
            direction=direction,
            external_id=external,
            talk_time_duration=call.duration,
            **durations,
        )
        if call.disposition == "answered" or direction == "out":
            return finished
        lost = notification(LOST, **base, **outside, employee_id=employee, direction=direction)
        lost["values"].update(durations)
        return {"step": calls.ENDED, "posts": [finished, lost]}

    # --- webhooks -------------------------------------------------------------------------

    def webhook_payloads(self, payloads, options):
        return unbundle(payloads)

    def webhook_request(self, account, payload, signing, options):
        """The account's template of the event, rendered; ``bad`` swaps the secret for
        another, ``none`` takes the secret out of the body."""
        headers = {"Content-Type": "application/json"}
        if isinstance(payload, bytes):
            # Raw bytes (a body UIS would never send) still end with the secret, or not.
            if signing == "none":
                return payload, headers
            secret = account.notification_secret
            secret = secret if signing == "valid" else secret[::-1] + "x"
            return payload + f',"secret":"{secret}"}}'.encode(), headers
        template = account.templates[payload["template"]]
        secret = account.notification_secret
        if signing == "bad":
            template = template.replace(secret, secret[::-1] + "x")
        elif signing == "none":
            template = re.sub(r',?\s*"secret"\s*:\s*"[^"]*"', "", template)
        values = dict(payload["values"])
        if options["file_link"] == "missing" and "file_link" in values:
            values["file_link"] = ""
        body = render(template, values, options["rendering"], tuple(options["unfilled"]))
        return body.encode("utf-8"), headers

    def event_name(self, payload):
        if isinstance(payload, dict):
            if is_bundle(payload):
                return f"{payload['step']} ({len(payload['posts'])} notifications)"
            return payload.get("template") or "?"
        return "raw bytes"

    # --- REST -----------------------------------------------------------------------------

    def error_payload(self, message):
        if "rate limit" in message:
            code, mnemonic = LIMIT_EXCEEDED, "limit_exceeded"
        else:
            code, mnemonic = INVALID_PARAMS, "simulated_error"
        return _rpc_error(None, code, message, mnemonic)

    def handle_rest(self, sim, request):
        account = sim.accounts.get(self.code)
        if account is None:
            raise self.error(404, "no UIS account is simulated")
        route = request.route
        media = MEDIA_ROUTE.match(route)
        if media and request.method in ("GET", "HEAD"):
            recording_id = f"{media.group(1)}/{media.group(2)}"
            known = [
                r
                for r in sim.recordings
                if r["recording_id"] == recording_id and r["provider"] == self.code
            ]
            if not known:
                raise Reply(404, b"Not found", {"Content-Type": "text/html"})
            raise audio_reply(request, sim.recording_bytes(recording_id), sim.recording_mimetype)
        if route.rstrip("/") not in (CALL_API_ROUTE, DATA_API_ROUTE):
            return
        if request.method != "POST":
            raise self.error(405, "POST expected")
        body = request.json
        if not isinstance(body, dict):
            raise Reply(200, _rpc_error(None, PARSE_ERROR, "Parse error", "parse_error"))
        rpc_id = body.get("id")
        method = body.get("method")
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        if account.api_error is not None:
            mnemonic = "ip_not_whitelisted" if account.api_error == IP_NOT_WHITELISTED else "error"
            raise Reply(200, _rpc_error(rpc_id, account.api_error, "Refused", mnemonic))
        if method == "login.user":
            request.auth_ok = bool(account.login) and (
                params.get("login") == account.login and params.get("password") == account.password
            )
            if not request.auth_ok:
                request.auth_error = "wrong login or password"
                raise Reply(200, _rpc_error(rpc_id, TOKEN_ERROR, "Auth error", "auth_error"))
            token, expire_at = account.issue_token(sim.now())
            raise Reply(200, _rpc_result(rpc_id, {"access_token": token, "expire_at": expire_at}))
        state = account.token_state(str(params.get("access_token") or ""), sim.now())
        request.auth_ok = not state
        if state:
            request.auth_error = state
            raise Reply(200, _rpc_error(rpc_id, TOKEN_ERROR, "Access token error", state))
        data_api = route.rstrip("/") == DATA_API_ROUTE
        handlers = (
            {"get.employees": self._employees, "get.calls_report": self._calls_report}
            if data_api
            else {"start.employee_call": self._employee_call}
        )
        handler = handlers.get(method)
        if handler is None:
            raise Reply(200, _rpc_error(rpc_id, METHOD_NOT_FOUND, "Method not found", "error"))
        data, extra = handler(sim, account, params, rpc_id)
        used = sum(1 for item in sim.requests if item.provider == self.code) + 1
        metadata = {
            "limits": {
                "day_limit": DAY_LIMIT,
                "day_remaining": max(DAY_LIMIT - used, 0),
                "day_reset": 86400,
                "minute_limit": MINUTE_LIMIT,
                "minute_remaining": MINUTE_LIMIT - 1,
                "minute_reset": 60,
            },
            **extra,
        }
        raise Reply(200, _rpc_result(rpc_id, data, metadata))

    def _employee_call(self, sim, account, params, rpc_id):
        employee = params.get("employee") if isinstance(params.get("employee"), dict) else {}
        employee_id = str(employee.get("id") or "")
        contact = str(params.get("contact") or "")
        virtual = str(params.get("virtual_phone_number") or "")
        if employee_id not in sim.extensions:
            raise Reply(
                200, _rpc_error(rpc_id, INVALID_PARAMS, "No employee", "employee_not_found")
            )
        if not contact.isdigit() or not virtual.isdigit():
            raise Reply(
                200, _rpc_error(rpc_id, INVALID_PARAMS, "Bad number", "invalid_parameter_value")
            )
        external = str(params.get("external_id") or "")
        with account.lock:
            account.employee_calls.append(dict(params))
        session = sim.originate(self.code, employee_id, contact, did=virtual, external_id=external)
        return {"call_session_id": int(session)}, {}

    def _employees(self, sim, account, params, rpc_id):
        rows = [
            {
                "id": int(number) if number.isdigit() else number,
                "full_name": name,
                "email": account.email(number, name),
                "status": "available",
                "extension": {"extension_phone_number": number[-5:]},
            }
            for number, name in sorted(sim.extensions.items())
        ]
        return self._page(rows, params), {"total_items": len(rows)}

    def _calls_report(self, sim, account, params, rpc_id):
        tzinfo = account.tzinfo
        try:
            start = _local_time(params["date_from"], tzinfo)
            end = _local_time(params["date_till"], tzinfo)
        except (KeyError, ValueError, TypeError):
            raise Reply(
                200, _rpc_error(rpc_id, INVALID_PARAMS, "Bad period", "invalid_parameter_value")
            ) from None
        if end - start > dt.timedelta(days=REPORT_MAX_DAYS) or end < start:
            raise Reply(
                200,
                _rpc_error(
                    rpc_id, INVALID_PARAMS, "Period too long", "date_interval_limit_reached"
                ),
            )
        wanted = _id_filter(params.get("filter"))
        rows = []
        for record in sim.calls:
            if record.provider != self.code or not start <= record.start <= end:
                continue
            if wanted is not None and str(record.call_id) != str(wanted):
                continue
            rows.append(self._report_row(record, tzinfo))
        rows.sort(key=lambda row: row["start_time"])
        fields = params.get("fields")
        if isinstance(fields, list) and fields:
            rows = [{name: row.get(name) for name in fields} for row in rows]
        return self._page(rows, params), {"total_items": len(rows)}

    @staticmethod
    def _report_row(record, tzinfo):
        answered = record.disposition == "answered"
        outbound = record.direction == "outbound"
        communication, records = communication_id(record.call_id), []
        if record.recording_id:
            communication, record_id = split_recording(record.recording_id, record.call_id)
            records = [record_id]
        finish = record.start + dt.timedelta(seconds=record.ring_seconds + record.duration)
        employees = []
        if record.extension:
            employees.append(
                {"employee_id": int(record.extension), "is_answered": answered}
                if record.extension.isdigit()
                else {"employee_id": record.extension, "is_answered": answered}
            )
        return {
            "id": int(record.call_id) if record.call_id.isdigit() else record.call_id,
            "start_time": _uis_time(record.start, tzinfo),
            "finish_time": _uis_time(finish, tzinfo),
            "finish_reason": FINISH_REASONS[record.disposition],
            "direction": "out" if outbound else "in",
            "is_lost": not answered and not outbound,
            "contact_phone_number": record.number if outbound else record.caller,
            "virtual_phone_number": record.did,
            "communication_id": int(communication),
            "wait_duration": record.ring_seconds,
            "talk_duration": record.duration,
            "total_duration": record.ring_seconds + record.duration,
            "call_records": records,
            "employees": employees,
            "source": "callapi" if outbound else "va",
        }

    @staticmethod
    def _page(rows, params):
        try:
            offset = max(int(params.get("offset") or 0), 0)
            limit = min(max(int(params.get("limit") or 1000), 1), 10000)
        except (TypeError, ValueError):
            offset, limit = 0, 1000
        return rows[offset : offset + limit]


def _employee(extension):
    return int(extension) if str(extension).isdigit() else str(extension or "")


def _leg_id(call_id, extension):
    digits = "".join(char for char in f"{call_id}{extension}" if char.isdigit())
    return int(digits[-12:] or "1")


def _local_time(text, tzinfo):
    if not isinstance(text, str):
        raise TypeError("a date is a string")
    naive = dt.datetime.strptime(text.strip(), UIS_TIME)
    return naive.replace(tzinfo=tzinfo).astimezone(dt.timezone.utc)


def _id_filter(value):
    """The call id of a ``{"field":"id","operator":"=","value":N}`` filter, else None."""
    if isinstance(value, dict) and value.get("field") == "id" and value.get("operator") == "=":
        return value.get("value")
    return None


def _rpc_result(rpc_id, data, metadata=None):
    result = {"data": data}
    if metadata:
        result["metadata"] = metadata
    return {"jsonrpc": "2.0", "id": rpc_id, "result": result}


def _rpc_error(rpc_id, code, message, mnemonic):
    return {
        "jsonrpc": "2.0",
        "id": rpc_id,
        "error": {"code": code, "message": message, "data": {"mnemonic": mnemonic}},
    }
