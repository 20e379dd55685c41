"""The AMI client: one TCP connection to Asterisk's manager interface, kept up.

Reads the banner, logs in (``Challenge``/MD5, or plain), asks for ``Events: call,cdr``,
sends ``Ping`` every ``ping_interval`` seconds (AMI has no heartbeat of its own) and
drops the connection when one goes unanswered. Actions are matched to their answers by
``ActionID``, each with a timeout. On any drop it logs the reason and reconnects after
an exponential backoff with jitter; a bad frame or an unknown event is never fatal.
"""

import hashlib
import itertools
import logging
import socket
import threading
import time

from .poster import Backoff

_logger = logging.getLogger(__name__)

# Once a connection has lasted this long, the next drop starts the backoff afresh.
STABLE_AFTER = 30.0


class AmiError(Exception):
    """An action failed: no answer in time, no connection, or ``Response: Error``."""


class _Pending:
    """An action waiting for its answer (and, for lists, its events until the end)."""

    def __init__(self, collect):
        self.done = threading.Event()
        self.response = None
        self.events = [] if collect else None
        self.error = None


def _default_codec():
    # The framing lives in amiwire (one decoder for the bridge and the simulator).
    from .amiwire import AmiDecoder, encode

    return AmiDecoder, encode


class AmiClient:
    def __init__(
        self,
        host,
        port,
        username,
        secret,
        *,
        auth="md5",
        events="call,cdr",
        ping_interval=20.0,
        action_timeout=10.0,
        connect_timeout=5.0,
        retry_cap=60.0,
        on_event=None,
        on_state=None,
        codec=None,
    ):
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.auth = auth
        self.events = events
        self.ping_interval = ping_interval
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.on_event = on_event or (lambda message: None)
        self.on_state = on_state or (lambda connected, reason: None)
        self.decoder_class, self.encode = codec or _default_codec()
        self.backoff = Backoff(base=1.0, cap=retry_cap)
        self.connected = False
        self.last_drop_reason = ""
        self.connections = 0
        self._sock = None
        self._send_lock = threading.Lock()
        self._pending = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread = None
        self._prefix = f"bridge-{int(time.time())}-"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self.run, name="pbx-bridge-ami", daemon=True)
        self._thread.start()

    def stop(self, timeout=5.0):
        self._stop.set()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            reason = self._session()
            if self._stop.is_set():
                break
            self._set_disconnected(reason)
            if time.monotonic() - started > STABLE_AFTER:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            _logger.warning(
                "ami: connection to %s:%s lost (%s): reconnecting in %.1f s",
                self.host,
                self.port,
                reason,
                delay,
            )
            self._stop.wait(delay)
        self._set_disconnected("stopped")

    def _set_disconnected(self, reason):
        was_connected = self.connected
        self.connected = False
        self.last_drop_reason = reason
        self._fail_pending(reason)
        if was_connected:
            self.on_state(False, reason)

    # -- one connection ------------------------------------------------------------------------

    def _session(self):
        """Connect, log in, read until the connection ends; the reason it ended."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as error:
            return f"cannot connect: {error.strerror or error}"
        self._sock = sock
        try:
            sock.settimeout(self.connect_timeout)
            leftover = self._read_banner(sock)
            sock.settimeout(None)
            self._decoder = self.decoder_class(expect_banner=False)  # read above
            reason_box = {}
            reading = threading.Thread(
                target=self._read_loop, args=(sock, leftover, reason_box), daemon=True
            )
            reading.start()
            try:
                self._login()
            except AmiError as error:
                self._close()
                reading.join(self.action_timeout)
                return f"login failed: {error}"
            self.connected = True
            self.connections += 1
            _logger.info("ami: logged in to %s:%s as %s", self.host, self.port, self.username)
            self.on_state(True, "")
            while reading.is_alive() and not self._stop.is_set():
                reading.join(self.ping_interval)
                if reading.is_alive() and not self._stop.is_set():
                    try:
                        self.action({"Action": "Ping"})
                    except AmiError as error:
                        self._close()
                        reading.join(self.action_timeout)
                        return f"ping unanswered: {error}"
            return reason_box.get("reason", "stopped")
        except OSError as error:
            return f"socket error: {error.strerror or error}"
        except AmiError as error:
            return str(error)
        finally:
            self._close()

    def _read_banner(self, sock):
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise AmiError("closed before the banner")
            data += chunk
            if len(data) > 4096:
                raise AmiError("no AMI banner")
        banner, _sep, rest = data.partition(b"\n")
        if not banner.startswith(b"Asterisk Call Manager"):
            raise AmiError(f"unexpected banner {banner[:60]!r}")
        return rest

    def _read_loop(self, sock, leftover, reason_box):
        try:
            if leftover:
                self._dispatch(self._decoder.feed(leftover))
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    reason_box["reason"] = "closed by the PBX"
                    return
                self._dispatch(self._decoder.feed(chunk))
        except OSError as error:
            reason_box["reason"] = f"read failed: {error.strerror or error}"
        except Exception as error:  # a decoder bug must not kill the bridge silently
            _logger.exception("ami: cannot read a frame")
            reason_box["reason"] = f"unreadable frame ({type(error).__name__})"
        finally:
            self._close()

    def _dispatch(self, messages):
        for message in messages:
            action_id = message.get("ActionID")
            if action_id is not None:
                with self._pending_lock:
                    pending = self._pending.get(action_id)
                if pending is not None and self._answer(pending, action_id, message):
                    continue
            if "Event" in message:
                try:
                    self.on_event(message)
                except Exception:
                    _logger.exception("ami: event %s could not be handled", message.get("Event"))

    def _answer(self, pending, action_id, message):
        """Give ``message`` to the action waiting for it; False to treat it as an event too."""
        if "Response" in message and pending.response is None:
            pending.response = message
            follows = message.get("EventList", "").lower() == "start" or (
                message.get("Message", "").lower().endswith("will follow")
            )
            if pending.events is None or not follows or message["Response"] == "Error":
                self._finish(action_id, pending)
            return True
        if pending.events is not None and "Event" in message:
            if message.get("EventList", "").lower() == "complete":
                self._finish(action_id, pending)
            else:
                pending.events.append(message)
            return True
        return False  # e.g. OriginateResponse: an event of its own

    def _finish(self, action_id, pending):
        with self._pending_lock:
            self._pending.pop(action_id, None)
        pending.done.set()

    def _fail_pending(self, reason):
        with self._pending_lock:
            pendings = list(self._pending.values())
            self._pending.clear()
        for pending in pendings:
            pending.error = reason
            pending.done.set()

    def _close(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _login(self):
        if self.auth == "md5":
            challenge = self.action(
                {"Action": "Challenge", "AuthType": "MD5"}, allow_before_login=True
            )
            key = hashlib.md5((challenge.get("Challenge", "") + self.secret).encode()).hexdigest()
            login = {"Action": "Login", "AuthType": "MD5", "Username": self.username, "Key": key}
        else:
            login = {"Action": "Login", "Username": self.username, "Secret": self.secret}
        login["Events"] = self.events
        self.action(login, allow_before_login=True)

    # -- actions -------------------------------------------------------------------------------

    def action(self, fields, timeout=None, collect=False, allow_before_login=False):
        """Send an action and wait for its answer: the response dict, or with ``collect``
        ``(response, events)`` of a list action. Raises ``AmiError``."""
        sock = self._sock
        if sock is None or not (self.connected or allow_before_login):
            raise AmiError("not connected to AMI")
        action_id = f"{self._prefix}{next(self._ids)}"
        pending = _Pending(collect)
        with self._pending_lock:
            self._pending[action_id] = pending
        message = {**fields, "ActionID": action_id}
        try:
            with self._send_lock:
                sock.sendall(self.encode(message))
        except OSError as error:
            with self._pending_lock:
                self._pending.pop(action_id, None)
            raise AmiError(f"send failed: {error.strerror or error}") from None
        if not pending.done.wait(timeout or self.action_timeout):
            with self._pending_lock:
                self._pending.pop(action_id, None)
            raise AmiError(
                f"{fields.get('Action')}: no answer within {timeout or self.action_timeout:g} s"
            )
        if pending.error:
            raise AmiError(f"{fields.get('Action')}: connection lost ({pending.error})")
        response = pending.response or {}
        if response.get("Response") == "Error":
            raise AmiError(f"{fields.get('Action')}: {response.get('Message') or 'refused'}")
        return (response, pending.events) if collect else response

    # -- what the API asks -------------------------------------------------------------------

    def originate(self, channel, context, exten, priority, caller_id, timeout_s, channel_id, ref):
        fields = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "Timeout": str(int(timeout_s * 1000)),  # AMI counts in ms
            "Async": "true",  # else the socket blocks until the first leg answers
            "ChannelId": channel_id,
            "Variable": f"CRM_VOIP_REF={ref}",
        }
        if caller_id:
            fields["CallerID"] = caller_id
        return self.action(fields)

    def extensions(self):
        """``[(extension, name)]`` of the PJSIP endpoints, or of chan_sip's peers."""
        try:
            _response, events = self.action({"Action": "PJSIPShowEndpoints"}, collect=True)
            return [
                (event.get("ObjectName", ""), "") for event in events if event.get("ObjectName")
            ]
        except AmiError as error:
            _logger.info("ami: PJSIPShowEndpoints failed (%s): trying SIPpeers", error)
        _response, events = self.action({"Action": "SIPpeers"}, collect=True)
        return [
            (event.get("ObjectName", ""), event.get("Description", ""))
            for event in events
            if event.get("ObjectName")
        ]
