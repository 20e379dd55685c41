"""The call state machine: a PBX event and the call as it is → the values to write.

Pure: no database. What it needs to know about the world (whose extension rang, which line
a number is, a salesperson's team) it asks a ``Directory``; the Odoo model answers from its
tables, the tests from dictionaries.

Events arrive late, twice and out of order. The rules that make that safe:
- a call never moves backwards (``states.RANK``): an answer after the hang-up fills the
  answer time but keeps the final state;
- the first value of a number, the line or the start time is kept; the earliest start wins;
- the latest answer decides who talked (a transferred call ends with its last agent);
- a repeated event changes nothing.
"""

import datetime as dt
from dataclasses import dataclass, field

from ..providers import events as ev
from ..providers.numbers import is_extension
from . import states

#: What the machine reads of the call (many2one fields as ids).
CALL_FIELDS = (
    "state",
    "direction",
    "date_start",
    "date_answer",
    "date_end",
    "from_number",
    "to_number",
    "did_number",
    "partner_number",
    "user_id",
    "team_id",
    "talk_seconds",
)


@dataclass(frozen=True)
class Line:
    """A dialled line of the PBX account (a DID), as the machine needs it."""

    id: int
    team_id: int | None = None
    source_id: int | None = None


class Directory:
    """The questions the machine asks about the world, answered by the caller."""

    def normalize(self, number):
        """``number`` in E.164, or ``None`` when it is not a phone number."""
        raise NotImplementedError

    def user_for_extension(self, extension):
        """The id of the user behind ``extension``, or ``None``."""
        raise NotImplementedError

    def line_for_number(self, number_e164, raw_number):
        """The ``Line`` dialled as ``raw_number`` (``number_e164`` normalized), or ``None``."""
        raise NotImplementedError

    def team_of_user(self, user_id):
        """The id of the sales team of ``user_id``, or ``None``."""
        raise NotImplementedError


@dataclass
class Transition:
    """What applying one event does to a call."""

    #: Field values to write on the call (many2one fields as ids).
    values: dict = field(default_factory=dict)
    #: A user whose extension rang (added to the call's rung users).
    rang_user_id: int | None = None
    #: The call has just become final: the hang-up follow-ups are due.
    hung_up: bool = False


def naive_utc(moment):
    """Odoo stores naive UTC datetimes to the second; the adapters give aware ones."""
    if not moment:
        return None
    if moment.tzinfo:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def apply(call, event, directory):
    """The ``Transition`` of ``call`` (a mapping of ``CALL_FIELDS``) under ``event``."""
    values = {}
    occurred = naive_utc(event.occurred_at)
    if event.kind != ev.RECORDING_READY:
        values.update(_identity_values(call, event, directory))
    user_id = directory.user_for_extension(event.extension) if event.extension else None
    rang_user_id = user_id if event.kind in (ev.AGENT_RINGING, ev.CALL_STARTED) else None
    if event.kind == ev.OUTGOING_STARTED:
        values["direction"] = ev.OUTBOUND
        if user_id:
            values.update(user_id=user_id, extension=event.extension)
    elif event.kind == ev.ANSWERED:
        values.update(_answer_values(call, event, occurred, user_id))
    elif event.kind in (ev.ENDED, ev.MISSED):
        values.update(_end_values(call, event, occurred, user_id))
    elif event.kind == ev.RECORDING_READY and event.recording_ref:
        values["recording_ref"] = event.recording_ref
    values.update(timing_values(call, values))
    new_user = values.get("user_id")
    if new_user and not call["team_id"] and not values.get("team_id"):
        team_id = directory.team_of_user(new_user)
        if team_id:
            values["team_id"] = team_id
    new_state = values.get("state", call["state"])
    hung_up = call["state"] not in states.FINAL and new_state in states.FINAL
    return Transition(values=values, rang_user_id=rang_user_id, hung_up=hung_up)


def _identity_values(call, event, directory):
    """Start time, numbers and line: the first value the PBX gives is kept."""
    values = {}
    started = naive_utc(event.call_started_at) or naive_utc(event.occurred_at)
    if started and (not call["date_start"] or started < call["date_start"]):
        values["date_start"] = started
    if event.from_number and not call["from_number"]:
        values["from_number"] = event.from_number
        values["from_e164"] = directory.normalize(event.from_number) or False
    if event.to_number and not call["to_number"]:
        values["to_number"] = event.to_number
        values["to_e164"] = directory.normalize(event.to_number) or False
    if event.did and not call["did_number"]:
        values["did_number"] = event.did
        line = directory.line_for_number(directory.normalize(event.did), event.did)
        if line:
            values.update(line_id=line.id, source_id=line.source_id or False)
            if line.team_id and not call["team_id"]:
                values["team_id"] = line.team_id
    outside = event.to_number if call["direction"] == ev.OUTBOUND else event.from_number
    if outside and not call["partner_number"] and not is_extension(outside):
        values["partner_number"] = outside
        values["partner_number_e164"] = directory.normalize(outside) or False
    return values


def _answer_values(call, event, occurred, user_id):
    values = {}
    if not call["date_answer"] or occurred >= call["date_answer"]:
        # The latest answer wins: a transferred call ends with its last agent.
        if event.extension:
            values["extension"] = event.extension
        if user_id:
            values["user_id"] = user_id
    if not call["date_answer"] or occurred < call["date_answer"]:
        # The first answer ends the ringing, in whatever order the answers arrive (a
        # transfer's first answer retried after its second).
        values["date_answer"] = occurred
    if states.RANK[call["state"]] < states.RANK[states.TALKING]:
        values["state"] = states.TALKING
    return values


def _end_values(call, event, occurred, user_id):
    values = {}
    disposition = event.disposition or ("answered" if event.kind == ev.ENDED else "no_answer")
    if states.RANK[call["state"]] < states.RANK[states.DONE]:
        values["state"] = states.FINAL_STATE_BY_DISPOSITION.get(disposition, states.MISSED)
        values["disposition"] = disposition
        values["date_end"] = occurred
    elif not call["date_end"]:
        values["date_end"] = occurred
    answered = disposition == "answered"
    if answered and event.duration is not None:
        values["talk_seconds"] = event.duration
        if not call["date_answer"]:
            # The answer event never came: the talk time tells when it was.
            values["date_answer"] = occurred - dt.timedelta(seconds=event.duration)
    if event.extension and user_id and not call["user_id"]:
        values.update(user_id=user_id, extension=event.extension)
    if event.recording_ref:
        values["recording_ref"] = event.recording_ref
    return values


def timing_values(call, values):
    """Ring and talk seconds from the start, answer and end times, as they will be."""
    start = values.get("date_start", call["date_start"])
    answer = values.get("date_answer", call["date_answer"])
    end = values.get("date_end", call["date_end"])
    timing = {}
    if start and (answer or end):
        timing["ring_seconds"] = max(0, int(((answer or end) - start).total_seconds()))
    if answer and end and "talk_seconds" not in values and not call["talk_seconds"]:
        timing["talk_seconds"] = max(0, int((end - answer).total_seconds()))
    return timing
