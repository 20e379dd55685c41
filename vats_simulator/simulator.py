"""The simulator: plays scripted calls as signed webhooks and serves the PBXs' REST APIs."""

import collections
import dataclasses
import hashlib
import itertools
import logging
import secrets
import threading
import time

from . import pbx
from .clock import utcnow
from .media import RECORDING_MIMETYPES, recording_audio
from .scenarios import CALL_SCENARIOS, build_plan
from .server import SimulatorHTTPServer
from .transport import Delivery, RetryQueue, http_request

_logger = logging.getLogger("vats_simulator")

DEFAULT_EXTENSIONS = {
    "100": "Anna Petrova",
    "101": "Boris Ivanov",
    "102": "Vera Smirnova",
    "103": "Gleb Sokolov",
}


class Simulator:
    """Plays the registered PBXs (``vats_simulator.pbx``) over real HTTP on loopback.

    The accounts are keyword arguments named by PBX code:
    ``Simulator(zadarma=ZadarmaAccount(...), generic=GenericAccount(...))``.
    ``start()`` serves the REST APIs in a background thread (each PBX's under its
    ``api_url(code)``); ``play()`` posts a scenario's webhooks synchronously and returns what
    the receiver answered. Everything sent and received is recorded on ``deliveries`` and
    ``requests``.

    An unreliable PBX on demand: with ``retry`` a failed webhook (no 2xx answer in time) is
    sent again later, in the background, as its PBX's ``webhook_retry`` policy says;
    ``drop_share`` (0 to 1) of the webhooks are dropped for good (never sent), chosen by a
    hash of ``drop_seed`` and the request, so the same traffic loses the same webhooks.
    Every played call stays in the call history whatever happened to its webhooks, and
    ``truth()`` tells how each one really ended.
    """

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        *,
        recording_size=64 * 1024,
        recording_format="mp3",
        extensions=None,
        auto_play_originate=True,
        originate_delay=0.2,
        originate_event_gap=0.0,
        webhook_timeout=10.0,
        enforce_rate_limits=False,
        rate_limits=None,
        balance=10.5,
        retry=False,
        drop_share=0.0,
        drop_seed=0,
        retry_capacity=10000,
        **accounts,
    ):
        #: The simulated accounts by PBX code.
        self.accounts = {}
        for code, account in accounts.items():
            if code not in pbx.codes():
                raise TypeError(
                    f"Simulator() got an unexpected keyword argument {code!r} "
                    f"(the PBX accounts are {', '.join(pbx.codes())})"
                )
            if account is None:
                continue
            account_class = pbx.get(code).Account
            if not isinstance(account, account_class):
                raise TypeError(f"{code} must be a {account_class.__name__}")
            self.accounts[code] = account
        self.host = host
        self.port = port
        self.recording_size = recording_size
        # "mp3" (pseudo-MP3 noise) or "wav" (a real PCM WAV that browsers can play).
        self.recording_format = recording_format
        # Served instead of the format's own Content-Type when set (e.g. "text/html").
        self.recording_content_type = None
        if isinstance(extensions, (list, tuple)):
            extensions = {
                str(n): DEFAULT_EXTENSIONS.get(str(n), f"Extension {n}") for n in extensions
            }
        self.extensions = {str(k): v for k, v in (extensions or DEFAULT_EXTENSIONS).items()}
        self.auto_play_originate = auto_play_originate
        self.originate_delay = originate_delay
        #: Seconds between the webhooks of an auto-played originate call (ringing, answered,
        #: ended), so that a browser can see each state.
        self.originate_event_gap = originate_event_gap
        self.webhook_timeout = webhook_timeout
        #: Extra HTTP headers sent with every webhook, beyond the PBX's own (e.g. a
        #: cookie a test server wants); never part of what is signed.
        self.webhook_headers = {}
        self.enforce_rate_limits = enforce_rate_limits
        #: Requests per minute by rate-limit bucket, over the PBXs' own ``rate_limits``.
        self.rate_limits = dict(rate_limits or {})
        self.balance = balance
        self.retry = retry
        if not 0.0 <= drop_share <= 1.0:
            raise ValueError("drop_share must be between 0 and 1")
        self.drop_share = drop_share
        self.drop_seed = drop_seed
        self._retries = RetryQueue(capacity=retry_capacity)
        self._request_numbers = itertools.count(1)
        #: Deliveries the retry queue refused (full): lost as if the PBX gave up.
        self.retry_overflows = 0
        self._truth = collections.OrderedDict()
        self._lock = threading.RLock()
        self._requests = []
        self._deliveries = []
        self._calls = collections.OrderedDict()
        self._recordings = collections.OrderedDict()
        self._links = {}
        self._audio_cache = {}
        self._forced = collections.deque()
        self._rate_windows = collections.defaultdict(collections.deque)
        self._clock_offset = 0.0
        self._threads = []
        self._stopping = threading.Event()
        self._server = None
        self._server_thread = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = SimulatorHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"vats-simulator-{self.port}",
            daemon=True,
        )
        self._server_thread.start()
        _logger.info("VATS simulator REST API listening on %s", self.base_url)
        for code in self.accounts:
            _logger.info("%s API at %s", pbx.get(code).label, self.api_url(code))
        for code, account in self.accounts.items():
            pbx.get(code).start_services(self, account)
        return self

    def stop(self):
        self._stopping.set()
        self._retries.close()
        self.wait_background(timeout=2.0)
        if self._server is not None:
            for code, account in self.accounts.items():
                pbx.get(code).stop_services(self, account)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server_thread.join(timeout=2.0)
            self._server = None
            self._server_thread = None
            _logger.info("VATS simulator stopped")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self):
        """The simulator's root (its control endpoint: ``<base_url>/_simulator/play``)."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def api_url(self, provider):
        """The base URL of ``provider``'s REST API (what its Odoo account's base URL is)."""
        return self.base_url + pbx.get(provider).path_prefix

    # --- what happened ---------------------------------------------------------------------

    @property
    def requests(self):
        """The REST requests received so far (a copy; see ``rest.RestRequest``)."""
        with self._lock:
            return list(self._requests)

    @property
    def deliveries(self):
        """Every webhook posted so far (a copy; see ``transport.Delivery``)."""
        with self._lock:
            return list(self._deliveries)

    @property
    def calls(self):
        """The calls played so far, as the PBX's call history reports them."""
        with self._lock:
            return list(self._calls.values())

    @property
    def recordings(self):
        with self._lock:
            return [dict(item) for item in self._recordings.values()]

    def truth(self):
        """The ground truth of every call played so far, in play order: how it really ended
        (``calls.Call.truth()``), and what became of its webhooks: ``posts`` (requests),
        ``dropped`` (dropped for good), ``failed`` (every attempt failed, retries included,
        while no retry is due) and ``attempts`` (every send, retries included)."""
        with self._lock:
            truths = [dict(item) for item in self._truth.values()]
            requests = collections.defaultdict(list)
            for delivery in self._deliveries:
                if delivery.call_id:
                    requests[(delivery.call_id, delivery.request_no)].append(delivery)
        counts = collections.defaultdict(collections.Counter)
        for (call_id, _number), attempts in requests.items():
            count = counts[call_id]
            count["posts"] += 1
            count["attempts"] += sum(not item.dropped for item in attempts)
            if any(item.dropped for item in attempts):
                count["dropped"] += 1
            elif not any(item.ok for item in attempts):
                count["failed"] += 1
        for item in truths:
            count = counts[item["call_id"]]
            item.update({key: count[key] for key in ("posts", "attempts", "dropped", "failed")})
        return truths

    def pending_retries(self):
        """Deliveries waiting to be sent again (or being sent)."""
        return self._retries.pending()

    def wait_retries(self, timeout=None):
        """Wait until no delivery waits to be sent again; True when none does."""
        return self._retries.wait_idle(timeout)

    def clear(self):
        """Forget requests and deliveries (calls and recordings stay)."""
        with self._lock:
            self._requests.clear()
            self._deliveries.clear()

    # --- failure knobs ---------------------------------------------------------------------

    def rate_limit_next(self, n=1, retry_after=1):
        """Answer the next ``n`` REST calls with 429 and ``Retry-After: retry_after``."""
        with self._lock:
            self._forced.extend([("rate", int(retry_after))] * int(n))

    def fail_next(self, n=1, status=500):
        """Answer the next ``n`` REST calls with ``status`` (5xx: retryable, 4xx: permanent)."""
        with self._lock:
            self._forced.extend([("fail", int(status))] * int(n))

    def advance_clock(self, seconds):
        """Move the simulator's clock (link expiry, ``time`` fields) forward."""
        with self._lock:
            self._clock_offset += seconds

    def now(self):
        return time.time() + self._clock_offset

    # --- scenarios -------------------------------------------------------------------------

    def account(self, provider):
        """The account of ``provider``; ``ValueError`` when it was not given."""
        pbx.get(provider)
        account = self.accounts.get(provider)
        if account is None:
            raise ValueError(f"no {provider} account was given to the simulator")
        return account

    def _tz(self, provider):
        """The zone ``provider``'s account writes local times in (None: UTC)."""
        return getattr(self.accounts.get(provider), "tzinfo", None)

    def scenario_events(self, provider, scenario, **params):
        """The (unsigned) payloads ``scenario`` sends, without sending them."""
        return build_plan(provider, scenario, tzinfo=self._tz(provider), **params).events

    def add_history(self, provider, scenario, **params):
        """Put a scenario's call into the call history without posting any webhook."""
        plan = build_plan(provider, scenario, tzinfo=self._tz(provider), **params)
        self._register(plan)
        return plan.calls

    def add_recording(self, provider, recording_id=None, call_id="", extension=""):
        """Make a recording downloadable; returns its id."""
        if recording_id is None:
            recording_id = pbx.get(provider).new_recording_id(
                utcnow(), extension, self._tz(provider)
            )
        with self._lock:
            self._recordings[recording_id] = {
                "recording_id": recording_id,
                "call_id": call_id,
                "provider": provider,
                "extension": extension,
            }
        return recording_id

    def play(self, provider, scenario, *, event_gap=0.0, realtime=False, **params):
        """Post ``scenario``'s webhooks in order, each signed like the real PBX.

        ``event_gap``: seconds to sleep between posts. ``realtime``: post each step's
        webhooks when it happens (the call's start plus the step's offset; a step already
        past goes at once), as a PBX does during the call. The keyword arguments are scenario
        parameters (``scenarios.SCENARIO_PARAMS`` and the PBX's ``scenario_params``) and the
        PBX's transport options (its ``play_options``: Zadarma ``multipart``,
        ``multipart_bug``; generic ``batch``, ``timestamp_offset``).
        """
        account = self.account(provider)
        module = pbx.get(provider)
        options = {name: params.pop(name) for name in list(params) if name in module.play_options}
        plan = build_plan(provider, scenario, tzinfo=self._tz(provider), **params)
        self._register(plan)
        if scenario in CALL_SCENARIOS:
            with self._lock:
                self._truth[plan.call.call_id] = plan.call.truth(provider, plan.steps)
        if realtime:
            return self._post_in_time(account, plan, scenario, options)
        return self._post(
            account,
            plan.events,
            scenario=scenario,
            signing=plan.signing,
            event_gap=event_gap,
            options=options,
            call_id=plan.call.call_id if plan.call is not None else "",
        )

    def send(
        self, provider, events, *, scenario="custom", signing="valid", event_gap=0.0, **options
    ):
        """Post arbitrary payloads (dicts, or raw bytes) signed as ``signing`` (valid/bad/none);
        ``options`` are the PBX's ``play_options``."""
        if signing not in ("valid", "bad", "none"):
            raise ValueError("signing must be valid, bad or none")
        if isinstance(events, (dict, bytes)):
            events = [events]
        return self._post(
            self.account(provider),
            list(events),
            scenario=scenario,
            signing=signing,
            event_gap=event_gap,
            options=options,
        )

    def _post(self, account, events, *, scenario, signing, event_gap, options, call_id=""):
        module = pbx.get(account.provider)
        options = module.resolve_play_options(options)
        deliveries = []
        for index, payload in enumerate(module.webhook_payloads(events, options)):
            if index and event_gap:
                if self._stopping.wait(event_gap):
                    break
            for method, url, body, headers in module.webhook_deliveries(
                account, payload, signing, options
            ):
                template = Delivery(
                    provider=module.code,
                    scenario=scenario,
                    event=payload,
                    url=url,
                    request_headers=headers,
                    request_body=body,
                    signing=signing,
                    method=method,
                    call_id=call_id,
                    request_no=next(self._request_numbers),
                )
                if self.drops(method, url, payload):
                    delivery = dataclasses.replace(
                        template, dropped=True, error="dropped for good (simulated)"
                    )
                    with self._lock:
                        self._deliveries.append(delivery)
                else:
                    delivery = self._attempt(module, template, 1)
                deliveries.append(delivery)
        return deliveries

    def _post_in_time(self, account, plan, scenario, options):
        if len(plan.steps) != len(plan.events):
            raise ValueError(f"the {scenario} scenario cannot be played in real time")
        started = plan.call.start.timestamp()
        deliveries = []
        for step, event in zip(plan.steps, plan.events, strict=True):
            wait = started + step.offset - time.time()
            if wait > 0 and self._stopping.wait(wait):
                break
            deliveries += self._post(
                account,
                [event],
                scenario=scenario,
                signing=plan.signing,
                event_gap=0.0,
                options=options,
                call_id=plan.call.call_id,
            )
        return deliveries

    def drops(self, method, url, payload):
        """Whether the webhook ``payload`` sent as ``method url`` is dropped for good: the
        same for the same request, ``drop_share`` of them on average."""
        if self.drop_share <= 0:
            return False
        digest = hashlib.sha256(f"{self.drop_seed}|{method}|{url}|{payload!r}".encode()).digest()
        return int.from_bytes(digest[:8], "big") < self.drop_share * 2**64

    def _attempt(self, module, template, attempt):
        """Send ``template``'s request (attempt number ``attempt``), record the delivery, and
        schedule the next attempt when it failed and the PBX's policy has one left."""
        policy = module.webhook_retry
        timeout = min(self.webhook_timeout, policy.timeout) if self.retry else self.webhook_timeout
        status, data, resp_headers, error, elapsed = http_request(
            template.method,
            template.url,
            template.request_body if template.method != "GET" else None,
            {**self.webhook_headers, **template.request_headers},
            timeout=timeout,
        )
        delivery = dataclasses.replace(
            template,
            status=status,
            response_body=data,
            response_headers=resp_headers,
            error=error,
            elapsed=elapsed,
            attempt=attempt,
        )
        _logger.debug("%r in %.3fs (attempt %d)", delivery, elapsed, attempt)
        with self._lock:
            self._deliveries.append(delivery)
        if self.retry and policy.failed(status) and attempt <= len(policy.delays):
            due = time.monotonic() + policy.delays[attempt - 1]
            if not self._retries.schedule(
                due, lambda: self._attempt(module, template, attempt + 1)
            ):
                with self._lock:
                    self.retry_overflows += 1
        return delivery

    def _register(self, plan):
        with self._lock:
            for call in plan.calls:
                self._calls[call.call_id] = call
            for recording_id, call_id, extension in plan.recordings:
                self._recordings[recording_id] = {
                    "recording_id": recording_id,
                    "call_id": call_id,
                    "provider": plan.provider,
                    "extension": extension,
                }
                known = self._calls.get(call_id)
                if known is not None and not known.recording_id:
                    known.recording_id = recording_id

    def verify_url(self, provider=None, echo=None, timeout=None):
        """Check the webhook URL the way ``provider`` does when it is configured (Zadarma:
        ``GET <webhook_url>?zd_echo=<random>`` must echo the value); True when it passed.

        Without ``provider``: the only account whose PBX checks its URL.
        """
        if provider is None:
            checking = [code for code in self.accounts if pbx.get(code).verifies_webhook_url]
            if len(checking) != 1:
                raise ValueError(f"say which account to check among {checking}")
            provider = checking[0]
        module = pbx.get(provider)
        if not module.verifies_webhook_url:
            raise ValueError(f"{module.label} does not verify its webhook URL")
        account = self.account(provider)
        ok = module.verify_webhook_url(
            self, account, echo or secrets.token_hex(8), timeout or self.webhook_timeout
        )
        _logger.info(
            "%s URL check of %s: %s", provider, account.webhook_url, "ok" if ok else "failed"
        )
        return ok

    def run_live(self, provider, **options):
        """Play a random, realistic mix of calls until stopped; see ``live.run_live``."""
        from .live import run_live

        return run_live(self, provider, **options)

    # --- background work ------------------------------------------------------------------

    def _spawn(self, target, delay=0.0, name="vats-simulator-task"):
        def runner():
            if delay and self._stopping.wait(delay):
                return
            try:
                target()
            except Exception:
                _logger.exception("background task %s failed", name)

        thread = threading.Thread(target=runner, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def wait_background(self, timeout=5.0):
        """Wait for background work (auto-played originate calls); True when all finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [t for t in self._threads if t.is_alive()]
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pending[0].join(remaining)

    def originate(self, provider, extension, number, **params):
        """A click-to-call request reached ``provider``'s API: the new call's id.

        Unless ``auto_play_originate`` is off, the ``outgoing`` scenario from ``extension`` to
        ``number`` is played ``originate_delay`` seconds later (``params``: more scenario
        parameters, e.g. ``did``).
        """
        call_id = pbx.get(provider).new_call_id("outbound")
        if self.auto_play_originate and self.account(provider) is not None:
            params = dict(
                extension=extension,
                number=number,
                call_id=call_id,
                ring_seconds=3,
                talk_seconds=5,
                **params,
            )
            self._spawn(
                lambda: self.play(
                    provider, "outgoing", event_gap=self.originate_event_gap, **params
                ),
                delay=self.originate_delay,
                name=f"originate-{call_id}",
            )
        return call_id

    # --- REST helpers (called from the handler threads) -----------------------------------

    def _log_request(self, record):
        with self._lock:
            self._requests.append(record)

    def _take_forced_failure(self):
        with self._lock:
            return self._forced.popleft() if self._forced else None

    def rate_limit(self, provider, bucket):
        """Requests per minute allowed in ``provider``'s ``bucket``."""
        return self.rate_limits.get(bucket, pbx.get(provider).rate_limits.get(bucket, 0))

    def count_rate(self, provider, buckets):
        """Count a REST call of ``provider`` in the one-minute window of each of ``buckets``.

        With ``enforce_rate_limits``, the Retry-After (seconds) when the first bucket is full;
        the call is then not counted. None otherwise.
        """
        now = self.now()
        with self._lock:
            window = self._rate_windows[(provider, buckets[0])]
            while window and window[0] <= now - 60:
                window.popleft()
            if self.enforce_rate_limits and len(window) >= self.rate_limit(provider, buckets[0]):
                return max(int(window[0] + 60 - now) + 1, 1)
            for bucket in buckets:
                self._rate_windows[(provider, bucket)].append(now)
        return None

    def rate_usage(self, provider, bucket):
        """``(limit, used in the last minute, reset unix time)`` of ``provider``'s bucket."""
        now = self.now()
        with self._lock:
            window = self._rate_windows[(provider, bucket)]
            used = sum(1 for stamp in window if stamp > now - 60)
            reset = int((window[0] if window else now) + 60)
        return self.rate_limit(provider, bucket), used, reset

    def issue_link(self, recording_id, lifetime):
        """A token for a temporary download link of ``recording_id``, valid ``lifetime`` s."""
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._links[token] = (recording_id, self.now() + lifetime)
        return token

    def resolve_link(self, token):
        """``(recording_id, expires_at)`` of a token, or None."""
        with self._lock:
            return self._links.get(token)

    def recording_bytes(self, recording_id):
        """The bytes served for a recording: deterministic, ``recording_size`` long, in
        ``recording_format``."""
        key = (recording_id, self.recording_format, self.recording_size)
        with self._lock:
            data = self._audio_cache.get(key)
            if data is None:
                if len(self._audio_cache) > 64:
                    self._audio_cache.clear()
                data = self._audio_cache[key] = recording_audio(
                    recording_id, self.recording_size, self.recording_format
                )
        return data

    @property
    def recording_mimetype(self):
        """The Content-Type recordings are served with."""
        return self.recording_content_type or RECORDING_MIMETYPES[self.recording_format]


def scenario_events(provider, scenario, timezone="Europe/Moscow", **params):
    """The (unsigned) payloads of ``scenario``; a PBX that writes local times (Zadarma's
    ``call_start``) writes them in ``timezone``."""
    return build_plan(provider, scenario, tzinfo=timezone, **params).events
