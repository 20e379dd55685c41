"""The bridge assembled: AMI or ARI source → folder → journal + spool → poster → Odoo,
and the API beside it. ``Bridge(config).start()`` / ``.stop()`` run it in the calling
process (threads), as ``python -m pbx_bridge`` does and as tests and benchmarks do; an
API port of 0 takes an ephemeral one (``Bridge.api_port``)."""

import logging
import mimetypes
import os
import threading
import time
import uuid
from datetime import datetime, timezone

from . import __version__
from .ami import AmiClient, AmiError
from .api import ApiError, BridgeApi
from .ari import AriClient, AriError
from .journal import Journal
from .poster import OdooClient, Poster
from .spool import Spool

_logger = logging.getLogger(__name__)

EXPIRE_INTERVAL = 5.0
PRUNE_INTERVAL = 3600.0
RECORDING_ID_MAX = 1024
AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
}


def _iso(moment):
    return datetime.fromtimestamp(moment, timezone.utc).isoformat() if moment else None


class Bridge:
    def __init__(self, config, *, folder=None, source=None, session=None):
        self.config = config
        self.started_at = None
        self.last_event = None
        self._fold_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        os.makedirs(config.spool_dir, exist_ok=True)
        self.spool = Spool(os.path.join(config.spool_dir, "spool"), config.segment_bytes)
        self.journal = Journal(os.path.join(config.spool_dir, "journal.sqlite"))
        odoo = config.odoo
        self.odoo = OdooClient(
            odoo.webhook_url, odoo.secret, odoo.timeout, odoo.verify_tls, session
        )
        self.poster = Poster(
            self.spool,
            self.odoo,
            os.path.join(config.spool_dir, "dead-letters.jsonl"),
            batch_size=odoo.batch_size,
            heartbeat_interval=odoo.heartbeat_interval,
            status=self.health,
            retry_cap=odoo.retry_max,
        )
        self.folder = folder if folder is not None else self._make_folder()
        self.source = source if source is not None else self._make_source()
        self.api = BridgeApi(self, config.api, odoo.secret)

    def _make_folder(self):
        from . import fold

        folder_class = fold.AmiFolder if self.config.source == "ami" else fold.AriFolder
        dialplan = self.config.dialplan
        return folder_class(
            internal_contexts=dialplan.internal_contexts,
            did_variable=dialplan.did_variable,
            recording_dir=self.config.recording_pbx_dir or self.config.recording_dir,
            clock=time.time,
        )

    def _make_source(self):
        if self.config.source == "ari":
            ari = self.config.ari
            return AriClient(
                ari.url,
                ari.username,
                ari.password,
                ari.app,
                subscribe_all=ari.subscribe_all,
                endpoints=ari.endpoints,
                timeout=ari.timeout,
                retry_cap=ari.retry_max,
                on_event=self.on_pbx_event,
                on_state=self._on_source_state,
            )
        ami = self.config.ami
        return AmiClient(
            ami.host,
            ami.port,
            ami.username,
            ami.secret,
            auth=ami.auth,
            events=ami.events,
            ping_interval=ami.ping_interval,
            action_timeout=ami.action_timeout,
            connect_timeout=ami.connect_timeout,
            retry_cap=ami.retry_max,
            on_event=self.on_pbx_event,
            on_state=self._on_source_state,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def api_port(self):
        return self.api.port

    def start(self):
        self.started_at = time.time()
        self.api.start()
        self.poster.start()
        self.source.start()
        housekeeping = threading.Thread(
            target=self._housekeeping, name="pbx-bridge-expire", daemon=True
        )
        housekeeping.start()
        self._threads.append(housekeeping)
        _logger.info(
            "bridge %s started: %s source, API on %s:%s, posting to %s",
            __version__,
            self.config.source,
            self.config.api.listen,
            self.api_port,
            self.config.odoo.webhook_url.split("/crm_voip/")[0],
        )
        return self

    def stop(self):
        """Stop taking events, deliver nothing more, close files. Events not yet
        delivered stay in the spool for the next start."""
        self._stop.set()
        self.source.stop()
        self.api.stop()
        self.poster.stop()
        for thread in self._threads:
            thread.join(5.0)
        self.spool.close()
        self.journal.close()
        _logger.info("bridge stopped, %d events left in the spool", self.spool.depth())

    def _housekeeping(self):
        next_prune = 0.0
        while not self._stop.wait(EXPIRE_INTERVAL):
            try:
                now = time.time()
                with self._fold_lock:
                    events = self.folder.expire(now)
                self._keep(events)
                if now >= next_prune:
                    self.journal.prune(now)
                    next_prune = now + PRUNE_INTERVAL
            except Exception:
                _logger.exception("bridge: housekeeping failed, going on")

    # -- events --------------------------------------------------------------------------------

    def _on_source_state(self, connected, reason):
        if not connected and not self._stop.is_set():
            _logger.warning("bridge: PBX source disconnected (%s)", reason)

    def on_pbx_event(self, message):
        """One AMI message (dict) or ARI event (JSON object) from the PBX."""
        self.last_event = time.time()
        try:
            with self._fold_lock:
                events = self.folder.feed(message)
        except Exception:
            # An event the folder cannot read is skipped, never the end of the bridge.
            _logger.exception("bridge: could not fold a PBX event, skipped")
            return
        self._keep(events)

    def _keep(self, events):
        if not events:
            return
        try:
            self.journal.record(events)
        except Exception:
            _logger.exception("bridge: journal write failed (history only; events still sent)")
        self.spool.append(events)

    # -- what the API asks -------------------------------------------------------------------

    def health(self):
        try:
            open_calls = self.folder.open_calls()
            open_calls = open_calls if isinstance(open_calls, int) else len(open_calls)
        except Exception:
            open_calls = None
        return {
            "status": "ok",
            "version": __version__,
            "source": self.config.source,
            "connected": bool(self.source.connected),
            "last_drop_reason": getattr(self.source, "last_drop_reason", "") or "",
            "last_event": _iso(self.last_event),
            "started_at": _iso(self.started_at),
            "spool_depth": self.spool.depth(),
            "spool_in_memory": self.spool.in_memory(),
            "spool_error": self.spool.disk_error or "",
            "dead_letters": self.poster.dead_letters,
            "delivery_error": self.poster.last_error,
            "open_calls": open_calls,
        }

    def originate(self, extension, number, caller_id, ref):
        dialplan = self.config.dialplan
        channel_id = str(uuid.uuid4())
        with self._fold_lock:
            # Announced first: the PBX's events for the channel may come before the reply.
            self.folder.expect_originate(channel_id, extension=extension, number=number, ref=ref)
        try:
            self.source.originate(
                dialplan.channel_template.format(extension=extension),
                dialplan.originate_context,
                number,
                dialplan.originate_priority,
                caller_id or dialplan.caller_id or "",
                dialplan.originate_timeout,
                channel_id,
                ref,
            )
        except (AmiError, AriError) as error:
            raise ApiError(502, f"the PBX refused the call: {error}") from None
        # The preset id is the first channel's Uniqueid, hence the call's Linkedid.
        return channel_id

    def extensions(self):
        try:
            return self.source.extensions()
        except (AmiError, AriError) as error:
            raise ApiError(502, f"the PBX did not list its extensions: {error}") from None

    def history(self, start, end):
        return self.journal.calls(start, end)

    def open_recording(self, recording_id):
        """``(mimetype, size or None, chunks, close)`` of a recording; ``ApiError`` if
        the id is unusable (400) or names no file (404)."""
        if not recording_id or len(recording_id) > RECORDING_ID_MAX or "\x00" in recording_id:
            raise ApiError(400, "invalid recording id")
        if self.config.ari_recordings:
            return self._ari_recording(recording_id)
        base = os.path.realpath(self.config.recording_dir)
        if ".." in recording_id.replace("\\", "/").split("/"):
            raise ApiError(400, "recording id may not climb out of the recording directory")
        candidate = (
            recording_id if os.path.isabs(recording_id) else os.path.join(base, recording_id)
        )
        real = os.path.realpath(candidate)
        if os.path.commonpath([base, real]) != base:
            raise ApiError(400, "recording is outside the recording directory")
        if not os.path.isfile(real):
            raise ApiError(404, "no such recording")
        suffix = os.path.splitext(real)[1].lower()
        mimetype = (
            AUDIO_TYPES.get(suffix) or mimetypes.guess_type(real)[0] or "application/octet-stream"
        )
        handle = open(real, "rb")  # noqa: SIM115 (closed by the API once streamed)
        size = os.fstat(handle.fileno()).st_size
        return mimetype, size, iter(lambda: handle.read(65536), b""), handle.close

    def _ari_recording(self, name):
        try:
            response = self.source.recording(name)
        except AriError as error:
            raise ApiError(404, f"no such recording ({error})") from None
        length = response.headers.get("Content-Length")
        return (
            response.headers.get("Content-Type") or "application/octet-stream",
            int(length) if length and length.isdigit() else None,
            response.iter_content(65536),
            response.close,
        )

    def route(self, query, budget):
        """Post the call's start to Odoo now and give the dialplan Odoo's targets, within
        ``budget`` seconds; none (the dialplan goes on alone) when Odoo is slower."""
        event = self._route_event(query)
        if event is None:
            raise ApiError(400, "uniqueid (or linkedid) and from are required")
        # Durable first: whatever Odoo answers, the start reaches it (its id makes a
        # second delivery a duplicate Odoo ignores).
        self._keep([event])
        outcome = {}

        def ask():
            outcome["result"] = self.odoo.post(event, timeout=budget)

        worker = threading.Thread(target=ask, name="pbx-bridge-route", daemon=True)
        worker.start()
        worker.join(budget)
        result = outcome.get("result")
        if result is None or not result.ok or not isinstance(result.payload, dict):
            reason = "no answer in time" if result is None else result.reason
            _logger.warning(
                "bridge: no routing for call %s (%s): the dialplan goes on",
                event["call_id"],
                reason,
            )
            return []
        route = result.payload.get("route") or {}
        if route.get("action") != "redirect":
            return []
        return [str(target) for target in route.get("targets") or [] if str(target).isalnum()]

    def _route_event(self, query):
        call_id = query.get("linkedid") or query.get("uniqueid")
        caller = query.get("from") or ""
        if not call_id or not caller:
            return None
        builder = getattr(self.folder, "route_event", None)
        if callable(builder):
            return builder(query)
        return {
            "id": f"{call_id}:started",  # the folder's id for it: one event for Odoo
            "type": "call.started",
            "call_id": call_id,
            "direction": "inbound",
            "from": caller,
            "to": query.get("to") or query.get("did") or "",
            "did": query.get("did") or "",
            "timestamp": int(time.time()),
        }
