"""The ARI client: the events WebSocket (``/ari/events?app=…``, with ``subscribeAll`` or
explicit endpoint subscriptions, since a Stasis app only hears its own channels
otherwise) and the REST calls, each with a timeout. The WebSocket is reconnected with
backoff and jitter, logging why it dropped."""

import json
import logging
import threading
import time
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
import websocket

from .poster import Backoff

_logger = logging.getLogger(__name__)

STABLE_AFTER = 30.0


class AriError(Exception):
    """A REST call failed (status or network), with the reason."""


class AriClient:
    def __init__(
        self,
        url,
        username,
        password,
        app,
        *,
        subscribe_all=True,
        endpoints=(),
        timeout=10.0,
        retry_cap=60.0,
        on_event=None,
        on_state=None,
        session=None,
    ):
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.app = app
        self.subscribe_all = subscribe_all
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self.on_event = on_event or (lambda message: None)
        self.on_state = on_state or (lambda connected, reason: None)
        self.session = session or requests.Session()
        self.session.auth = (username, password)
        self.backoff = Backoff(base=1.0, cap=retry_cap)
        self.connected = False
        self.last_drop_reason = ""
        self._ws = None
        self._stop = threading.Event()
        self._thread = None

    # -- WebSocket -----------------------------------------------------------------------------

    def events_url(self):
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = {"app": self.app, "api_key": f"{self.username}:{self.password}"}
        if self.subscribe_all:
            query["subscribeAll"] = "true"
        return urlunsplit((scheme, parts.netloc, parts.path + "/events", urlencode(query), ""))

    def start(self):
        self._thread = threading.Thread(target=self.run, name="pbx-bridge-ari", daemon=True)
        self._thread.start()

    def stop(self, timeout=5.0):
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:  # closing a dead socket may fail in many ways
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            reason = self._session()
            was_connected, self.connected = self.connected, False
            self.last_drop_reason = reason
            if was_connected:
                self.on_state(False, reason)
            if self._stop.is_set():
                break
            if time.monotonic() - started > STABLE_AFTER:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            _logger.warning(
                "ari: events WebSocket lost (%s): reconnecting in %.1f s", reason, delay
            )
            self._stop.wait(delay)

    def _session(self):
        try:
            ws = websocket.create_connection(self.events_url(), timeout=self.timeout)
        except (OSError, websocket.WebSocketException) as error:
            return f"cannot connect: {error}"
        self._ws = ws
        try:
            for endpoint in self.endpoints if not self.subscribe_all else ():
                self.rest(
                    "POST",
                    f"/applications/{quote(self.app, safe='')}/subscription",
                    params={"eventSource": f"endpoint:{endpoint}"},
                )
            ws.settimeout(None)
            self.connected = True
            self.on_state(True, "")
            while not self._stop.is_set():
                text = ws.recv()
                if not text:
                    return "closed by the PBX"
                try:
                    message = json.loads(text)
                except ValueError:
                    _logger.warning("ari: a message that is not JSON was skipped: %r", text[:80])
                    continue
                if isinstance(message, dict):
                    if message.get("type") == "ApplicationReplaced":
                        return "another client took over the Stasis app"
                    try:
                        self.on_event(message)
                    except Exception:
                        _logger.exception("ari: event %s could not be handled", message.get("type"))
            return "stopped"
        except AriError as error:
            return f"subscription failed: {error}"
        except (OSError, websocket.WebSocketException) as error:
            return f"read failed: {error}"
        finally:
            self._ws = None
            try:
                ws.close()
            except Exception:
                pass

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, method, path, *, params=None, json_body=None, stream=False):
        try:
            response = self.session.request(
                method,
                self.url + path,
                params=params,
                json=json_body,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.exceptions.RequestException as error:
            raise AriError(f"{path}: {type(error).__name__}") from None
        if response.status_code >= 400:
            response.close()
            raise AriError(f"{path}: HTTP {response.status_code}")
        return response

    def originate(
        self, endpoint, extension, context, priority, caller_id, timeout_s, channel_id, ref
    ):
        params = {
            "endpoint": endpoint,
            "extension": extension,
            "context": context,
            "priority": priority,
            "timeout": int(timeout_s),  # ARI counts in seconds
            "channelId": channel_id,
        }
        if caller_id:
            params["callerId"] = caller_id
        response = self.rest(
            "POST", "/channels", params=params, json_body={"variables": {"CRM_VOIP_REF": ref}}
        )
        return response.json()

    def extensions(self):
        rows = self.rest("GET", "/endpoints").json()
        return [
            (row.get("resource", ""), "")
            for row in rows
            if isinstance(row, dict) and row.get("resource")
        ]

    def recording(self, name):
        """The streamed response of a stored recording's file."""
        return self.rest("GET", f"/recordings/stored/{quote(name, safe='')}/file", stream=True)
