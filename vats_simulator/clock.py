"""Time helpers shared by the PBX modules: timezones, UTC, ISO 8601."""

import datetime as dt
import re

_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def resolve_timezone(name):
    """A ``tzinfo`` from an IANA name (``Europe/Moscow``) or an offset (``UTC+3``, ``+03:00``)."""
    if isinstance(name, dt.tzinfo):
        return name
    if not name or name.upper() in ("UTC", "GMT", "Z"):
        return dt.timezone.utc
    match = _OFFSET_RE.match(name.strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        delta = dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return dt.timezone(sign * delta)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError, missing tz database
        raise ValueError(f"unknown timezone {name!r}") from exc


def to_utc(when):
    """An aware UTC datetime; a naive one is taken to be UTC already; ``None`` is now."""
    if when is None:
        return utcnow()
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso_utc(when):
    return when.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def parse_when(text):
    """ISO 8601 (``Z`` allowed; naive means UTC) or Unix seconds, as an aware UTC datetime."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text), dt.timezone.utc)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
