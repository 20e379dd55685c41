"""Provider-neutral data exchanged between the adapters and the Odoo side.

Every adapter turns its PBX's wire format into these objects and back, so the Odoo models never
see a provider-specific payload except in ``CallEvent.raw``.
"""

import dataclasses
import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

# Event kinds. The Odoo state machine is written against these exact strings.
CALL_STARTED = "call_started"
AGENT_RINGING = "agent_ringing"
ANSWERED = "answered"
ENDED = "ended"
MISSED = "missed"
OUTGOING_STARTED = "outgoing_started"
RECORDING_READY = "recording_ready"
# The PBX refused, after the fact, a call Odoo asked it to place (``origin_ref`` names it).
ORIGINATE_REFUSED = "originate_refused"
EVENT_KINDS = (
    CALL_STARTED,
    AGENT_RINGING,
    ANSWERED,
    ENDED,
    MISSED,
    OUTGOING_STARTED,
    RECORDING_READY,
    ORIGINATE_REFUSED,
)

INBOUND = "inbound"
OUTBOUND = "outbound"
INTERNAL = "internal"
DIRECTIONS = (INBOUND, OUTBOUND, INTERNAL)

# Normalized call outcomes (``CallEvent.disposition``, ``HistoryCall.disposition``).
DISPOSITIONS = ("answered", "busy", "no_answer", "cancel", "failed")

EVENT_KEY_MAX_LEN = 255


def ensure_utc(value):
    """Return ``value`` as an aware UTC datetime; a naive value is taken to be UTC already
    (that is what Odoo's ``fields.Datetime`` holds)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"Expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def utcnow():
    return datetime.now(timezone.utc)


def _datetime_from_json(value):
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    return ensure_utc(datetime.fromisoformat(value))


@dataclass
class CallEvent:
    """One normalized call event, produced by ``ProviderAdapter.parse()``.

    Numbers are kept as the provider sent them; the Odoo side normalizes them with
    ``numbers.normalize()`` and the company's region.
    """

    kind: str
    provider_call_id: str
    #: Deduplication key, unique per provider: a redelivered webhook yields the same key.
    event_key: str
    #: When the event happened (or, if the provider does not say, when it was received).
    occurred_at: datetime
    direction: str
    from_number: str = ""
    to_number: str = ""
    did: str = ""
    extension: str = ""
    leg_id: str = ""
    call_started_at: datetime | None = None
    disposition: str = ""
    duration: int | None = None
    recording_ref: str = ""
    #: The id Odoo gave the call when it asked the PBX to place it (``request_ref`` of
    #: ``originate``), for PBXs that echo it in the call's events.
    origin_ref: str = ""
    #: Why the PBX refused or failed the call, in its own terms: a marked, untranslated
    #: text the Odoo side translates; ``reason_code`` is the PBX's code.
    reason: str = ""
    reason_code: str = ""
    #: The provider's own name for the event, e.g. ``NOTIFY_START``.
    provider_event: str = ""
    #: The parsed payload as received (JSON-serializable), kept for audit and re-processing.
    raw: dict = field(default_factory=dict)

    def __post_init__(self):
        # Fail at construction rather than deep inside the Odoo state machine.
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"Unknown event kind {self.kind!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Unknown call direction {self.direction!r}")
        if self.disposition and self.disposition not in DISPOSITIONS:
            raise ValueError(f"Unknown disposition {self.disposition!r}")
        if not self.provider_call_id:
            raise ValueError("provider_call_id is empty")
        if not self.event_key or len(self.event_key) > EVENT_KEY_MAX_LEN:
            raise ValueError(f"event_key must be 1 to {EVENT_KEY_MAX_LEN} characters")
        self.occurred_at = ensure_utc(self.occurred_at)
        self.call_started_at = ensure_utc(self.call_started_at)

    def to_dict(self):
        """A JSON-serializable dict (datetimes as ISO 8601 strings) for storage.

        Shallow: ``raw`` is the event's own dict, not a copy (``dataclasses.asdict``
        copies it deeply, on every webhook, only for it to be serialized).
        """
        data = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        for name in ("occurred_at", "call_started_at"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return data

    @classmethod
    def from_dict(cls, data):
        """Rebuild an event stored with ``to_dict()``. Unknown keys are ignored so that events
        stored by an older or newer version still load."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        values["occurred_at"] = _datetime_from_json(values.get("occurred_at"))
        values["call_started_at"] = _datetime_from_json(values.get("call_started_at"))
        return cls(**values)

    def to_json(self):
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


class Headers(MutableMapping):
    """A case-insensitive header mapping that remembers the original spelling."""

    def __init__(self, data=None):
        self._items = {}
        if data:
            items = data.items() if isinstance(data, Mapping) else data
            for name, value in items:
                self[name] = value

    def __setitem__(self, name, value):
        self._items[name.lower()] = (name, value)

    def __getitem__(self, name):
        return self._items[name.lower()][1]

    def __delitem__(self, name):
        del self._items[name.lower()]

    def __iter__(self):
        return (original for original, _value in self._items.values())

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return f"Headers({dict(self.items())!r})"


def _first_values(data):
    """Flatten a multi-valued mapping (lists, MultiDict) to str -> str; first value wins."""
    flat = {}
    for key, value in (data or {}).items():
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        flat[str(key)] = "" if value is None else str(value)
    return flat


@dataclass
class WebhookRequest:
    """What the controller hands to an adapter: the HTTP request, untouched.

    ``body`` must be the raw bytes as received, since signatures are computed over them.
    """

    method: str = "POST"
    url: str = ""
    path: str = ""
    query: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    content_type: str = ""
    remote_addr: str = ""
    #: When the server received the request; the reference clock for replay checks.
    received_at: datetime = field(default_factory=utcnow)

    def __post_init__(self):
        self.method = (self.method or "GET").upper()
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)
        if self.body is None:
            self.body = b""
        elif isinstance(self.body, str):
            self.body = self.body.encode()
        if not self.query and "?" in self.url:
            self.query = {}
            for key, value in parse_qsl(urlsplit(self.url).query, keep_blank_values=True):
                self.query.setdefault(key, value)
        self.query = _first_values(self.query)
        self.form = _first_values(self.form)
        if not self.path and self.url:
            self.path = urlsplit(self.url).path
        if not self.content_type:
            self.content_type = self.header("Content-Type")
        self.received_at = ensure_utc(self.received_at)

    def header(self, name, default=""):
        """Value of header ``name`` (any case), or ``default``."""
        return self.headers.get(name, default)

    @property
    def mimetype(self):
        """The content type without its parameters, lowercase."""
        return self.content_type.split(";", 1)[0].strip().lower()


@dataclass
class WebhookResponse:
    """The HTTP answer the controller must send back to the PBX."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def json(cls, payload, status=200):
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status=status, body=body, content_type="application/json")

    @classmethod
    def text(cls, text, status=200):
        return cls(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")


REDIRECT = "redirect"
REJECT = "reject"
DEFAULT = "default"
ROUTING_ACTIONS = (REDIRECT, REJECT, DEFAULT)


@dataclass
class RoutingDecision:
    """How the PBX should route a call that is starting (e.g. to the partner's salesperson)."""

    action: str = DEFAULT
    #: Extensions or PBX scenario ids, in order of preference.
    targets: list = field(default_factory=list)
    #: Seconds to ring the targets before the PBX falls back to its own routing.
    timeout: int | None = None
    #: Name to display on the agent's phone (the CRM contact).
    caller_name: str = ""
    #: Override of the target's forwarding number, where the PBX supports it.
    forward_number: str = ""

    def __post_init__(self):
        if self.action not in ROUTING_ACTIONS:
            raise ValueError(f"Unknown routing action {self.action!r}")
        self.targets = [str(target) for target in self.targets or []]


@dataclass
class OriginateResult:
    """Result of a click-to-call request. ``call_id`` is empty when the PBX does not return one
    (the call is then correlated through its webhooks)."""

    call_id: str = ""
    raw: dict = field(default_factory=dict)


@dataclass
class RecordingLink:
    """Where to download a recording. The link is temporary: download it, do not store it."""

    url: str
    expires_at: datetime | None = None


@dataclass
class Extension:
    """An internal number (user / SIP account) of the PBX."""

    extension: str
    name: str = ""
    #: The employee's e-mail at the PBX, to match him with an Odoo user.
    email: str = ""


@dataclass
class HistoryCall:
    """One call from the provider's call history (used to reconcile missed webhooks)."""

    call_id: str
    direction: str
    from_number: str = ""
    to_number: str = ""
    extension: str = ""
    started_at: datetime | None = None
    duration: int | None = None
    disposition: str = ""
    recording_ref: str = ""


@dataclass(frozen=True)
class NotificationTemplate:
    """A notification the administrator sets up by hand in the PBX's web account (for
    PBXs whose webhooks carry whatever body the customer writes): paste ``body`` as the
    text of the ``key`` notification, sent with ``method`` to ``url``. ``title`` and
    ``help`` are marked, untranslated texts the Odoo side translates."""

    key: str
    title: str
    method: str
    url: str
    body: str
    help: str = ""


@dataclass
class SubscriptionReport:
    """What ``subscribe_events`` did to the PBX's event subscriptions of this account."""

    #: Subscriptions created, ours already right and kept, ours stale and removed.
    created: int = 0
    kept: int = 0
    removed: int = 0
    #: The PBX's subscription limit and how many subscriptions exist now (None: unknown).
    limit: int | None = None
    used: int | None = None
    #: Extensions covered.
    extensions: int = 0
    #: Short texts (an extension and why) of what could not be subscribed.
    skipped: tuple = ()
