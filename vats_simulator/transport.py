"""Posting webhooks over HTTP (``urllib``, no proxy, no redirects); each PBX module encodes
and signs its own (``Pbx.webhook_request``)."""

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

USER_AGENT = "vats-simulator/1.0"


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
