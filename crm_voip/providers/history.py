"""A call of the PBX's call history, told as the webhooks would have told it.

Reconciliation (``crm.voip.provider._crm_voip_reconcile``) reads the PBX's call history and
feeds each call whose webhooks never arrived through the very path the webhooks take: the
events below are stored (``crm.voip.event``, under keys of their own, so that a rerun
stores nothing twice) and applied by the call state machine. Caller identification, the
salesperson, the hang-up follow-ups and the recording fetch are then the webhooks' own.

PBX-neutral and pure: an adapter whose history names a call otherwise than its events do
fixes that in its ``history_call_events``.
"""

import hashlib
from datetime import timedelta

from . import events as ev
from .numbers import is_extension

#: Prefix of the event keys of the events rebuilt from the call history.
HISTORY_KEY_PREFIX = "history:"
#: ``CallEvent.provider_event`` of those events.
HISTORY_PROVIDER_EVENT = "call_history"
#: Seconds by which the talk time of the events and of the history may differ without the
#: history contradicting the events: they are measured by different clocks, and some
#: PBXs round.
TALK_TOLERANCE = 3
#: Seconds by which the history's start may precede the events' before it says the call
#: started earlier (the call's first webhook was lost).
START_TOLERANCE = 1


class UnusableHistoryCall(ValueError):
    """A call of the history that cannot be told as events (no id, no start time)."""


def history_event_key(call_id, kind):
    """The event key of the ``kind`` event rebuilt for ``call_id``: one per call and kind,
    whatever the window it was read in; never a webhook's key."""
    key = f"{HISTORY_KEY_PREFIX}{call_id}:{kind}"
    if len(key) > ev.EVENT_KEY_MAX_LEN:
        digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{HISTORY_KEY_PREFIX}sha256:{digest}:{kind}"
    return key


def is_history_event_key(event_key):
    return bool(event_key) and event_key.startswith(HISTORY_KEY_PREFIX)


def history_outcome(call):
    """``(disposition, talk seconds)`` of a history call: a call without a disposition was
    answered when it has a talk time."""
    talk = call.duration if isinstance(call.duration, int) and call.duration > 0 else 0
    disposition = call.disposition if call.disposition in ev.DISPOSITIONS else ""
    if not disposition:
        disposition = "answered" if talk else "no_answer"
    return disposition, talk if disposition == "answered" else 0


def history_events(call):
    """The ``CallEvent``s the webhooks of ``call`` (a ``HistoryCall``) would have given.

    One event that ends the call, carrying what the history knows: the numbers, the
    extension that answered (or rang), the start, the outcome, the talk time and the
    recording. The history says nothing of the ringing time: the answer is taken to be at
    the start. Raises ``UnusableHistoryCall`` for a call that cannot be told.
    """
    call_id = (call.call_id or "").strip()
    if not call_id:
        raise UnusableHistoryCall("the call history gives the call no id")
    if call.direction not in ev.DIRECTIONS:
        raise UnusableHistoryCall(f"unknown direction {call.direction!r}")
    if call.started_at is None:
        raise UnusableHistoryCall("the call history gives the call no start time")
    started = ev.ensure_utc(call.started_at)
    disposition, talk = history_outcome(call)
    answered = disposition == "answered"
    kind = ev.ENDED if answered else ev.MISSED
    to_number = call.to_number or ""
    # An incoming call's dialled number is the line, unless the history names an extension.
    did = to_number if call.direction == ev.INBOUND and not is_extension(to_number) else ""
    return [
        ev.CallEvent(
            kind=kind,
            provider_call_id=call_id,
            event_key=history_event_key(call_id, kind),
            occurred_at=started + timedelta(seconds=talk),
            direction=call.direction,
            from_number=call.from_number or "",
            to_number=to_number,
            did=did,
            extension=call.extension or "",
            call_started_at=started,
            disposition=disposition,
            duration=talk if answered else None,
            recording_ref=call.recording_ref or "",
            provider_event=HISTORY_PROVIDER_EVENT,
            raw=history_raw(call),
        )
    ]


def history_raw(call):
    """The history call as stored with its event (JSON-serializable)."""
    return {
        "call_id": call.call_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "extension": call.extension,
        "start": call.started_at.isoformat() if call.started_at else None,
        "duration": call.duration,
        "disposition": call.disposition,
        "recording_ref": call.recording_ref,
    }


def history_differences(call, history_call):
    """Where a call the events completed and the history disagree: ``[(what, ours,
    theirs)]``, ``what`` one of ``start``, ``outcome``, ``talk_seconds``, ``extension``.

    ``call`` maps ``date_start`` (naive UTC), ``disposition``, ``talk_seconds`` and
    ``extension`` as logged.
    """
    disposition, talk = history_outcome(history_call)
    ours = call.get("disposition") or ""
    differences = []
    start = earlier_start(call.get("date_start"), history_call.started_at)
    if start:
        differences.append(("start", call["date_start"], start))
    if (ours == "answered") != (disposition == "answered"):
        differences.append(("outcome", ours, disposition))
        return differences  # the rest follows from the outcome
    if disposition != "answered":
        return differences
    if abs((call.get("talk_seconds") or 0) - talk) > TALK_TOLERANCE:
        differences.append(("talk_seconds", call.get("talk_seconds") or 0, talk))
    theirs_extension = (history_call.extension or "").strip()
    ours_extension = (call.get("extension") or "").strip()
    if theirs_extension and ours_extension and theirs_extension != ours_extension:
        differences.append(("extension", ours_extension, theirs_extension))
    return differences


def earlier_start(ours, theirs):
    """The history's start ``theirs`` (aware) as naive UTC when it is earlier than the
    logged ``ours`` (naive UTC) by more than ``START_TOLERANCE``: the call's first webhook
    never came, and the earliest start is the call's (the state machine's rule)."""
    if not ours or not theirs:
        return None
    theirs = ev.ensure_utc(theirs).replace(tzinfo=None)
    if (ours - theirs).total_seconds() > START_TOLERANCE:
        return theirs
    return None
