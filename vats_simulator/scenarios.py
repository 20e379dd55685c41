"""Scripted calls, written once for every PBX.

A scenario resolves its parameters into a neutral call (``calls.Call``) and the steps that
happen during it (``calls.Step``: call started, extension ringing, answered, ended, recording
ready...); the PBX module then encodes each step into its own payload (``Pbx.encode_step``).
"""

import datetime as dt
import secrets
from dataclasses import dataclass, field

from . import calls, pbx
from .calls import Call, CallRecord, Step, normalize_disposition
from .clock import resolve_timezone, to_utc

SCENARIOS = (
    "answered",
    "missed",
    "busy",
    "transferred",
    "ring_group_answered_elsewhere",
    "outgoing",
    "recording_ready",
    "duplicates",
    "out_of_order",
    "bad_signature",
    "unsigned",
    "malformed",
)

# Scenarios whose payloads describe a real call (and so appear in the call history).
CALL_SCENARIOS = (
    "answered",
    "missed",
    "busy",
    "transferred",
    "ring_group_answered_elsewhere",
    "outgoing",
    "duplicates",
    "out_of_order",
)

# The parameters every PBX takes; a PBX may add its own (``Pbx.scenario_params``).
SCENARIO_PARAMS = frozenset(
    {
        "caller",
        "did",
        "extensions",
        "answered_by",
        "talk_seconds",
        "ring_seconds",
        "call_id",
        "record",
        "call_start",
        "disposition",
        "number",
        "extension",
        "answered",
        "recording_id",
        "base",
    }
)

DEFAULT_CALLER = "79161234567"
DEFAULT_DID = "74951234567"


@dataclass
class Plan:
    """What a scenario sends: the payloads, how they are signed, and the calls they describe."""

    provider: str
    scenario: str
    events: list
    signing: str = "valid"  # valid / bad / none
    calls: list = field(default_factory=list)
    recordings: list = field(default_factory=list)  # (recording_id, call_id, extension)
    steps: list = field(default_factory=list)  # the neutral steps, before encoding
    call: Call | None = None


def scenario_params(provider):
    """The scenario parameters ``provider`` accepts."""
    return SCENARIO_PARAMS | pbx.get(provider).scenario_params


def build_plan(provider, scenario, tzinfo=None, **params):
    """Resolve the parameters of ``scenario`` and encode its steps for ``provider``.

    ``tzinfo`` (a ``tzinfo`` or its name) is the zone the PBX writes local times in.
    """
    module = pbx.get(provider)
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; use one of {SCENARIOS}")
    unknown = set(params) - scenario_params(provider)
    if unknown:
        raise TypeError(f"unknown scenario parameter(s): {', '.join(sorted(unknown))}")
    tzinfo = resolve_timezone(tzinfo) if tzinfo is not None else dt.timezone.utc
    if scenario == "malformed":
        return Plan(provider, scenario, [module.malformed_body])
    call = _resolve(module, scenario, tzinfo, params)
    steps, signing, repeat = _steps(scenario, call, params)
    events = [module.encode_step(step, call, tzinfo, params) for step in steps]
    if repeat > 1:
        events = [event for event in events for _ in range(repeat)]
    plan = Plan(provider, scenario, events, signing=signing, steps=steps, call=call)
    if scenario in CALL_SCENARIOS:
        plan.calls.append(call.record)
    if call.recording_id and (scenario == "recording_ready" or call.recorded):
        plan.recordings.append((call.recording_id, call.call_id, call.recording_extension))
    return plan


def _resolve(module, scenario, tzinfo, params):
    base = params.get("base", "answered") if scenario == "duplicates" else scenario
    if scenario == "duplicates" and (
        base not in CALL_SCENARIOS or base in ("duplicates", "out_of_order")
    ):
        raise ValueError(f"duplicates cannot repeat the {base!r} scenario")
    outbound = base == "outgoing"
    direction = "outbound" if outbound else "inbound"
    extensions = [str(ext) for ext in (params.get("extensions") or _default_extensions(base))]
    if base == "transferred" and len(extensions) < 2:
        raise ValueError("the transferred scenario needs two extensions")
    answered_by = str(params.get("answered_by") or _default_answerer(base, extensions))
    if answered_by not in extensions and base in ("answered", "ring_group_answered_elsewhere"):
        extensions.append(answered_by)
    start = to_utc(params.get("call_start"))
    caller = str(params.get("caller") or DEFAULT_CALLER)
    did = str(params.get("did") or DEFAULT_DID)
    ring = int(params.get("ring_seconds", 7))
    talk = int(params.get("talk_seconds", 42))
    call_id = str(params.get("call_id") or module.new_call_id(direction))

    if outbound:
        extension = str(params.get("extension") or extensions[0])
        number = str(params.get("number") or caller)
        answered = params.get("answered", True)
        disposition = (
            "answered"
            if answered
            else normalize_disposition(params.get("disposition") or "no_answer")
        )
    else:
        extension = answered_by
        number = did
        default = {"missed": module.missed_disposition, "busy": "busy"}
        disposition = normalize_disposition(
            params.get("disposition") or default.get(base, "answered")
        )
    answered = disposition == "answered"
    duration = talk if answered else 0
    if base in ("missed", "busy"):
        extension = ""

    rec_ext = extension or (extensions[0] if extensions else "")
    recording_id = str(params.get("recording_id") or "")
    wants_record = (bool(params.get("record")) and answered) or scenario == "recording_ready"
    if wants_record and not recording_id:
        recording_id = module.new_recording_id(start, rec_ext, tzinfo)
    record = CallRecord(
        provider=module.code,
        call_id=call_id,
        direction=direction,
        caller=extension if outbound else caller,
        did=did,
        extension=extension,
        number=number,
        start=start,
        ring_seconds=ring,
        duration=duration,
        disposition=disposition,
        recording_id=recording_id if wants_record and scenario != "recording_ready" else "",
        stats_id=f"{int(start.timestamp())}.{secrets.randbelow(10**7):07d}",
    )
    return Call(
        scenario=base,
        call_id=call_id,
        direction=direction,
        caller=caller,
        did=did,
        extensions=extensions,
        answered_by=answered_by,
        extension=extension,
        number=number,
        start=start,
        ring_seconds=ring,
        talk_seconds=talk,
        disposition=disposition,
        duration=duration,
        recording_id=recording_id,
        recording_extension=rec_ext,
        record=record,
    )


def _default_extensions(base):
    if base == "transferred":
        return ["100", "101"]
    if base == "ring_group_answered_elsewhere":
        return ["101", "102", "103"]
    return ["100"]


def _default_answerer(base, extensions):
    if base == "transferred":
        return extensions[-1]
    if base == "ring_group_answered_elsewhere":
        return "102" if "102" in extensions else extensions[min(1, len(extensions) - 1)]
    return extensions[0]


def _steps(scenario, call, params):
    """``(steps, signing, repeat)`` of ``scenario``."""
    if scenario == "recording_ready":
        return [Step(calls.RECORDING_READY)], "valid", 1
    if scenario in ("bad_signature", "unsigned"):
        return [Step(calls.STARTED)], ("bad" if scenario == "bad_signature" else "none"), 1
    if scenario == "duplicates":
        steps, _signing, _repeat = _steps(call.scenario, call, params)
        return steps, "valid", 2
    if scenario == "out_of_order":
        steps = _call_steps("answered", call)
        ended = [s for s in steps if s.kind == calls.ENDED]
        answered = [s for s in steps if s.kind == calls.ANSWERED]
        return ended + answered, "valid", 1
    return _call_steps(scenario, call), "valid", 1


def _call_steps(scenario, call):
    ring, talk = call.ring_seconds, call.talk_seconds
    exts = call.extensions
    if scenario == "outgoing":
        steps = [
            Step(calls.OUTGOING_STARTED, 0),
            Step(calls.OUTGOING_ENDED, ring + call.duration),
        ]
        if call.recorded:
            steps.append(Step(calls.RECORDING_READY, ring + call.duration + 2))
        return steps
    steps = [Step(calls.STARTED, 0)]
    if scenario in ("missed", "busy"):
        rung = exts if scenario == "missed" else exts[:1]
        steps += [Step(calls.RINGING, 1, ext) for ext in rung]
        steps.append(Step(calls.ENDED, ring if scenario == "missed" else 2, ""))
        return steps
    if scenario == "transferred":
        first, last = exts[0], call.answered_by
        half = max(talk // 2, 1)
        steps += [
            Step(calls.RINGING, 1, first),
            Step(calls.ANSWERED, ring, first),
            Step(calls.RINGING, ring + half, last),
            Step(calls.ANSWERED, ring + half + 3, last),
        ]
    elif scenario == "ring_group_answered_elsewhere":
        steps += [Step(calls.RINGING, 1, ext) for ext in exts]
        steps.append(Step(calls.ANSWERED, ring, call.answered_by))
    else:  # answered
        steps += [
            Step(calls.RINGING, 1, call.answered_by),
            Step(calls.ANSWERED, ring, call.answered_by),
        ]
    steps.append(Step(calls.ENDED, ring + talk, call.extension))
    if call.recorded:
        steps.append(Step(calls.RECORDING_READY, ring + talk + 2))
    return steps
