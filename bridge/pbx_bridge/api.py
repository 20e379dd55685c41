"""The bridge's own HTTP(S) API, for Odoo (signed) and for the dialplan (``/route``).

Every request but ``/route`` carries ``X-Crm-Voip-Timestamp`` (Unix seconds) and
``X-Crm-Voip-Signature: v1=<hex HMAC-SHA256>`` keyed with the shared secret, over
``<timestamp>.<METHOD> <path?query>\\n<body>``: the generic webhook's scheme, with the
request line signed too, so a signed request cannot be replayed on another path. A
timestamp outside the replay window is refused. Missing headers: 401; a wrong
signature or a stale timestamp: 403.

``/route`` is for ``CURL()`` from the dialplan: only from the allowed addresses
(loopback by default) with the route token in the query; it answers plain text.
"""

import hmac
import ipaddress
import json
import logging
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .poster import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

_logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
CHUNK = 64 * 1024


class ApiError(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def request_payload(method, target, body=b""):
    """What the API signs after ``<timestamp>.``: the request line and the body."""
    return f"{method.upper()} {target}\n".encode() + (body or b"")


def api_headers(secret, method, target, body=b"", now=None):
    """The signature headers of a request to the bridge (Odoo's adapter does the same)."""
    timestamp = str(int(now if now is not None else time.time()))
    digest = sign(secret, timestamp, request_payload(method, target, body))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"v1={digest}"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "pbx-bridge"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        _logger.debug("api: %s %s", self.address_string(), fmt % args)

    # -- plumbing ------------------------------------------------------------------------------

    def _send(self, status, body, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, error):
        if error.status >= 500:
            _logger.error("api: %s %s failed: %s", self.command, self.path[:80], error.reason)
        else:
            _logger.info(
                "api: %s %s refused (%d): %s",
                self.command,
                self.path[:80],
                error.status,
                error.reason,
            )
        self._send(error.status, {"status": "error", "error": error.reason})

    def _body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY:
            raise ApiError(413, "body too large")
        return self.rfile.read(int(length))

    def _verify(self, body):
        api = self.server.api
        timestamp = (self.headers.get(TIMESTAMP_HEADER) or "").strip()
        signatures = (self.headers.get(SIGNATURE_HEADER) or "").strip()
        if not timestamp or not signatures:
            raise ApiError(401, "signature headers missing")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise ApiError(403, f"{TIMESTAMP_HEADER} must be Unix time in whole seconds")
        skew = abs(time.time() - int(timestamp))
        if skew > api.replay_window:
            raise ApiError(403, f"timestamp is {int(skew)} s away from the bridge's clock")
        expected = sign(
            api.secret, timestamp, request_payload(self.command, self.path, body)
        ).encode()
        matched = False
        for value in signatures.split(","):
            value = value.strip()
            if value.startswith("v1=") and hmac.compare_digest(
                expected, value[3:].strip().lower().encode("utf-8", "replace")
            ):
                matched = True
        if not matched:
            raise ApiError(403, "invalid signature")

    def _handle(self):
        api = self.server.api
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            if parts.path == "/route" and self.command == "GET":
                self._send(
                    200, api.route(self.client_address[0], query), "text/plain; charset=utf-8"
                )
                return
            body = self._body()
            self._verify(body)
            if parts.path == "/health" and self.command == "GET":
                self._send(200, api.ops.health())
            elif parts.path == "/originate" and self.command == "POST":
                self._send(200, api.originate(body))
            elif parts.path == "/extensions" and self.command == "GET":
                rows = api.ops.extensions()
                self._send(200, {"extensions": [{"extension": e, "name": n} for e, n in rows]})
            elif parts.path.startswith("/recordings/") and self.command == "GET":
                self._recording(unquote(parts.path[len("/recordings/") :]))
            elif parts.path == "/history" and self.command == "GET":
                self._send(200, {"calls": api.history(query)})
            else:
                raise ApiError(404, "no such endpoint")
        except ApiError as error:
            self._error(error)
        except Exception as error:
            _logger.exception("api: %s %s", self.command, parts.path)
            self._send(500, {"status": "error", "error": f"bridge error ({type(error).__name__})"})

    def _recording(self, recording_id):
        mimetype, size, chunks, close = self.server.api.ops.open_recording(recording_id)
        try:
            self.send_response(200)
            self.send_header("Content-Type", mimetype)
            if size is not None:
                self.send_header("Content-Length", str(size))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(chunk)
        finally:
            close()

    do_GET = _handle
    do_POST = _handle


class BridgeApi:
    """The API server. ``ops`` is the bridge (``service.Bridge``) it asks."""

    def __init__(self, ops, config, secret):
        self.ops = ops
        self.config = config
        self.secret = secret
        self.replay_window = config.replay_window
        self.allowed = [ipaddress.ip_network(entry, strict=False) for entry in config.route_allow]
        self.server = ThreadingHTTPServer((config.listen, config.port), _Handler)
        self.server.daemon_threads = True
        self.server.api = self
        if config.tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(config.tls_cert, config.tls_key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self._thread = None

    @property
    def port(self):
        return self.server.server_address[1]

    def start(self):
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="pbx-bridge-api", daemon=True
        )
        self._thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- endpoints -----------------------------------------------------------------------------

    def originate(self, body):
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "body is not JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "body must be a JSON object")
        extension = str(payload.get("from") or payload.get("extension") or "").strip()
        number = str(payload.get("to") or payload.get("number") or "").strip()
        if not extension or not number:
            raise ApiError(400, "from (extension) and to (number) are required")
        for name, value in (("from", extension), ("to", number)):
            if not all(char.isalnum() or char in "+*#-_." for char in value) or len(value) > 64:
                raise ApiError(400, f"{name}: not a dialable extension or number")
        ref = str(payload.get("request_ref") or "")[:128]
        if any(char in ref for char in ",\r\n"):
            raise ApiError(400, "request_ref: may not hold commas or line breaks")
        call_id = self.ops.originate(extension, number, str(payload.get("caller_id") or ""), ref)
        return {"status": "ok", "call_id": call_id}

    def history(self, query):
        try:
            start = _unix(query.get("start"))
            end = _unix(query.get("end"))
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        return self.ops.history(start, end)

    def route(self, remote_addr, query):
        """The dialplan's question: the dial string for the call, or "" to go on alone."""
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            raise ApiError(403, "unknown source address") from None
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not any(address in network for network in self.allowed):
            raise ApiError(403, "source address not allowed to route")
        token = self.config.route_token
        if not token or not hmac.compare_digest(
            token.encode(), (query.get("token") or "").encode("utf-8", "replace")
        ):
            raise ApiError(403, "wrong route token")
        targets = self.ops.route(query, self.config.route_budget)
        return "&".join(self.config.dial_template.format(extension=target) for target in targets)


def _unix(value):
    from datetime import datetime, timezone

    if not value:
        raise ValueError("start and end are required")
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
