"""The PBXs' REST APIs, served over loopback by ``http.server``.

Each PBX module answers the paths under its ``path_prefix`` (``Pbx.handle_rest``);
``<prefix>/_simulator/play`` is the control endpoint under every PBX's base URL. Every
request is recorded on the simulator (``Simulator.requests``).
"""

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import pbx
from .rest import Reply, RestRequest, Upgrade
from .scenarios import SCENARIOS, scenario_params

#: The control endpoint, below the simulator's root and below every PBX's base URL.
CONTROL_ROUTE = "/_simulator/play"
#: What really happened: the ground truth of the played calls (``Simulator.truth()``).
TRUTH_ROUTE = "/_simulator/truth"

_logger = logging.getLogger("vats_simulator.rest")

JSON_TYPE = "application/json; charset=utf-8"


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, simulator):
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        # A client that hung up mid-answer is not worth a traceback on stderr.
        _logger.debug("REST connection from %s failed", client_address, exc_info=True)


def _plain_error(message):
    return {"status": "error", "message": message}


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
        owner, route = pbx.owner(url.path)
        control = route in (CONTROL_ROUTE, TRUTH_ROUTE)
        record = RestRequest(
            provider="control" if control else owner.code if owner else "unknown",
            method=self.command,
            path=url.path,
            query=url.query,
            params=dict(pairs),
            json=parsed_json,
            body=body,
            headers=dict(self.headers.items()),
            route=route,
            pairs=pairs,
        )
        api = owner if owner is not None and not control else None
        error = api.error_payload if api is not None else _plain_error
        try:
            forced = sim._take_forced_failure()
            if forced:
                kind, value = forced
                if kind == "rate":
                    raise Reply(
                        429,
                        error("You exceeded the rate limit"),
                        {"Retry-After": str(value)},
                    )
                raise Reply(value, error("Simulated failure"))
            if route == TRUTH_ROUTE:
                if self.command == "GET":
                    _control_truth(sim)
            elif control:
                if self.command == "POST":
                    _control_play(sim, parsed_json, owner)
            elif api is not None:
                api.handle_rest(sim, record)
            raise Reply(404, error("Not found"))
        except Reply as reply:
            self._answer(sim, record, reply, api)
        except Upgrade as upgrade:
            self._switch(sim, record, upgrade)
        except Exception as exc:  # a bug in the simulator must still answer something
            _logger.exception("REST handler failed on %s %s", self.command, self.path)
            self._answer(sim, record, Reply(500, error(str(exc))), api)

    def _switch(self, sim, record, upgrade):
        """Answer 101 and hand the connection to the new protocol (it is not reused)."""
        record.status = 101
        record.response = "<switched protocols>"
        sim._log_request(record)
        self.send_response(101)
        for name, value in upgrade.headers.items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        # An event stream may stay quiet for longer than the REST idle timeout.
        self.connection.settimeout(None)
        upgrade.serve(self.rfile, self.wfile)

    def _answer(self, sim, record, reply, api):
        headers = dict(reply.headers)
        if isinstance(reply.payload, bytes):
            data = reply.payload
            headers.setdefault("Content-Type", "application/octet-stream")
            record.response = f"<{len(data)} bytes>"
        else:
            data = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", JSON_TYPE)
            record.response = reply.payload
        if api is not None:
            headers.update(api.response_headers(sim))
        record.status = reply.status
        sim._log_request(record)
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _control_truth(sim):
    """``GET [<PBX base URL>]/_simulator/truth``: every played call as it really ended, and
    what became of its webhooks (``Simulator.truth()``), with the unreliability settings."""
    raise Reply(
        200,
        {
            "calls": sim.truth(),
            "retry": sim.retry,
            "drop_share": sim.drop_share,
            "pending_retries": sim.pending_retries(),
            "retry_overflows": sim.retry_overflows,
        },
    )


def _control_play(sim, request, owner):
    """``POST [<PBX base URL>]/_simulator/play``: play a scenario a moment later, answer at
    once (202).

    Lets the system under test (a demo button, a browser tour) ask for a call without
    waiting on its own webhooks: the caller gets its answer before the first one is sent.
    ``provider`` defaults to the PBX whose base URL was called.
    """
    if not isinstance(request, dict):
        raise Reply(400, _plain_error("JSON object expected"))
    provider = request.get("provider") or (owner.code if owner is not None else None)
    scenario = request.get("scenario", "answered")
    params = dict(request.get("params") or {})
    if provider not in pbx.codes() or provider not in sim.accounts:
        raise Reply(400, _plain_error(f"no {provider!r} account"))
    if scenario not in SCENARIOS or scenario == "malformed":
        raise Reply(400, _plain_error(f"unknown scenario {scenario!r}"))
    event_gap = float(params.pop("event_gap", 0) or 0)
    delay = float(request.get("delay", 0.3))
    unknown = set(params) - scenario_params(provider)
    if unknown:
        raise Reply(400, _plain_error(f"unknown params {sorted(unknown)}"))
    direction = "outbound" if scenario == "outgoing" else "inbound"
    params.setdefault("call_id", pbx.get(provider).new_call_id(direction))
    sim._spawn(
        lambda: sim.play(provider, scenario, event_gap=event_gap, **params),
        delay=delay,
        name=f"control-{params['call_id']}",
    )
    raise Reply(202, {"status": "accepted", "call_id": params["call_id"]})
