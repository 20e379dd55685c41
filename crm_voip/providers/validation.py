"""The one check of public webhook input before anything of it is stored.

An adapter turns a PBX's request into ``CallEvent`` objects; whatever it lets through
(a NUL byte, a lone surrogate, an infinite duration, a thousand-level nested ``raw``, a
time in year 1) would make PostgreSQL or the JSON encoder fail deep inside the request,
and the PBX would see a 500 and retry it forever. ``read_webhook`` is the door every
webhook passes: the adapter's ``verify`` and ``parse``, then ``check_call_events``; it
raises nothing but ``WebhookError``.
"""

import logging
import math
from datetime import datetime, timezone

from . import events as ev
from .errors import MalformedEventError, WebhookError

_logger = logging.getLogger(__name__)

# Times outside these years are a sender's mistake (milliseconds, a zero date, garbage).
TIME_RANGE = (
    datetime(2000, 1, 1, tzinfo=timezone.utc),
    datetime(2100, 1, 1, tzinfo=timezone.utc),
)
# A week: no call lasts longer, and it fits every integer column the duration reaches.
MAX_DURATION = 7 * 86400
# The normalized text fields of an event (numbers, ids, references).
TEXT_MAX_LEN = 1024
# ``raw`` is kept for audit: bounded in depth, items and text, finite numbers only.
RAW_MAX_DEPTH = 16
RAW_MAX_ITEMS = 5000
RAW_MAX_TEXT = 65536
RAW_MAX_INT = 10**18

_TEXT_FIELDS = (
    "provider_call_id",
    "event_key",
    "from_number",
    "to_number",
    "did",
    "extension",
    "leg_id",
    "recording_ref",
    "origin_ref",
    "reason",
    "reason_code",
    "provider_event",
)
# What an adapter may raise while reading hostile input, past its own checks: turned
# into a refusal rather than a 500 (logged, since it means an adapter missed a case).
_READ_ERRORS = (
    ValueError,
    TypeError,
    ArithmeticError,
    LookupError,
    RecursionError,
    OSError,
)


def text_problem(value):
    """Why ``value`` cannot be stored as text (``None`` when it can): PostgreSQL refuses
    NUL characters, and a lone surrogate cannot be encoded to UTF-8."""
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate"
    return None


def _scalar_problem(value):
    """Why a JSON scalar of ``raw`` cannot be stored (``None`` when it can)."""
    if isinstance(value, str):
        problem = text_problem(value)
        if not problem and len(value) > RAW_MAX_TEXT:
            problem = f"text longer than {RAW_MAX_TEXT} characters"
        return problem
    if isinstance(value, int) and abs(value) > RAW_MAX_INT:
        return "number out of range"
    if isinstance(value, float) and not math.isfinite(value):
        return "number is not finite"
    return None


def _check_raw(value, where, depth=0, budget=None):
    """Walk ``raw``: JSON types only, bounded in depth and items, storable."""
    if budget is None:
        budget = [RAW_MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise MalformedEventError(f"{where}: more than {RAW_MAX_ITEMS} items")
    if depth > RAW_MAX_DEPTH:
        raise MalformedEventError(f"{where}: nested deeper than {RAW_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str, int, float)):
        problem = _scalar_problem(value)
        if problem:
            raise MalformedEventError(f"{where}: {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _scalar_problem(key) if isinstance(key, str) else "is not text"
            if problem or len(key) > TEXT_MAX_LEN:
                raise MalformedEventError(f"{where}: a key {problem or 'is too long'}")
            _check_raw(item, f"{where}.{key[:32]}", depth + 1, budget)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_raw(item, f"{where}[{index}]", depth + 1, budget)
    else:
        raise MalformedEventError(f"{where}: value of type {type(value).__name__}")


def _check_time(value, where, required):
    if value is None:
        if required:
            raise MalformedEventError(f"{where}: missing")
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MalformedEventError(f"{where}: not an aware time")
    if not TIME_RANGE[0] <= value < TIME_RANGE[1]:
        raise MalformedEventError(f"{where}: {value.year} is out of range")


def check_call_event(call_event, where="event"):
    """Raise ``MalformedEventError`` unless every field of ``call_event`` can be stored
    and applied as it is."""
    for name in _TEXT_FIELDS:
        value = getattr(call_event, name)
        problem = text_problem(value)
        if problem:
            raise MalformedEventError(f"{where}.{name}: {problem}")
        if len(value) > TEXT_MAX_LEN:
            raise MalformedEventError(f"{where}.{name}: longer than {TEXT_MAX_LEN} characters")
    if not call_event.provider_call_id.strip() or not call_event.event_key.strip():
        raise MalformedEventError(f"{where}: blank call id or event key")
    _check_time(call_event.occurred_at, f"{where}.occurred_at", required=True)
    _check_time(call_event.call_started_at, f"{where}.call_started_at", required=False)
    duration = call_event.duration
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise MalformedEventError(f"{where}.duration: not a whole number of seconds")
        if not 0 <= duration <= MAX_DURATION:
            raise MalformedEventError(f"{where}.duration: {duration} s is out of range")
    if not isinstance(call_event.raw, dict):
        raise MalformedEventError(f"{where}.raw: not an object")
    _check_raw(call_event.raw, f"{where}.raw")


def check_call_events(call_events):
    """Check every event of a request: one bad event refuses them all, so that what a
    request stores is all of it or nothing."""
    if not isinstance(call_events, list):
        raise MalformedEventError("the adapter read no list of events")
    for index, call_event in enumerate(call_events):
        if not isinstance(call_event, ev.CallEvent):
            raise MalformedEventError(f"events[{index}]: not a call event")
        check_call_event(call_event, f"events[{index}]")
    return call_events


def read_webhook(adapter, request):
    """``(verified, call_events)`` of a webhook request, checked for storage.

    Raises only ``WebhookError``: the adapter's own refusals as they are, anything else
    it raises on hostile input as a ``MalformedEventError``.
    """
    try:
        verified = adapter.verify(request)
        call_events = adapter.parse(request)
        check_call_events(call_events)
    except WebhookError:
        raise
    except _READ_ERRORS as error:
        _logger.warning(
            "crm_voip: %s could not read a webhook: %s", adapter.name, error, exc_info=True
        )
        raise MalformedEventError(f"Unreadable request ({type(error).__name__})") from None
    return verified, call_events
