"""The AMI events a real Asterisk 20 emits for each step of a scripted call (stdlib only).

``ami_step_events(step, call, params)`` gives the events of one ``calls.Step`` of a
``calls.Call`` as dicts of str, in the order Asterisk sends them, each with ``Privilege`` and
``Timestamp`` (``manager.conf`` ``timestampevents=yes``). The script is deterministic: the
channels of a call are numbered from its Linkedid, so each step can be built on its own.

How the suite's calls are dialled (FreePBX habits):
- ``answered``, ``busy``, ``transferred``: the trunk channel dials the phone directly;
  the transfer is a blind one (``BlindTransfer``, then the trunk dials the second phone);
- ``ring_group_answered_elsewhere``: a ring group, each phone through a Local channel pair;
- ``missed``: a queue (it answers the caller itself), members through Local channel pairs;
- outgoing: the phone dials the trunk; ``originated`` makes it a click-to-call (``Originate``
  rings the phone first; ``OriginateResponse`` tells how that went).
The manager user is assumed to have ``channelvars=MIXMONITOR_FILENAME,CRM_VOIP_REF``, so
those ride on the channel events as ``ChanVariable``.
``asterisk.py`` (the registered module) serves these events over AMI and ARI; the leading
underscore keeps this file out of the registry's import of PBX modules.
"""

import datetime as dt
import zlib

from .. import calls

TRUNK = "trunk"
TRUNK_CONTEXT = "from-pstn"
INTERNAL_CONTEXT = "from-internal"
QUEUE_CONTEXT = "from-queue"
RECORDING_DIR = "/var/spool/asterisk/monitor"
STATE_DESC = {"0": "Down", "4": "Ring", "5": "Ringing", "6": "Up"}
EVENT_CLASS = {"Cdr": "cdr,all", "VarSet": "dialplan,all"}
_CAUSE_TEXT = {
    "16": "Normal Clearing",
    "17": "User busy",
    "19": "User alerting, no answer",
    "21": "Call Rejected",
    "26": "Answered elsewhere",
    "34": "Circuit/channel congestion",
}
DIAL_STATUS = {"no_answer": "NOANSWER", "busy": "BUSY", "failed": "CHANUNAVAIL", "cancel": "CANCEL"}
CAUSE = {"answered": "16", "no_answer": "19", "busy": "17", "failed": "34", "cancel": "16"}
# A click-to-call the agent did not take: the phone's hangup cause.
REFUSED_CAUSE = {"busy": "21", "no_answer": "19", "failed": "34", "cancel": "16"}
CDR_DISPOSITION = {
    "answered": "ANSWERED",
    "no_answer": "NO ANSWER",
    "busy": "BUSY",
    "failed": "FAILED",
    "cancel": "NO ANSWER",
}


def recording_path(recording_id):
    return f"{RECORDING_DIR}/{recording_id}"


class _Script:
    """Names and ids of a call's channels, derived from its Linkedid ``<epoch>.<n>``."""

    def __init__(self, call, params):
        self.call = call
        self.params = params
        self.linkedid = call.call_id
        epoch, _dot, seq = call.call_id.partition(".")
        # Asterisk's own ids are <epoch>.<n>; a preset ChannelId (a UUID) is anything else.
        self.numbered = epoch.isdigit() and seq.isdigit()
        self.epoch = epoch if self.numbered else ""
        self.seq = int(seq) if self.numbered else 0
        # Channel names end in a hex sequence number, unique per call.
        self.name_seq = self.seq if self.numbered else zlib.crc32(call.call_id.encode()) & 0xFFFFF00
        self.start = call.start.timestamp()
        self.queue = call.scenario == "missed"
        self.via_local = call.scenario in ("missed", "ring_group_answered_elsewhere")
        self.originated = bool(params.get("originated"))
        self.variables = []
        if call.recorded and call.record.recording_id:
            self.variables.append(f"MIXMONITOR_FILENAME={recording_path(call.recording_id)}")
        if params.get("origin_ref"):
            self.variables.append(f"CRM_VOIP_REF={params['origin_ref']}")

    def uid(self, offset):
        if not self.numbered:
            return f"{self.linkedid};{offset}"
        return f"{self.epoch}.{self.seq + offset}"

    def channel(self, tech, resource, offset, suffix=""):
        return f"{tech}/{resource}-{(self.name_seq + offset) & 0xFFFFFFFF:08x}{suffix}"

    # --- channels: (fields) of each party --------------------------------------------------

    def _fields(self, name, uid, state, number, context, exten, connected="", variables=()):
        fields = {
            "Channel": name,
            "ChannelState": state,
            "ChannelStateDesc": STATE_DESC.get(state, "Unknown"),
            "CallerIDNum": number,
            "CallerIDName": "<unknown>",
            "ConnectedLineNum": connected or "<unknown>",
            "ConnectedLineName": "<unknown>",
            "Language": "en",
            "AccountCode": "",
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Uniqueid": uid,
            "Linkedid": self.linkedid,
        }
        if variables:
            fields["ChanVariable"] = list(variables) if len(variables) > 1 else variables[0]
        return fields

    def first(self, state="4", recorded=False):
        """The channel the call started on: the trunk (inbound) or the phone (outbound)."""
        call = self.call
        variables = self.variables if recorded else [v for v in self.variables if "REF" in v]
        if call.outbound:
            name = self.channel("PJSIP", call.extension, 0)
            return self._fields(
                name,
                self.linkedid,
                state,
                call.extension,
                INTERNAL_CONTEXT,
                call.number,
                variables=variables,
            )
        return self._fields(
            self.channel("PJSIP", TRUNK, 0),
            self.linkedid,
            state,
            call.caller,
            TRUNK_CONTEXT,
            call.did,
            variables=variables,
        )

    def _index(self, extension):
        extensions = self.call.extensions
        return extensions.index(extension) if extension in extensions else len(extensions)

    def phone(self, extension, state="0"):
        offset = 10 + 4 * self._index(extension)
        number = self.call.caller if not self.call.outbound else self.call.extension
        return self._fields(
            self.channel("PJSIP", extension, offset),
            self.uid(offset),
            state,
            extension,
            INTERNAL_CONTEXT,
            "",
            connected=number,
        )

    def local(self, extension, half, state="0"):
        offset = 10 + 4 * self._index(extension)
        context = QUEUE_CONTEXT if self.queue else INTERNAL_CONTEXT
        name = f"Local/{extension}@{context}-{(self.name_seq + offset) & 0xFFFFFFFF:08x};{half}"
        return self._fields(
            name, self.uid(offset + half), state, self.call.caller, context, extension
        )

    def outside(self, state="0"):
        """The trunk leg an outgoing call dials."""
        return self._fields(
            self.channel("PJSIP", TRUNK, 1),
            self.uid(1),
            state,
            self.call.number,
            TRUNK_CONTEXT,
            "",
            connected=self.call.extension,
        )


def _event(name, when, fields, **more):
    event = {"Event": name, "Privilege": EVENT_CLASS.get(name, "call,all")}
    event.update(fields)
    event.update(more)
    event["Timestamp"] = f"{when:.6f}"
    # Timestamp comes right after Privilege on the wire, as Asterisk writes it.
    return {
        "Event": name,
        "Privilege": event["Privilege"],
        "Timestamp": event["Timestamp"],
        **{k: v for k, v in event.items() if k not in ("Event", "Privilege", "Timestamp")},
    }


def _dest(fields):
    return {f"Dest{key}": value for key, value in fields.items() if key != "ChanVariable"}


def _dial_begin(when, caller, dest, dial_string):
    return _event("DialBegin", when, caller, **_dest(dest), DialString=dial_string)


def _dial_end(when, caller, dest, status):
    return _event("DialEnd", when, caller, **_dest(dest), DialStatus=status)


def _hangup(when, fields, cause):
    return _event("Hangup", when, fields, Cause=cause, **{"Cause-txt": _CAUSE_TEXT.get(cause, "")})


def _bridge(when, fields, count, bridge_id):
    return _event(
        "BridgeEnter",
        when,
        {
            "BridgeUniqueid": bridge_id,
            "BridgeType": "basic",
            "BridgeTechnology": "simple_bridge",
            "BridgeCreator": "<unknown>",
            "BridgeName": "<unknown>",
            "BridgeNumChannels": str(count),
            "BridgeVideoSourceMode": "none",
            **fields,
        },
        SwapUniqueid="",
    )


def _cdr(when, script, source, destination, channel, dest_channel, disposition, billsec):
    start = script.start
    answer = when - billsec if disposition == "answered" else 0

    def stamp(value):
        moment = dt.datetime.fromtimestamp(value, dt.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S") if value else ""

    return _event(
        "Cdr",
        when,
        {
            "AccountCode": "",
            "Source": source,
            "Destination": destination,
            "DestinationContext": INTERNAL_CONTEXT,
            "CallerID": f'"" <{source}>',
            "Channel": channel,
            "DestinationChannel": dest_channel,
            "LastApplication": "Dial",
            "LastData": dest_channel.rpartition("-")[0],
            "StartTime": stamp(start),
            "AnswerTime": stamp(answer),
            "EndTime": stamp(when),
            "Duration": str(int(when - start)),
            "BillableSeconds": str(int(billsec)),
            "Disposition": CDR_DISPOSITION[disposition],
            "AMAFlags": "DOCUMENTATION",
            "UniqueID": script.linkedid,
            "UserField": "",
        },
    )


def ami_step_events(step, call, params):
    """The AMI events of ``step`` of ``call`` (see the module docstring)."""
    script = _Script(call, params)
    when = script.start + step.offset
    if step.kind == calls.RECORDING_READY:
        return []  # MixMonitor stopped with the call; the file is on disk already
    if call.outbound:
        return _outgoing(script, step, when)
    return _inbound(script, step, when)


def _inbound(script, step, when):
    handler = {
        calls.STARTED: _inbound_started,
        calls.RINGING: _inbound_ringing,
        calls.ANSWERED: _inbound_answered,
    }.get(step.kind, _inbound_ended)
    return handler(script, step, when)


def _inbound_started(script, step, when):
    events = [_event("Newchannel", when, script.first("4"))]
    if script.queue:
        events.append(_event("Newstate", when, script.first("6")))  # the queue answers
    return events


def _inbound_ringing(script, step, when):
    call = script.call
    extension = step.extension
    events = []
    caller = script.first("6" if script.queue else "4")
    if call.scenario == "transferred" and extension != call.extensions[0]:
        # A blind transfer: the first agent hands the caller over and hangs up, then the
        # caller's channel dials the second phone.
        transferer = script.phone(call.extensions[0], "6")
        caller = script.first("6", recorded=True)
        transferee = {k: v for k, v in caller.items() if k != "ChanVariable"}
        events.append(
            _event(
                "BlindTransfer",
                when,
                {f"Transferer{k}": v for k, v in transferer.items()},
                **{f"Transferee{k}": v for k, v in transferee.items()},
                IsExternal="No",
                Result="Success",
                Context=INTERNAL_CONTEXT,
                Extension=extension,
            )
        )
        events.append(_hangup(when, transferer, "16"))
    phone = script.phone(extension)
    if script.via_local:
        one, two = script.local(extension, 1), script.local(extension, 2, "4")
        events += [
            _event("Newchannel", when, one),
            _event("Newchannel", when, two),
            _dial_begin(when, caller, one, f"Local/{extension}@{one['Context']}/n"),
            _event("Newchannel", when, phone),
            _dial_begin(when, two, phone, f"PJSIP/{extension}"),
        ]
    else:
        events += [
            _event("Newchannel", when, phone),
            _dial_begin(when, caller, phone, f"PJSIP/{extension}"),
        ]
    events.append(_event("Newstate", when, script.phone(extension, "5")))
    return events


def _inbound_answered(script, step, when):
    call = script.call
    extension = step.extension
    trunk = script.first
    up = script.phone(extension, "6")
    events = [_event("Newstate", when, up)]
    first_answer = extension == call.extensions[0] or call.scenario != "transferred"
    caller = trunk("6" if script.queue or not first_answer else "4")
    if script.via_local:
        one, two = script.local(extension, 1, "6"), script.local(extension, 2, "6")
        events += [_dial_end(when, two, up, "ANSWER"), _dial_end(when, caller, one, "ANSWER")]
    else:
        events.append(_dial_end(when, caller, up, "ANSWER"))
    if first_answer and not script.queue:
        events.append(_event("Newstate", when, trunk("6")))
    if call.recorded and first_answer:
        events.append(_event("VarSet", when, trunk("6"), **_recording_var(call)))
        events.append(_event("MixMonitorStart", when, trunk("6", recorded=True)))
    if script.via_local:
        for other in call.extensions:
            if other != extension:
                events += _cancelled_leg(script, when, caller, other, "CANCEL", "26")
    bridge_id = f"bridge-{call.call_id}-{extension}"
    near = trunk("6", recorded=call.recorded)
    if script.via_local:
        near = script.local(extension, 1, "6")
    events += [_bridge(when, near, 1, bridge_id), _bridge(when, up, 2, bridge_id)]
    return events


def _cancelled_leg(script, when, caller, extension, status, cause):
    """A phone that rang for nothing: its Dial ends, its channels hang up."""
    ringing = script.phone(extension, "5")
    if not script.via_local:
        return [_dial_end(when, caller, ringing, status), _hangup(when, ringing, cause)]
    return [
        _dial_end(when, script.local(extension, 2, "4"), ringing, status),
        _dial_end(when, caller, script.local(extension, 1), status),
        _hangup(when, ringing, cause),
        _hangup(when, script.local(extension, 2, "4"), cause),
        _hangup(when, script.local(extension, 1), cause),
    ]


def _inbound_ended(script, step, when):
    call = script.call
    disposition = call.disposition
    last = step.extension
    events = []
    answered = disposition == "answered"
    caller = script.first("6" if script.queue or answered else "4", call.recorded)
    if answered:
        up = script.phone(last, "6")
        if call.recorded:
            events.append(_event("MixMonitorStop", when, caller))
        events.append(_hangup(when, up, "16"))
        if script.via_local:
            events += [
                _hangup(when, script.local(last, 2, "6"), "16"),
                _hangup(when, script.local(last, 1, "6"), "16"),
            ]
        events.append(_hangup(when, caller, "16"))
        dest = up["Channel"]
        events.append(
            _cdr(
                when, script, call.caller, last, caller["Channel"], dest, "answered", call.duration
            )
        )
        return events
    rung = call.extensions if call.scenario == "missed" else call.extensions[:1]
    # A queue caller gives up (the members' dials are cancelled); a phone that is rung
    # directly says why it did not answer.
    status = DIAL_STATUS.get(disposition, "NOANSWER")
    if script.queue and disposition in ("no_answer", "cancel"):
        status = "CANCEL"
    cause = "17" if status == "BUSY" else "16" if status == "CANCEL" else CAUSE[disposition]
    for extension in rung:
        events += _cancelled_leg(script, when, caller, extension, status, cause)
    events.append(_hangup(when, caller, cause))
    dest = script.phone(rung[0] if rung else "", "0")["Channel"]
    events.append(
        _cdr(when, script, call.caller, call.did, caller["Channel"], dest, disposition, 0)
    )
    return events


def _recording_var(call):
    return {"Variable": "MIXMONITOR_FILENAME", "Value": recording_path(call.recording_id)}


def _outgoing(script, step, when):
    call = script.call
    events = []
    phone = script.first
    if step.kind == calls.OUTGOING_STARTED:
        if script.originated:
            events += [
                _event("Newchannel", when, phone("0")),
                _event("Newstate", when, phone("5")),
            ]
            if call.disposition != "answered" and params_refused(script):
                return events
            when += 1  # the agent picks up, then Asterisk dials the customer
            events.append(_event("Newstate", when, phone("6")))
            events.append(_originate_response(script, when, phone("6"), "Success", "4"))
        else:
            events.append(_event("Newchannel", when, phone("4")))
        outside = script.outside("0")
        events += [
            _event("Newchannel", when, outside),
            _dial_begin(when, phone("6" if script.originated else "4"), outside, "trunk"),
            _event("Newstate", when, script.outside("5")),
        ]
        return events
    # OUTGOING_ENDED
    disposition = call.disposition
    start = script.start + (1 if script.originated else 0)
    answer_at = start + call.ring_seconds
    state = "6" if script.originated else "4"
    if script.originated and params_refused(script):
        cause = REFUSED_CAUSE.get(disposition, "19")
        events.append(_hangup(when, phone("5"), cause))
        events.append(_originate_response(script, when, phone("0"), "Failure", "3"))
        return events
    outside = script.outside("5")
    if disposition == "answered":
        up = script.outside("6")
        events += [
            _event("Newstate", answer_at, up),
            _dial_end(answer_at, phone(state), up, "ANSWER"),
        ]
        if not script.originated:
            events.append(_event("Newstate", answer_at, phone("6")))
        if call.recorded:
            events.append(_event("VarSet", answer_at, phone("6"), **_recording_var(call)))
            events.append(_event("MixMonitorStart", answer_at, phone("6", recorded=True)))
        bridge_id = f"bridge-{call.call_id}"
        events += [
            _bridge(answer_at, phone("6", recorded=call.recorded), 1, bridge_id),
            _bridge(answer_at, up, 2, bridge_id),
        ]
        end = answer_at + call.duration
        if call.recorded:
            events.append(_event("MixMonitorStop", end, phone("6", recorded=True)))
        events += [
            _hangup(end, up, "16"),
            _hangup(end, phone("6", recorded=call.recorded), "16"),
            _cdr(
                end,
                script,
                call.extension,
                call.number,
                phone("6")["Channel"],
                up["Channel"],
                "answered",
                call.duration,
            ),
        ]
        return events
    status = DIAL_STATUS.get(disposition, "NOANSWER")
    cause = CAUSE.get(disposition, "19")
    events += [
        _dial_end(when, phone(state), outside, status),
        _hangup(when, outside, cause),
        _hangup(when, phone(state), cause),
        _cdr(
            when,
            script,
            call.extension,
            call.number,
            phone(state)["Channel"],
            outside["Channel"],
            disposition,
            0,
        ),
    ]
    return events


def params_refused(script):
    """A click-to-call the agent's phone did not take (``originated="refused"``)."""
    return script.params.get("originated") == "refused"


def _originate_response(script, when, fields, response, reason):
    return _event(
        "OriginateResponse",
        when,
        {
            "ActionID": str(script.params.get("action_id") or ""),
            "Response": response,
            "Channel": fields["Channel"],
            "Context": INTERNAL_CONTEXT,
            "Exten": script.call.number,
            "Application": "",
            "Data": "",
            "Reason": reason,
            "Uniqueid": script.linkedid,
            "CallerIDNum": script.call.extension,
            "CallerIDName": "<unknown>",
        },
    )
