"""The providers' REST APIs, served over loopback by ``http.server``.

Zadarma lives at the root (``/v1/...``), the generic protocol's optional REST API under
``/generic``. Every request is recorded on the simulator (``Simulator.requests``).
"""

import datetime as dt
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from .accounts import utc_offset_label
from .media import parse_range
from .scenarios import (
    SCENARIO_PARAMS,
    SCENARIOS,
    iso_utc,
    new_call_id,
    zadarma_disposition,
)
from .signing import zadarma_auth_line, zadarma_sign

CONTROL_PATH = "/_simulator/play"

_logger = logging.getLogger("vats_simulator.rest")

JSON_TYPE = "application/json; charset=utf-8"
_DOWNLOAD_RE = re.compile(r"^/v1/pbx/record/download/([^/]+)/([^/]+)$")
_INTERNAL_RE = re.compile(r"^/v1/pbx/internal/([^/]+)/(info|status)$")
_RECORDING_RE = re.compile(r"^/generic/recordings/([^/]+)$")
LIFETIME_MIN, LIFETIME_MAX, LIFETIME_DEFAULT = 180, 5184000, 1800


@dataclass
class RestRequest:
    """One REST request the simulator received, and how it answered."""

    provider: str  # zadarma / generic / unknown
    method: str
    path: str
    query: str
    params: dict  # query (and form body) parameters, last value wins
    json: object  # the parsed JSON body, if any
    body: bytes
    headers: dict
    auth_ok: bool | None = None  # None: the route needs no authentication
    auth_error: str = ""
    status: int = 0
    response: object = None  # the JSON answer, or a short description of a binary one
    received_at: float = field(default_factory=time.time)


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, simulator):
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        # A client that hung up mid-answer is not worth a traceback on stderr.
        _logger.debug("REST connection from %s failed", client_address, exc_info=True)


class _Reply(Exception):
    """Raised by a route to answer right away."""

    def __init__(self, status, payload, headers=None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vats-simulator/1.0"
    timeout = 30  # close idle keep-alive connections

    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        _logger.debug("%s %s", self.address_string(), format % args)

    # --- plumbing --------------------------------------------------------------------------

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self):
        sim = self.server.simulator
        url = urlsplit(self.path)
        body = self._read_body()
        pairs = parse_qsl(url.query, keep_blank_values=True)
        content_type = (self.headers.get("Content-Type") or "").lower()
        if body and "application/x-www-form-urlencoded" in content_type:
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        parsed_json = None
        if body and "json" in content_type:
            try:
                parsed_json = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                parsed_json = None
        if url.path == CONTROL_PATH:
            provider = "control"
        elif url.path.startswith("/generic"):
            provider = "generic"
        elif url.path.startswith("/v1/"):
            provider = "zadarma"
        else:
            provider = "unknown"
        record = RestRequest(
            provider=provider,
            method=self.command,
            path=url.path,
            query=url.query,
            params=dict(pairs),
            json=parsed_json,
            body=body,
            headers=dict(self.headers.items()),
        )
        try:
            forced = sim._take_forced_failure()
            if forced:
                raise _forced_reply(provider, *forced)
            if provider == "zadarma":
                _zadarma_route(sim, self, record, pairs)
            elif provider == "generic":
                _generic_route(sim, self, record)
            elif provider == "control" and self.command == "POST":
                _control_play(sim, parsed_json)
            raise _Reply(404, {"status": "error", "message": "Not found"})
        except _Reply as reply:
            self._answer(sim, record, reply)
        except Exception as exc:  # a bug in the simulator must still answer something
            _logger.exception("REST handler failed on %s %s", self.command, self.path)
            self._answer(sim, record, _Reply(500, {"status": "error", "message": str(exc)}))

    def _answer(self, sim, record, reply):
        headers = dict(reply.headers)
        if isinstance(reply.payload, bytes):
            data = reply.payload
            headers.setdefault("Content-Type", "application/octet-stream")
            record.response = f"<{len(data)} bytes>"
        else:
            data = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", JSON_TYPE)
            record.response = reply.payload
        if record.provider == "zadarma":
            headers.update(sim._rate_headers())
        record.status = reply.status
        sim._log_request(record)
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _forced_reply(provider, kind, value):
    key = "error" if provider == "generic" else "message"
    if kind == "rate":
        return _Reply(
            429,
            {"status": "error", key: "You exceeded the rate limit"},
            {"Retry-After": str(value)},
        )
    return _Reply(value, {"status": "error", key: "Simulated failure"})


def _audio_reply(handler, data, mimetype="audio/mpeg"):
    """A 200, 206 or 416 answer for ``data`` honouring the request's ``Range`` header."""
    size = len(data)
    wanted = parse_range(handler.headers.get("Range"), size)
    headers = {"Content-Type": mimetype, "Accept-Ranges": "bytes"}
    if wanted == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        raise _Reply(416, b"", headers)
    if wanted is None:
        raise _Reply(200, data, headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    raise _Reply(206, data[start : end + 1], headers)


# --- Zadarma -------------------------------------------------------------------------------


def _zadarma_route(sim, handler, record, pairs):
    account = sim.zadarma
    if account is None:
        raise _Reply(404, {"status": "error", "message": "No Zadarma account is simulated"})
    download = _DOWNLOAD_RE.match(record.path)
    if download:  # temporary links need no authentication
        _zadarma_download(sim, handler, *download.groups())
    ok, error = _zadarma_check_auth(account, record.path, pairs, handler.headers)
    record.auth_ok, record.auth_error = ok, error
    if not ok:
        _logger.info("Zadarma REST %s refused: %s", record.path, error)
        raise _Reply(401, {"status": "error", "message": "Auth error"})
    retry_after = sim._count_rate(record.path)
    if retry_after:
        raise _forced_reply("zadarma", "rate", retry_after)
    route = record.path.rstrip("/")
    params = record.params
    if handler.command != "GET":
        raise _Reply(405, {"status": "error", "message": "Method not allowed"})
    if route == "/v1/request/callback":
        _zadarma_callback(sim, params)
    if route == "/v1/pbx/record/request":
        _zadarma_record_request(sim, params)
    if route == "/v1/pbx/internal":
        numbers = sorted(sim.extensions)
        if sim.internal_numbers_as_int:
            numbers = [int(n) if n.isdigit() else n for n in numbers]
        raise _Reply(200, {"status": "success", "pbx_id": account.pbx_id, "numbers": numbers})
    internal = _INTERNAL_RE.match(route)
    if internal:
        _zadarma_internal(sim, *internal.groups())
    if route == "/v1/statistics/pbx":
        _zadarma_statistics(sim, params)
    if route == "/v1/info/balance":
        raise _Reply(200, {"status": "success", "balance": sim.balance, "currency": "USD"})
    if route == "/v1/info/timezone":
        now = sim.now()
        when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        raise _Reply(
            200,
            {
                "status": "success",
                "unixtime": int(now),
                "datetime": account.local(when),
                "timezone": utc_offset_label(account.tzinfo, when),
            },
        )
    raise _Reply(404, {"status": "error", "message": "Method not found"})


def _zadarma_check_auth(account, path, pairs, headers):
    header = headers.get("Authorization")
    if not header:
        return False, "missing Authorization header"
    key, sep, signature = header.strip().partition(":")
    if not sep or not hmac.compare_digest(key.encode(), account.api_key.encode()):
        return False, f"unknown API key {key!r}"
    if not any(name == "format" for name, _value in pairs):
        return False, "the format parameter must be sent (and signed)"
    line = zadarma_auth_line(path, pairs)
    expected = zadarma_sign(account.api_secret, line)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return False, f"bad signature: expected {expected} over {line!r}"
    return True, ""


def _zadarma_callback(sim, params):
    source, target = params.get("from", "").strip(), params.get("to", "").strip()
    if not source or not target:
        raise _Reply(400, {"status": "error", "message": "Check phone's number"})
    sim._on_originate("zadarma", source, target, params.get("sip") or None)
    raise _Reply(200, {"status": "success", "from": source, "to": target, "time": int(sim.now())})


def _zadarma_record_request(sim, params):
    call_id, pbx_call_id = params.get("call_id"), params.get("pbx_call_id")
    try:
        lifetime = int(params.get("lifetime") or LIFETIME_DEFAULT)
    except ValueError:
        raise _Reply(400, {"status": "error", "message": "Wrong lifetime"})
    lifetime = min(max(lifetime, LIFETIME_MIN), LIFETIME_MAX)
    if call_id:
        recordings = [r for r in sim.recordings if r["recording_id"] == call_id]
    elif pbx_call_id:
        recordings = [r for r in sim.recordings if r["call_id"] == pbx_call_id]
    else:
        raise _Reply(400, {"status": "error", "message": "call_id or pbx_call_id is required"})
    recordings = [r for r in recordings if r["provider"] == "zadarma"]
    if not recordings:
        raise _Reply(404, {"status": "error", "message": "Record not found"})
    links = [sim._issue_link(r["recording_id"], lifetime) for r in recordings]
    expires = dt.datetime.fromtimestamp(sim.now() + lifetime, dt.timezone.utc)
    answer = {"status": "success"}
    if call_id:
        answer["link"] = links[0]
    else:
        answer["links"] = links
    answer["lifetime_till"] = sim.zadarma.local(expires)
    raise _Reply(200, answer)


def _zadarma_download(sim, handler, token, name):
    link = sim._resolve_link(token)
    if link is None or unquote(name) != f"{link[0]}.mp3":
        raise _Reply(404, {"status": "error", "message": "File not found"})
    recording_id, expires_at = link
    if sim.now() > expires_at:
        raise _Reply(404, {"status": "error", "message": "Link expired"})
    _audio_reply(handler, sim.recording_bytes(recording_id), sim.recording_mimetype)


def _zadarma_internal(sim, number, what):
    if number not in sim.extensions:
        raise _Reply(404, {"status": "error", "message": "Wrong internal number"})
    pbx_id = sim.zadarma.pbx_id
    if what == "status":
        raise _Reply(
            200, {"status": "success", "pbx_id": pbx_id, "number": number, "is_online": "true"}
        )
    raise _Reply(
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


def _zadarma_statistics(sim, params):
    account = sim.zadarma
    try:
        start = account.parse_local(params["start"])
        end = account.parse_local(params["end"])
        skip = int(params.get("skip") or 0)
        limit = min(int(params.get("limit") or 1000), 1000)
    except (KeyError, ValueError):
        raise _Reply(400, {"status": "error", "message": "Wrong parameters"})
    call_type = params.get("call_type")
    stats = []
    for call in sim.calls:
        if call.provider != "zadarma" or not start <= call.start <= end:
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
                "disposition": zadarma_disposition(call.disposition, statistics=True),
                "seconds": call.duration,
                "is_recorded": call.recorded,
                "pbx_call_id": call.call_id,
            }
        )
    stats.sort(key=lambda item: item["callstart"])
    raise _Reply(
        200,
        {
            "status": "success",
            "start": params["start"],
            "end": params["end"],
            "stats": stats[skip : skip + limit],
        },
    )


# --- generic -------------------------------------------------------------------------------


def _generic_route(sim, handler, record):
    account = sim.generic
    if account is None:
        raise _Reply(404, {"status": "error", "error": "no generic account is simulated"})
    header = (handler.headers.get("Authorization") or "").strip()
    scheme, _sep, token = header.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), account.api_key.encode()
    )
    record.auth_ok = ok
    if not ok:
        record.auth_error = "missing or wrong bearer token"
        raise _Reply(401, {"status": "error", "error": "unauthorized"})
    route = record.path[len("/generic") :].rstrip("/") or "/"
    method = handler.command
    if route == "/originate" and method == "POST":
        body = record.json if isinstance(record.json, dict) else {}
        source, target = str(body.get("from") or ""), str(body.get("to") or "")
        if not source or not target:
            raise _Reply(400, {"status": "error", "error": "'from' and 'to' are required"})
        call_id = sim._on_originate("generic", source, target, body.get("caller_id"))
        raise _Reply(200, {"status": "ok", "call_id": call_id})
    if method not in ("GET", "HEAD"):
        raise _Reply(405, {"status": "error", "error": "method not allowed"})
    recording = _RECORDING_RE.match(record.path.rstrip("/"))
    if recording:
        rec_id = recording.group(1)
        known = [r for r in sim.recordings if r["recording_id"] == rec_id]
        if not known:
            raise _Reply(404, {"status": "error", "error": "unknown recording"})
        _audio_reply(handler, sim.recording_bytes(rec_id), sim.recording_mimetype)
    if route == "/extensions":
        raise _Reply(
            200,
            {
                "extensions": [
                    {"extension": number, "name": name}
                    for number, name in sorted(sim.extensions.items())
                ]
            },
        )
    if route == "/calls":
        _generic_calls(sim, record.params)
    raise _Reply(404, {"status": "error", "error": "not found"})


def parse_when(text):
    """ISO 8601 (``Z`` allowed; naive means UTC) or Unix seconds, as an aware UTC datetime."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text), dt.timezone.utc)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _generic_calls(sim, params):
    try:
        start = parse_when(params["start"]) if params.get("start") else None
        end = parse_when(params["end"]) if params.get("end") else None
    except ValueError:
        raise _Reply(400, {"status": "error", "error": "start and end must be ISO 8601"})
    calls = []
    for call in sim.calls:
        if call.provider != "generic":
            continue
        if (start and call.start < start) or (end and call.start > end):
            continue
        calls.append(
            {
                "call_id": call.call_id,
                "direction": call.direction,
                "from": call.caller,
                "to": call.number,
                "extension": call.extension or None,
                "start": iso_utc(call.start),
                "duration": call.duration,
                "disposition": call.disposition,
                "recording_id": call.recording_id or None,
            }
        )
    calls.sort(key=lambda item: item["start"])
    raise _Reply(200, {"calls": calls})


def _control_play(sim, request):
    """``POST /_simulator/play``: play a scenario a moment later, answer at once (202).

    Lets the system under test (a demo button, a browser tour) ask for a call without
    waiting on its own webhooks: the caller gets its answer before the first one is sent.
    """
    if not isinstance(request, dict):
        raise _Reply(400, {"status": "error", "message": "JSON object expected"})
    provider = request.get("provider")
    scenario = request.get("scenario", "answered")
    params = dict(request.get("params") or {})
    if provider not in ("zadarma", "generic") or getattr(sim, provider, None) is None:
        raise _Reply(400, {"status": "error", "message": f"no {provider!r} account"})
    if scenario not in SCENARIOS or scenario == "malformed":
        raise _Reply(400, {"status": "error", "message": f"unknown scenario {scenario!r}"})
    event_gap = float(params.pop("event_gap", 0) or 0)
    delay = float(request.get("delay", 0.3))
    unknown = set(params) - SCENARIO_PARAMS
    if unknown:
        raise _Reply(400, {"status": "error", "message": f"unknown params {sorted(unknown)}"})
    outbound = scenario == "outgoing"
    params.setdefault("call_id", new_call_id(provider, "outbound" if outbound else ""))
    sim._spawn(
        lambda: sim.play(provider, scenario, event_gap=event_gap, **params),
        delay=delay,
        name=f"control-{params['call_id']}",
    )
    raise _Reply(202, {"status": "accepted", "call_id": params["call_id"]})
