"""What the simulator's tests share: a tiny webhook receiver, placeholder accounts, a REST
client. Each PBX's test file plugs its own, independent, signature check into the receiver."""

import dataclasses
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from vats_simulator import pbx


class Receiver:
    """Records every request and answers like a webhook endpoint would.

    A POST to ``/hook/<code>`` (or below it, for a PBX that posts each kind of event to its
    own path) is answered by ``verifiers[code](headers, body)`` (a ``(status, json_answer)``
    pair), or 200 ``{"status": "ok"}`` when the PBX has none. A GET is answered with
    ``answer_get(query)`` (text), empty by default.
    """

    def __init__(self):
        self.hits = []
        self.verifiers = {}
        self.answer_get = lambda query: ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                receiver.hits.append(("GET", self.path, dict(self.headers.items()), b""))
                self._reply(200, receiver.answer_get(query).encode(), "text/plain")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits.append(("POST", self.path, dict(self.headers.items()), body))
                path = urllib.parse.urlsplit(self.path).path
                code = path.removeprefix("/hook/").split("/", 1)[0]
                verifier = receiver.verifiers.get(code)
                status, answer = (
                    verifier(self.headers, body) if verifier else (200, {"status": "ok"})
                )
                self._reply(status, json.dumps(answer).encode(), "application/json")

            def _reply(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def hook(self, code):
        """The webhook URL of PBX ``code`` on this receiver."""
        return f"{self.base}/hook/{code}"

    def posts(self, code=None):
        """The POSTs received (for PBX ``code``: to its hook or below it)."""
        return [
            hit
            for hit in self.hits
            if hit[0] == "POST"
            and (code is None or hit[1] == f"/hook/{code}" or hit[1].startswith(f"/hook/{code}/"))
        ]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def placeholder_account(code, webhook_url):
    """An account of PBX ``code``: ``webhook_url``, and ``test-<field>`` for every other field
    that has no default."""
    account_class = pbx.get(code).Account
    values = {"webhook_url": webhook_url}
    for item in dataclasses.fields(account_class):
        no_default = item.default is dataclasses.MISSING
        no_factory = item.default_factory is dataclasses.MISSING
        if item.init and item.name not in values and no_default and no_factory:
            values[item.name] = f"test-{item.name}"
    return account_class(**values)


def placeholder_cli_args(code, webhook_url):
    """Command-line options giving an account of PBX ``code`` (its required options)."""
    args = []
    for option in pbx.get(code).cli_account_options:
        if option.required:
            value = webhook_url if option.field == "webhook_url" else f"test-{option.field}"
            args += [option.flags[0], value]
    return args


def rest(url, params=None, method="GET", headers=None, body=None):
    """Call a REST API; returns ``(status, headers, body bytes)``."""
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()
