"""Folding Asterisk channel events into calls of the generic protocol (pure, stdlib only).

Asterisk reports channels, not calls. ``AmiFolder`` (AMI events) and ``AriFolder`` (ARI
events, ``ari_fold.py``) group the channels of one call by ``Linkedid``, follow its legs and
emit generic protocol events (``__manifest_docs__/generic_webhook.md``) ready to JSON-encode
and sign. ``__manifest_docs__/protocols/asterisk.md`` explains the rules.

Each emitted event is a dict with ``id`` (deterministic: a re-post is a duplicate),
``type``, ``call_id`` (the Linkedid), ``leg_id``, ``direction``, ``from``, ``to``, ``did``,
``extension``, ``timestamp`` (Unix seconds, float), and where they apply ``disposition``,
``duration`` (int seconds), ``recording_id`` and ``origin_ref`` (the click-to-call's
reference: the ``CRM_VOIP_REF`` channel variable or ``expect_originate``'s ``ref``).
"""

import collections
import logging
import time

_logger = logging.getLogger(__name__)

INBOUND, OUTBOUND, INTERNAL = "inbound", "outbound", "internal"
RECORDING_VARIABLE = "MIXMONITOR_FILENAME"
ORIGIN_VARIABLE = "CRM_VOIP_REF"
# Calls closed lately: their trailing events (Cdr, a late Hangup) must not open them again.
CLOSED_MEMORY = 20000
UNKNOWN_NUMBERS = ("", "<unknown>", "unknown", "anonymous")

# Dial's DialStatus of a leg that was not answered → generic disposition.
_DIAL_STATUS = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CANCEL": "cancel",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
    "DONTCALL": "failed",
    "TORTURE": "failed",
    "INVALIDARGS": "failed",
}
# cdr_manager's Disposition → generic disposition.
_CDR_DISPOSITION = {
    "ANSWERED": "answered",
    "NO ANSWER": "no_answer",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "failed",
}
# Q.850 hangup causes (Hangup ``Cause``) that say why a call was not answered.
_CAUSES = {
    "17": "busy",  # user busy
    "21": "busy",  # call rejected (the phone declined)
    "18": "no_answer",  # no user responding
    "19": "no_answer",  # no answer
    "16": "no_answer",  # normal clearing before anyone answered: the caller gave up
    "1": "failed",  # unallocated number
    "3": "failed",
    "27": "failed",
    "34": "failed",  # no circuit available
    "38": "failed",
    "41": "failed",
    "42": "failed",
}


def endpoint_of(channel):
    """``PJSIP/101-0000001a`` → ``("PJSIP", "101")``; Local channels give ``("Local", …)``."""
    tech, _sep, rest = channel.partition("/")
    if tech == "Local":
        return tech, rest.partition("@")[0]
    resource, dash, _seq = rest.rpartition("-")
    return tech, resource if dash else rest


class _Call:
    __slots__ = (
        "linkedid",
        "channels",
        "first_uid",
        "first_channel",
        "first_context",
        "first_exten",
        "exten",
        "caller",
        "did",
        "origin",
        "origin_ref",
        "recording",
        "direction",
        "extension",
        "from_number",
        "to_number",
        "started",
        "answered_at",
        "answer_ext",
        "answered_legs",
        "rung",
        "statuses",
        "cause",
        "cdr",
        "last_seen",
        "created_at",
    )

    def __init__(self, linkedid, message, now):
        self.linkedid = linkedid
        self.channels = set()
        self.first_uid = message.get("Uniqueid", "")
        self.first_channel = message.get("Channel", "")
        self.first_context = message.get("Context", "")
        self.first_exten = message.get("Exten", "")
        self.exten = self.first_exten
        self.caller = message.get("CallerIDNum", "")
        self.did = ""
        self.origin = None
        self.origin_ref = ""
        self.recording = ""
        self.direction = ""
        self.extension = ""
        self.from_number = ""
        self.to_number = ""
        self.started = False
        self.answered_at = None
        self.answer_ext = ""
        self.answered_legs = set()
        self.rung = set()
        self.statuses = []
        self.cause = ""
        self.cdr = ""
        self.last_seen = now
        self.created_at = now


class AmiFolder:
    """AMI events (dicts of str, as ``amiwire`` decodes them) → generic call events.

    ``internal_contexts``: dialplan contexts of the desk phones (a call whose first channel
    starts there is outbound, or internal when it dials an extension). ``did_variable``: a
    channel variable holding the dialled line (else the first channel's ``Exten``).
    ``recording_dir``: MixMonitor's folder; ``recording_id`` is the file path below it.
    ``max_idle``: seconds without an event after which ``expire`` closes a call.
    """

    def __init__(
        self,
        *,
        internal_contexts=("from-internal",),
        did_variable="",
        recording_dir="",
        clock=time.time,
        max_idle=6 * 3600,
        extension_max_len=5,
    ):
        self.internal_contexts = frozenset(internal_contexts)
        self.did_variable = did_variable
        self.recording_dir = recording_dir.rstrip("/")
        self.clock = clock
        self.max_idle = max_idle
        self.extension_max_len = extension_max_len
        self._calls = {}  # Linkedid -> _Call
        self._channels = {}  # Uniqueid -> Linkedid
        self._originates = {}  # preset ChannelId -> (extension, number, ref)
        self._closed = collections.OrderedDict()
        self.skipped = 0  # malformed events dropped
        self._handlers = {
            "Newchannel": self._newchannel,
            "VarSet": self._varset,
            "DialBegin": self._dial_begin,
            "DialEnd": self._dial_end,
            "BridgeEnter": self._bridge_enter,
            "Hangup": self._hangup,
            "Cdr": self._cdr,
            "Newstate": self._touch,
            "NewConnectedLine": self._touch,
            "MixMonitorStart": self._touch,
            "MixMonitorStop": self._touch,
            "OriginateResponse": self._originate_response,
            "BlindTransfer": self._ignore,
            "AttendedTransfer": self._ignore,
        }

    # --- public ----------------------------------------------------------------------------

    def expect_originate(self, channel_id, *, extension, number, ref=""):
        """Announce a click-to-call sent with ``Originate`` and ``ChannelId: channel_id``:
        its call is outbound from ``extension`` to ``number`` even if the phone never
        answers (then Asterisk says little more than a Hangup)."""
        if len(self._originates) > CLOSED_MEMORY:
            self._originates.pop(next(iter(self._originates)))
        self._originates[channel_id] = (str(extension), str(number), str(ref or ""))

    def feed(self, message):
        """One AMI event → 0..n generic events. Unknown events give []; malformed ones are
        logged with the reason and give [] too."""
        handler = self._handlers.get(message.get("Event"))
        if handler is None:
            return []
        try:
            return handler(message)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            self.skipped += 1
            _logger.warning("AMI %s event skipped: %s", message.get("Event"), error)
            return []

    def expire(self, now=None):
        """Close the calls idle for longer than ``max_idle`` (their Hangup was lost, e.g.
        during a reconnect): each ends as ended (answered) or missed at its last event."""
        now = self.clock() if now is None else now
        limit = now - self.max_idle
        events = []
        for call in [c for c in self._calls.values() if c.last_seen < limit]:
            events += self._finish(call, call.last_seen)
        return events

    def open_calls(self):
        return len(self._calls)

    # --- helpers ---------------------------------------------------------------------------

    def _now(self, message):
        stamp = message.get("Timestamp")
        if stamp:
            try:
                return float(stamp)
            except ValueError:
                pass
        return self.clock()

    def _call_of(self, message, create=False):
        """The open call of the event's channel, following a changed Linkedid (a bridge
        gives all its channels the oldest one, e.g. after an attended transfer)."""
        uid = message.get("Uniqueid", "")
        linkedid = message.get("Linkedid") or self._channels.get(uid) or uid
        if not linkedid or linkedid in self._closed:
            return None, []
        events = []
        call = self._calls.get(linkedid)
        now = self._now(message)
        if call is None:
            if not create:
                return None, []
            call = self._calls[linkedid] = _Call(linkedid, message, now)
            origin = self._originates.pop(linkedid, None) or self._originates.pop(uid, None)
            if origin:
                call.origin = origin
                call.origin_ref = origin[2]
        previous = self._channels.get(uid)
        if uid and previous != linkedid:
            if previous is not None:
                events += self._move(uid, previous, call, message, now)
            self._channels[uid] = linkedid
            call.channels.add(uid)
        call.last_seen = now
        if uid == call.first_uid and not call.started:
            exten = message.get("Exten", "")
            if exten and exten != "s":
                call.exten = exten
        self._variables(call, message.get("ChanVariable"))
        return call, events

    def _move(self, uid, old_linkedid, call, message, now):
        events = []
        old = self._calls.get(old_linkedid)
        if old is not None:
            old.channels.discard(uid)
            if not old.channels:
                events += self._finish(old, now)
        tech, resource = endpoint_of(message.get("Channel", ""))
        if message.get("ChannelState") == "6" and self._is_phone(tech, resource):
            # A phone already talking joins this call: it took the call over (transfer).
            events += self._answer(call, uid, resource, now)
        return events

    def _is_phone(self, tech, resource):
        return (
            tech != "Local"
            and resource.isdigit()
            and resource.isascii()
            and len(resource) <= self.extension_max_len
        )

    def _variables(self, call, values):
        if not values:
            return
        for item in values if isinstance(values, list) else (values,):
            name, sep, value = item.partition("=")
            if sep:
                self._variable(call, name, value)

    def _variable(self, call, name, value):
        if name == RECORDING_VARIABLE and value:
            call.recording = value
        elif name == ORIGIN_VARIABLE and value:
            call.origin_ref = value
        elif self.did_variable and name == self.did_variable and value:
            call.did = value

    def _event(self, call, kind, now, suffix="", **fields):
        event = {
            "id": f"{call.linkedid}:{kind}{suffix}",
            "type": f"call.{kind}",
            "call_id": call.linkedid,
            "leg_id": "",
            "direction": call.direction,
            "from": call.from_number,
            "to": call.to_number,
            "did": call.did,
            "extension": call.extension,
            "timestamp": round(now, 6),
        }
        if call.origin_ref:
            event["origin_ref"] = call.origin_ref
        event.update(fields)
        return event

    def _start(self, call, now):
        """The call's first event, once its direction is known (at its first dial, or at
        its end): ``call.started`` (inbound, internal) or ``call.outgoing``."""
        if call.started:
            return []
        call.started = True
        caller = call.caller if call.caller not in UNKNOWN_NUMBERS else ""
        tech, resource = endpoint_of(call.first_channel)
        if call.origin:
            extension, number, _ref = call.origin
            call.direction = OUTBOUND
            call.extension = extension
            call.from_number = extension
            call.to_number = number
        elif call.first_context in self.internal_contexts:
            dialled = call.exten or call.first_exten
            extension = resource if self._is_phone(tech, resource) else caller
            call.extension = extension
            call.from_number = caller or extension or "anonymous"
            call.to_number = dialled
            shape = dialled.isdigit() and len(dialled) <= self.extension_max_len
            call.direction = INTERNAL if shape else OUTBOUND
        else:
            call.direction = INBOUND
            call.from_number = caller or "anonymous"
            exten = call.first_exten
            if not call.did and exten and exten != "s":
                call.did = exten
            call.to_number = call.did
        kind = "outgoing" if call.direction == OUTBOUND else "started"
        # Dated when its first channel appeared: the ring time counts from there.
        return [self._event(call, kind, call.created_at, leg_id=call.first_uid)]

    def _answer(self, call, leg, extension, now):
        if leg in call.answered_legs:
            return []
        call.answered_legs.add(leg)
        if call.answered_at is None:
            call.answered_at = now
        if call.direction != OUTBOUND:
            call.answer_ext = extension
        ext = extension if call.direction != OUTBOUND else call.extension
        return [self._event(call, "answered", now, f":{leg}", leg_id=leg, extension=ext)]

    def _disposition(self, call):
        statuses = [status for status in call.statuses if status != "ANSWER"]
        if statuses:
            if "NOANSWER" in statuses:
                return "no_answer"
            if all(status == "BUSY" for status in statuses):
                return "busy"
            if "CANCEL" in statuses:
                # Inbound: the caller gave up while phones rang, a missed call.
                return "no_answer" if call.direction != OUTBOUND else "cancel"
            return _DIAL_STATUS.get(statuses[-1], "failed")
        cdr = _CDR_DISPOSITION.get(call.cdr)
        if cdr and cdr != "answered":
            return cdr
        return _CAUSES.get(call.cause, "no_answer")

    def _finish(self, call, now):
        events = self._start(call, now)
        recording_id = self._recording_id(call.recording)
        if call.answered_at is not None:
            extension = call.answer_ext or call.extension
            events.append(
                self._event(
                    call,
                    "ended",
                    now,
                    disposition="answered",
                    duration=max(0, int(now - call.answered_at)),
                    extension=extension,
                    recording_id=recording_id,
                )
            )
        else:
            kind = "ended" if call.direction == OUTBOUND else "missed"
            events.append(
                self._event(call, kind, now, disposition=self._disposition(call), duration=0)
            )
        if recording_id and call.answered_at is not None:
            events.append(
                self._event(call, "recording", now, recording_id=recording_id, extension=extension)
            )
        self._forget(call)
        return events

    def _recording_id(self, path):
        if not path:
            return ""
        if self.recording_dir and path.startswith(self.recording_dir + "/"):
            return path[len(self.recording_dir) + 1 :]
        return path

    def _forget(self, call):
        self._calls.pop(call.linkedid, None)
        for uid in call.channels:
            if self._channels.get(uid) == call.linkedid:
                del self._channels[uid]
        self._closed[call.linkedid] = None
        if len(self._closed) > CLOSED_MEMORY:
            self._closed.popitem(last=False)

    # --- events ----------------------------------------------------------------------------

    def _ignore(self, message):
        return []

    def _touch(self, message):
        return self._call_of(message)[1]

    def _newchannel(self, message):
        return self._call_of(message, create=True)[1]

    def _varset(self, message):
        call, events = self._call_of(message)
        if call is not None:
            self._variable(call, message.get("Variable", ""), message.get("Value", ""))
        return events

    def _dial_begin(self, message):
        call, events = self._call_of(message, create=True)
        if call is None:
            return events
        now = self._now(message)
        events += self._start(call, now)
        dest_uid = message.get("DestUniqueid", "")
        if dest_uid and dest_uid not in self._channels:
            self._channels[dest_uid] = call.linkedid
            call.channels.add(dest_uid)
        self._variables(call, message.get("DestChanVariable"))
        tech, resource = endpoint_of(message.get("DestChannel", ""))
        if call.direction == OUTBOUND or not self._is_phone(tech, resource):
            return events
        if dest_uid not in call.rung:
            call.rung.add(dest_uid)
            events.append(
                self._event(
                    call, "ringing", now, f":{dest_uid}", leg_id=dest_uid, extension=resource
                )
            )
        return events

    def _dial_end(self, message):
        call, events = self._call_of(message)
        if call is None:
            return events
        now = self._now(message)
        tech, resource = endpoint_of(message.get("DestChannel", ""))
        if tech == "Local":
            return events  # the Local pair's inner Dial reports the real phone
        status = message.get("DialStatus", "")
        call.statuses.append(status)
        if status == "ANSWER":
            events += self._start(call, now)
            leg = message.get("DestUniqueid", "")
            if call.direction == OUTBOUND or self._is_phone(tech, resource):
                events += self._answer(call, leg, resource, now)
            else:
                # Forwarded out through a trunk (follow-me to a mobile): answered all the
                # same, by the extension whose Local channel dialled out, when there is one.
                caller_tech, caller_resource = endpoint_of(message.get("Channel", ""))
                extension = caller_resource if caller_tech == "Local" else ""
                if not (extension.isdigit() and len(extension) <= self.extension_max_len):
                    extension = ""
                events += self._answer(call, leg, extension, now)
        return events

    def _bridge_enter(self, message):
        return self._call_of(message)[1]

    def _hangup(self, message):
        uid = message.get("Uniqueid", "")
        if uid not in self._channels:
            return []
        call, events = self._call_of(message)
        if call is None:
            return events
        if uid == call.first_uid:
            call.cause = message.get("Cause", "")
        call.channels.discard(uid)
        self._channels.pop(uid, None)
        if not call.channels:
            events += self._finish(call, self._now(message))
        return events

    def _originate_response(self, message):
        """A click-to-call that failed before any channel was made (an unknown or
        unreachable phone) ends here; one that made a channel ends with its Hangup."""
        uid = message.get("Uniqueid", "")
        if message.get("Response") != "Failure" or uid not in self._originates:
            return []
        if uid in self._calls or uid in self._closed:
            return []
        now = self._now(message)
        call = self._calls[uid] = _Call(uid, message, now)
        call.origin = self._originates.pop(uid)
        call.origin_ref = call.origin[2]
        # Historically control-frame numbers, not causes: only a hint (5 busy, 3 timeout).
        call.cause = {"5": "17", "3": "19"}.get(message.get("Reason", ""), "34")
        return self._finish(call, now)

    def _cdr(self, message):
        linkedid = message.get("LinkedID") or self._channels.get(message.get("UniqueID", ""))
        call = self._calls.get(linkedid) if linkedid else None
        if call is not None:
            call.cdr = message.get("Disposition", "")
            self._variables(call, message.get("ChanVariable"))
        return []


# The ARI folder lives in its own module and reuses the AMI one; importable from here too.
from .ari_fold import AriFolder  # noqa: E402

__all__ = ["AmiFolder", "AriFolder", "endpoint_of"]
