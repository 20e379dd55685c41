"""The PBX accounts the simulator plays: where to post webhooks and which secrets to use."""

import datetime as dt
import re
from dataclasses import dataclass, field

from .signing import ZADARMA_ENCODINGS

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


def utc_offset_label(tzinfo, when=None):
    """Zadarma's ``timezone`` label for an offset: ``UTC+3``, ``UTC-5``, ``UTC+5:30``, ``UTC+0``."""
    when = when or dt.datetime.now(dt.timezone.utc)
    offset = when.astimezone(tzinfo).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@dataclass
class ZadarmaAccount:
    """A Zadarma (or Novofon) account: webhooks go to ``webhook_url``, REST calls are checked
    against ``api_key``/``api_secret``, and ``call_start`` is written in ``timezone``."""

    webhook_url: str
    api_key: str
    api_secret: str
    timezone: str = "Europe/Moscow"
    signature_encoding: str = "base64_hex"
    pbx_id: int = 1234
    tzinfo: dt.tzinfo = field(init=False, repr=False)

    provider = "zadarma"

    def __post_init__(self):
        if self.signature_encoding not in ZADARMA_ENCODINGS:
            raise ValueError(
                f"signature_encoding must be one of {ZADARMA_ENCODINGS}, "
                f"not {self.signature_encoding!r}"
            )
        self.tzinfo = resolve_timezone(self.timezone)

    def local(self, when):
        """``when`` (aware, or naive meaning UTC) as the account's ``YYYY-MM-DD HH:MM:SS``."""
        return to_utc(when).astimezone(self.tzinfo).strftime("%Y-%m-%d %H:%M:%S")

    def parse_local(self, text):
        """The reverse of :meth:`local`: an aware UTC datetime."""
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
        return naive.replace(tzinfo=self.tzinfo).astimezone(dt.timezone.utc)


@dataclass
class GenericAccount:
    """A sender of the suite's generic signed JSON protocol (``generic_webhook.md``)."""

    webhook_url: str
    webhook_secret: str
    api_key: str

    provider = "generic"


def to_utc(when):
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if when is None:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)
