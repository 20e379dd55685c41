"""The simulator: plays scripted calls as signed webhooks and serves the providers' REST APIs."""

import collections
import datetime as dt
import logging
import secrets
import threading
import time
import urllib.parse

from .accounts import GenericAccount, ZadarmaAccount
from .media import RECORDING_MIMETYPES, recording_audio
from .scenarios import PROVIDERS, build_plan, new_call_id, new_recording_id
from .server import SimulatorHTTPServer
from .transport import Delivery, generic_request, http_request, zadarma_request

_logger = logging.getLogger("vats_simulator")

DEFAULT_EXTENSIONS = {
    "100": "Anna Petrova",
    "101": "Boris Ivanov",
    "102": "Vera Smirnova",
    "103": "Gleb Sokolov",
}
GENERIC_BATCH_MAX = 100


class Simulator:
    """Plays Zadarma and the generic provider over real HTTP on loopback.

    ``start()`` serves the REST APIs in a background thread (``base_url``: Zadarma at the root,
    the generic API under ``/generic``); ``play()`` posts a scenario's webhooks synchronously and
    returns what the receiver answered. Everything sent and received is recorded on
    ``deliveries`` and ``requests``.
    """

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        zadarma=None,
        generic=None,
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
    ):
        if zadarma is not None and not isinstance(zadarma, ZadarmaAccount):
            raise TypeError("zadarma must be a ZadarmaAccount")
        if generic is not None and not isinstance(generic, GenericAccount):
            raise TypeError("generic must be a GenericAccount")
        self.host = host
        self.port = port
        self.zadarma = zadarma
        self.generic = generic
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
        #: Extra HTTP headers sent with every webhook, beyond the provider's own (e.g. a
        #: cookie a test server wants); never part of what is signed.
        self.webhook_headers = {}
        self.enforce_rate_limits = enforce_rate_limits
        self.rate_limits = {"general": 100, "statistics": 3, **(rate_limits or {})}
        self.balance = balance
        self.internal_numbers_as_int = False  # the spec shows ints; the brief strings
        self._lock = threading.RLock()
        self._requests = []
        self._deliveries = []
        self._calls = collections.OrderedDict()
        self._recordings = collections.OrderedDict()
        self._links = {}
        self._audio_cache = {}
        self._forced = collections.deque()
        self._rate_window = {"general": collections.deque(), "statistics": collections.deque()}
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
        return self

    def stop(self):
        self._stopping.set()
        self.wait_background(timeout=2.0)
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
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def zadarma_base_url(self):
        return self.base_url

    @property
    def generic_base_url(self):
        return self.base_url + "/generic"

    # --- what happened ---------------------------------------------------------------------

    @property
    def requests(self):
        """The REST requests received so far (a copy; see ``server.RestRequest``)."""
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
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; use one of {PROVIDERS}")
        account = getattr(self, provider)
        if account is None:
            raise ValueError(f"no {provider} account was given to the simulator")
        return account

    def _tz(self, provider):
        if provider == "zadarma" and self.zadarma is not None:
            return self.zadarma.tzinfo
        return None

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
            recording_id = new_recording_id(
                provider, _utcnow(), extension, self._tz(provider) or dt.timezone.utc
            )
        with self._lock:
            self._recordings[recording_id] = {
                "recording_id": recording_id,
                "call_id": call_id,
                "provider": provider,
                "extension": extension,
            }
        return recording_id

    def play(
        self,
        provider,
        scenario,
        *,
        multipart=False,
        multipart_bug=True,
        batch=False,
        timestamp_offset=0,
        event_gap=0.0,
        **params,
    ):
        """Post ``scenario``'s webhooks in order, each signed like the real provider.

        Transport options: ``multipart`` (Zadarma multipart/form-data, with the boundary bug
        unless ``multipart_bug=False``), ``batch`` (generic ``{"events": [...]}``),
        ``timestamp_offset`` (seconds added to the generic timestamp header), ``event_gap``
        (seconds to sleep between posts). Other keyword arguments are scenario parameters.
        """
        account = self.account(provider)
        plan = build_plan(provider, scenario, tzinfo=self._tz(provider), **params)
        self._register(plan)
        return self._post(
            account,
            plan.events,
            scenario=scenario,
            signing=plan.signing,
            multipart=multipart,
            multipart_bug=multipart_bug,
            batch=batch,
            timestamp_offset=timestamp_offset,
            event_gap=event_gap,
        )

    def send(self, provider, events, *, scenario="custom", signing="valid", **options):
        """Post arbitrary payloads (dicts, or raw bytes) signed as ``signing`` (valid/bad/none)."""
        if signing not in ("valid", "bad", "none"):
            raise ValueError("signing must be valid, bad or none")
        if isinstance(events, (dict, bytes)):
            events = [events]
        return self._post(
            self.account(provider), list(events), scenario=scenario, signing=signing, **options
        )

    def _post(
        self,
        account,
        events,
        *,
        scenario,
        signing,
        multipart=False,
        multipart_bug=True,
        batch=False,
        timestamp_offset=0,
        event_gap=0.0,
    ):
        provider = account.provider
        if provider == "generic" and batch:
            dicts = [e for e in events if isinstance(e, dict)]
            raw = [e for e in events if not isinstance(e, dict)]
            events = [
                {"events": dicts[i : i + GENERIC_BATCH_MAX]}
                for i in range(0, len(dicts), GENERIC_BATCH_MAX)
            ] + raw
        deliveries = []
        for index, payload in enumerate(events):
            if index and event_gap:
                if self._stopping.wait(event_gap):
                    break
            if provider == "zadarma":
                body, headers = zadarma_request(
                    account, payload, signing, multipart=multipart, boundary_bug=multipart_bug
                )
            else:
                body, headers = generic_request(
                    account, payload, signing, timestamp=time.time() + timestamp_offset
                )
            status, data, resp_headers, error, elapsed = http_request(
                "POST",
                account.webhook_url,
                body,
                {**self.webhook_headers, **headers},
                timeout=self.webhook_timeout,
            )
            delivery = Delivery(
                provider=provider,
                scenario=scenario,
                event=payload,
                url=account.webhook_url,
                request_headers=headers,
                request_body=body,
                status=status,
                response_body=data,
                response_headers=resp_headers,
                error=error,
                elapsed=elapsed,
                signing=signing,
            )
            _logger.debug("%r in %.3fs", delivery, elapsed)
            with self._lock:
                self._deliveries.append(delivery)
            deliveries.append(delivery)
        return deliveries

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

    def verify_url(self, provider="zadarma", echo=None, timeout=None):
        """Zadarma's URL check: ``GET <webhook_url>?zd_echo=<random>`` must echo the value."""
        if provider != "zadarma":
            raise ValueError("only Zadarma verifies its webhook URL (zd_echo)")
        account = self.account(provider)
        echo = echo or secrets.token_hex(8)
        separator = "&" if urllib.parse.urlsplit(account.webhook_url).query else "?"
        url = f"{account.webhook_url}{separator}zd_echo={urllib.parse.quote(echo)}"
        status, data, _headers, error, _elapsed = http_request(
            "GET", url, timeout=timeout or self.webhook_timeout
        )
        ok = status == 200 and data == echo.encode("utf-8")
        _logger.info(
            "zd_echo check of %s: %s", account.webhook_url, "ok" if ok else status or error
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

    def _on_originate(self, provider, source, target, extra=None):
        """A click-to-call request arrived: schedule the outgoing call's webhooks."""
        call_id = new_call_id(provider, "outbound")
        if provider == "zadarma":
            extension = source if _is_extension(source) else (extra or "")
            if not _is_extension(extension):
                extension = next(iter(sorted(self.extensions)), "100")
        else:
            extension = source
        if self.auto_play_originate and self.account(provider) is not None:
            params = dict(
                extension=extension,
                number=target,
                call_id=call_id,
                ring_seconds=3,
                talk_seconds=5,
            )
            if provider == "generic" and extra:
                params["did"] = str(extra)
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

    def _count_rate(self, path):
        """Count a Zadarma call in its per-minute window; the Retry-After when over the limit."""
        bucket = "statistics" if "/statistics/" in path else "general"
        now = self.now()
        with self._lock:
            window = self._rate_window[bucket]
            while window and window[0] <= now - 60:
                window.popleft()
            if self.enforce_rate_limits and len(window) >= self.rate_limits[bucket]:
                return max(int(window[0] + 60 - now) + 1, 1)
            window.append(now)
            if bucket != "general":
                self._rate_window["general"].append(now)
        return None

    def _rate_headers(self):
        now = self.now()
        with self._lock:
            window = self._rate_window["general"]
            used = sum(1 for stamp in window if stamp > now - 60)
            reset = int((window[0] if window else now) + 60)
        limit = self.rate_limits["general"]
        return {
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": max(limit - used, 0),
            "X-RateLimit-Reset": reset,
        }

    def _issue_link(self, recording_id, lifetime):
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._links[token] = (recording_id, self.now() + lifetime)
        name = urllib.parse.quote(recording_id)
        return f"{self.base_url}/v1/pbx/record/download/{token}/{name}.mp3"

    def _resolve_link(self, token):
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
    """The (unsigned) payloads of ``scenario``; Zadarma times are written in ``timezone``."""
    return build_plan(
        provider, scenario, tzinfo=timezone if provider == "zadarma" else None, **params
    ).events


def _is_extension(value):
    return bool(value) and value.isdigit() and len(value) <= 5


def _utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
