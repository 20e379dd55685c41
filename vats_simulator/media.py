"""Deterministic recordings (pseudo-MP3, or real PCM WAV that browsers play) and HTTP
``Range`` handling."""

import hashlib
import io
import math
import re
import wave

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


# WAV recordings: 8 kHz, 16-bit, mono, like telephony audio (16,000 bytes a second).
WAV_RATE = 8000
WAV_HEADER_SIZE = 44
_WAV_TONE_HZ = 400
_WAV_AMPLITUDE = 2000
_wav_tone_cache = {}

#: Content-Type served for each recording format.
RECORDING_MIMETYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}


def _wav_tone_period():
    """One period of a quiet 400 Hz sine, as little-endian 16-bit samples."""
    period = _wav_tone_cache.get("period")
    if period is None:
        samples = WAV_RATE // _WAV_TONE_HZ
        period = b"".join(
            int(_WAV_AMPLITUDE * math.sin(2 * math.pi * i / samples)).to_bytes(
                2, "little", signed=True
            )
            for i in range(samples)
        )
        _wav_tone_cache["period"] = period
    return period


def fake_wav(recording_id, size):
    """``size`` bytes (at least a header and one sample) of a real, playable PCM WAV file:
    a quiet tone whose first samples depend on ``recording_id``, so that every recording has
    its own content (and checksum). The same ``recording_id`` always gives the same bytes."""
    size = max(int(size), WAV_HEADER_SIZE + 2)
    frames = (size - WAV_HEADER_SIZE) // 2
    period = _wav_tone_period()
    pcm = bytearray(period * (frames * 2 // len(period) + 1))
    del pcm[frames * 2 :]
    # A faint per-recording signature over the first 32 samples (|sample| < 128).
    salt = hashlib.sha256(str(recording_id).encode("utf-8")).digest()
    for i, byte in enumerate(salt):
        pcm[2 * i : 2 * i + 2] = (byte - 128).to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(WAV_RATE)
        writer.writeframes(bytes(pcm))
    data = out.getvalue()
    return data + b"\x00" * (size - len(data))


def recording_audio(recording_id, size, audio_format="mp3"):
    """The bytes of a recording in ``audio_format`` (``mp3``: pseudo-MP3 noise, ``wav``: a
    real PCM WAV)."""
    if audio_format == "wav":
        return fake_wav(recording_id, size)
    if audio_format != "mp3":
        raise ValueError(f"unknown recording format {audio_format!r}")
    return fake_mp3(recording_id, size)


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
