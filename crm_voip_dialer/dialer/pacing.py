"""Dialer decisions that need no database: calling windows, retry times and power pacing.

Kept free of Odoo so that ``tests/test_dialer_pacing.py`` checks them with plain pytest.
"""

import math
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Attempts that must finish before the measured answer rate is trusted for power pacing;
# before that the dialer assumes every call is answered (no call is dialled ahead blindly).
MIN_HISTORY = 20
RETRY_OUTCOMES = ("no_answer", "busy", "failed", "abandoned")


def zone(name, default="UTC"):
    """A ``ZoneInfo`` for ``name``; ``default`` when the name is unknown or empty."""
    for candidate in (name, default, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return timezone.utc


def local_time(tz_name, now_utc):
    """``now_utc`` (naive UTC, as Odoo stores it, or aware) in the contact's timezone."""
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=timezone.utc)
    return now_utc.astimezone(zone(tz_name))


def in_window(tz_name, now_utc, start_hour, end_hour, weekdays=None):
    """Whether a contact in ``tz_name`` may be called now.

    ``start_hour``/``end_hour`` are float hours (9.5 = 09:30) of the contact's local day,
    end excluded; a window that ends before it starts spans midnight. ``weekdays``: the
    allowed ISO days (1 = Monday); ``None`` allows every day.
    """
    local = local_time(tz_name, now_utc)
    if weekdays is not None and local.isoweekday() not in weekdays:
        return False
    hour = local.hour + local.minute / 60.0 + local.second / 3600.0
    if start_hour == end_hour:
        return True  # a 24-hour window
    if start_hour < end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour


def allowed_timezones(tz_names, now_utc, start_hour, end_hour, weekdays=None):
    """The subset of ``tz_names`` whose local time is inside the window."""
    return sorted(
        name for name in set(tz_names) if in_window(name, now_utc, start_hour, end_hour, weekdays)
    )


def next_attempt(outcome, now, attempt_count, max_attempts, delays):
    """When to call again after ``outcome``: a datetime, or ``None`` for "no more attempts".

    ``delays`` maps an outcome (``no_answer``, ``busy``, ``failed``, ``abandoned``) to
    minutes; an outcome not in :data:`RETRY_OUTCOMES` is final.
    """
    if outcome not in RETRY_OUTCOMES or attempt_count >= max_attempts:
        return None
    minutes = delays.get(outcome)
    if minutes is None:
        minutes = delays.get("no_answer", 60)
    return now + timedelta(minutes=max(0, minutes))


def abandon_rate(answered, abandoned):
    """Abandoned calls over answered calls (an abandoned call was answered by the client)."""
    return abandoned / answered if answered else 0.0


def calls_to_place(
    mode,
    free_agents,
    in_flight=0,
    ratio=1.0,
    answered=0,
    abandoned=0,
    finished=0,
    abandon_cap=0.03,
):
    """How many new calls a tick places for one campaign.

    - ``preview``: none (the agent dials from his card);
    - ``progressive``: one per free agent (``in_flight`` is 0: each call holds its agent);
    - ``power``: up to ``ratio`` calls per free agent, minus the calls already ringing with
      no agent (``in_flight``). Calls beyond the free agents are only placed while the
      abandon rate so far is under ``abandon_cap`` *and* the expected abandons of this
      batch keep it under the cap, with the answer rate measured over ``finished``
      attempts (assumed 100% before :data:`MIN_HISTORY`).
    """
    if free_agents <= 0 or mode == "preview":
        return 0
    if mode != "power":
        return free_agents
    base = max(0, free_agents - in_flight)
    target = max(0, math.ceil(free_agents * max(ratio, 1.0)) - in_flight)
    if target <= base or abandon_rate(answered, abandoned) >= abandon_cap:
        return base
    answer_rate = answered / finished if finished >= MIN_HISTORY else 1.0
    best = base
    for count in range(base + 1, target + 1):
        expected_answers = (in_flight + count) * answer_rate
        expected_abandons = max(0.0, expected_answers - free_agents)
        total_answers = answered + expected_answers
        if total_answers and (abandoned + expected_abandons) / total_answers > abandon_cap:
            break
        best = count
    return best
