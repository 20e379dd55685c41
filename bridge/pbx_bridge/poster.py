"""Delivers the spooled events to Odoo's webhook, signed as the generic protocol says
(``X-Crm-Voip-Timestamp``; ``X-Crm-Voip-Signature: v1=<hex HMAC-SHA256 of
"<timestamp>.<body>">``), in order, in batches of up to 100.

- 2xx: the batch is acknowledged in the spool.
- 5xx, 408, 429, a timeout or a connection error: the same batch again after a backoff
  (exponential with jitter, or the ``Retry-After`` of a 429); later events wait behind it.
- any other 4xx: Odoo will never take the batch. When it holds several events they are
  sent one by one (one bad event must not take the others with it); what is still refused
  is written, with the reason, to the dead-letter file, then acknowledged.
"""

import hashlib
import hmac
import json
import logging
import os
import random
import threading
import time

import requests

_logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Crm-Voip-Timestamp"
SIGNATURE_HEADER = "X-Crm-Voip-Signature"
RETRYABLE_4XX = (408, 429)


def sign(secret, timestamp, body):
    """Lowercase hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret, body, now=None):
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"v1={sign(secret, timestamp, body)}",
    }


class Backoff:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … up to ``cap``."""

    def __init__(self, base=0.5, cap=60.0, rng=None):
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self):
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self):
        self.failures = 0


class DeliveryResult:
    __slots__ = ("ok", "retry", "status", "reason", "payload", "retry_after")

    def __init__(self, ok, retry, status=None, reason="", payload=None, retry_after=None):
        self.ok = ok
        self.retry = retry
        self.status = status
        self.reason = reason
        self.payload = payload
        self.retry_after = retry_after


class OdooClient:
    """Signed posts to the Odoo webhook URL."""

    def __init__(self, url, secret, timeout=10.0, verify_tls=True, session=None):
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "pbx-bridge"

    def post(self, payload, timeout=None):
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            response = self.session.post(
                self.url,
                data=body,
                headers=signed_headers(self.secret, body),
                timeout=timeout or self.timeout,
                verify=self.verify_tls,
            )
        except requests.exceptions.Timeout:
            return DeliveryResult(
                False, True, reason=f"no answer within {timeout or self.timeout:g} s"
            )
        except requests.exceptions.ConnectionError as error:
            return DeliveryResult(False, True, reason=f"connection failed ({type(error).__name__})")
        except requests.exceptions.RequestException as error:
            return DeliveryResult(False, True, reason=f"request failed ({type(error).__name__})")
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        reason = ""
        if isinstance(answer, dict) and isinstance(answer.get("error"), str):
            reason = answer["error"][:300]
        elif status >= 400:
            reason = (response.text or "")[:300]
        if 200 <= status < 300:
            return DeliveryResult(True, False, status, payload=answer)
        retry_after = None
        if status == 429:
            header = (response.headers.get("Retry-After") or "").strip()
            retry_after = min(float(header), 600.0) if header.isdigit() else None
        retry = status >= 500 or status in RETRYABLE_4XX
        return DeliveryResult(False, retry, status, reason or f"HTTP {status}", answer, retry_after)


class Poster:
    """The thread that empties the spool into Odoo, and posts the heartbeat."""

    def __init__(
        self,
        spool,
        client,
        dead_letter_path,
        batch_size=100,
        heartbeat_interval=30.0,
        status=None,
        retry_cap=60.0,
    ):
        self.spool = spool
        self.client = client
        self.dead_letter_path = dead_letter_path
        self.batch_size = batch_size
        self.heartbeat_interval = heartbeat_interval
        self.status = status  # callable: the bridge's status dict for the heartbeat
        self.backoff = Backoff(cap=retry_cap)
        self.last_error = ""
        self.last_delivery = None
        self.dead_letters = self._count_dead_letters()
        self._one_by_one_until = 0  # seq: send singly up to here (a refused batch)
        self._stop = threading.Event()
        self._thread = None
        self._next_heartbeat = 0.0

    def _count_dead_letters(self):
        try:
            with open(self.dead_letter_path, "rb") as handle:
                return sum(1 for _line in handle)
        except OSError:
            return 0

    # -- thread --------------------------------------------------------------------------------

    def start(self):
        # The first heartbeat one interval after the start: by then the source is
        # connected (or has said why not).
        self._next_heartbeat = time.monotonic() + self.heartbeat_interval
        self._thread = threading.Thread(target=self.run, name="pbx-bridge-poster", daemon=True)
        self._thread.start()

    def stop(self, timeout=5.0):
        self._stop.set()
        with self.spool.changed:
            self.spool.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self):
        while not self._stop.is_set():
            try:
                self._heartbeat_if_due()
                self.spool.retry_pending()
                delay = self.deliver_once()
            except Exception:  # never let one bad turn end delivery
                _logger.exception("poster: unexpected error, retrying")
                delay = self.backoff.next_delay()
            if delay is None:
                self.spool.wait(min(1.0, self.heartbeat_interval))
            elif delay:
                self._stop.wait(delay)

    # -- one delivery --------------------------------------------------------------------------

    def deliver_once(self):
        """Post the oldest batch. Returns None when the spool is empty, 0 to go on at
        once, or the seconds to wait before retrying."""
        records = self.spool.peek(self.batch_size)
        if not records:
            return None
        if records[0].seq <= self._one_by_one_until:
            records = records[:1]
        result = self.client.post({"events": [record.event for record in records]})
        if result.ok:
            self.spool.commit(records)
            self.backoff.reset()
            self.last_error = ""
            self.last_delivery = time.time()
            return 0
        if result.retry:
            delay = result.retry_after or self.backoff.next_delay()
            self.last_error = (
                f"{result.reason} (HTTP {result.status})" if result.status else result.reason
            )
            _logger.warning(
                "poster: Odoo did not take %d events (%s): retrying in %.1f s",
                len(records),
                self.last_error,
                delay,
            )
            return delay
        if len(records) > 1:
            _logger.warning(
                "poster: Odoo refused a batch of %d events (HTTP %s: %s): sending them one by one",
                len(records),
                result.status,
                result.reason,
            )
            self._one_by_one_until = records[-1].seq
            return 0
        self._dead_letter(records, result)
        self.spool.commit(records)
        return 0

    def _dead_letter(self, records, result):
        self.last_error = f"{result.reason} (HTTP {result.status})"
        _logger.error(
            "poster: Odoo refused event %s for good (HTTP %s: %s): kept in %s",
            ", ".join(str(record.event.get("id")) for record in records),
            result.status,
            result.reason,
            self.dead_letter_path,
        )
        line = {
            "time": time.time(),
            "status": result.status,
            "reason": result.reason,
            "events": [record.event for record in records],
        }
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        while True:
            try:
                with open(self.dead_letter_path, "ab") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                break
            except OSError as error:
                # Not acknowledged before it is kept somewhere: wait for the disk.
                _logger.error("poster: cannot write the dead-letter file (%s): waiting", error)
                if self._stop.wait(self.backoff.next_delay()):
                    raise
        self.dead_letters += len(records)

    # -- heartbeat -----------------------------------------------------------------------------

    def _heartbeat_if_due(self):
        now = time.monotonic()
        if self.status is None or now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.heartbeat_interval
        self.send_heartbeat()

    def send_heartbeat(self):
        """Post the bridge's status (no events); a failure is only logged."""
        result = self.client.post({"bridge": self.status()})
        if not result.ok:
            detail = f"HTTP {result.status}: {result.reason}" if result.status else result.reason
            _logger.warning("poster: heartbeat not taken (%s)", detail)
        return result
