"""Signatures, written from the protocol descriptions and checked against their test vectors.

This module is the sender's side (and, for the REST API, the server's side) of each signature.
It is written independently of ``crm_voip/providers`` on purpose, so that a bug in one cannot
cancel out the same bug in the other.
"""

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

ZADARMA_ENCODINGS = ("base64_hex", "base64_raw")

# The concatenation each Zadarma event signs, in order, with no separator.
ZADARMA_SIGNED_FIELDS = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
}


def php_urlencode(pairs):
    """Encode ``(key, value)`` pairs like PHP ``http_build_query(..., PHP_QUERY_RFC1738)``.

    Spaces become ``+`` and every byte outside ``A-Z a-z 0-9 - _ .`` is percent-encoded.
    Python's ``quote_plus`` also keeps ``~``, which PHP encodes as ``%7E``; a literal ``~`` can
    only come from that, so it is replaced afterwards.
    """
    parts = []
    for key, value in pairs:
        parts.append(f"{_php_quote(key)}={_php_quote(value)}")
    return "&".join(parts)


def _php_quote(value):
    if value is None:
        value = ""
    elif isinstance(value, bool):
        value = "1" if value else "0"
    return quote_plus(str(value), safe="").replace("~", "%7E")


def zadarma_sign(secret, text, encoding="base64_hex"):
    """``base64(hex(HMAC-SHA1(secret, text)))``, or base64 of the raw digest for ``base64_raw``."""
    if encoding not in ZADARMA_ENCODINGS:
        raise ValueError(f"unknown Zadarma signature encoding {encoding!r}")
    mac = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1)
    raw = mac.hexdigest().encode("ascii") if encoding == "base64_hex" else mac.digest()
    return base64.b64encode(raw).decode("ascii")


def zadarma_query_string(params):
    """The sorted, PHP-encoded query string that a Zadarma REST signature covers."""
    if isinstance(params, dict):
        params = list(params.items())
    return php_urlencode(sorted(params, key=lambda pair: pair[0]))


def zadarma_auth_line(method_path, params):
    """``method + qs + md5_hex(qs)``: the text signed for a REST call."""
    qs = zadarma_query_string(params)
    return method_path + qs + hashlib.md5(qs.encode("utf-8")).hexdigest()


def zadarma_auth_header(api_key, api_secret, method_path, params):
    """The ``Authorization`` header of a Zadarma REST call.

    ``params`` are all request parameters; ``format=json`` is added when absent, as every official
    SDK does before signing (the caller must send it too).
    """
    params = dict(params)
    params.setdefault("format", "json")
    return f"{api_key}:{zadarma_sign(api_secret, zadarma_auth_line(method_path, params))}"


def zadarma_webhook_string(payload):
    """The event-specific concatenation a Zadarma webhook ``Signature`` covers.

    A missing field counts as ``''``; an unknown event signs the empty string.
    """
    fields = ZADARMA_SIGNED_FIELDS.get(payload.get("event"), ())
    return "".join(str(payload.get(name) or "") for name in fields)


def zadarma_webhook_signature(secret, payload, encoding="base64_hex"):
    return zadarma_sign(secret, zadarma_webhook_string(payload), encoding)


def generic_signature(secret, timestamp, body):
    """``v1=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>`` of the generic protocol."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"v1={digest}"
