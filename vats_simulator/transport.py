"""Posting webhooks over HTTP (``urllib``, no proxy, no redirects); each PBX module encodes
and signs its own (``Pbx.webhook_request``)."""

import heapq
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

USER_AGENT = "vats-simulator/1.0"

_logger = logging.getLogger("vats_simulator.transport")


@dataclass
class Delivery:
    """One webhook request (a POST, or a GET for some PBXs) and what the receiver answered."""

    provider: str
    scenario: str
    event: object  # the payload as posted: a dict, a group of events, or raw bytes
    url: str
    request_headers: dict
    request_body: bytes
    status: int | None = None  # None when no HTTP answer came (see ``error``)
    response_body: bytes = b""
    response_headers: dict = field(default_factory=dict)
    error: str | None = None
    elapsed: float = 0.0
    signing: str = "valid"
    method: str = "POST"
    call_id: str = ""  # the played call it belongs to ("" for ``send()``)
    request_no: int = 0  # one number for every attempt of one request
    attempt: int = 1  # 1 for the first attempt, 2 for the first retry...
    dropped: bool = False  # never sent: the simulator dropped it for good (``drop_share``)

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def text(self):
        return self.response_body.decode("utf-8", "replace")

    def json(self):
        """The answer parsed as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.response_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def event_name(self):
        """The PBX's short name of the payload (``NOTIFY_START``, ``call.started``...)."""
        from . import pbx

        return pbx.get(self.provider).event_name(self.event)

    def __repr__(self):
        return f"<Delivery {self.provider} {self.event_name} -> {self.status or self.error}>"


class RetryQueue:
    """Deliveries waiting to be sent again: ``workers`` threads send each at its due time
    (several, so that one receiver that does not answer does not hold the others back).

    Bounded, as a PBX's outbox is: ``schedule`` refuses (returns False) beyond ``capacity``
    waiting jobs, and the delivery is then lost like any other the PBX gives up on.
    """

    def __init__(self, capacity=10000, workers=8, name="vats-simulator-retries"):
        self.capacity = capacity
        self.workers = workers
        self.name = name
        self._heap = []
        self._order = 0
        self._running = 0
        self._condition = threading.Condition()
        self._threads = []
        self._closed = False

    def schedule(self, due, job):
        """Run ``job()`` at ``due`` (``time.monotonic()`` seconds); False when full."""
        with self._condition:
            if self._closed or len(self._heap) >= self.capacity:
                return False
            self._order += 1
            heapq.heappush(self._heap, (due, self._order, job))
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"{self.name}-{n}", daemon=True)
                    for n in range(self.workers)
                ]
                for thread in self._threads:
                    thread.start()
            self._condition.notify_all()
        return True

    def pending(self):
        """Jobs waiting or running."""
        with self._condition:
            return len(self._heap) + self._running

    def next_due(self):
        """Seconds until the next job is due (0 when one is running), None when idle."""
        with self._condition:
            if self._running:
                return 0.0
            if not self._heap:
                return None
            return max(self._heap[0][0] - time.monotonic(), 0.0)

    def wait_idle(self, timeout=None):
        """Wait until no job waits or runs; True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._heap or self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining if remaining is not None else 1.0)
        return True

    def close(self):
        """Forget the waiting jobs and stop the thread."""
        with self._condition:
            self._closed = True
            self._heap.clear()
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=2.0)

    def _run(self):
        while True:
            with self._condition:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._condition.wait(wait)
                if self._closed:
                    return
                _due, _order, job = heapq.heappop(self._heap)
                self._running += 1
            try:
                job()
            except Exception:
                _logger.exception("a retried delivery failed to run")
            finally:
                with self._condition:
                    self._running -= 1
                    self._condition.notify_all()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # report the 3xx as it is: a webhook sender does not follow redirects


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http_request(method, url, body=None, headers=None, timeout=10.0):
    """Send one request; return ``(status, body, headers, error, elapsed)``, never raise on HTTP."""
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("User-Agent", USER_AGENT)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            data = response.read()
            return response.status, data, dict(response.headers.items()), None, _since(started)
    except urllib.error.HTTPError as exc:
        data = exc.read() if exc.fp is not None else b""
        return exc.code, data, dict(exc.headers.items()), None, _since(started)
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, b"", {}, f"{type(exc).__name__}: {reason}", _since(started)


def _since(started):
    return round(time.monotonic() - started, 6)


def webhook_request(account, payload, signing="valid", **options):
    """``(body, headers)`` of the webhook POST ``account``'s PBX sends for ``payload``.

    ``options`` are that PBX's ``play_options`` (e.g. ``multipart`` for Zadarma).
    """
    from . import pbx

    module = pbx.get(account.provider)
    return module.webhook_request(account, payload, signing, module.resolve_play_options(options))
