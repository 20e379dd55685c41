"""The neutral description of a call, which every PBX module encodes in its own wire format.

A scenario (``scenarios.py``) resolves its parameters into one :class:`Call` and a list of
:class:`Step` (call started, an extension ringing, answered, ended, recording ready...); a
PBX module turns each step into the payload that PBX would post (``Pbx.encode_step``).
"""

import datetime as dt
from dataclasses import dataclass

# The kinds of step. ``extension`` tells which extension a ringing/answered/ended step is about.
STARTED = "started"  # an inbound call reached the PBX
RINGING = "ringing"  # the PBX rings an extension
ANSWERED = "answered"  # an extension picked up
ENDED = "ended"  # the inbound call is over (``extension``: who talked last, or "")
OUTGOING_STARTED = "outgoing_started"  # an extension dials out
OUTGOING_ENDED = "outgoing_ended"  # the outgoing call is over
RECORDING_READY = "recording_ready"  # the call's recording can be fetched
STEP_KINDS = (
    STARTED,
    RINGING,
    ANSWERED,
    ENDED,
    OUTGOING_STARTED,
    OUTGOING_ENDED,
    RECORDING_READY,
)

# How a call ended, whatever the PBX calls it.
DISPOSITIONS = ("answered", "busy", "no_answer", "cancel", "failed")
_DISPOSITION_ALIASES = {"no answer": "no_answer", "noanswer": "no_answer", "call failed": "failed"}


def normalize_disposition(value):
    value = (value or "").strip().lower()
    value = _DISPOSITION_ALIASES.get(value, value)
    if value not in DISPOSITIONS:
        raise ValueError(f"unknown disposition {value!r}; use one of {sorted(DISPOSITIONS)}")
    return value


@dataclass
class CallRecord:
    """One call the simulator played, as the PBX's call history reports it."""

    provider: str
    call_id: str
    direction: str  # inbound / outbound
    caller: str  # the external number (inbound) or the extension (outbound)
    did: str
    extension: str
    number: str  # the called number (outbound) or the DID (inbound)
    start: dt.datetime  # aware UTC
    ring_seconds: int
    duration: int
    disposition: str  # neutral: answered / busy / no_answer / cancel / failed
    recording_id: str = ""
    stats_id: str = ""

    @property
    def recorded(self):
        return bool(self.recording_id)


@dataclass(frozen=True)
class Step:
    """One thing that happens during a call, ``offset`` seconds after it started."""

    kind: str
    offset: int = 0
    extension: str = ""


@dataclass
class Call:
    """A scenario's call, every parameter resolved."""

    scenario: str  # the call's own scenario (``duplicates`` repeats another one)
    call_id: str
    direction: str  # inbound / outbound
    caller: str  # the external caller (inbound)
    did: str  # the company number called (inbound) or shown (outbound)
    extensions: list  # the extensions rung, in order
    answered_by: str
    extension: str  # who talked last (inbound) or dialled (outbound); "" if nobody answered
    number: str  # the number dialled (outbound) or the DID (inbound)
    start: dt.datetime  # aware UTC
    ring_seconds: int
    talk_seconds: int
    disposition: str  # neutral, see DISPOSITIONS
    duration: int  # seconds of conversation
    recording_id: str  # the recording's id ("" when none)
    recording_extension: str  # the extension a recording is attributed to
    record: CallRecord  # what the call history says about the call

    @property
    def outbound(self):
        return self.direction == "outbound"

    @property
    def recorded(self):
        """Whether the end of the call announces a recording."""
        return bool(self.record.recording_id)

    def truth(self, provider, steps=()):
        """How the call really ended, in neutral terms: what a receiver that got every
        webhook (or read the call history) must show (``Simulator.truth()``). With the
        call's ``steps``, the ring time is theirs: until the first answer, else until the
        end (less the talk time of an answered outgoing call, which has no answer step)."""
        answered = self.disposition == "answered"
        ring = self.ring_seconds
        answers = [step.offset for step in steps if step.kind == ANSWERED]
        ends = [step.offset for step in steps if step.kind in (ENDED, OUTGOING_ENDED)]
        if answers:
            ring = answers[0]
        elif ends:
            ring = ends[0] - (self.duration if self.outbound else 0)
        return {
            "provider": provider,
            "call_id": self.call_id,
            "scenario": self.scenario,
            "direction": self.direction,
            "disposition": self.disposition,
            "answered": answered,
            "missed": not answered and not self.outbound,
            # Who talked last (inbound), who dialled (outbound); "" when nobody answered.
            "extension": self.extension,
            "extensions": list(self.extensions),
            "caller": self.caller,
            "number": self.number,
            "did": self.did,
            "start": self.start.isoformat(),
            "ring_seconds": ring,
            "talk_seconds": self.duration,
            "recorded": self.recorded,
        }
