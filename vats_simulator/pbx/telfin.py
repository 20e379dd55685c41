"""Telfin (Telphin), REST API ver1.0.

Wire format as ``__manifest_docs__/protocols/telfin.md`` records it: events are sent per
extension and event type to the URLs subscribed through ``/extension/{id}/event/``, as form
fields in a POST body or a GET query, unsigned. ``CallID`` names the call (kept across
transfers), ``SubCallID`` one extension's leg, ``EventTime`` is microseconds since 1970 and
a hang-up's ``Duration`` microseconds of talk. Voice menus and queues report their hang-up
with ``Bridged`` yes/no. The API (``/oauth/token``, ``/api/ver1.0/...``) wants an OAuth2
bearer token of the client-credentials grant.

A payload of this module is one event of one extension, ``{"extension": "101", "type":
"phone", "fields": {...}}``; a scenario step is a bundle, ``{"step": <kind>, "posts":
[...]}``, of the events Telfin sends under the recommended subscriptions (all four events
on phones, the hang-up on voice menus and queues). Each event goes to every subscription of
its extension and type; with none, Telfin sends nothing. The account starts subscribed to
``webhook_url/<type>`` (``auto_subscribe``), as if its administrator had subscribed it.
"""

import datetime as dt
import hashlib
import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field

from .. import calls
from ..rest import Reply, audio_reply
from ..scenarios import _call_steps
from . import register
from .base import CliOption, Pbx, RetryPolicy, is_bundle, unbundle

PREFIX = "000"  # the client's prefix of its extension names
DOMAIN = "sipproxy.telphin.ru"
CLIENT_NUMBER = 37649
IVR_NUMBER, QUEUE_NUMBER = "099", "098"
IVR_LABEL, QUEUE_LABEL = "Main menu", "Sales queue"
NODE = "3584709733"  # the leading part of a CallAPIID
PHONE, IVR, QUEUE = "phone", "ivr", "queue"
EVENT_TYPES = ("dial-in", "dial-out", "answer", "hangup", "message-in", "message-out")
RECOMMENDED = {PHONE: ("dial-in", "dial-out", "answer", "hangup"), IVR: ("hangup",)}
RECOMMENDED[QUEUE] = RECOMMENDED[IVR]
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_HEADERS = {"Content-Type": "application/json"}
API = "/api/ver1.0"
LINK_LIFETIME = 3600
HISTORY_FORMAT = "%Y-%m-%d %H:%M:%S"
HISTORY_BUSY = "Stats request already exists, concurrent request not allowed"

# Neutral disposition -> CallStatus of a hang-up.
HANGUP_STATUS = {
    "answered": "ANSWER",
    "busy": "BUSY",
    "no_answer": "NOANSWER",
    "cancel": "CANCEL",
    "failed": "CHANUNAVAIL",
}
HISTORY_RESULT = {
    "answered": "answered",
    "busy": "busy",
    "no_answer": "not answered",
    "cancel": "not answered",
    "failed": "failed",
}


def extension_id(number):
    """Telfin's numeric id of extension ``number`` (stable)."""
    digits = "".join(char for char in str(number) if char.isdigit())
    return 469000 + int(digits or 0) % 1000


def extension_name(number):
    return f"{PREFIX}*{number}"


def extension_address(number):
    return f"{PREFIX}*{number}@{DOMAIN}"


def envelope(extension, kind, fields):
    return {"extension": str(extension), "type": kind, "fields": fields}


def is_envelope(payload):
    return isinstance(payload, dict) and set(payload) == {"extension", "type", "fields"}


def guess_envelope(fields):
    """A bare dict of Telfin fields, sent to the phone it names."""
    flow = str(fields.get("CallFlow", "")).lower()
    named = fields.get("CallerExtension") if flow == "out" else fields.get("CalledExtension")
    number = str(named or "").split("@", 1)[0].rsplit("*", 1)[-1]
    return envelope(number, PHONE, fields)


def form_body(fields):
    return urllib.parse.urlencode(list(fields.items())).encode("utf-8")


# --- the account ----------------------------------------------------------------------------


@dataclass
class TelfinAccount:
    """A Telfin client: its trusted application's ``client_id``/``client_secret``, and the
    URL its administrator subscribed (``auto_subscribe``: every extension starts with the
    recommended subscriptions to ``webhook_url/<type>``, by ``subscription_method``).

    Scripting the API: ``token_lifetime`` (seconds), ``revoke()`` (tokens refused;
    ``application=True``: the application itself deleted), ``subscription_limit``,
    ``busy_history(n)`` (the next call_history requests answer 429 as a concurrent one).
    What the API received: ``callbacks``; ``subscriptions`` by extension number.
    """

    webhook_url: str
    client_id: str
    client_secret: str
    auto_subscribe: bool = True
    subscription_method: str = "POST"
    token_lifetime: int = 3600
    subscription_limit: int = 100
    #: Telfin writes epoch microseconds (UTC).
    tzinfo: dt.tzinfo = field(default=dt.timezone.utc, init=False, repr=False)
    subscriptions: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    tokens: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    application_revoked: bool = field(default=False, init=False, repr=False)
    callbacks: list = field(default_factory=list, init=False, repr=False, compare=False)
    history_busy: int = field(default=0, init=False, repr=False)
    lock: object = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _serial: int = field(default=1000, init=False, repr=False)

    def __post_init__(self):
        if isinstance(self.auto_subscribe, str):  # the command line
            self.auto_subscribe = self.auto_subscribe.lower() not in ("0", "no", "false")
        self.token_lifetime = int(self.token_lifetime)
        self.subscription_limit = int(self.subscription_limit)
        self.subscription_method = self.subscription_method.upper()

    def revoke(self, application=False):
        """Refuse the tokens given so far; ``application``: refuse the credentials too."""
        with self.lock:
            self.tokens.clear()
            self.application_revoked = self.application_revoked or application

    def busy_history(self, count=1):
        with self.lock:
            self.history_busy += int(count)

    def next_id(self):
        with self.lock:
            self._serial += 1
            return self._serial

    def subscriptions_of(self, number, kind):
        """The subscriptions of extension ``number`` (created on first use when
        ``auto_subscribe``); the list itself, to change under ``lock``."""
        with self.lock:
            if number not in self.subscriptions:
                self.subscriptions[number] = []
                if self.auto_subscribe:
                    for event_type in RECOMMENDED.get(kind, ()):
                        self._serial += 1
                        self.subscriptions[number].append(
                            {
                                "id": self._serial,
                                "url": f"{self.webhook_url.rstrip('/')}/{kind}",
                                "method": self.subscription_method,
                                "event_type": event_type,
                            }
                        )
            return self.subscriptions[number]

    def subscription_count(self):
        with self.lock:
            return sum(len(items) for items in self.subscriptions.values())


# --- a call, written as Telfin sends it ------------------------------------------------------


class _CallWriter:
    """Writes the events of one call step by step: which phones ring, who talks since when."""

    def __init__(self, call, params):
        self.call = call
        self.callback = str(params.get("callback_id") or "")
        self.entry = (
            QUEUE_NUMBER if call.scenario == "ring_group_answered_elsewhere" else IVR_NUMBER
        )
        self.entry_kind = QUEUE if self.entry == QUEUE_NUMBER else IVR
        self.ringing = []
        self.talking = None
        self.answered_at = {}

    def at(self, offset):
        """``EventTime``: microseconds since 1970."""
        return str(int(self.call.start.timestamp()) * 1_000_000 + int(offset * 1_000_000))

    def leg(self, number):
        digest = hashlib.md5(f"{self.call.call_id}|{number}".encode()).hexdigest()  # noqa: S324
        return f"{extension_id(number)}-{digest}"

    def api_id(self):
        call_id = self.call.call_id
        if self.callback:
            return f"cb-{NODE}-{call_id}"
        if len(call_id) == 32:
            parts = (call_id[:8], call_id[8:12], call_id[12:16], call_id[16:20], call_id[20:])
            return f"{NODE}-{'-'.join(parts)}"
        return f"{NODE}-{call_id}"

    def base(self, event_type, number, when, flow, status):
        fields = {
            "EventType": event_type,
            "CallID": self.call.call_id,
            "SubCallID": self.leg(number),
            "CallAPIID": self.api_id(),
            "EventTime": self.at(when),
            "CallFlow": flow,
            "CallStatus": status,
        }
        if self.callback:
            fields["CallBackID"] = self.callback
        return fields

    def incoming(self, event_type, number, when, status, **extra):
        """An event of phone ``number`` rung by the voice menu or queue."""
        call = self.call
        fields = self.base(event_type, number, when, "in", status)
        fields.update(
            CallerIDNum=call.caller,
            CallerIDName=call.caller,
            CalledDID=call.did,
            CalledExtension=extension_address(number),
            CalledExtensionID=str(extension_id(number)),
            CalledNumber=extension_name(number),
            CallerExtension=extension_address(self.entry),
            CallerExtensionID=str(extension_id(self.entry)),
            **extra,
        )
        return envelope(number, PHONE, fields)

    def outgoing(self, event_type, when, status, **extra):
        call, number = self.call, self.call.extension
        fields = self.base(event_type, number, when, "out", status)
        fields.update(
            CallerIDNum=extension_name(number),
            CallerIDName=extension_name(number),
            CallerExtension=extension_address(number),
            CallerExtensionID=str(extension_id(number)),
            CalledNumber=call.number,
            **extra,
        )
        return envelope(number, PHONE, fields)

    def callback_leg(self, event_type, when, status, **extra):
        """A click-to-call first rings its own employee: an incoming leg of his phone."""
        call, number = self.call, self.call.extension
        fields = self.base(event_type, number, when, "in", status)
        fields["SubCallID"] = self.leg(f"cb{number}")
        fields.update(
            CallerIDNum=call.number,
            CallerIDName=call.number,
            CalledExtension=extension_address(number),
            CalledExtensionID=str(extension_id(number)),
            CalledNumber=extension_name(number),
            **extra,
        )
        return envelope(number, PHONE, fields)

    def entry_hangup(self, when, status, bridged):
        call = self.call
        fields = self.base("hangup", self.entry, when, "in", status)
        fields.update(
            CallerIDNum=call.caller,
            CallerIDName=call.caller,
            CalledDID=call.did,
            CalledExtension=extension_address(self.entry),
            CalledExtensionID=str(extension_id(self.entry)),
            CalledNumber=extension_name(self.entry),
            Bridged="yes" if bridged else "no",
            Duration=str(int(when * 1_000_000)),
        )
        return envelope(self.entry, self.entry_kind, fields)

    @staticmethod
    def micro(seconds):
        return str(int(seconds * 1_000_000))

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
        }[step.kind]
        return handler(step, step.offset)

    def _started(self, step, when):
        return []  # the voice menu's dial-in is not among the recommended subscriptions

    def _ringing(self, step, when):
        self.ringing.append(step.extension)
        return [self.incoming("dial-in", step.extension, when, "CALLING")]

    def _answered(self, step, when):
        posts = []
        number = step.extension
        if number not in self.ringing:
            posts += self._ringing(step, when)
        if self.talking and self.talking != number:  # a transfer: the first agent leaves
            talked = when - self.answered_at[self.talking]
            posts.append(
                self.incoming("hangup", self.talking, when, "ANSWER", Duration=self.micro(talked))
            )
        posts.append(self.incoming("answer", number, when, "ANSWER"))
        for other in self.ringing:  # the rest of the group stops ringing
            if other != number:
                posts.append(self.incoming("hangup", other, when, "CANCEL", Duration="0"))
        self.ringing = []
        self.talking = number
        self.answered_at[number] = when
        return posts

    def _ended(self, step, when):
        call = self.call
        if self.talking:
            extra = {"Duration": self.micro(when - self.answered_at[self.talking])}
            if call.recorded:
                extra["RecID"] = call.recording_id
            return [
                self.incoming("hangup", self.talking, when, "ANSWER", **extra),
                self.entry_hangup(when, "ANSWER", bridged=True),
            ]
        status = HANGUP_STATUS[call.disposition]
        posts = [self.incoming("hangup", n, when, status, Duration="0") for n in self.ringing]
        self.ringing = []
        posts.append(self.entry_hangup(when, status, bridged=False))
        return posts

    def _outgoing_started(self, step, when):
        posts = []
        if self.callback:
            posts.append(self.callback_leg("dial-in", when, "CALLING"))
            posts.append(self.callback_leg("answer", when + 1, "ANSWER"))
            when += 1
        posts.append(self.outgoing("dial-out", when, "CALLING"))
        return posts

    def _outgoing_ended(self, step, when):
        call = self.call
        posts = []
        if call.disposition == "answered":
            posts.append(self.outgoing("answer", when - call.duration, "ANSWER"))
            extra = {"Duration": self.micro(call.duration)}
            if call.recorded:
                extra["RecID"] = call.recording_id
            posts.append(self.outgoing("hangup", when, "ANSWER", **extra))
        else:
            posts.append(self.outgoing("hangup", when, HANGUP_STATUS[call.disposition]))
        if self.callback:
            talked = self.micro(max(when - 1, 0))
            posts.append(self.callback_leg("hangup", when, "ANSWER", Duration=talked))
        return posts

    def _recording_ready(self, step, when):
        """Telfin names a recording in the hang-up of the phone that talked: announced alone
        (the recording_ready scenario), it is that hang-up."""
        call = self.call
        if call.scenario != "recording_ready":
            return []
        number = call.recording_extension or "100"
        extra = {"Duration": self.micro(max(when - 1, 0)), "RecID": call.recording_id}
        return [self.incoming("hangup", number, when, "ANSWER", **extra)]


# --- the PBX ---------------------------------------------------------------------------------


@register("telfin")
class Telfin(Pbx):
    label = "Telfin"
    # Not documented. Chosen: never retried.
    webhook_retry = RetryPolicy(note="not documented; never retried (chosen)")
    Account = TelfinAccount
    path_prefix = "/telfin"
    missed_disposition = "no_answer"
    malformed_body = b"EventType=dial-in&CallID=%ZZ&CallerIDNum=\xff"
    signs_webhooks = False
    # callback_id: an outgoing call is a click-to-call (its legs carry CallBackID).
    scenario_params = frozenset({"callback_id"})
    # method: GET or POST for every delivery ("" keeps each subscription's).
    play_options = {"method": ""}
    cli_account_options = (
        CliOption(("--telfin-webhook",), "webhook_url", "URL subscribed (+ /<type>)", True, "URL"),
        CliOption(("--telfin-client-id",), "client_id", "trusted application's App ID", True),
        CliOption(("--telfin-client-secret",), "client_secret", "its App Secret", True, "S"),
    )
    cli_play_options = (
        CliOption(("--telfin-method",), "method", "Telfin: GET or POST", choices=("GET", "POST")),
    )

    # --- scenarios ------------------------------------------------------------------------

    def new_call_id(self, direction):
        return secrets.token_hex(16)

    def new_recording_id(self, start, extension, tzinfo):
        return f"{extension_id(extension or '100')}-{secrets.token_hex(16).upper()}"

    def encode_step(self, step, call, tzinfo, params):
        writer = _CallWriter(call, params)
        for natural in _call_steps(call.scenario, call):
            posts = writer.write(natural)
            if natural == step:
                return {"step": step.kind, "posts": posts}
        return {"step": step.kind, "posts": _CallWriter(call, params).write(step)}

    # --- webhooks -------------------------------------------------------------------------

    def webhook_payloads(self, payloads, options):
        return unbundle(payloads)

    def webhook_request(self, account, payload, signing, options):
        """Telfin signs nothing: every ``signing`` gives the same body."""
        if isinstance(payload, bytes):
            return payload, {"Content-Type": FORM_TYPE}
        if is_bundle(payload):
            raise ValueError("a bundle is sent as its posts (webhook_payloads)")
        if not is_envelope(payload):
            payload = guess_envelope(payload)
        return form_body(payload["fields"]), {"Content-Type": FORM_TYPE}

    def webhook_deliveries(self, account, payload, signing, options):
        """One request per subscription of the event's extension and type (none without
        one); ``signing`` ``bad`` forges the URL's token, ``none`` leaves it out."""
        body, headers = self.webhook_request(account, payload, signing, options)
        if isinstance(payload, bytes):
            url = f"{account.webhook_url.rstrip('/')}/{PHONE}"
            return [("POST", _signed_url(url, signing), body, headers)]
        if not is_envelope(payload):
            payload = guess_envelope(payload)
        event_type = payload["fields"].get("EventType")
        subscriptions = account.subscriptions_of(payload["extension"], payload["type"])
        with account.lock:
            targets = [dict(item) for item in subscriptions if item["event_type"] == event_type]
        requests = []
        for target in targets:
            method = (options.get("method") or target["method"] or "POST").upper()
            url = _signed_url(target["url"], signing)
            if method == "GET":
                joiner = "&" if "?" in url else "?"
                requests.append(("GET", f"{url}{joiner}{body.decode()}", body, {}))
            else:
                requests.append(("POST", url, body, headers))
        return requests

    def event_name(self, payload):
        if isinstance(payload, bytes):
            return "raw bytes"
        if is_bundle(payload):
            return f"{payload['step']}: {len(payload['posts'])} posts"
        if not isinstance(payload, dict):
            return "?"
        if not is_envelope(payload):
            payload = guess_envelope(payload)
        fields = payload["fields"]
        return f"{fields.get('EventType')} {payload['extension']}"

    # --- REST -----------------------------------------------------------------------------

    def error_payload(self, message):
        return {"message": message}

    def handle_rest(self, sim, request):
        route = request.route
        if route.startswith("/storage/"):
            self._storage(sim, request, route[len("/storage/") :])
        account = sim.accounts.get(self.code)
        if account is None:
            raise self.error(404, "No Telfin account is simulated")
        if route.rstrip("/") == "/oauth/token":
            self._token(sim, account, request)
        if not route.startswith(API + "/"):
            return
        self._authorize(sim, account, request)
        parts = [part for part in route[len(API) :].split("/") if part]
        method = request.method
        if len(parts) >= 3 and parts[0] == "client":
            if parts[1] not in ("@me", str(CLIENT_NUMBER)):
                raise self.error(404, "Client not found")
            rest = parts[2:]
            if rest == ["extension"] and method == "GET":
                self._extensions(sim, request)
            if rest == ["limit"] and method == "GET":
                raise _json(200, {"extension_events": account.subscription_limit})
            if rest == ["call_history"] and method == "GET":
                self._history(sim, account, request)
            if len(rest) in (2, 3) and rest[0] == "record" and method == "GET":
                self._record(sim, request, rest[1], storage_url=rest[2:] == ["storage_url"])
            return
        if len(parts) >= 3 and parts[0] == "extension":
            number, kind = self._extension_by_id(sim, parts[1])
            if parts[2:] == ["event"] and method == "GET":
                raise _json(200, list(account.subscriptions_of(number, kind)))
            if parts[2:] == ["event"] and method == "POST":
                self._subscribe(account, request, number, kind)
            if len(parts) == 4 and parts[2] == "event" and method == "DELETE":
                self._unsubscribe(account, number, kind, parts[3])
            if parts[2:] == ["callback"] and method == "POST":
                self._callback(sim, account, request, number, kind)
        return

    def _token(self, sim, account, request):
        params = request.params
        if request.method != "POST":
            raise _json(405, {"error": "invalid_request"})
        if params.get("grant_type") != "client_credentials":
            raise _json(400, {"error": "unsupported_grant_type"})
        known = params.get("client_id") == account.client_id and (
            params.get("client_secret") == account.client_secret
        )
        if not known or account.application_revoked:
            request.auth_ok = False
            request.auth_error = "unknown client or secret"
            raise _json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        token = secrets.token_urlsafe(24)
        with account.lock:
            account.tokens[token] = sim.now() + account.token_lifetime
        request.auth_ok = True
        raise _json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": account.token_lifetime},
        )

    def _authorize(self, sim, account, request):
        header = request.header("Authorization") or ""
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        with account.lock:
            expires = account.tokens.get(token)
        if expires is None or expires <= sim.now():
            request.auth_ok = False
            request.auth_error = "no valid bearer token"
            raise self.error(401, "Invalid or expired access token")
        request.auth_ok = True

    def _directory(self, sim):
        """``(number, kind, label)`` of every extension: the simulator's phones, a voice
        menu and a queue."""
        phones = [(number, PHONE, name) for number, name in sorted(sim.extensions.items())]
        return phones + [(IVR_NUMBER, IVR, IVR_LABEL), (QUEUE_NUMBER, QUEUE, QUEUE_LABEL)]

    def _extension_by_id(self, sim, text):
        for number, kind, _label in self._directory(sim):
            if str(extension_id(number)) == text:
                return number, kind
        raise self.error(404, "Extension not found")

    def _extensions(self, sim, request):
        rows = [
            {
                "id": extension_id(number),
                "name": extension_name(number),
                "type": kind,
                "label": label,
                "status": "active",
            }
            for number, kind, label in self._directory(sim)
        ]
        kind = request.params.get("type")
        if kind:
            rows = [row for row in rows if row["type"] == kind]
        page, per_page = _paging(request.params, 50)
        raise _json(200, rows[(page - 1) * per_page : page * per_page])

    def _subscribe(self, account, request, number, kind):
        data = request.json if isinstance(request.json, dict) else {}
        url, method, event_type = data.get("url"), data.get("method"), data.get("event_type")
        if not url or method not in ("GET", "POST") or event_type not in EVENT_TYPES:
            raise self.error(400, "url, method (GET or POST) and event_type are required")
        if account.subscription_count() >= account.subscription_limit:
            raise self.error(400, "Event limit exceeded")
        item = {"id": account.next_id(), "url": url, "method": method, "event_type": event_type}
        subscriptions = account.subscriptions_of(number, kind)
        with account.lock:
            subscriptions.append(item)
        raise _json(200, item)

    def _unsubscribe(self, account, number, kind, text):
        subscriptions = account.subscriptions_of(number, kind)
        with account.lock:
            for item in subscriptions:
                if str(item["id"]) == text:
                    subscriptions.remove(item)
                    raise Reply(204, b"", {"Content-Type": "text/plain"})
        raise self.error(404, "Event not found")

    def _callback(self, sim, account, request, number, kind):
        data = request.json if isinstance(request.json, dict) else {}
        sources = data.get("src_num")
        destination = str(data.get("dst_num") or "")
        if kind != PHONE or not isinstance(sources, list) or not sources:
            raise self.error(400, "src_num is required")
        if not destination.lstrip("+").isdigit():
            raise self.error(400, "dst_num is not a number")
        if str(sources[0]) not in (extension_name(number), number):
            raise self.error(400, "src_num is not this extension")
        call_id = self.new_call_id("outbound")
        with account.lock:
            account.callbacks.append({"extension": number, "request": data, "call_id": call_id})
        if sim.auto_play_originate:
            params = {
                "extension": number,
                "number": destination,
                "call_id": call_id,
                "callback_id": call_id,
                "ring_seconds": 3,
                "talk_seconds": 5,
            }
            sim._spawn(
                lambda: sim.play(
                    self.code, "outgoing", event_gap=sim.originate_event_gap, **params
                ),
                delay=sim.originate_delay,
                name=f"telfin-callback-{call_id}",
            )
        raise _json(200, {"call_api_id": call_id, "call_id": call_id})

    def _record(self, sim, request, record_uuid, storage_url):
        record_uuid = urllib.parse.unquote(record_uuid)
        known = any(
            item["recording_id"] == record_uuid and item["provider"] == self.code
            for item in sim.recordings
        )
        if not known:
            raise self.error(404, "Record not found")
        if storage_url:
            token = sim.issue_link(record_uuid, LINK_LIFETIME)
            raise _json(200, {"record_url": f"{sim.api_url(self.code)}/storage/{token}"})
        raise audio_reply(request, sim.recording_bytes(record_uuid), sim.recording_mimetype)

    def _storage(self, sim, request, token):
        link = sim.resolve_link(token.strip("/"))
        if link is None or sim.now() > link[1]:
            raise Reply(404, b"", {"Content-Type": "text/plain"})
        raise audio_reply(request, sim.recording_bytes(link[0]), sim.recording_mimetype)

    def _history(self, sim, account, request):
        with account.lock:
            busy = account.history_busy > 0
            account.history_busy -= 1 if busy else 0
        if busy:
            raise self.error(429, HISTORY_BUSY)
        params = request.params
        try:
            start = _utc(params["start_datetime"])
            end = _utc(params["end_datetime"])
        except (KeyError, ValueError):
            raise self.error(400, "start_datetime and end_datetime are required") from None
        rows = [
            _history_row(record)
            for record in sim.calls
            if record.provider == self.code and start <= record.start <= end
        ]
        page, per_page = _paging(params, 100)
        order = params.get("order") or "desc"
        rows.sort(key=lambda row: row["init_time_gmt"], reverse=order == "desc")
        raise _json(
            200,
            {
                "page": page,
                "per_page": per_page,
                "order": order,
                "call_history": rows[(page - 1) * per_page : page * per_page],
            },
        )


def _signed_url(url, signing):
    """The URL a delivery goes to: as subscribed, with a forged token (``bad``), or without
    it (``none``); the token is the segment before the extension type."""
    if signing == "valid":
        return url
    parts = urllib.parse.urlsplit(url)
    segments = parts.path.split("/")
    if len(segments) >= 3:
        if signing == "bad":
            segments[-2] += "-forged"
        else:
            del segments[-2]
    return urllib.parse.urlunsplit(parts._replace(path="/".join(segments)))


def _paging(params, default):
    try:
        page = max(int(params.get("page") or 1), 1)
        per_page = max(min(int(params.get("per_page") or default), 500), 1)
    except ValueError:
        raise Reply(400, {"message": "page and per_page are numbers"}) from None
    return page, per_page


def _utc(text):
    return dt.datetime.strptime(text, HISTORY_FORMAT).replace(tzinfo=dt.timezone.utc)


def _history_row(record):
    """One call of the call history, as ``call_history`` lists it."""
    inbound = record.direction == "inbound"
    answered = record.disposition == "answered"
    start = record.start.astimezone(dt.timezone.utc)
    end = start + dt.timedelta(seconds=record.ring_seconds + record.duration)
    legs = []
    if record.extension:
        legs.append(
            {
                "extension_type": PHONE,
                "extension_name": extension_address(record.extension),
                "extension_id": extension_id(record.extension),
                "result": HISTORY_RESULT[record.disposition],
                "record_uuid": record.recording_id or None,
                "duration": record.duration,
                "flow": "in" if inbound else "out",
            }
        )
    return {
        "call_uuid": record.call_id.upper(),
        "flow": "in" if inbound else "out",
        "init_time_gmt": start.strftime(HISTORY_FORMAT),
        "start_time_gmt": start.strftime(HISTORY_FORMAT),
        "hangup_time_gmt": end.strftime(HISTORY_FORMAT),
        "duration": record.ring_seconds + record.duration,
        "bridged": answered,
        "bridged_duration": record.duration,
        "from_username": record.caller if inbound else extension_name(record.extension),
        "to_username": extension_name(IVR_NUMBER) if inbound else record.number,
        "did_number": record.did if inbound else None,
        "dest_number": None if inbound else record.number,
        "result": ("bridged" if inbound else "answered")
        if answered
        else HISTORY_RESULT[record.disposition],
        "hangup_disposition": "caller_cancel" if record.disposition == "cancel" else "caller_bye",
        "cdr": legs,
    }


def _json(status, payload):
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode(), dict(JSON_HEADERS))
