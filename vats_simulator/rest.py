"""What a PBX module's REST handlers receive (:class:`RestRequest`) and raise (:class:`Reply`)."""

import time
from dataclasses import dataclass, field

from .media import parse_range


@dataclass
class RestRequest:
    """One REST request the simulator received, and how it answered."""

    provider: str  # the PBX code owning the path, "control" or "unknown"
    method: str
    path: str  # the full path, PBX prefix included
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
    route: str = ""  # the path below the PBX's prefix ("/v1/info/balance/", "/extensions")
    pairs: list = field(default_factory=list)  # every (name, value) parameter, in order

    def header(self, name, default=None):
        """A request header, whatever the case of its name."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default


class Reply(Exception):
    """Raised by a route to answer right away: a JSON ``payload``, or ``bytes`` as they are."""

    def __init__(self, status, payload, headers=None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def audio_reply(request, data, mimetype="audio/mpeg"):
    """A 200, 206 or 416 :class:`Reply` for ``data`` honouring the request's ``Range`` header."""
    size = len(data)
    wanted = parse_range(request.header("Range"), size)
    headers = {"Content-Type": mimetype, "Accept-Ranges": "bytes"}
    if wanted == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        return Reply(416, b"", headers)
    if wanted is None:
        return Reply(200, data, headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Reply(206, data[start : end + 1], headers)


class Upgrade(Exception):
    """Raised by a route to switch the connection to another protocol (a WebSocket): the
    server answers ``101`` with ``headers``, then ``serve(rfile, wfile)`` owns the
    connection until it returns."""

    def __init__(self, headers, serve):
        super().__init__(101)
        self.headers = headers
        self.serve = serve
