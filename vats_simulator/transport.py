"""Encoding, signing and posting webhooks over HTTP (``urllib``, no proxy, no redirects)."""

import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .signing import generic_signature, php_urlencode, zadarma_sign, zadarma_webhook_string

USER_AGENT = "vats-simulator/1.0"


@dataclass
class Delivery:
    """One webhook POST and what the receiver answered."""

    provider: str
    scenario: str
    event: object  # the payload: a dict, a list of dicts (generic batch) or raw bytes
    url: str
    request_headers: dict
    request_body: bytes
    status: int | None = None  # None when no HTTP answer came (see ``error``)
    response_body: bytes = b""
    response_headers: dict = field(default_factory=dict)
    error: str | None = None
    elapsed: float = 0.0
    signing: str = "valid"

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

    def __repr__(self):
        name = (
            self.event.get("event") or self.event.get("type")
            if isinstance(self.event, dict)
            else type(self.event).__name__
        )
        return f"<Delivery {self.provider} {name} -> {self.status or self.error}>"


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


# --- Zadarma -------------------------------------------------------------------------------


def zadarma_form_body(payload):
    return php_urlencode(payload.items()).encode("ascii")


def zadarma_multipart_body(payload, boundary=None, boundary_bug=True):
    """A multipart/form-data body and its Content-Type.

    With ``boundary_bug`` the body's boundary carries an extra leading ``--`` compared to the
    header's (the server-side bug integrators report): the delimiter lines read ``----<b>``.
    """
    boundary = boundary or "zd" + secrets.token_hex(12)
    body_boundary = ("--" + boundary) if boundary_bug else boundary
    lines = []
    for name, value in payload.items():
        lines.append(f"--{body_boundary}\r\n")
        lines.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n')
        lines.append(f"{value}\r\n")
    lines.append(f"--{body_boundary}--\r\n")
    return "".join(lines).encode("utf-8"), f"multipart/form-data; boundary={boundary}"


def zadarma_request(account, payload, signing="valid", multipart=False, boundary_bug=True):
    """``(body, headers)`` of a Zadarma webhook POST for ``payload``."""
    if isinstance(payload, bytes):  # a malformed body: sign the empty string, as for no event
        body, content_type = payload, "application/x-www-form-urlencoded"
        signed = ""
    else:
        if multipart:
            body, content_type = zadarma_multipart_body(payload, boundary_bug=boundary_bug)
        else:
            body, content_type = zadarma_form_body(payload), "application/x-www-form-urlencoded"
        signed = zadarma_webhook_string(payload)
    headers = {"Content-Type": content_type}
    if signing == "valid":
        headers["Signature"] = zadarma_sign(account.api_secret, signed, account.signature_encoding)
    elif signing == "bad":
        headers["Signature"] = zadarma_sign(
            account.api_secret + "-tampered", signed, account.signature_encoding
        )
    return body, headers


# --- generic -------------------------------------------------------------------------------


def generic_body(payload):
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def generic_request(account, payload, signing="valid", timestamp=None):
    """``(body, headers)`` of a generic-protocol POST for one event, a batch or raw bytes."""
    body = generic_body(payload)
    ts = int(time.time() if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-Crm-Voip-Timestamp": str(ts)}
    if signing == "valid":
        headers["X-Crm-Voip-Signature"] = generic_signature(account.webhook_secret, ts, body)
    elif signing == "bad":
        headers["X-Crm-Voip-Signature"] = generic_signature(
            account.webhook_secret + "-tampered", ts, body
        )
    return body, headers
