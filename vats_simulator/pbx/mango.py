"""Mango Office, VPBX API v1.10 ("API Виртуальной АТС").

Wire format as ``__manifest_docs__/protocols/mango.md`` records it:
every request, in both directions, is a form POST of ``vpbx_api_key``, ``sign`` and ``json``
(a JSON string), with ``sign = sha256_hex(api_key + json + api_salt)`` over that exact string.
The VPBX posts to the account's URL plus one suffix per kind (``/events/call``,
``/events/summary``, ``/events/recording``, ``/result/callback``, ``/result/route``); its own
API is under ``/vpbx/`` and answers errors with HTTP 420 and ``{"code": <code>}``.

A payload of this module is one POST, ``{"path": "events/call", "json": {...}}`` (the json
may also be a string, posted and signed as it is); a scenario step becomes a bundle of them,
``{"step": <kind>, "posts": [...]}``, that ``webhook_payloads`` spreads into single POSTs.

The signature and the JSON encoding are written here from the notes and checked against the
vendor's test vectors, independently of any adapter.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from .. import calls
from ..rest import Reply, audio_reply

# The neutral course of a call, so that a step encoded alone (out of order, repeated) still
# carries the per-leg ``seq`` it has when the whole call is played.
from ..scenarios import DEFAULT_DID, _call_steps
from . import register
from .base import CliOption, Pbx, RetryPolicy, is_bundle, unbundle

_logger = logging.getLogger("vats_simulator.rest")

CALL_PATH = "events/call"
SUMMARY_PATH = "events/summary"
RECORDING_PATH = "events/recording"
CALLBACK_RESULT_PATH = "result/callback"
ROUTE_RESULT_PATH = "result/route"

APPEARED, CONNECTED, ON_HOLD, DISCONNECTED = "Appeared", "Connected", "OnHold", "Disconnected"
REC_STARTED, REC_CONTINUED, REC_COMPLETED = "Started", "Continued", "Completed"

OK = 1000
NORMAL_END = 1100
CALLER_HUNG_UP = 1110
EXTERNAL_COMMAND = 1181
BAD_PARAMETERS = 3100
NOT_POST, SIGN_MISMATCH, MISSING_PARAMETER, BAD_FORMAT, BAD_KEY = 3101, 3102, 3103, 3104, 3105
CALL_NOT_FOUND, RECORDING_NOT_FOUND = 3310, 3320
UNSUPPORTED, CALL_ENDED = 4001, 4101
OVERLOAD = 5001

# Neutral disposition -> disconnect_reason of the legs' end and of the summary.
DISCONNECT_REASONS = {
    "answered": NORMAL_END,
    "no_answer": 1111,
    "busy": 1121,
    "cancel": CALLER_HUNG_UP,
    "failed": 1131,
}
# ``seq``/``timestamp``/codes: numbers, strings, or both as the vendor's examples show them.
NUMBER_TYPES = ("mixed", "int", "str")

SIP_DOMAIN = "vpbx400123456.mangosip.ru"
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
STATS_MAX_RANGE = 31 * 86400
LINK_LIFETIME = 600
JSON_HEADERS = {"Content-Type": "application/json"}
FORM_TYPE = "application/x-www-form-urlencoded"


# --- encoding and signing -------------------------------------------------------------------


def php_json(value):
    """``value`` as PHP's ``json_encode`` writes it: compact, ``/`` as ``\\/`` and every
    non-ASCII character as ``\\uXXXX`` (astral ones as surrogate pairs)."""
    # A "/" can only occur inside a JSON string, so replacing it in the text is safe.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def sign(api_key, json_text, api_salt):
    """``sha256_hex(api_key + json + api_salt)`` over the exact ``json`` string (or bytes)."""
    if isinstance(json_text, str):
        json_text = json_text.encode("utf-8")
    return hashlib.sha256(api_key.encode() + json_text + api_salt.encode()).hexdigest()


def form_body(api_key, json_text, signature=None):
    """The form of one request; without ``signature`` the ``sign`` field is left out."""
    pairs = [("vpbx_api_key", api_key)]
    if signature is not None:
        pairs.append(("sign", signature))
    pairs.append(("json", json_text))
    return "&".join(f"{name}={urllib.parse.quote_plus(value)}" for name, value in pairs).encode(
        "ascii"
    )


def envelope(path, data):
    """One POST: ``data`` (a dict, or a JSON string sent as it is) to ``<webhook_url>/<path>``."""
    return {"path": path, "json": data}


def is_envelope(payload):
    return isinstance(payload, dict) and set(payload) == {"path", "json"}


def guess_path(data):
    """The suffix a bare Mango json goes to, from its fields."""
    if isinstance(data, dict):
        if "recording_state" in data:
            return RECORDING_PATH
        if "call_direction" in data:
            return SUMMARY_PATH
        if "result" in data and "call_state" not in data:
            return CALLBACK_RESULT_PATH
    return CALL_PATH


def split_payload(payload):
    """``(path, json text, parsed json or None)`` of a payload that is not raw bytes."""
    if is_envelope(payload):
        path, data = payload["path"], payload["json"]
    else:
        path, data = guess_path(payload), payload
    if isinstance(data, str):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return path, data, parsed
    return path, php_json(data), data


def _b64(text):
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def _inner_id(entry_id):
    """What an id like ``MjY4Nzg2ODQwMTo4MQ==`` encodes (``2687868401:81``), or the id."""
    try:
        text = base64.b64decode(entry_id.encode("ascii"), validate=True).decode("ascii")
    except (ValueError, UnicodeError):
        return entry_id
    return text if text and text.isprintable() else entry_id


def leg_call_id(entry_id, index):
    """The ``call_id`` of the ``index``-th leg of call ``entry_id`` (stable, opaque)."""
    return _b64(f"1:{_inner_id(entry_id)}:{index + 1}")


def sip_number(extension):
    """The SIP number of an employee, as Mango writes it in ``number`` fields."""
    return f"sip:user{extension}@{SIP_DOMAIN}"


def mobile_number(extension):
    """A made-up mobile phone of an employee (their second number)."""
    return "7916" + str(extension).zfill(7)[-7:]


def is_extension(value):
    return bool(value) and value.isdigit() and len(value) <= 5


def dialable(value):
    """A number Mango can call: digits (E.164 without ``+``) or a ``sip:`` address."""
    value = value.strip()
    return value.startswith("sip:") or (value.isdigit() and 2 <= len(value) <= 15)


def _typed(value, as_text):
    return str(value) if as_text else int(value)


def _csv_fields(value):
    """The ``fields`` of a statistics request (a comma list), the documented ones by default."""
    if isinstance(value, list):
        names = [str(item).strip() for item in value]
    else:
        names = [item.strip() for item in str(value or "").split(",")]
    return [name for name in names if name] or list(STATS_FIELDS)


# --- the account -------------------------------------------------------------------------


@dataclass
class MangoAccount:
    """A Mango Office VPBX: events go to ``webhook_url`` + ``/events/...``, every request is
    signed with ``api_key``/``api_salt``. ``emails`` (extension -> e-mail; default
    ``first.last@example.com`` from the extension's name) feed ``config/users/request``.

    Scripting the API: ``command_result`` is the result of every command (1000 accepted; 2xxx
    billing, 3100 bad parameters... refuse them), ``command_results`` the result per
    ``to_number``; ``route_delay`` seconds pass before ``commands/route`` answers;
    ``stats_poll_interval`` is the shortest gap between two polls of one statistics key.
    What the API received is kept on ``commands``, ``routes`` and ``stats_requests``.
    """

    webhook_url: str
    api_key: str
    api_salt: str
    emails: dict = field(default_factory=dict)
    command_result: int = OK
    command_results: dict = field(default_factory=dict)
    route_delay: float = 0.0
    #: Whether a call routed by ``commands/route`` goes on by itself (its routed leg is
    #: played); off when a test plays the rest of the call itself.
    play_routed_calls: bool = True
    stats_poll_interval: float = 5.0
    #: Mango writes epoch seconds (UTC) only.
    tzinfo: dt.tzinfo = field(default=dt.timezone.utc, init=False, repr=False)
    commands: list = field(default_factory=list, init=False, repr=False, compare=False)
    routes: list = field(default_factory=list, init=False, repr=False, compare=False)
    stats_requests: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    legs: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    used_links: set = field(default_factory=set, init=False, repr=False, compare=False)
    lock: object = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.emails, str):  # the command line: "101=ivan@example.com,102=..."
            pairs = (item.partition("=") for item in self.emails.split(","))
            self.emails = {ext.strip(): mail.strip() for ext, _sep, mail in pairs if mail}
        self.command_result = int(self.command_result)
        self.command_results = {str(k): int(v) for k, v in self.command_results.items()}
        self.route_delay = float(self.route_delay)
        self.stats_poll_interval = float(self.stats_poll_interval)

    def result_for(self, to_number):
        """The result of a command aimed at ``to_number``."""
        return self.command_results.get(str(to_number), self.command_result)

    def email(self, extension, name):
        if extension in self.emails:
            return self.emails[extension]
        local = ".".join(part.lower() for part in (name or "").split() if part.isalnum())
        if not local or not local.isascii():
            local = f"user{extension}"
        return f"{local}@example.com"

    def remember_leg(self, data):
        """Keep the state of a leg the VPBX announced (``commands/route`` acts on it)."""
        call_id = data.get("call_id")
        if not call_id or "entry_id" not in data:
            return
        with self.lock:
            leg = self.legs.setdefault(
                str(call_id),
                {"entry_id": data["entry_id"], "seq": 0, "created": data.get("timestamp")},
            )
            try:
                seq = int(data.get("seq") or 0)
            except (TypeError, ValueError):
                seq = 0
            leg["seq"] = max(leg["seq"], seq)
            leg["as_text"] = isinstance(data.get("seq"), str)
            for name in ("from", "to", "location", "call_state"):
                if name in data:
                    leg[name] = data[name]

    def leg(self, call_id):
        with self.lock:
            known = self.legs.get(str(call_id))
            return dict(known) if known else None


# --- a call, written as Mango posts it --------------------------------------------------------


@dataclass
class _Leg:
    call_id: str
    location: str
    from_: dict
    to: dict
    as_text: bool
    seq: int = 0
    open: bool = True


class _CallWriter:
    """Writes the events of one call step by step, keeping each leg's ``seq`` (Mango counts
    events per ``call_id``), which legs ring, talk or wait, and the recording's state."""

    def __init__(self, call, params):
        self.call = call
        self.entry_id = call.call_id
        self.command_id = str(params.get("command_id") or "")
        self.types = params.get("number_types") or "mixed"
        if self.types not in NUMBER_TYPES:
            raise ValueError(f"number_types must be one of {NUMBER_TYPES}")
        reason = params.get("disconnect_reason")
        self.end_reason = int(reason) if reason else DISCONNECT_REASONS[call.disposition]
        self.legs = []
        self.by_extension = {}
        self.ringing = []  # the legs of the current ring round, not answered yet
        self.talking = None  # the leg in conversation (inbound) or in progress (outbound)
        self.ivr = None
        self.first_ring_at = None
        self.first_rung = ""
        self.answered_at = None
        self.recording_seq = 0
        self.recording_leg = ""

    # -- helpers

    def at(self, offset):
        return int(self.call.start.timestamp()) + int(offset)

    def new_leg(self, location, from_, to):
        index = len(self.legs)
        if self.types == "mixed":
            # The vendor's examples: an inbound IVR leg in numbers, an outgoing call's leg in
            # strings; alternate from there so that both appear in one call.
            as_text = index % 2 == (0 if self.call.outbound else 1)
        else:
            as_text = self.types == "str"
        leg = _Leg(leg_call_id(self.entry_id, index), location, from_, to, as_text)
        self.legs.append(leg)
        return leg

    def event(self, leg, state, when, reason=None):
        leg.seq += 1
        text = leg.as_text
        data = {
            "entry_id": self.entry_id,
            "call_id": leg.call_id,
            "timestamp": _typed(when, text),
            "seq": _typed(leg.seq, text),
            "call_state": state,
            "location": leg.location,
            "from": dict(leg.from_),
            "to": dict(leg.to),
        }
        if reason is not None:
            data["disconnect_reason"] = _typed(reason, text)
        if self.command_id:
            data["command_id"] = self.command_id
        if state == DISCONNECTED:
            leg.open = False
        return envelope(CALL_PATH, data)

    def recording(self, state, when, call_id):
        self.recording_seq += 1
        self.recording_leg = call_id
        data = {
            "recording_id": self.call.recording_id,
            "recording_state": state,
            "seq": _typed(self.recording_seq, self.types == "str"),
            "call_id": call_id,
            "entry_id": self.entry_id,
            "extension": self.call.recording_extension,
            "timestamp": _typed(when, self.types != "int"),
        }
        if state == REC_COMPLETED:
            data["completion_code"] = _typed(OK, self.types == "str")
            data["recipient"] = "Cloud"
        if self.command_id:
            data["command_id"] = self.command_id
        return envelope(RECORDING_PATH, data)

    def summary(self, data):
        text = self.types == "str"
        for name in ("call_direction", "create_time", "forward_time", "talk_time", "end_time"):
            data[name] = _typed(data[name], text)
        data["entry_result"] = _typed(data["entry_result"], text)
        data["disconnect_reason"] = _typed(data["disconnect_reason"], text)
        return envelope(SUMMARY_PATH, data)

    def target(self):
        """The ``to`` of an outgoing call: an employee (internal call) or a number."""
        number = self.call.number
        if is_extension(number):
            return {"extension": number, "number": sip_number(number)}
        return {"number": number, "line_number": self.call.did}

    # -- steps

    def write(self, step):
        handler = {
            calls.STARTED: self._started,
            calls.RINGING: self._ringing,
            calls.ANSWERED: self._answered,
            calls.ENDED: self._ended,
            calls.OUTGOING_STARTED: self._outgoing_started,
            calls.OUTGOING_ENDED: self._outgoing_ended,
            calls.RECORDING_READY: self._recording_ready,
        }.get(step.kind)
        if handler is None:
            raise ValueError(f"Mango Office cannot encode a {step.kind!r} step")
        return handler(step, self.at(step.offset))

    def _started(self, step, when):
        call = self.call
        self.ivr = self.new_leg(
            "ivr", {"number": call.caller}, {"number": call.did, "line_number": call.did}
        )
        return [self.event(self.ivr, APPEARED, when)]

    def _ringing(self, step, when):
        call, extension = self.call, step.extension
        posts = []
        previous = self.talking or self.ivr
        if self.talking is not None:  # a transfer: the caller waits on hold meanwhile
            posts.append(self.event(self.talking, ON_HOLD, when))
        caller = {"number": call.caller}
        if previous is not None:
            caller["taken_from_call_id"] = previous.call_id
        leg = self.new_leg(
            "abonent",
            caller,
            {"extension": extension, "number": sip_number(extension), "line_number": call.did},
        )
        self.ringing.append(leg)
        self.by_extension[extension] = leg
        if self.first_ring_at is None:
            self.first_ring_at, self.first_rung = when, extension
        posts.append(self.event(leg, APPEARED, when))
        if self.ivr is not None and self.ivr.open:  # the call left the IVR for the employees
            posts.append(self.event(self.ivr, DISCONNECTED, when, NORMAL_END))
        return posts

    def _answered(self, step, when):
        posts = []
        leg = self.by_extension.get(step.extension)
        if leg is None or not leg.open:
            posts += self._ringing(step, when)
            leg = self.by_extension[step.extension]
        posts.append(self.event(leg, CONNECTED, when))
        for other in self.ringing:  # the rest of a ring group stops ringing
            if other is not leg and other.open:
                posts.append(self.event(other, DISCONNECTED, when, NORMAL_END))
        self.ringing = []
        if self.talking is not None and self.talking.open:  # a transfer is complete
            posts.append(self.event(self.talking, DISCONNECTED, when, NORMAL_END))
        self.talking = leg
        if self.answered_at is None:
            self.answered_at = when
        if self.call.recorded:
            state = REC_STARTED if self.recording_seq == 0 else REC_CONTINUED
            posts.append(self.recording(state, when, leg.call_id))
        return posts

    def _ended(self, step, when):
        call = self.call
        posts = []
        for leg in [self.talking, *self.ringing, self.ivr]:
            if leg is not None and leg.open:
                posts.append(self.event(leg, DISCONNECTED, when, self.end_reason))
        answered = self.answered_at is not None
        if answered:
            to = {"extension": call.extension, "number": sip_number(call.extension)}
        elif self.first_rung:  # a missed call names the first party it was forwarded to
            to = {"extension": self.first_rung, "number": sip_number(self.first_rung)}
        else:
            to = {"number": call.did}
        posts.append(
            self.summary(
                {
                    "entry_id": self.entry_id,
                    "call_direction": 1,
                    "from": {"number": call.caller},
                    "to": to,
                    "line_number": call.did,
                    "create_time": self.at(0),
                    "forward_time": self.first_ring_at if answered else 0,
                    "talk_time": self.answered_at or 0,
                    "end_time": when,
                    "entry_result": 1 if answered else 0,
                    "disconnect_reason": self.end_reason,
                }
            )
        )
        return posts

    def _outgoing_started(self, step, when):
        call, extension = self.call, self.call.extension
        employee = {"extension": extension, "number": sip_number(extension)}
        if not self.command_id:
            self.talking = self.new_leg("abonent", employee, self.target())
            return [self.event(self.talking, APPEARED, when)]
        # Click-to-call: the employee's phone rings first, then the number is dialled on a
        # second leg taken from the first one.
        first = self.new_leg("abonent", {"number": call.number}, employee)
        posts = [self.event(first, APPEARED, when), self.event(first, CONNECTED, when + 1)]
        self.talking = self.new_leg(
            "abonent", {**employee, "taken_from_call_id": first.call_id}, self.target()
        )
        posts.append(self.event(self.talking, APPEARED, when + 1))
        posts.append(self.event(first, DISCONNECTED, when + 1, OK))
        return posts

    def _outgoing_ended(self, step, when):
        call = self.call
        posts = []
        if self.talking is None:
            posts += self._outgoing_started(step, self.at(0))
        leg = self.talking
        if call.disposition == "answered":
            self.answered_at = when - call.duration
            posts.append(self.event(leg, CONNECTED, self.answered_at))
            if call.recorded:
                posts.append(self.recording(REC_STARTED, self.answered_at, leg.call_id))
        posts.append(self.event(leg, DISCONNECTED, when, self.end_reason))
        target = {k: v for k, v in self.target().items() if k != "line_number"}
        posts.append(
            self.summary(
                {
                    "entry_id": self.entry_id,
                    "call_direction": 0 if "extension" in target else 2,
                    "from": {"extension": call.extension, "number": sip_number(call.extension)},
                    "to": target,
                    "line_number": call.did,
                    "create_time": self.at(0),
                    "forward_time": self.at(0),
                    "talk_time": self.answered_at or 0,
                    "end_time": when,
                    "entry_result": 1 if self.answered_at is not None else 0,
                    "disconnect_reason": self.end_reason,
                }
            )
        )
        return posts

    def _recording_ready(self, step, when):
        posts = []
        if self.recording_seq == 0:  # announced alone: the recording starts and ends here
            if self.talking is not None:
                call_id = self.talking.call_id
            else:
                call_id = leg_call_id(self.entry_id, 0 if self.call.outbound else 1)
            posts.append(self.recording(REC_STARTED, when, call_id))
        posts.append(self.recording(REC_COMPLETED, when, self.recording_leg))
        return posts


# --- the PBX ---------------------------------------------------------------------------------


@register("mango")
class Mango(Pbx):
    label = "Mango Office"
    # Not documented; events are sent in parallel without waiting for the answers, so
    # nothing says a failed one comes again. Chosen: never retried.
    webhook_retry = RetryPolicy(note="not documented; never retried (chosen)")
    Account = MangoAccount
    path_prefix = "/mango"
    missed_disposition = "no_answer"
    # Posted as the json field (raw bytes are always the json for this PBX), signed.
    malformed_body = b'{"entry_id":"MjY4Nzg2OD","call_state":"Appe\xff'
    # command_id: an outgoing call is a click-to-call with that command; wait_in_ivr: an
    # inbound call stops in the IVR (for commands/route); disconnect_reason: the end's code;
    # number_types: seq/timestamp/codes as numbers, strings or both (mixed).
    scenario_params = frozenset({"command_id", "wait_in_ivr", "disconnect_reason", "number_types"})
    # shuffle: post a play's events in random order (True, or an int seed), as Mango's
    # parallel deliveries may arrive.
    play_options = {"shuffle": False}
    cli_account_options = (
        CliOption(("--mango-webhook",), "webhook_url", "base URL of the event posts", True, "URL"),
        CliOption(("--mango-key",), "api_key", "vpbx_api_key", True, "K"),
        CliOption(("--mango-salt",), "api_salt", "API salt (signatures)", True, "S"),
        CliOption(
            ("--mango-emails",),
            "emails",
            "employees' e-mails: 101=ivan@example.com,102=...",
            metavar="LIST",
        ),
        CliOption(
            ("--mango-command-result",),
            "command_result",
            "result of every command (1000; 2xxx, 3100 refuse them)",
            metavar="CODE",
        ),
    )
    cli_play_options = (
        CliOption(("--shuffle",), "shuffle", "Mango Office: events out of order", switch=True),
    )

    # --- scenarios ------------------------------------------------------------------------

    def new_call_id(self, direction):
        """An ``entry_id``: base64 of ``<10 digits>:<2 digits>``, like ``MjY4Nzg2ODQwMTo4MQ==``."""
        serial = secrets.randbelow(9 * 10**9) + 10**9
        return _b64(f"{serial}:{secrets.randbelow(90) + 10}")

    def new_recording_id(self, start, extension, tzinfo):
        return _b64(f"{int(start.timestamp())}:{extension or 0}:{secrets.randbelow(10**9)}")

    def encode_step(self, step, call, tzinfo, params):
        if params.get("wait_in_ivr") and not call.outbound and step.kind != calls.STARTED:
            return {"step": step.kind, "posts": []}
        writer = _CallWriter(call, params)
        for natural in _call_steps(call.scenario, call):
            posts = writer.write(natural)
            if natural == step:
                return {"step": step.kind, "posts": posts}
        # A step outside the call's own course (the recording_ready scenario).
        return {"step": step.kind, "posts": _CallWriter(call, params).write(step)}

    # --- webhooks -------------------------------------------------------------------------

    def webhook_payloads(self, payloads, options):
        posts = unbundle(payloads)
        shuffle = options["shuffle"]
        if shuffle:
            seed = shuffle if type(shuffle) is int else None
            random.Random(seed).shuffle(posts)
        return posts

    def webhook_target(self, account, payload):
        path = CALL_PATH if isinstance(payload, bytes) else split_payload(payload)[0]
        return f"{account.webhook_url.rstrip('/')}/{path}"

    def webhook_request(self, account, payload, signing, options):
        headers = {"Content-Type": FORM_TYPE}
        if is_bundle(payload):
            raise ValueError("a bundle is posted as its posts (webhook_payloads)")
        if isinstance(payload, bytes):  # a json field as it is, even when it is no JSON
            text = payload
        else:
            path, text, parsed = split_payload(payload)
            if path == CALL_PATH and isinstance(parsed, dict):
                account.remember_leg(parsed)
        signature = None
        if signing == "valid":
            signature = sign(account.api_key, text, account.api_salt)
        elif signing == "bad":
            signature = sign(account.api_key, text, account.api_salt + "-tampered")
        return form_body(account.api_key, text, signature), headers

    def event_name(self, payload):
        if isinstance(payload, bytes):
            return "raw bytes"
        if is_bundle(payload):
            return f"{payload['step']}: {len(payload['posts'])} posts"
        if not isinstance(payload, dict):
            return "?"
        path, _text, data = split_payload(payload)
        data = data if isinstance(data, dict) else {}
        detail = data.get("call_state") or data.get("recording_state") or data.get("result")
        return f"{path} {detail}" if detail is not None else path

    # --- REST -----------------------------------------------------------------------------

    def error_payload(self, message):
        return {"code": OVERLOAD, "message": message}

    def handle_rest(self, sim, request):
        route = request.route
        if route.startswith("/files/"):
            self._download(sim, request, route[len("/files/") :])
        if not route.startswith("/vpbx/"):
            return
        account = sim.accounts.get(self.code)
        if account is None:
            raise self.error(404, "No Mango Office account is simulated")
        data = self._authorize(account, request)
        name = route[len("/vpbx/") :].strip("/")
        handler = {
            "commands/callback": self._callback,
            "commands/route": self._route,
            "queries/recording/post": self._recording_post,
            "config/users/request": self._users,
            "stats/request": self._stats_request,
            "stats/result": self._stats_result,
        }.get(name)
        if handler is None:
            raise _fail(404, UNSUPPORTED)
        handler(sim, account, data)

    def _authorize(self, account, request):
        """The request's json once ``vpbx_api_key`` and ``sign`` are right; 420 otherwise."""
        request.auth_ok = False
        if request.method != "POST":
            request.auth_error = "not a POST"
            raise _fail(420, NOT_POST)
        params = request.params
        key, given, text = params.get("vpbx_api_key"), params.get("sign"), params.get("json")
        if key is None or given is None or text is None:
            request.auth_error = "vpbx_api_key, sign and json are required"
            raise _fail(420, MISSING_PARAMETER)
        if not hmac.compare_digest(key.encode(), account.api_key.encode()):
            request.auth_error = f"unknown vpbx_api_key {key!r}"
            raise _fail(420, BAD_KEY)
        expected = sign(account.api_key, text, account.api_salt)
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            request.auth_error = f"sign mismatch: expected {expected} over {text!r}"
            _logger.info("Mango Office %s refused: %s", request.path, request.auth_error)
            raise _fail(420, SIGN_MISMATCH)
        request.auth_ok = True
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _fail(420, BAD_FORMAT)
        return data

    def _post_later(self, sim, work, name):
        """Run ``work`` a moment after the answer, as the VPBX does with its results."""
        sim._spawn(work, delay=sim.originate_delay, name=name)

    def _callback(self, sim, account, data):
        command_id = str(data.get("command_id") or "")
        source = data.get("from") if isinstance(data.get("from"), dict) else {}
        extension = str(source.get("extension") or "")
        to_number = str(data.get("to_number") or "")
        if not (command_id and extension and to_number):
            raise _fail(420, MISSING_PARAMETER)
        result = account.result_for(to_number)
        if result == OK and (extension not in sim.extensions or not dialable(to_number)):
            result = BAD_PARAMETERS
        entry_id = self.new_call_id("outbound") if result == OK else ""
        line = str(data.get("line_number") or DEFAULT_DID)
        with account.lock:
            account.commands.append(
                {
                    "command": "callback",
                    "command_id": command_id,
                    "extension": extension,
                    "to_number": to_number,
                    "result": result,
                    "entry_id": entry_id,
                }
            )

        def work():
            # The documented example writes this result as a string.
            answer = {"command_id": command_id, "result": str(result)}
            sim.send(self.code, envelope(CALLBACK_RESULT_PATH, answer), scenario="callback")
            if result == OK and sim.auto_play_originate:
                sim.play(
                    self.code,
                    "outgoing",
                    event_gap=sim.originate_event_gap,
                    extension=extension,
                    number=to_number,
                    did=line,
                    call_id=entry_id,
                    command_id=command_id,
                    ring_seconds=3,
                    talk_seconds=5,
                )

        self._post_later(sim, work, f"mango-callback-{command_id}")
        raise _json(200, {"result": OK})

    def _route(self, sim, account, data):
        command_id = str(data.get("command_id") or "")
        call_id = str(data.get("call_id") or "")
        to_number = str(data.get("to_number") or "")
        if not (command_id and call_id and to_number):
            raise _fail(420, MISSING_PARAMETER)
        if account.route_delay:
            time.sleep(account.route_delay)
        leg = account.leg(call_id)
        result = account.result_for(to_number)
        if result == OK and leg is None:
            result = CALL_NOT_FOUND
        elif result == OK and leg.get("call_state") == DISCONNECTED:
            result = CALL_ENDED
        elif result == OK and not dialable(to_number):
            result = BAD_PARAMETERS
        route = {
            "command_id": command_id,
            "call_id": call_id,
            "to_number": to_number,
            "result": result,
            "entry_id": leg["entry_id"] if leg else "",
        }
        with account.lock:
            account.routes.append(route)

        def work():
            answer = {"command_id": command_id, "result": result}
            sim.send(self.code, envelope(ROUTE_RESULT_PATH, answer), scenario="route")
            if result == OK and account.play_routed_calls:
                posts = _routed_call(leg, call_id, to_number, int(sim.now()))
                sim.send(self.code, posts, scenario="route", event_gap=sim.originate_event_gap)

        self._post_later(sim, work, f"mango-route-{command_id}")
        raise _json(200, {"result": OK})

    def _recording_post(self, sim, account, data):
        recording_id = str(data.get("recording_id") or "")
        action = str(data.get("action") or "")
        if not (recording_id and action):
            raise _fail(420, MISSING_PARAMETER)
        if action not in ("download", "play"):
            raise _fail(420, BAD_FORMAT)
        known = any(
            item["recording_id"] == recording_id and item["provider"] == self.code
            for item in sim.recordings
        )
        if not known:
            raise _fail(420, RECORDING_NOT_FOUND)
        token = sim.issue_link(recording_id, LINK_LIFETIME)
        link = f"{sim.api_url(self.code)}/files/{action}/{token}"
        raise Reply(302, b"", {"Location": link})

    def _download(self, sim, request, rest):
        """A one-time recording link: served once, 404 afterwards (and once expired)."""
        action, _sep, token = rest.partition("/")
        account = sim.accounts.get(self.code)
        link = sim.resolve_link(token)
        if account is None or link is None or action not in ("download", "play"):
            raise Reply(404, b"", {"Content-Type": "text/plain"})
        recording_id, expires_at = link
        with account.lock:
            if token in account.used_links or sim.now() > expires_at:
                raise Reply(404, b"", {"Content-Type": "text/plain"})
            if request.method == "GET":
                account.used_links.add(token)
        mimetype = sim.recording_mimetype
        reply = audio_reply(
            request,
            sim.recording_bytes(recording_id),
            "audio/mp3" if mimetype == "audio/mpeg" else mimetype,
        )
        if action == "download":
            name = urllib.parse.quote(recording_id, safe="")
            reply.headers["Content-Disposition"] = f'attachment; filename="{name}.mp3"'
        raise reply

    def _users(self, sim, account, data):
        wanted = str(data.get("extension") or "")
        users = []
        for extension, name in sorted(sim.extensions.items()):
            if wanted and extension != wanted:
                continue
            numbers = [
                {"number": sip_number(extension), "protocol": "sip"},
                {"number": mobile_number(extension), "protocol": "tel"},
            ]
            for order, number in enumerate(numbers):
                number.update(order=str(order), wait_sec="20", status="on")
            users.append(
                {
                    "general": {"name": name, "email": account.email(extension, name)},
                    "telephony": {
                        "extension": extension,
                        "outgoingline": DEFAULT_DID,
                        "numbers": numbers,
                    },
                }
            )
        raise _json(200, {"users": users})

    def _stats_request(self, sim, account, data):
        try:
            start, end = int(data["date_from"]), int(data["date_to"])
        except KeyError:
            raise _fail(420, MISSING_PARAMETER) from None
        except (TypeError, ValueError):
            raise _fail(420, BAD_FORMAT) from None
        if end < start or end - start > STATS_MAX_RANGE:
            raise _fail(420, BAD_FORMAT)
        fields = _csv_fields(data.get("fields"))
        wanted_from = data.get("from") if isinstance(data.get("from"), dict) else {}
        wanted_to = data.get("to") if isinstance(data.get("to"), dict) else {}
        rows = []
        for record in sim.calls:
            started = int(record.start.timestamp())
            if record.provider != self.code or not start <= started <= end:
                continue
            values = _stats_values(record)
            if not _matches(values, "from", wanted_from) or not _matches(values, "to", wanted_to):
                continue
            rows.append((started, ";".join(str(values.get(name, "")) for name in fields)))
        key = secrets.token_urlsafe(18)
        with account.lock:
            account.stats_requests[key] = {
                "request": data,
                "rows": [row for _started, row in sorted(rows, key=lambda item: item[0])],
                "polls": 0,
                "last_poll": None,
            }
        raise _json(200, {"key": key})

    def _stats_result(self, sim, account, data):
        key = str(data.get("key") or "")
        if not key:
            raise _fail(420, MISSING_PARAMETER)
        now = sim.now()
        with account.lock:
            pending = account.stats_requests.get(key)
            if pending is None:
                raise Reply(404, b"", {"Content-Type": "text/plain"})
            last = pending["last_poll"]
            if last is not None and now - last < account.stats_poll_interval:
                raise Reply(503, b"", {"Content-Type": "text/plain"})  # polled too often
            pending["polls"] += 1
            pending["last_poll"] = now
            if pending["polls"] == 1:  # the report is being built
                raise Reply(204, b"", {"Content-Type": "text/plain"})
            rows = list(pending["rows"])
        raise Reply(200, "\n".join(rows).encode("utf-8"), {"Content-Type": "text/csv"})


def _fail(status, code):
    return _json(status, {"code": code})


def _json(status, payload):
    return Reply(status, php_json(payload).encode("ascii"), dict(JSON_HEADERS))


def _stats_values(record):
    """The statistics columns of one call of the history."""
    inbound = record.direction == "inbound"
    answered = record.disposition == "answered"
    start = int(record.start.timestamp())
    if inbound:
        to_number = sip_number(record.extension) if record.extension else record.did
    else:
        to_number = record.number
    return {
        "records": f"[{record.recording_id}]" if record.recording_id else "[]",
        "start": start,
        "finish": start + record.ring_seconds + record.duration,
        "answer": start + record.ring_seconds if answered else 0,
        "from_extension": "" if inbound else record.extension,
        "from_number": record.caller if inbound else sip_number(record.extension),
        "to_extension": record.extension if inbound else "",
        "to_number": to_number,
        "disconnect_reason": DISCONNECT_REASONS[record.disposition],
        "line_number": record.did,
        "location": "abonent" if record.extension else "ivr",
        "entry_id": record.call_id,
    }


def _matches(values, side, wanted):
    for name in ("extension", "number"):
        expected = str(wanted.get(name) or "")
        if expected and str(values[f"{side}_{name}"]) != expected:
            return False
    return True


def _routed_call(leg, call_id, to_number, now):
    """What follows ``commands/route`` of leg ``call_id``: a new leg to ``to_number`` taken
    from it, the routed leg's end, a short conversation and the summary."""
    entry_id = leg["entry_id"]
    as_text = leg.get("as_text", False)
    caller = {k: v for k, v in (leg.get("from") or {}).items() if k != "taken_from_call_id"}
    line = (leg.get("to") or {}).get("line_number")
    if is_extension(to_number):
        to = {"extension": to_number, "number": sip_number(to_number)}
    else:
        to = {"number": to_number}
    if line:
        to["line_number"] = line
    new_id = _b64(f"1:{_inner_id(entry_id)}:r{secrets.randbelow(10**6)}")
    talk_at, end_at = now + 3, now + 23

    def event(leg_id, seq, state, when, reason=None, **extra):
        data = {
            "entry_id": entry_id,
            "call_id": leg_id,
            "timestamp": _typed(when, as_text),
            "seq": _typed(seq, as_text),
            "call_state": state,
            "location": extra.get("location", "abonent"),
            "from": extra.get("from_", {**caller, "taken_from_call_id": call_id}),
            "to": extra.get("to", to),
        }
        if reason is not None:
            data["disconnect_reason"] = _typed(reason, as_text)
        return envelope(CALL_PATH, data)

    routed_seq = int(leg.get("seq") or 0) + 1
    old = {
        "location": leg.get("location", "ivr"),
        "from_": leg.get("from") or {},
        "to": leg.get("to") or {},
    }
    try:
        created = int(leg.get("created") or now)
    except (TypeError, ValueError):
        created = now
    summary = {
        "entry_id": entry_id,
        "call_direction": 2 if "extension" in caller else 1,
        "from": caller,
        "to": {k: v for k, v in to.items() if k != "line_number"},
        "line_number": line,
        "create_time": created,
        "forward_time": now,
        "talk_time": talk_at,
        "end_time": end_at,
        "entry_result": 1,
        "disconnect_reason": CALLER_HUNG_UP,
    }
    if not line:  # missing fields are left out, never null
        del summary["line_number"]
    return [
        event(new_id, 1, APPEARED, now),
        event(call_id, routed_seq, DISCONNECTED, now, EXTERNAL_COMMAND, **old),
        event(new_id, 2, CONNECTED, talk_at),
        event(new_id, 3, DISCONNECTED, end_at, CALLER_HUNG_UP),
        envelope(SUMMARY_PATH, summary),
    ]
