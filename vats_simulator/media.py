"""Deterministic pseudo-MP3 recordings and HTTP ``Range`` handling."""

import hashlib
import re

_FRAME_HEADER = b"\xff\xfb\x90\x64"  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
_FRAME_SIZE = 417
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def fake_mp3(recording_id, size):
    """``size`` bytes that look like an MP3: an ID3v2.4 header, then frames of noise.

    The same ``recording_id`` always gives the same bytes.
    """
    size = max(int(size), 0)
    header = b"ID3\x04\x00\x00\x00\x00\x00\x00"
    noise = hashlib.shake_256(str(recording_id).encode("utf-8")).digest(max(size, 1))
    out = bytearray(header)
    pos = 0
    payload = _FRAME_SIZE - len(_FRAME_HEADER)
    while len(out) < size:
        out += _FRAME_HEADER
        out += noise[pos : pos + payload]
        pos += payload
    return bytes(out[:size])


def parse_range(header, size):
    """``(start, end)`` inclusive for a single ``bytes=`` range, ``None`` to serve everything
    (no header, several ranges, or a syntax we ignore), or ``"unsatisfiable"``."""
    if not header or "," in header:
        return None
    match = _RANGE_RE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)
