"""Zadarma (and Novofon, its Russian brand: the same API v1).

Wire format from ``__manifest_docs__/protocols/zadarma.md``: form-urlencoded webhooks signed
in a ``Signature`` header (sections "Webhook transport", "Webhook events" and "Webhook
signatures"), the REST API at the host's root, authorized by a signed ``Authorization``
header (sections "REST authentication", "REST errors and rate limits", "Click-to-call",
"Recording links" and "Call statistics").

The signatures are written here from that description and checked against its test vectors,
independently of ``crm_voip/providers/zadarma.py`` on purpose, so that a bug in one cannot
cancel out the same bug in the other.
"""

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from urllib.parse import quote_plus, unquote

from .. import calls
from ..clock import resolve_timezone, to_utc
from ..rest import Reply, audio_reply
from ..transport import http_request
from . import register
from .base import CliOption, Pbx, RetryPolicy

_logger = logging.getLogger("vats_simulator.rest")

ENCODINGS = ("base64_hex", "base64_raw")

# The concatenation each event signs, in order, with no separator.
SIGNED_FIELDS = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
}

# Neutral disposition -> (webhook value, statistics value, Q.931 status code).
DISPOSITIONS = {
    "answered": ("answered", "answered", "16"),
    "busy": ("busy", "busy", "17"),
    "no_answer": ("no answer", "no answer", "19"),
    "cancel": ("cancel", "cancel", "16"),
    "failed": ("failed", "call failed", "41"),
}

LIFETIME_MIN, LIFETIME_MAX, LIFETIME_DEFAULT = 180, 5184000, 1800
_DOWNLOAD_RE = re.compile(r"^/v1/pbx/record/download/([^/]+)/([^/]+)$")
_INTERNAL_RE = re.compile(r"^/v1/pbx/internal/([^/]+)/(info|status)$")


@dataclass
class ZadarmaAccount:
    """A Zadarma (or Novofon) account: webhooks go to ``webhook_url``, REST calls are checked
    against ``api_key``/``api_secret``, and ``call_start`` is written in ``timezone``."""

    webhook_url: str
    api_key: str
    api_secret: str
    timezone: str = "Europe/Moscow"
    signature_encoding: str = "base64_hex"
    pbx_id: int = 1234
    #: ``/v1/pbx/internal/`` lists the numbers as ints, as the API reference shows them.
    internal_numbers_as_int: bool = False
    tzinfo: dt.tzinfo = field(init=False, repr=False)

    def __post_init__(self):
        if self.signature_encoding not in ENCODINGS:
            raise ValueError(
                f"signature_encoding must be one of {ENCODINGS}, not {self.signature_encoding!r}"
            )
        self.tzinfo = resolve_timezone(self.timezone)

    def local(self, when):
        """``when`` (aware, or naive meaning UTC) as the account's ``YYYY-MM-DD HH:MM:SS``."""
        return to_utc(when).astimezone(self.tzinfo).strftime("%Y-%m-%d %H:%M:%S")

    def parse_local(self, text):
        """The reverse of :meth:`local`: an aware UTC datetime."""
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
        return naive.replace(tzinfo=self.tzinfo).astimezone(dt.timezone.utc)


# --- signatures ----------------------------------------------------------------------------


def php_urlencode(pairs):
    """Encode ``(key, value)`` pairs like PHP ``http_build_query(..., PHP_QUERY_RFC1738)``.

    Spaces become ``+`` and every byte outside ``A-Z a-z 0-9 - _ .`` is percent-encoded.
    Python's ``quote_plus`` also keeps ``~``, which PHP encodes as ``%7E``; a literal ``~`` can
    only come from that, so it is replaced afterwards.
    """
    return "&".join(f"{_php_quote(key)}={_php_quote(value)}" for key, value in pairs)


def _php_quote(value):
    if value is None:
        value = ""
    elif isinstance(value, bool):
        value = "1" if value else "0"
    return quote_plus(str(value), safe="").replace("~", "%7E")


def sign(secret, text, encoding="base64_hex"):
    """``base64(hex(HMAC-SHA1(secret, text)))``, or base64 of the raw digest for ``base64_raw``."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown Zadarma signature encoding {encoding!r}")
    mac = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1)
    raw = mac.hexdigest().encode("ascii") if encoding == "base64_hex" else mac.digest()
    return base64.b64encode(raw).decode("ascii")


def query_string(params):
    """The sorted, PHP-encoded query string that a REST signature covers."""
    if isinstance(params, dict):
        params = list(params.items())
    return php_urlencode(sorted(params, key=lambda pair: pair[0]))


def auth_line(method_path, params):
    """``method + qs + md5_hex(qs)``: the text signed for a REST call."""
    qs = query_string(params)
    return method_path + qs + hashlib.md5(qs.encode("utf-8")).hexdigest()


def auth_header(api_key, api_secret, method_path, params):
    """The ``Authorization`` header of a REST call.

    ``params`` are all request parameters; ``format=json`` is added when absent, as every official
    SDK does before signing (the caller must send it too).
    """
    params = dict(params)
    params.setdefault("format", "json")
    return f"{api_key}:{sign(api_secret, auth_line(method_path, params))}"


def webhook_string(payload):
    """The event-specific concatenation a webhook ``Signature`` covers.

    A missing field counts as ``''``; an unknown event signs the empty string.
    """
    fields = SIGNED_FIELDS.get(payload.get("event"), ())
    return "".join(str(payload.get(name) or "") for name in fields)


def webhook_signature(secret, payload, encoding="base64_hex"):
    return sign(secret, webhook_string(payload), encoding)


# --- webhook bodies ------------------------------------------------------------------------


def form_body(payload):
    return php_urlencode(payload.items()).encode("ascii")


def multipart_body(payload, boundary=None, boundary_bug=True):
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


@register("zadarma")
class Zadarma(Pbx):
    label = "Zadarma/Novofon"
    # Not documented; a third-party module's comment says it "retries on non-200", without
    # evidence. Chosen: one retry, half a minute later, of an attempt not answered 2xx in 10 s.
    webhook_retry = RetryPolicy(
        delays=(30,), note="not documented; one retry after 30 s (chosen, from a hint)"
    )
    Account = ZadarmaAccount
    # The real API is at a host's root (https://api.zadarma.com/v1/...): so is the simulated one.
    path_prefix = ""
    missed_disposition = "cancel"
    malformed_body = b"\xff\xfe%%%event&&=NOTIFY_?&call_start=%ZZ\x00"
    play_options = {"multipart": False, "multipart_bug": True}
    rate_limits = {"general": 100, "statistics": 3}
    cli_account_options = (
        CliOption(("--zadarma-webhook",), "webhook_url", "where to post call events", True, "URL"),
        CliOption(("--zadarma-key",), "api_key", "API key (REST authorization)", True, "K"),
        CliOption(("--zadarma-secret",), "api_secret", "API secret (signatures)", True, "S"),
        CliOption(
            ("--zadarma-timezone", "--timezone"),
            "timezone",
            "account timezone (default Europe/Moscow)",
            metavar="TZ",
        ),
        CliOption(
            ("--zadarma-signature-encoding", "--signature-encoding"),
            "signature_encoding",
            "webhook Signature encoding (default base64_hex)",
            choices=ENCODINGS,
        ),
    )
    cli_play_options = (
        CliOption(("--multipart",), "multipart", "Zadarma: multipart bodies", switch=True),
    )

    # --- scenarios ------------------------------------------------------------------------

    def new_call_id(self, direction):
        """``in_``/``out_`` and 40 hex digits."""
        return ("out_" if direction == "outbound" else "in_") + secrets.token_hex(20)

    def new_recording_id(self, start, extension, tzinfo):
        """``1-<unix>.<micro>-<ext>-<local YYYY-MM-DD-HHMMSS>``."""
        local = start.astimezone(tzinfo or dt.timezone.utc).strftime("%Y-%m-%d-%H%M%S")
        micro = secrets.randbelow(10**6)
        return f"1-{int(start.timestamp())}.{micro:06d}-{extension or '0'}-{local}"

    def encode_step(self, step, call, tzinfo, params):
        """The form fields of the step's event, in the documented order."""
        call_start = call.start.astimezone(tzinfo).strftime("%Y-%m-%d %H:%M:%S")
        cid = call.call_id
        kind = step.kind
        rec = call.recording_id if (call.recorded or kind == calls.RECORDING_READY) else ""
        if kind == calls.STARTED:
            return {
                "event": "NOTIFY_START",
                "call_start": call_start,
                "pbx_call_id": cid,
                "caller_id": call.caller,
                "called_did": call.did,
            }
        if kind == calls.RINGING:
            return {
                "event": "NOTIFY_INTERNAL",
                "call_start": call_start,
                "pbx_call_id": cid,
                "caller_id": call.caller,
                "called_did": call.did,
                "internal": step.extension,
            }
        if kind == calls.ANSWERED:
            return {
                "event": "NOTIFY_ANSWER",
                "caller_id": call.caller,
                "destination": call.did,
                "call_start": call_start,
                "pbx_call_id": cid,
                "internal": step.extension,
            }
        if kind == calls.ENDED:
            payload = {
                "event": "NOTIFY_END",
                "call_start": call_start,
                "pbx_call_id": cid,
                "caller_id": call.caller,
                "called_did": call.did,
            }
            if step.extension:
                payload["internal"] = step.extension
            payload.update(_outcome(call, rec))
            return payload
        if kind == calls.OUTGOING_STARTED:
            return {
                "event": "NOTIFY_OUT_START",
                "call_start": call_start,
                "pbx_call_id": cid,
                "internal": call.extension,
                "destination": call.number,
            }
        if kind == calls.OUTGOING_ENDED:
            payload = {
                "event": "NOTIFY_OUT_END",
                "call_start": call_start,
                "pbx_call_id": cid,
                # In production this is the external CallerID, not the extension.
                "caller_id": call.did,
                "destination": call.number,
                "internal": call.extension,
            }
            payload.update(_outcome(call, rec))
            return payload
        if kind == calls.RECORDING_READY:
            return {"event": "NOTIFY_RECORD", "call_id_with_rec": rec, "pbx_call_id": cid}
        raise ValueError(f"Zadarma cannot encode a {kind!r} step")

    # --- webhooks -------------------------------------------------------------------------

    def webhook_request(self, account, payload, signing, options):
        if isinstance(payload, bytes):  # a malformed body: sign the empty string, as for no event
            body, content_type = payload, "application/x-www-form-urlencoded"
            signed = ""
        else:
            if options["multipart"]:
                body, content_type = multipart_body(payload, boundary_bug=options["multipart_bug"])
            else:
                body, content_type = form_body(payload), "application/x-www-form-urlencoded"
            signed = webhook_string(payload)
        headers = {"Content-Type": content_type}
        if signing == "valid":
            headers["Signature"] = sign(account.api_secret, signed, account.signature_encoding)
        elif signing == "bad":
            headers["Signature"] = sign(
                account.api_secret + "-tampered", signed, account.signature_encoding
            )
        return body, headers

    def event_name(self, payload):
        if isinstance(payload, dict):
            return payload.get("event") or "?"
        return "raw bytes"

    def verify_webhook_url(self, sim, account, echo, timeout):
        """``GET <webhook_url>?zd_echo=<random>`` must answer the value itself."""
        separator = "&" if urllib.parse.urlsplit(account.webhook_url).query else "?"
        url = f"{account.webhook_url}{separator}zd_echo={urllib.parse.quote(echo)}"
        status, data, _headers, _error, _elapsed = http_request("GET", url, timeout=timeout)
        return status == 200 and data == echo.encode("utf-8")

    # --- REST -----------------------------------------------------------------------------

    def error_payload(self, message):
        return {"status": "error", "message": message}

    def response_headers(self, sim):
        limit, used, reset = sim.rate_usage(self.code, "general")
        return {
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": max(limit - used, 0),
            "X-RateLimit-Reset": reset,
        }

    def handle_rest(self, sim, request):
        route = request.route
        if not route.startswith("/v1/"):
            return
        account = sim.accounts.get(self.code)
        if account is None:
            raise self.error(404, "No Zadarma account is simulated")
        download = _DOWNLOAD_RE.match(route)
        if download:  # temporary links need no authentication
            self._download(sim, request, *download.groups())
        ok, error = self._check_auth(account, route, request)
        request.auth_ok, request.auth_error = ok, error
        if not ok:
            _logger.info("Zadarma REST %s refused: %s", request.path, error)
            raise self.error(401, "Auth error")
        buckets = ("statistics", "general") if "/statistics/" in route else ("general",)
        retry_after = sim.count_rate(self.code, buckets)
        if retry_after:
            raise self.rate_limited(retry_after)
        if request.method != "GET":
            raise self.error(405, "Method not allowed")
        route = route.rstrip("/")
        params = request.params
        if route == "/v1/request/callback":
            self._callback(sim, account, params)
        if route == "/v1/pbx/record/request":
            self._record_request(sim, account, params)
        if route == "/v1/pbx/internal":
            numbers = sorted(sim.extensions)
            if account.internal_numbers_as_int:
                numbers = [int(n) if n.isdigit() else n for n in numbers]
            raise Reply(200, {"status": "success", "pbx_id": account.pbx_id, "numbers": numbers})
        internal = _INTERNAL_RE.match(route)
        if internal:
            self._internal(sim, account, *internal.groups())
        if route == "/v1/statistics/pbx":
            self._statistics(sim, account, params)
        if route == "/v1/info/balance":
            raise Reply(200, {"status": "success", "balance": sim.balance, "currency": "USD"})
        if route == "/v1/info/timezone":
            now = sim.now()
            when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
            raise Reply(
                200,
                {
                    "status": "success",
                    "unixtime": int(now),
                    "datetime": account.local(when),
                    "timezone": utc_offset_label(account.tzinfo, when),
                },
            )
        raise self.error(404, "Method not found")

    def _check_auth(self, account, route, request):
        header = request.header("Authorization")
        if not header:
            return False, "missing Authorization header"
        key, sep, signature = header.strip().partition(":")
        if not sep or not hmac.compare_digest(key.encode(), account.api_key.encode()):
            return False, f"unknown API key {key!r}"
        if not any(name == "format" for name, _value in request.pairs):
            return False, "the format parameter must be sent (and signed)"
        line = auth_line(route, request.pairs)
        expected = sign(account.api_secret, line)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return False, f"bad signature: expected {expected} over {line!r}"
        return True, ""

    def _callback(self, sim, account, params):
        """Click-to-call: ``from`` is called first (an extension, or a phone with ``sip``)."""
        source, target = params.get("from", "").strip(), params.get("to", "").strip()
        if not source or not target:
            raise self.error(400, "Check phone's number")
        extension = source if _is_extension(source) else (params.get("sip") or "")
        if not _is_extension(extension):
            extension = next(iter(sorted(sim.extensions)), "100")
        sim.originate(self.code, extension, target)
        answer = {"status": "success", "from": source, "to": target, "time": int(sim.now())}
        raise Reply(200, answer)

    def _record_request(self, sim, account, params):
        call_id, pbx_call_id = params.get("call_id"), params.get("pbx_call_id")
        try:
            lifetime = int(params.get("lifetime") or LIFETIME_DEFAULT)
        except ValueError:
            raise self.error(400, "Wrong lifetime")
        lifetime = min(max(lifetime, LIFETIME_MIN), LIFETIME_MAX)
        if call_id:
            recordings = [r for r in sim.recordings if r["recording_id"] == call_id]
        elif pbx_call_id:
            recordings = [r for r in sim.recordings if r["call_id"] == pbx_call_id]
        else:
            raise self.error(400, "call_id or pbx_call_id is required")
        recordings = [r for r in recordings if r["provider"] == self.code]
        if not recordings:
            raise self.error(404, "Record not found")
        base = sim.api_url(self.code)
        links = []
        for recording in recordings:
            token = sim.issue_link(recording["recording_id"], lifetime)
            name = urllib.parse.quote(recording["recording_id"])
            links.append(f"{base}/v1/pbx/record/download/{token}/{name}.mp3")
        expires = dt.datetime.fromtimestamp(sim.now() + lifetime, dt.timezone.utc)
        answer = {"status": "success"}
        if call_id:
            answer["link"] = links[0]
        else:
            answer["links"] = links
        answer["lifetime_till"] = account.local(expires)
        raise Reply(200, answer)

    def _download(self, sim, request, token, name):
        link = sim.resolve_link(token)
        if link is None or unquote(name) != f"{link[0]}.mp3":
            raise self.error(404, "File not found")
        recording_id, expires_at = link
        if sim.now() > expires_at:
            raise self.error(404, "Link expired")
        raise audio_reply(request, sim.recording_bytes(recording_id), sim.recording_mimetype)

    def _internal(self, sim, account, number, what):
        if number not in sim.extensions:
            raise self.error(404, "Wrong internal number")
        pbx_id = account.pbx_id
        if what == "status":
            raise Reply(
                200, {"status": "success", "pbx_id": pbx_id, "number": number, "is_online": "true"}
            )
        raise Reply(
            200,
            {
                "status": "success",
                "pbx_id": pbx_id,
                "number": number,
                "name": sim.extensions[number],
                "caller_id": "",
                "caller_id_app_change": "true",
                "caller_id_by_direction": "false",
                "lines": 3,
                "ip_restriction": "",
                "record_store": "Without recognition",
                "record_email": "",
                "supervisor_status": "false",
            },
        )

    def _statistics(self, sim, account, params):
        """The call history (``/v1/statistics/pbx/``) of the calls played for this PBX."""
        try:
            start = account.parse_local(params["start"])
            end = account.parse_local(params["end"])
            skip = int(params.get("skip") or 0)
            limit = min(int(params.get("limit") or 1000), 1000)
        except (KeyError, ValueError):
            raise self.error(400, "Wrong parameters")
        call_type = params.get("call_type")
        stats = []
        for call in sim.calls:
            if call.provider != self.code or not start <= call.start <= end:
                continue
            if call_type == "in" and call.direction != "inbound":
                continue
            if call_type == "out" and call.direction != "outbound":
                continue
            inbound = call.direction == "inbound"
            stats.append(
                {
                    "call_id": call.stats_id,
                    "sip": call.extension,
                    "callstart": account.local(call.start),
                    "clid": call.caller if inbound else call.did,
                    "destination": call.did if inbound else call.number,
                    "disposition": DISPOSITIONS[call.disposition][1],
                    "seconds": call.duration,
                    "is_recorded": call.recorded,
                    "pbx_call_id": call.call_id,
                }
            )
        stats.sort(key=lambda item: item["callstart"])
        raise Reply(
            200,
            {
                "status": "success",
                "start": params["start"],
                "end": params["end"],
                "stats": stats[skip : skip + limit],
            },
        )


def _outcome(call, rec):
    webhook_disposition, _statistics, status_code = DISPOSITIONS[call.disposition]
    return {
        "duration": str(call.duration),
        "disposition": webhook_disposition,
        "status_code": status_code,
        "is_recorded": "1" if rec else "0",
        "call_id_with_rec": rec,
    }


def utc_offset_label(tzinfo, when=None):
    """The ``timezone`` label of an offset: ``UTC+3``, ``UTC-5``, ``UTC+5:30``, ``UTC+0``."""
    when = when or dt.datetime.now(dt.timezone.utc)
    offset = when.astimezone(tzinfo).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign_char = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign_char}{hours}" + (f":{rest:02d}" if rest else "")


def _is_extension(value):
    return bool(value) and value.isdigit() and len(value) <= 5
