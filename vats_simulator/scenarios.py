"""Scripted calls and the payloads each provider sends for them.

A scenario is first written as provider-neutral steps (``start``, ``ring``, ``answer``, ``end``,
``out_start``, ``out_end``, ``record``); each provider then renders the steps into its own
payloads: Zadarma form fields in the documented order, or events of the generic JSON protocol.
"""

import datetime as dt
import secrets
from dataclasses import dataclass, field

from .accounts import resolve_timezone, to_utc

PROVIDERS = ("zadarma", "generic")

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
        "use_missed_event",
    }
)

DEFAULT_CALLER = "79161234567"
DEFAULT_DID = "74951234567"

# Neutral disposition -> (Zadarma webhook value, Zadarma statistics value, Q.931 status code).
_ZADARMA_DISPOSITIONS = {
    "answered": ("answered", "answered", "16"),
    "busy": ("busy", "busy", "17"),
    "no_answer": ("no answer", "no answer", "19"),
    "cancel": ("cancel", "cancel", "16"),
    "failed": ("failed", "call failed", "41"),
}
_DISPOSITION_ALIASES = {"no answer": "no_answer", "noanswer": "no_answer", "call failed": "failed"}

MALFORMED_BODIES = {
    "zadarma": b"\xff\xfe%%%event&&=NOTIFY_?&call_start=%ZZ\x00",
    "generic": b'{"events": [{"id": "evt_broken", "type": "call.started", "call_id": ',
}


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


@dataclass
class Plan:
    """What a scenario sends: the payloads, how they are signed, and the calls they describe."""

    provider: str
    scenario: str
    events: list
    signing: str = "valid"  # valid / bad / none
    calls: list = field(default_factory=list)
    recordings: list = field(default_factory=list)  # (recording_id, call_id, extension)


def normalize_disposition(value):
    value = (value or "").strip().lower()
    value = _DISPOSITION_ALIASES.get(value, value)
    if value not in _ZADARMA_DISPOSITIONS:
        raise ValueError(
            f"unknown disposition {value!r}; use one of {sorted(_ZADARMA_DISPOSITIONS)}"
        )
    return value


def zadarma_disposition(neutral, statistics=False):
    webhook, stats, _code = _ZADARMA_DISPOSITIONS[neutral]
    return stats if statistics else webhook


def new_call_id(provider, direction="inbound"):
    """A fresh id in the provider's format: Zadarma ``in_``/``out_`` + 40 hex, generic ``call_``."""
    if provider == "zadarma":
        return ("out_" if direction == "outbound" else "in_") + secrets.token_hex(20)
    return "call_" + secrets.token_hex(12)


def new_recording_id(provider, start, extension, tzinfo=dt.timezone.utc):
    """Zadarma ``1-<unix>.<micro>-<ext>-<local YYYY-MM-DD-HHMMSS>``, generic ``rec_<hex>``."""
    if provider == "zadarma":
        local = start.astimezone(tzinfo).strftime("%Y-%m-%d-%H%M%S")
        micro = secrets.randbelow(10**6)
        return f"1-{int(start.timestamp())}.{micro:06d}-{extension or '0'}-{local}"
    return "rec_" + secrets.token_hex(12)


def build_plan(provider, scenario, tzinfo=None, **params):
    """Resolve the parameters of ``scenario`` and render its payloads for ``provider``."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; use one of {PROVIDERS}")
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; use one of {SCENARIOS}")
    unknown = set(params) - SCENARIO_PARAMS
    if unknown:
        raise TypeError(f"unknown scenario parameter(s): {', '.join(sorted(unknown))}")
    tzinfo = resolve_timezone(tzinfo) if tzinfo is not None else dt.timezone.utc
    if scenario == "malformed":
        return Plan(provider, scenario, [MALFORMED_BODIES[provider]])
    call = _resolve(provider, scenario, tzinfo, params)
    steps, signing, repeat = _steps(scenario, call, params)
    render = _render_zadarma if provider == "zadarma" else _render_generic
    events = [render(step, call, tzinfo, params) for step in steps]
    if repeat > 1:
        events = [event for event in events for _ in range(repeat)]
    plan = Plan(provider, scenario, events, signing=signing)
    if scenario in CALL_SCENARIOS:
        plan.calls.append(call["record"])
    if call["recording_id"] and (scenario == "recording_ready" or call["record"].recording_id):
        plan.recordings.append((call["recording_id"], call["call_id"], call["recording_ext"]))
    return plan


def _resolve(provider, scenario, tzinfo, params):
    base = params.get("base", "answered") if scenario == "duplicates" else scenario
    if scenario == "duplicates" and (
        base not in CALL_SCENARIOS or base in ("duplicates", "out_of_order")
    ):
        raise ValueError(f"duplicates cannot repeat the {base!r} scenario")
    outbound = base == "outgoing"
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
    call_id = str(params.get("call_id") or new_call_id(provider, "outbound" if outbound else ""))

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
        default = {"missed": "cancel" if provider == "zadarma" else "no_answer", "busy": "busy"}
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
        recording_id = new_recording_id(provider, start, rec_ext, tzinfo)
    record = CallRecord(
        provider=provider,
        call_id=call_id,
        direction="outbound" if outbound else "inbound",
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
    return {
        "base": base,
        "call_id": call_id,
        "caller": caller,
        "did": did,
        "extensions": extensions,
        "answered_by": answered_by,
        "extension": extension,
        "number": number,
        "start": start,
        "ring": ring,
        "talk": talk,
        "disposition": disposition,
        "duration": duration,
        "recording_id": recording_id,
        "recording_ext": rec_ext,
        "record": record,
    }


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
    """(steps, signing, repeat) for ``scenario``; a step is ``(kind, offset_seconds, data)``."""
    if scenario == "recording_ready":
        return [("record", 0, {})], "valid", 1
    if scenario in ("bad_signature", "unsigned"):
        return [("start", 0, {})], ("bad" if scenario == "bad_signature" else "none"), 1
    if scenario == "duplicates":
        steps, _signing, _repeat = _steps(call["base"], call, params)
        return steps, "valid", 2
    if scenario == "out_of_order":
        steps = _call_steps("answered", call)
        ended = [s for s in steps if s[0] == "end"]
        answered = [s for s in steps if s[0] == "answer"]
        return ended + answered, "valid", 1
    return _call_steps(scenario, call), "valid", 1


def _call_steps(scenario, call):
    ring, talk = call["ring"], call["talk"]
    exts = call["extensions"]
    steps = []
    if scenario == "outgoing":
        steps.append(("out_start", 0, {}))
        steps.append(("out_end", ring + call["duration"], {}))
        if call["record"].recording_id:
            steps.append(("record", ring + call["duration"] + 2, {}))
        return steps
    steps.append(("start", 0, {}))
    if scenario in ("missed", "busy"):
        rung = exts if scenario == "missed" else exts[:1]
        steps += [("ring", 1, {"ext": ext}) for ext in rung]
        steps.append(("end", ring if scenario == "missed" else 2, {"ext": ""}))
        return steps
    if scenario == "transferred":
        first, last = exts[0], call["answered_by"]
        half = max(talk // 2, 1)
        steps += [
            ("ring", 1, {"ext": first}),
            ("answer", ring, {"ext": first}),
            ("ring", ring + half, {"ext": last}),
            ("answer", ring + half + 3, {"ext": last}),
        ]
    elif scenario == "ring_group_answered_elsewhere":
        steps += [("ring", 1, {"ext": ext}) for ext in exts]
        steps.append(("answer", ring, {"ext": call["answered_by"]}))
    else:  # answered
        steps += [
            ("ring", 1, {"ext": call["answered_by"]}),
            ("answer", ring, {"ext": call["answered_by"]}),
        ]
    steps.append(("end", ring + talk, {"ext": call["extension"]}))
    if call["record"].recording_id:
        steps.append(("record", ring + talk + 2, {}))
    return steps


def _render_zadarma(step, call, tzinfo, params):
    kind, _offset, data = step
    call_start = call["start"].astimezone(tzinfo).strftime("%Y-%m-%d %H:%M:%S")
    cid = call["call_id"]
    rec = call["recording_id"] if (call["record"].recording_id or kind == "record") else ""
    webhook_disp, _stats, status_code = _ZADARMA_DISPOSITIONS[call["disposition"]]
    if kind == "start":
        return {
            "event": "NOTIFY_START",
            "call_start": call_start,
            "pbx_call_id": cid,
            "caller_id": call["caller"],
            "called_did": call["did"],
        }
    if kind == "ring":
        return {
            "event": "NOTIFY_INTERNAL",
            "call_start": call_start,
            "pbx_call_id": cid,
            "caller_id": call["caller"],
            "called_did": call["did"],
            "internal": data["ext"],
        }
    if kind == "answer":
        return {
            "event": "NOTIFY_ANSWER",
            "caller_id": call["caller"],
            "destination": call["did"],
            "call_start": call_start,
            "pbx_call_id": cid,
            "internal": data["ext"],
        }
    if kind == "end":
        payload = {
            "event": "NOTIFY_END",
            "call_start": call_start,
            "pbx_call_id": cid,
            "caller_id": call["caller"],
            "called_did": call["did"],
        }
        if data["ext"]:
            payload["internal"] = data["ext"]
        payload.update(_zadarma_outcome(call, webhook_disp, status_code, rec))
        return payload
    if kind == "out_start":
        return {
            "event": "NOTIFY_OUT_START",
            "call_start": call_start,
            "pbx_call_id": cid,
            "internal": call["extension"],
            "destination": call["number"],
        }
    if kind == "out_end":
        payload = {
            "event": "NOTIFY_OUT_END",
            "call_start": call_start,
            "pbx_call_id": cid,
            # In production this is the external CallerID, not the extension.
            "caller_id": call["did"],
            "destination": call["number"],
            "internal": call["extension"],
        }
        payload.update(_zadarma_outcome(call, webhook_disp, status_code, rec))
        return payload
    if kind == "record":
        return {"event": "NOTIFY_RECORD", "call_id_with_rec": rec, "pbx_call_id": cid}
    raise AssertionError(kind)


def _zadarma_outcome(call, disposition, status_code, rec):
    return {
        "duration": str(call["duration"]),
        "disposition": disposition,
        "status_code": status_code,
        "is_recorded": "1" if rec else "0",
        "call_id_with_rec": rec,
    }


def iso_utc(when):
    return when.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _render_generic(step, call, tzinfo, params):
    kind, offset, data = step
    cid = call["call_id"]
    when = iso_utc(call["start"] + dt.timedelta(seconds=offset))
    event = {"id": "evt_" + secrets.token_hex(16), "call_id": cid}
    outbound = call["record"].direction == "outbound"
    if kind == "record":
        event.update(type="call.recording", recording_id=call["recording_id"], timestamp=when)
        if call["recording_ext"]:
            event["extension"] = call["recording_ext"]
        return _ordered(event)
    if outbound:
        event.update(direction="outbound", **{"from": call["extension"], "to": call["number"]})
        event["extension"] = call["extension"]
    else:
        event.update(direction="inbound", **{"from": call["caller"], "to": call["did"]})
        event["did"] = call["did"]
    if kind == "start":
        event["type"] = "call.started"
    elif kind in ("ring", "answer"):
        event["type"] = "call.ringing" if kind == "ring" else "call.answered"
        event["to"] = data["ext"]
        event["extension"] = data["ext"]
        event["leg_id"] = f"{cid}:{data['ext']}"
    elif kind == "out_start":
        event["type"] = "call.outgoing"
    elif kind in ("end", "out_end"):
        missed = call["disposition"] != "answered" and params.get("use_missed_event")
        event["type"] = "call.missed" if missed else "call.ended"
        if kind == "end" and data["ext"]:
            event["extension"] = data["ext"]
        event["disposition"] = call["disposition"]
        event["duration"] = call["duration"]
        if call["record"].recording_id:
            event["recording_id"] = call["recording_id"]
    else:
        raise AssertionError(kind)
    event["timestamp"] = when
    return _ordered(event)


_GENERIC_ORDER = (
    "id",
    "type",
    "call_id",
    "leg_id",
    "direction",
    "from",
    "to",
    "did",
    "extension",
    "timestamp",
    "disposition",
    "duration",
    "recording_id",
)


def _ordered(event):
    ordered = {key: event[key] for key in _GENERIC_ORDER if key in event}
    ordered.update((key, value) for key, value in event.items() if key not in ordered)
    return ordered
