"""Asterisk 20, self-hosted: an AMI server over real TCP and the ARI REST + WebSocket API.

Asterisk posts no webhooks (``transport = "stream"``): the bridge next to it connects to the
manager socket (or to the ARI events WebSocket) and reads the channel events of each call.
What is served:
- AMI (``start_services`` opens it on ``ami_host:ami_port``, 0 = any free port): the
  banner, ``Challenge`` + ``Login`` with ``AuthType: MD5`` (``Key`` = lowercase hex MD5 of
  challenge + secret) or a plain ``Secret``, the event mask (``Events`` on Login or the
  ``Events`` action: ``on``, ``off`` or classes such as ``call,cdr``), ``Ping``, ``Logoff``,
  ``Originate`` (``Async``, ``ChannelId``, ``Variable``; it plays a click-to-call),
  ``PJSIPShowEndpoints``, ``SIPpeers`` and ``Command``; the events of every played call
  (``_asterisk_script.py``), Local channel pairs, ring groups, queues and ``Cdr`` included.
- ARI under ``/ari`` (HTTP Basic or ``api_key=user:password``): ``GET /ari/endpoints``,
  ``POST /ari/channels`` (click-to-call), ``POST /ari/applications/<app>/subscription``,
  ``GET /ari/recordings/stored[/<name>/file]`` and the events WebSocket
  ``/ari/events?app=<app>[&subscribeAll=true]``.
- Recordings: MixMonitor's WAV is written under ``recording_dir`` when the recording starts.
Protocol notes: ``__manifest_docs__/protocols/asterisk.md``.
"""

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import logging
import os
import secrets
import socketserver
import threading
import time
from dataclasses import dataclass, field

from ..media import fake_wav
from ..rest import Reply, Upgrade
from ..websocket import WebSocketConnection, accept_key
from . import register
from ._asterisk_script import RECORDING_DIR, ami_step_events
from .base import CliOption, Pbx, is_bundle

_logger = logging.getLogger("vats_simulator.asterisk")

BANNER = "Asterisk Call Manager/9.0.0"
VERSION = "Asterisk 20.5.0 built by simulator on a x86_64 running Linux"
_call_numbers = itertools.count(100, 100)


def encode(message):
    """One AMI message as wire bytes; a list value repeats its key."""
    lines = []
    for key, value in message.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {item}\r\n")
    return ("".join(lines) + "\r\n").encode("utf-8")


def read_message(rfile):
    """The next AMI message a client sent (a dict; repeated keys as lists), ``None`` at the
    end of the stream. Lines without ``Key: Value`` are skipped."""
    message = {}
    while True:
        line = rfile.readline(65536)
        if not line:
            return None
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if message:
                return message
            continue
        key, sep, value = text.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in message:
            previous = message[key]
            message[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            message[key] = value


def _first(value):
    return value[0] if isinstance(value, list) else (value or "")


def _items(value):
    if not value:
        return []
    return value if isinstance(value, list) else [value]


def _event_classes(event):
    return {item.strip().lower() for item in event.get("Privilege", "").split(",")} - {"all"}


def _mask(value):
    """An AMI event mask: ``None`` for every class, or the set of classes wanted."""
    value = (value or "on").strip().lower()
    if value in ("on", "yes", "true", "all", "1"):
        return None
    if value in ("off", "no", "false", "0"):
        return set()
    return {item.strip() for item in value.split(",") if item.strip()}


@dataclass
class AsteriskAccount:
    """A self-hosted Asterisk: the AMI user (``manager.conf``), the ARI user (``ari.conf``,
    defaults to the AMI one) and the folder MixMonitor writes recordings to.

    ``webhook_url`` is unused: Asterisk posts nothing, its bridge does."""

    ami_username: str
    ami_secret: str
    webhook_url: str = ""
    ami_host: str = "127.0.0.1"
    ami_port: int = 0
    ari_username: str = ""
    ari_password: str = ""
    recording_dir: str = ""
    #: Extensions whose phone declines a click-to-call (``Originate`` fails).
    refusing_extensions: tuple = ()
    services: object = field(default=None, init=False, repr=False, compare=False)

    def ari_credentials(self):
        return (self.ari_username or self.ami_username, self.ari_password or self.ami_secret)


class _AmiSession(socketserver.StreamRequestHandler):
    """One manager connection."""

    timeout = 300

    def setup(self):
        super().setup()
        self.services = self.server.services
        self.lock = threading.Lock()
        self.authenticated = False
        self.challenge = ""
        self.mask = None
        self.open = True

    def send(self, message):
        return self.send_bytes(encode(message))

    def send_bytes(self, data):
        with self.lock:
            if not self.open:
                return False
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                self.open = False
                return False
        return True

    def wants(self, event):
        if not self.authenticated:
            return False
        return self.mask is None or bool(self.mask & _event_classes(event))

    def reply(self, message, request, **fields):
        answer = {"Response": message}
        action_id = _first(request.get("ActionID"))
        if action_id:
            answer["ActionID"] = action_id
        answer.update(fields)
        self.send(answer)

    def handle(self):
        self.services.sessions_add(self)
        try:
            self.send_bytes(f"{BANNER}\r\n".encode())
            while self.open:
                request = read_message(self.rfile)
                if request is None:
                    break
                if not self.act(request):
                    break
        except OSError:
            pass
        finally:
            self.open = False
            self.services.sessions_remove(self)

    def act(self, request):
        """Answer one action; False closes the connection."""
        action = _first(request.get("Action")).lower()
        if not action:
            self.reply("Error", request, Message="Missing action in request")
            return True
        if action == "challenge":
            if _first(request.get("AuthType")).lower() != "md5":
                self.reply("Error", request, Message="Must specify AuthType")
                return True
            self.challenge = str(secrets.randbelow(900000000) + 100000000)
            self.reply("Success", request, Challenge=self.challenge)
            return True
        if action == "login":
            return self.login(request)
        if action == "logoff":
            self.reply("Goodbye", request, Message="Thanks for all the fish.")
            return False
        if not self.authenticated:
            self.reply("Error", request, Message="Permission denied")
            return True
        handler = getattr(self, f"action_{action}", None)
        if handler is None:
            self.reply("Error", request, Message="Invalid/unknown command")
            return True
        handler(request)
        return True

    def login(self, request):
        account = self.services.account
        user_ok = hmac.compare_digest(
            _first(request.get("Username")).encode(), account.ami_username.encode()
        )
        if _first(request.get("AuthType")).lower() == "md5":
            expected = hashlib.md5(  # noqa: S324 - the AMI protocol's own digest
                (self.challenge + account.ami_secret).encode()
            ).hexdigest()
            key_ok = bool(self.challenge) and hmac.compare_digest(
                _first(request.get("Key")).encode(), expected.encode()
            )
        else:
            key_ok = hmac.compare_digest(
                _first(request.get("Secret")).encode(), account.ami_secret.encode()
            )
        if not (user_ok and key_ok):
            # Asterisk answers, then drops the connection.
            self.reply("Error", request, Message="Authentication failed")
            return False
        self.mask = _mask(_first(request.get("Events")))
        self.authenticated = True
        self.reply("Success", request, Message="Authentication accepted")
        booted = {
            "Event": "FullyBooted",
            "Privilege": "system,all",
            "Uptime": "3600",
            "LastReload": "3600",
            "Status": "Fully Booted",
        }
        if self.wants(booted):
            self.send(booted)
        return True

    def action_events(self, request):
        self.mask = _mask(_first(request.get("EventMask")))
        self.reply("Success", request, Events="Off" if self.mask == set() else "On")

    def action_ping(self, request):
        self.reply("Success", request, Ping="Pong", Timestamp=f"{time.time():.6f}")

    def action_command(self, request):
        command = _first(request.get("Command")).strip()
        if command == "core show version":
            output = VERSION
        elif command == "core show channels count":
            output = "0 active channels\n0 active calls\n0 calls processed"
        else:
            output = f"No such command '{command}' (type 'core show help {command}' for help)"
        lines = output.split("\n")
        self.reply("Success", request, Message="Command output follows", Output=lines)

    def _list(self, request, message, items, complete):
        self.reply("Success", request, EventList="start", Message=message)
        action_id = _first(request.get("ActionID"))
        for item in items:
            self.send(
                {
                    "Event": item.pop("Event"),
                    **({"ActionID": action_id} if action_id else {}),
                    **item,
                }
            )
        done = {"Event": complete}
        if action_id:
            done["ActionID"] = action_id
        done.update(EventList="Complete", ListItems=str(len(items)))
        self.send(done)

    def action_pjsipshowendpoints(self, request):
        items = [
            {
                "Event": "EndpointList",
                "ObjectType": "endpoint",
                "ObjectName": number,
                "Transport": "transport-udp",
                "Aor": number,
                "Auths": number,
                "OutboundAuths": "",
                "Contacts": f"{number}/sip:{number}@192.0.2.10:5060,",
                "DeviceState": "Not in use",
                "ActiveChannels": "",
            }
            for number in sorted(self.services.sim.extensions)
        ]
        message = "A listing of Endpoints follows, presence and status data as well"
        self._list(request, message, items, "EndpointListComplete")

    def action_sippeers(self, request):
        items = [
            {
                "Event": "PeerEntry",
                "Channeltype": "SIP",
                "ObjectName": number,
                "ChanObjectType": "peer",
                "IPaddress": "192.0.2.10",
                "IPport": "5060",
                "Dynamic": "yes",
                "Status": "OK (5 ms)",
                "Description": name,
            }
            for number, name in sorted(self.services.sim.extensions.items())
        ]
        self._list(request, "Peer status list will follow", items, "PeerlistComplete")

    def action_originate(self, request):
        channel = _first(request.get("Channel"))
        number = _first(request.get("Exten"))
        tech, _slash, resource = channel.partition("/")
        if not tech or not resource or not number:
            self.reply("Error", request, Message="Channel and Exten are required")
            return
        variables = {}
        for item in _items(request.get("Variable")):
            name, _eq, value = item.partition("=")
            variables[name.strip()] = value
        call_id = _first(request.get("ChannelId")) or self.services.pbx.new_call_id("outbound")
        if _first(request.get("Async")).lower() not in ("true", "yes", "1"):
            _logger.info("Originate without Async: a real Asterisk blocks this socket")
        self.reply("Success", request, Message="Originate successfully queued")
        self.services.originate(
            resource,
            number,
            call_id,
            action_id=_first(request.get("ActionID")),
            origin_ref=variables.get("CRM_VOIP_REF", ""),
        )


class _AmiServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, services):
        self.services = services
        super().__init__(address, _AmiSession)


def _ari_channel(fields):
    """An ARI Channel object from the channel fields of an AMI event."""
    uid = fields.get("Uniqueid", "")
    stamp = float(fields.get("Timestamp") or time.time())
    return {
        "id": uid,
        "name": fields.get("Channel", ""),
        "state": fields.get("ChannelStateDesc", "Unknown"),
        "caller": {"name": "", "number": fields.get("CallerIDNum", "")},
        "connected": {"name": "", "number": fields.get("ConnectedLineNum", "")},
        "accountcode": "",
        "dialplan": {
            "context": fields.get("Context", ""),
            "exten": fields.get("Exten", ""),
            "priority": int(fields.get("Priority") or 1),
            "app_name": "",
            "app_data": "",
        },
        "creationtime": _ari_time(stamp),
        "language": "en",
    }


def _ari_time(stamp):
    moment = dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def ari_events(event, application):
    """The ARI events (JSON objects) Asterisk sends for one AMI ``event``."""
    name = event.get("Event")
    stamp = float(event.get("Timestamp") or time.time())
    base = {"timestamp": _ari_time(stamp), "application": application, "asterisk_id": "sim"}
    if name == "Newchannel":
        return [{"type": "ChannelCreated", **base, "channel": _ari_channel(event)}]
    if name == "Newstate":
        return [{"type": "ChannelStateChange", **base, "channel": _ari_channel(event)}]
    if name in ("DialBegin", "DialEnd"):
        dest = {key[4:]: value for key, value in event.items() if key.startswith("Dest")}
        dest["Timestamp"] = event.get("Timestamp", "")
        dial = {
            "type": "Dial",
            **base,
            "caller": _ari_channel(event),
            "peer": _ari_channel(dest),
            "dialstring": event.get("DialString", ""),
            "dialstatus": event.get("DialStatus", ""),
        }
        return [dial]
    if name == "Hangup":
        cause = int(event.get("Cause") or 0)
        channel = _ari_channel(event)
        return [
            {"type": "ChannelHangupRequest", **base, "cause": cause, "channel": channel},
            {
                "type": "ChannelDestroyed",
                **base,
                "cause": cause,
                "cause_txt": event.get("Cause-txt", ""),
                "channel": channel,
            },
        ]
    if name == "VarSet":
        return [
            {
                "type": "ChannelVarset",
                **base,
                "variable": event.get("Variable", ""),
                "value": event.get("Value", ""),
                "channel": _ari_channel(event),
            }
        ]
    if name == "BridgeEnter":
        bridge = {
            "id": event.get("BridgeUniqueid", ""),
            "technology": event.get("BridgeTechnology", ""),
            "bridge_type": "mixing",
            "bridge_class": event.get("BridgeType", ""),
            "channels": [],
        }
        return [
            {
                "type": "ChannelEnteredBridge",
                **base,
                "bridge": bridge,
                "channel": _ari_channel(event),
            }
        ]
    if name == "MixMonitorStop":
        path = ""
        for item in _items(event.get("ChanVariable")):
            key, _eq, value = item.partition("=")
            if key == "MIXMONITOR_FILENAME":
                path = value
        if not path:
            return []
        stored, _dot, audio_format = os.path.basename(path).rpartition(".")
        recording = {
            "name": stored,
            "format": audio_format,
            "state": "done",
            "target_uri": f"channel:{event.get('Uniqueid', '')}",
        }
        return [{"type": "RecordingFinished", **base, "recording": recording}]
    return []


class _AriStream:
    """One events WebSocket: an application, and which channels it sees."""

    def __init__(self, connection, application, subscribe_all):
        self.connection = connection
        self.application = application
        self.subscribe_all = subscribe_all
        self.endpoints = set()

    def wants(self, event):
        if self.subscribe_all:
            return True
        for prefix in ("", "Dest"):
            channel = event.get(f"{prefix}Channel", "")
            if channel.rpartition("-")[0] in self.endpoints:
                return True
        return False


class AsteriskServices:
    """The AMI server and the ARI event streams of one simulated Asterisk."""

    def __init__(self, pbx, sim, account):
        self.pbx = pbx
        self.sim = sim
        self.account = account
        self._lock = threading.Lock()
        self._sessions = set()
        self._streams = []
        self._applications = {}  # app name -> endpoints subscribed
        self.server = _AmiServer((account.ami_host, int(account.ami_port or 0)), self)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"vats-asterisk-ami-{self.port}",
            daemon=True,
        )

    def start(self):
        self._thread.start()
        _logger.info("Asterisk AMI listening on %s:%s", self.account.ami_host, self.port)
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            sessions, streams = list(self._sessions), list(self._streams)
        for session in sessions:
            session.open = False
            try:
                session.connection.close()
            except OSError:
                pass
        for stream in streams:
            stream.connection.close(1001, "shutting down")
        self._thread.join(timeout=2.0)

    def sessions_add(self, session):
        with self._lock:
            self._sessions.add(session)

    def sessions_remove(self, session):
        with self._lock:
            self._sessions.discard(session)

    def sessions(self):
        """The manager connections that logged in."""
        with self._lock:
            return [s for s in self._sessions if s.authenticated and s.open]

    # --- events ----------------------------------------------------------------------------

    def publish(self, events):
        """Send ``events`` (AMI dicts) to every manager connection whose mask wants them,
        and their ARI form to every events WebSocket."""
        with self._lock:
            sessions = [s for s in self._sessions if s.authenticated and s.open]
            streams = [s for s in self._streams if not s.connection.closed.is_set()]
        for event in events:
            self._side_effects(event)
            data = encode(event)
            for session in sessions:
                if session.wants(event):
                    session.send_bytes(data)
            for stream in streams:
                if stream.wants(event):
                    for item in ari_events(event, stream.application):
                        stream.connection.send_text(json.dumps(item))

    def publish_raw(self, data):
        """Bytes as they are, to every logged-in manager connection (bad input tests)."""
        for session in self.sessions():
            session.send_bytes(data)

    def _side_effects(self, event):
        # MixMonitor creates its file when it starts: the bridge can serve it from then on.
        if event.get("Event") == "VarSet" and event.get("Variable") == "MIXMONITOR_FILENAME":
            self.write_recording(event.get("Value", ""))

    def recording_file(self, path):
        """Where the simulator keeps MixMonitor's ``path`` (``None`` without a folder)."""
        folder = self.account.recording_dir
        if not folder or not path.startswith(RECORDING_DIR + "/"):
            return None
        relative = path[len(RECORDING_DIR) + 1 :]
        if ".." in relative.split("/"):
            return None
        return os.path.join(folder, relative)

    def write_recording(self, path):
        target = self.recording_file(path)
        if target is None:
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        data = fake_wav(os.path.basename(path), self.sim.recording_size)
        with open(target, "wb") as handle:
            handle.write(data)

    def originate(self, extension, number, call_id, *, action_id="", origin_ref=""):
        """Play a click-to-call from ``extension`` to ``number`` a moment later."""
        refusing = self.account.refusing_extensions
        if isinstance(refusing, str):
            refusing = [item.strip() for item in refusing.split(",")]
        refused = extension in refusing
        params = {
            "extension": extension,
            "number": number,
            "call_id": call_id,
            "ring_seconds": 3,
            "talk_seconds": 5,
            "originated": "refused" if refused else "answered",
            "action_id": action_id,
            "origin_ref": origin_ref,
        }
        if refused:
            params.update(answered=False, disposition="busy")
        code = self.pbx.code
        self.sim._spawn(
            lambda: self.sim.play(
                code, "outgoing", event_gap=self.sim.originate_event_gap, **params
            ),
            delay=self.sim.originate_delay,
            name=f"originate-{call_id}",
        )
        return call_id

    # --- ARI -------------------------------------------------------------------------------

    def add_stream(self, stream):
        with self._lock:
            self._streams = [s for s in self._streams if not s.connection.closed.is_set()]
            # One WebSocket per application: a new one takes over (ApplicationReplaced).
            for old in [s for s in self._streams if s.application == stream.application]:
                old.connection.send_text(
                    json.dumps({"type": "ApplicationReplaced", "application": old.application})
                )
                old.connection.close(1000, "replaced")
                self._streams.remove(old)
            stream.endpoints = self._applications.setdefault(stream.application, set())
            self._streams.append(stream)

    def subscribe(self, application, source):
        with self._lock:
            endpoints = self._applications.setdefault(application, set())
            if source.startswith("endpoint:"):
                endpoints.add(source[len("endpoint:") :])
            return sorted(endpoints)


@register("asterisk")
class Asterisk(Pbx):
    label = "Asterisk (AMI/ARI, self-hosted)"
    Account = AsteriskAccount
    path_prefix = "/ari"
    missed_disposition = "no_answer"
    # Half a frame, then a line that is no ``Key: Value``: what a broken link delivers.
    malformed_body = b"Event: Newchannel\r\nChannel PJSIP/trunk-0000\r\nUniqueid: 17"
    scenario_params = frozenset({"originated", "action_id", "origin_ref"})
    signs_webhooks = False
    transport = "stream"
    cli_account_options = (
        CliOption(("--asterisk-ami-user",), "ami_username", "AMI user name", True, "USER"),
        CliOption(("--asterisk-ami-secret",), "ami_secret", "AMI secret", True, "SECRET"),
        CliOption(("--asterisk-ami-port",), "ami_port", "AMI port (0: any free)", metavar="PORT"),
        CliOption(
            ("--asterisk-recordings",),
            "recording_dir",
            "folder MixMonitor's recordings are written to",
            metavar="DIR",
        ),
    )

    # --- scenarios ------------------------------------------------------------------------

    def new_call_id(self, direction):
        """A Linkedid as Asterisk writes it: ``<epoch>.<sequence>``."""
        return f"{int(time.time())}.{next(_call_numbers)}"

    def new_recording_id(self, start, extension, tzinfo):
        # Flat names: the AMI path below the folder and ARI's stored name say the same.
        stamp = start.astimezone(tzinfo).strftime("%Y%m%d-%H%M%S")
        return f"rec-{stamp}-{extension or 'none'}-{secrets.token_hex(4)}.wav"

    def encode_step(self, step, call, tzinfo, params):
        return {"step": step.kind, "posts": ami_step_events(step, call, params)}

    # --- transport: the manager socket ----------------------------------------------------

    def webhook_request(self, account, payload, signing, options):
        """The AMI wire bytes of ``payload`` (Asterisk signs nothing)."""
        if isinstance(payload, bytes):
            return payload, {}
        posts = payload["posts"] if is_bundle(payload) else [payload]
        return b"".join(encode(event) for event in posts), {}

    def webhook_deliveries(self, account, payload, signing, options):
        services = account.services
        if services is not None:
            if isinstance(payload, bytes):
                services.publish_raw(payload)
            else:
                services.publish(payload["posts"] if is_bundle(payload) else [payload])
        return []

    def event_name(self, payload):
        if isinstance(payload, bytes):
            return "raw bytes"
        if is_bundle(payload):
            names = [post.get("Event", "?") for post in payload["posts"]]
            return f"{payload['step']}: {len(names)} AMI events"
        return payload.get("Event") or payload.get("Response") or "?"

    def start_services(self, sim, account):
        if account.services is None:
            account.services = AsteriskServices(self, sim, account).start()

    def stop_services(self, sim, account):
        if account.services is not None and account.services.sim is sim:
            account.services.stop()
            account.services = None

    # --- ARI ------------------------------------------------------------------------------

    def error_payload(self, message):
        return {"message": message}

    def _authenticate(self, account, request):
        user, password = account.ari_credentials()
        given = ""
        header = request.header("Authorization") or ""
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(token.strip()).decode("utf-8")
            except ValueError:
                given = ""
        elif request.params.get("api_key"):
            given = request.params["api_key"]
        ok = hmac.compare_digest(given.encode(), f"{user}:{password}".encode())
        request.auth_ok = ok
        if not ok:
            request.auth_error = "missing or wrong ARI credentials"
            raise self.error(
                401,
                "Authentication required",
                {"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )

    def handle_rest(self, sim, request):
        account = sim.accounts.get(self.code)
        if account is None:
            raise self.error(404, "no Asterisk is simulated")
        self._authenticate(account, request)
        route = request.route.rstrip("/") or "/"
        method = request.method
        if route == "/events" and method == "GET":
            self._events_socket(account, request)
        if route == "/endpoints" and method == "GET":
            raise Reply(200, self._endpoints(sim))
        if route == "/channels" and method == "POST":
            self._originate(account, request)
        parts = route.strip("/").split("/")
        if parts[:1] == ["applications"] and len(parts) == 3 and parts[2] == "subscription":
            if method == "POST":
                source = request.params.get("eventSource", "")
                endpoints = account.services.subscribe(parts[1], source)
                raise Reply(
                    200,
                    {
                        "name": parts[1],
                        "channel_ids": [],
                        "bridge_ids": [],
                        "endpoint_ids": endpoints,
                        "device_names": [],
                    },
                )
        if parts[:2] == ["recordings", "stored"] and method in ("GET", "HEAD"):
            self._recordings(account, parts[2:])
        return None

    def _endpoints(self, sim):
        return [
            {"technology": "PJSIP", "resource": number, "state": "online", "channel_ids": []}
            for number in sorted(sim.extensions)
        ]

    def _originate(self, account, request):
        params = request.params
        endpoint = params.get("endpoint", "")
        number = params.get("extension", "")
        tech, _slash, extension = endpoint.partition("/")
        if not tech or not extension or not number:
            raise self.error(400, "endpoint and extension are required")
        body = request.json if isinstance(request.json, dict) else {}
        variables = body.get("variables") if isinstance(body.get("variables"), dict) else {}
        call_id = params.get("channelId") or self.new_call_id("outbound")
        account.services.originate(
            extension, number, call_id, origin_ref=str(variables.get("CRM_VOIP_REF") or "")
        )
        fields = {
            "Uniqueid": call_id,
            "Channel": f"{endpoint}-00000001",
            "ChannelStateDesc": "Down",
            "CallerIDNum": params.get("callerId", ""),
            "Context": params.get("context", "from-internal"),
            "Exten": number,
            "Priority": params.get("priority", "1"),
        }
        raise Reply(200, _ari_channel(fields))

    def _recordings(self, account, rest):
        folder = account.recording_dir
        stored = {}
        if folder and os.path.isdir(folder):
            for root, _dirs, files in os.walk(folder):
                for name in files:
                    stem, _dot, audio_format = name.rpartition(".")
                    stored[stem] = (os.path.join(root, name), audio_format)
        if not rest:
            raise Reply(
                200, [{"name": stem, "format": fmt} for stem, (_p, fmt) in sorted(stored.items())]
            )
        found = stored.get(rest[0])
        if found is None:
            raise self.error(404, "Recording not found")
        if rest[1:] == ["file"]:
            with open(found[0], "rb") as handle:
                raise Reply(200, handle.read(), {"Content-Type": "audio/wav"})
        if not rest[1:]:
            raise Reply(200, {"name": rest[0], "format": found[1], "state": "done"})

    def _events_socket(self, account, request):
        key = request.header("Sec-WebSocket-Key")
        if (request.header("Upgrade") or "").lower() != "websocket" or not key:
            raise self.error(400, "WebSocket upgrade expected")
        application = request.params.get("app", "")
        if not application:
            raise self.error(400, "app is required")
        subscribe_all = request.params.get("subscribeAll", "").lower() == "true"
        services = account.services

        def serve(rfile, wfile):
            connection = WebSocketConnection(rfile, wfile)
            services.add_stream(_AriStream(connection, application, subscribe_all))
            connection.serve()

        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Accept": accept_key(key),
        }
        raise Upgrade(headers, serve)


__all__ = ["AsteriskAccount", "AsteriskServices", "ari_events"]
