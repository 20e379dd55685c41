"""What a simulated PBX module provides: subclass :class:`Pbx` and register it.

The core (scenarios, server, simulator, command line, live mode) knows no PBX by name; it
calls the hooks below. Hooks listed in ``REQUIRED_HOOKS`` must be defined by every PBX; the
others have a default that suits a PBX without that feature.
"""

import dataclasses

from ..rest import Reply

REQUIRED_HOOKS = (
    # attributes
    "label",
    "Account",
    "path_prefix",
    "missed_disposition",
    "malformed_body",
    "cli_account_options",
    # methods
    "new_call_id",
    "new_recording_id",
    "encode_step",
    "webhook_request",
    "event_name",
    "handle_rest",
    "error_payload",
)
OPTIONAL_HOOKS = (
    "scenario_params",
    "play_options",
    "cli_play_options",
    "rate_limits",
    "webhook_payloads",
    "webhook_target",
    "webhook_deliveries",
    "response_headers",
    "verify_webhook_url",
    "start_services",
    "stop_services",
    "webhook_retry",
)


@dataclasses.dataclass(frozen=True)
class CliOption:
    """A command-line option of a PBX. ``flags`` (the first one is shown first) set the
    account field or play option ``field``; ``required`` options of an account go together.
    ``switch`` makes a flag without a value (``store_true``)."""

    flags: tuple
    field: str
    help: str
    required: bool = False
    metavar: str | None = None
    choices: tuple | None = None
    switch: bool = False


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a PBX delivers a webhook again after a failed attempt.

    A failed attempt is one that got no answer within ``timeout`` seconds (or no connection)
    or an answer other than 2xx. ``delays`` are the seconds waited after each failed attempt
    before the next one; ``()`` means the webhook is sent once. ``known`` tells whether the
    PBX documents the policy (else we chose it, conservatively: fewer retries than the PBX
    may really make, so that the receiver is tested without counting on them).
    """

    delays: tuple = ()
    timeout: float = 10.0
    known: bool = False
    note: str = ""

    @property
    def attempts(self):
        """How many times at most one webhook is sent."""
        return 1 + len(self.delays)

    @staticmethod
    def failed(status):
        """Whether an attempt answered ``status`` (None: no answer) is retried."""
        return status is None or not 200 <= status < 300


class Pbx:
    """One simulated PBX; ``register(code)`` (in ``pbx/__init__.py``) sets ``code``."""

    code = ""

    # --- required ---------------------------------------------------------------------------

    #: A human name, for help texts and logs.
    label = None
    #: The account dataclass: a ``webhook_url`` field (where call events are posted), the
    #: secrets the PBX signs with and checks; an optional ``tzinfo`` attribute is the zone the
    #: PBX writes local times in. ``register`` sets its ``provider`` to the PBX code.
    Account = None
    #: Where the PBX's REST API is served, below the simulator's root: ``""`` (the root
    #: itself, at most one PBX) or ``"/<name>"``. ``<prefix>/_simulator/play`` is the control
    #: endpoint.
    path_prefix = None
    #: The neutral disposition of a missed call when the scenario gives none.
    missed_disposition = None
    #: Bytes the PBX would never send (the ``malformed`` scenario).
    malformed_body = None
    #: ``CliOption``s building an ``Account`` from the command line.
    cli_account_options = None

    def new_call_id(self, direction):
        """A fresh call id in the PBX's format; ``direction`` is inbound or outbound."""
        raise NotImplementedError

    def new_recording_id(self, start, extension, tzinfo):
        """A fresh recording id for a call started at ``start`` (aware UTC)."""
        raise NotImplementedError

    def encode_step(self, step, call, tzinfo, params):
        """The payload the PBX posts for ``step`` (``calls.Step``) of ``call`` (``calls.Call``).

        ``tzinfo`` is the account's zone (UTC without an account); ``params`` are the
        scenario's parameters as given, including this PBX's ``scenario_params``.
        """
        raise NotImplementedError

    def webhook_request(self, account, payload, signing, options):
        """``(body, headers)`` of the POST carrying ``payload`` (a payload, or raw bytes).

        ``signing`` is ``valid``, ``bad`` (a wrong secret) or ``none`` (no signature);
        ``options`` are the ``play_options``, defaults filled in.
        """
        raise NotImplementedError

    def event_name(self, payload):
        """A short name of a payload, for logs and the command line's output."""
        raise NotImplementedError

    def handle_rest(self, sim, request):
        """Answer ``request`` (``rest.RestRequest``; ``request.route`` is the path below
        ``path_prefix``) by raising ``rest.Reply``. Returning means "no such route" (404)."""
        raise NotImplementedError

    def error_payload(self, message):
        """The JSON body of an error answer of the PBX's REST API."""
        raise NotImplementedError

    # --- optional ---------------------------------------------------------------------------

    #: Scenario parameters of this PBX only, beyond ``scenarios.SCENARIO_PARAMS``.
    scenario_params = frozenset()
    #: Transport options ``play()``/``send()`` accept for this PBX, with their defaults.
    play_options = {}
    #: ``CliOption``s of the play options, for ``--scenario``.
    cli_play_options = ()
    #: Requests per minute of each rate-limit bucket (see ``Simulator.count_rate``).
    rate_limits = {}
    #: Whether a webhook carries a signature (or a secret) of its own: ``signing`` then
    #: changes its body or headers. A PBX that signs nothing may change its URL instead.
    signs_webhooks = True
    #: How the PBX hands its call events over: ``webhook`` (it posts them, one request per
    #: delivery) or ``stream`` (clients connect to a server of the PBX and read them, e.g. a
    #: manager socket: ``webhook_deliveries`` writes to them and gives no request).
    transport = "webhook"
    #: How failed webhooks are delivered again when the simulator retries
    #: (``Simulator(retry=True)``); by default never, the conservative choice for a PBX that
    #: does not document it.
    webhook_retry = RetryPolicy(note="not documented; never retried (chosen)")

    def webhook_payloads(self, payloads, options):
        """The payloads to post, in order (a PBX may group several events in one POST, or
        spread a step's payload over several POSTs)."""
        return list(payloads)

    def webhook_target(self, account, payload):
        """The URL ``payload`` is posted to: ``account.webhook_url``, unless the PBX posts each
        kind of event to its own URL below it."""
        return account.webhook_url

    def webhook_deliveries(self, account, payload, signing, options):
        """The requests carrying ``payload``: ``(method, url, body, headers)`` each. By
        default one POST of ``webhook_request`` to ``webhook_target``; a PBX that posts to
        the URLs subscribed through its API may send none, several, or GET queries."""
        body, headers = self.webhook_request(account, payload, signing, options)
        return [("POST", self.webhook_target(account, payload), body, headers)]

    def response_headers(self, sim):
        """Headers added to every answer of the PBX's REST API."""
        return {}

    def verify_webhook_url(self, sim, account, echo, timeout):
        """Check ``account.webhook_url`` the way the PBX does when it is configured; True when
        the receiver passed. ``echo`` is a random value the check may use."""
        raise ValueError(f"{self.label} does not verify its webhook URL")

    def start_services(self, sim, account):
        """Start the servers the PBX runs besides the REST API (a ``stream`` PBX's socket),
        when the simulator starts."""

    def stop_services(self, sim, account):
        """Stop what ``start_services`` started."""

    # --- helpers for the modules and the core -----------------------------------------------

    @property
    def verifies_webhook_url(self):
        return type(self).verify_webhook_url is not Pbx.verify_webhook_url

    def error(self, status, message, headers=None):
        """A ``Reply`` with the PBX's error body, to raise."""
        return Reply(status, self.error_payload(message), headers)

    def rate_limited(self, retry_after):
        return self.error(429, "You exceeded the rate limit", {"Retry-After": str(retry_after)})

    def resolve_play_options(self, options):
        """``options`` with the defaults of ``play_options``; unknown ones are refused."""
        unknown = set(options) - set(self.play_options)
        if unknown:
            raise TypeError(
                f"unknown option(s) for {self.code}: {', '.join(sorted(unknown))}; "
                f"it takes {sorted(self.play_options) or 'none'}"
            )
        return {**self.play_options, **options}

    def account_fields(self):
        return {item.name for item in dataclasses.fields(self.Account) if item.init}


def is_bundle(payload):
    """Whether ``payload`` is one step written as several posts: ``{"step", "posts"}``
    (for PBXs that announce each leg, or each kind of event, on its own)."""
    return isinstance(payload, dict) and set(payload) == {"step", "posts"}


def unbundle(payloads):
    """The posts of ``payloads``, in order, bundles opened."""
    posts = []
    for payload in payloads:
        posts.extend(payload["posts"] if is_bundle(payload) else [payload])
    return posts


def missing_hooks(cls):
    """The required hooks ``cls`` does not define itself (inherited placeholders count as
    missing)."""
    return [name for name in REQUIRED_HOOKS if getattr(cls, name, None) is getattr(Pbx, name)]
