"""Folding ARI events (the events WebSocket's JSON) into generic call events.

ARI channels carry no Linkedid, so the call of a channel is found by the ``Dial`` events
(a peer belongs to its caller's call) and by Local channel pairs (``;1`` and ``;2`` are one
call). A channel is held back until it is seen dialling or being dialled, so a phone rung
by a call is not taken for a call of its own. The events are then rewritten into their AMI
equivalents and folded by ``AmiFolder``: one set of rules for both sources.
"""

import collections
import datetime as dt
import logging

from .fold import CLOSED_MEMORY, AmiFolder

_logger = logging.getLogger(__name__)

_STATES = {
    "Down": "0",
    "Rsrvd": "1",
    "OffHook": "2",
    "Dialing": "3",
    "Ring": "4",
    "Ringing": "5",
    "Up": "6",
    "Busy": "7",
    "Dialing Offhook": "8",
    "Pre-ring": "9",
}


def ari_time(value):
    """ARI's ``2024-01-15T10:00:00.123+0000`` → Unix seconds (``None`` if unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None


def _local_partner(name):
    if name.startswith("Local/") and name[-2:] in (";1", ";2"):
        return name[:-1] + ("2" if name[-1] == "1" else "1")
    return ""


class AriFolder:
    """Same interface as ``AmiFolder``: ``feed``, ``expire``, ``open_calls``,
    ``expect_originate``; takes the same options."""

    def __init__(self, **options):
        self._ami = AmiFolder(**options)
        self._linked = collections.OrderedDict()  # channel id -> Linkedid
        self._local_names = {}  # Local channel name -> Linkedid
        self._pending = {}  # channel id -> (snapshot, [(variable, value)])
        self.skipped = 0
        self._handlers = {
            "ChannelCreated": self._created,
            "StasisStart": self._created,
            "ChannelStateChange": self._state,
            "ChannelEnteredBridge": self._state,
            "Dial": self._dial,
            "ChannelVarset": self._varset,
            "ChannelDestroyed": self._destroyed,
            "RecordingFinished": self._recording,
        }

    def expect_originate(self, channel_id, *, extension, number, ref=""):
        self._ami.expect_originate(channel_id, extension=extension, number=number, ref=ref)

    def expire(self, now=None):
        return self._ami.expire(now)

    def open_calls(self):
        return self._ami.open_calls()

    def feed(self, message):
        handler = self._handlers.get(message.get("type")) if isinstance(message, dict) else None
        if handler is None:
            return []
        try:
            self._stamp = ari_time(message.get("timestamp"))
            return handler(message)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            self.skipped += 1
            _logger.warning("ARI %s event skipped: %s", message.get("type"), error)
            return []

    # --- channels --------------------------------------------------------------------------

    def _fields(self, channel, linkedid):
        dialplan = channel.get("dialplan") or {}
        fields = {
            "Channel": channel.get("name", ""),
            "Uniqueid": channel["id"],
            "Linkedid": linkedid,
            "ChannelState": _STATES.get(channel.get("state"), "10"),
            "CallerIDNum": (channel.get("caller") or {}).get("number", ""),
            "Context": dialplan.get("context", ""),
            "Exten": dialplan.get("exten", ""),
        }
        if self._stamp is not None:
            fields["Timestamp"] = str(self._stamp)
        return fields

    def _link(self, channel_id, linkedid, name=""):
        self._linked[channel_id] = linkedid
        if len(self._linked) > CLOSED_MEMORY:
            self._linked.popitem(last=False)
        if name.startswith("Local/"):
            self._local_names[name] = linkedid
            if len(self._local_names) > CLOSED_MEMORY:
                self._local_names.pop(next(iter(self._local_names)))

    def _flush(self, channel, linkedid=None):
        """Feed the held-back channel (its Newchannel and variables) into ``linkedid``'s call
        (its own call when none is given); its events."""
        channel_id = channel["id"]
        if channel_id in self._linked and channel_id not in self._pending:
            return []
        snapshot, variables, created = self._pending.pop(channel_id, (channel, [], None))
        if linkedid is None:
            partner = _local_partner(snapshot.get("name", ""))
            linkedid = self._local_names.get(partner) or channel_id
        self._link(channel_id, linkedid, snapshot.get("name", ""))
        fields = self._fields(snapshot, linkedid)
        if created is None:
            created = ari_time(snapshot.get("creationtime"))
        if created is not None:
            # Dated when it was created, not when it was seen dialling: the ring time.
            fields["Timestamp"] = str(created)
        events = self._ami.feed({"Event": "Newchannel", **fields})
        for variable, value in variables:
            events += self._ami.feed(
                {"Event": "VarSet", **fields, "Variable": variable, "Value": value}
            )
        return events

    def _known(self, channel):
        """Events of making sure ``channel`` is folded, and its AMI fields."""
        events = self._flush(channel)
        return events, self._fields(channel, self._linked[channel["id"]])

    # --- events ----------------------------------------------------------------------------

    def _created(self, message):
        channel = message["channel"]
        if channel["id"] not in self._linked and channel["id"] not in self._pending:
            self._pending[channel["id"]] = (channel, [], self._stamp)
            if len(self._pending) > CLOSED_MEMORY:
                # Held back and never heard of again (a dropped WebSocket): bounded.
                self._pending.pop(next(iter(self._pending)))
        return []

    def _state(self, message):
        events, fields = self._known(message["channel"])
        return events + self._ami.feed({"Event": "Newstate", **fields})

    def _varset(self, message):
        channel = message.get("channel")
        if not channel:
            return []  # a global variable
        pending = self._pending.get(channel["id"])
        if pending is not None:
            pending[1].append((message.get("variable", ""), message.get("value", "")))
            return []
        events, fields = self._known(channel)
        variable = {"Variable": message.get("variable", ""), "Value": message.get("value", "")}
        return events + self._ami.feed({"Event": "VarSet", **fields, **variable})

    def _dial(self, message):
        peer = message["peer"]
        caller = message.get("caller")
        if not caller:
            return self._known(peer)[0]
        events, fields = self._known(caller)
        linkedid = fields["Linkedid"]
        if peer["id"] not in self._linked or peer["id"] in self._pending:
            events += self._flush(peer, linkedid)
        peer_fields = self._fields(peer, self._linked[peer["id"]])
        dest = {f"Dest{key}": value for key, value in peer_fields.items() if key != "Timestamp"}
        status = message.get("dialstatus") or ""
        if status:
            return events + self._ami.feed(
                {"Event": "DialEnd", **fields, **dest, "DialStatus": status}
            )
        return events + self._ami.feed({"Event": "DialBegin", **fields, **dest})

    def _destroyed(self, message):
        channel = message["channel"]
        events, fields = self._known(channel)
        self._local_names.pop(channel.get("name", ""), None)
        cause = {"Cause": str(message.get("cause", "")), "Cause-txt": message.get("cause_txt", "")}
        return events + self._ami.feed({"Event": "Hangup", **fields, **cause})

    def _recording(self, message):
        recording = message["recording"]
        kind, _sep, target = str(recording.get("target_uri", "")).partition(":")
        linkedid = self._linked.get(target) if kind == "channel" else None
        name = recording.get("name", "")
        if not linkedid or not name:
            return []
        recording_id = f"{name}.{recording['format']}" if recording.get("format") else name
        call = self._ami._calls.get(linkedid)
        if call is not None:
            call.recording = recording_id
            return []
        # The call ended before its recording was finished: announce it on its own.
        stamp = self._stamp if self._stamp is not None else self._ami.clock()
        return [
            {
                "id": f"{linkedid}:recording",
                "type": "call.recording",
                "call_id": linkedid,
                "timestamp": round(stamp, 6),
                "recording_id": recording_id,
            }
        ]
