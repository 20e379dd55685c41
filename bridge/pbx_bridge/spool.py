"""A crash-safe, ordered disk queue of the events waiting for Odoo.

Layout of the spool directory:

- ``seg-<first seq, 20 digits>.log``: append-only segments. A record is a 16-byte header
  (payload length, CRC-32 of sequence number and payload, sequence number: big-endian
  ``>IIQ``) and the JSON payload. Sequence numbers grow by one per event, across
  segments and restarts.
- ``cursor.json``: the sequence number of the last event Odoo acknowledged, and where
  its record ends; replaced atomically (write, fsync, rename, fsync of the directory).

``append`` returns once the records are fsynced: an event handed over is then durable.
A crash in the middle of a write leaves at most one torn record at the end of the last
segment; it was never acknowledged to the caller (``append`` had not returned), and is
cut off when the spool is opened again. Reading resumes after the cursor, and records at
or below the acknowledged sequence number are skipped, so nothing is delivered twice
from the disk and nothing acknowledged is lost.

When the disk refuses a write (full, read-only, permissions), the events are kept in
memory, in order behind anything still unwritten, delivered from there, and written
again at the next ``append`` or ``retry_pending``; the failure is logged once per
outage, never raised.
"""

import collections
import json
import logging
import os
import struct
import threading
import zlib

_logger = logging.getLogger(__name__)

HEADER = struct.Struct(">IIQ")
MAX_RECORD = 16 * 1024 * 1024
SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".log"
CURSOR_FILE = "cursor.json"


def _segment_name(first_seq):
    return f"{SEGMENT_PREFIX}{first_seq:020d}{SEGMENT_SUFFIX}"


def _frame(seq, payload):
    crc = zlib.crc32(struct.pack(">Q", seq) + payload)
    return HEADER.pack(len(payload), crc, seq) + payload


def _fsync_dir(path):
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def read_records(path, start=0):
    """``(seq, payload, end_offset)`` of the whole records of segment ``path`` from byte
    ``start``, and the offset where the valid part ends (a torn or corrupt tail begins)."""
    records = []
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read()
    offset = 0
    while offset + HEADER.size <= len(data):
        length, crc, seq = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if length > MAX_RECORD or end > len(data):
            break
        payload = data[offset + HEADER.size : end]
        if zlib.crc32(struct.pack(">Q", seq) + payload) != crc:
            break
        records.append((seq, payload, start + end))
        offset = end
    return records, start + offset


class SpoolRecord:
    """One event read from the spool, with what committing it moves the cursor to."""

    __slots__ = ("seq", "event", "segment", "end")

    def __init__(self, seq, event, segment=None, end=None):
        self.seq = seq
        self.event = event
        self.segment = segment  # None: held in memory, not on disk
        self.end = end


class Spool:
    def __init__(self, directory, segment_bytes=4 * 1024 * 1024):
        self.directory = os.path.abspath(directory)
        self.segment_bytes = segment_bytes
        self._lock = threading.RLock()
        self._pending = collections.deque()  # (seq, payload) the disk refused
        self._disk_error = None
        self._writer = None
        self._writer_name = None
        self._writer_size = 0
        os.makedirs(self.directory, exist_ok=True)
        self._acked_seq, self._read_segment, self._read_pos = self._load_cursor()
        self._next_seq = self._recover() + 1
        self._next_seq = max(self._next_seq, self._acked_seq + 1)
        self.changed = threading.Condition(self._lock)

    # -- opening -------------------------------------------------------------------------------

    def _segments(self):
        names = [
            name
            for name in os.listdir(self.directory)
            if name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)
        ]
        return sorted(names)

    def _load_cursor(self):
        path = os.path.join(self.directory, CURSOR_FILE)
        try:
            with open(path, encoding="utf-8") as handle:
                cursor = json.load(handle)
            return int(cursor["seq"]), cursor.get("segment"), int(cursor.get("position") or 0)
        except FileNotFoundError:
            return 0, None, 0
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Records at or below the acknowledged number would be sent again: Odoo
            # ignores repeated event ids, so a lost cursor costs duplicates, not events.
            _logger.error("spool: unreadable cursor %s (%s): resending from the start", path, error)
            return 0, None, 0

    def _recover(self):
        """Cut a torn tail off the last segment; the highest sequence number on disk."""
        segments = self._segments()
        if not segments:
            return 0
        last = os.path.join(self.directory, segments[-1])
        records, valid_end = read_records(last)
        size = os.path.getsize(last)
        if valid_end < size:
            _logger.warning(
                "spool: %s ends with %d bytes of a record that was never completely written "
                "(the bridge stopped in the middle of a write): cut off",
                segments[-1],
                size - valid_end,
            )
            with open(last, "r+b") as handle:
                handle.truncate(valid_end)
                handle.flush()
                os.fsync(handle.fileno())
        if records:
            return records[-1][0]
        first_seq = int(segments[-1][len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)])
        return first_seq - 1

    # -- writing -------------------------------------------------------------------------------

    def _open_writer(self):
        if self._writer is not None and self._writer_size < self.segment_bytes:
            return
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        segments = self._segments()
        name = segments[-1] if segments else None
        if (
            name is None
            or os.path.getsize(os.path.join(self.directory, name)) >= self.segment_bytes
        ):
            name = _segment_name(self._first_unwritten_seq())
        path = os.path.join(self.directory, name)
        created = not os.path.exists(path)
        self._writer = open(path, "ab")  # noqa: SIM115 (kept open across appends)
        self._writer_name = name
        self._writer_size = self._writer.tell()
        if created:
            _fsync_dir(self.directory)

    def _first_unwritten_seq(self):
        return self._pending[0][0] if self._pending else self._next_seq

    def _write(self, frames):
        """Write and fsync ``frames``; the one place bytes reach the disk (tests patch it)."""
        self._open_writer()
        start = self._writer_size
        try:
            self._writer.write(b"".join(frames))
            self._writer.flush()
            os.fsync(self._writer.fileno())
        except OSError:
            # Leave no partial record behind for the next write to follow.
            try:
                self._writer.close()
            finally:
                self._writer = None
            try:
                with open(os.path.join(self.directory, self._writer_name), "r+b") as handle:
                    handle.truncate(start)
            except OSError:
                pass  # cut off at the next opening, as a torn tail
            raise
        self._writer_size = start + sum(map(len, frames))

    def _flush_pending(self):
        """Write the events the disk refused before; True when none is left in memory."""
        if not self._pending:
            return True
        try:
            self._write([_frame(seq, payload) for seq, payload in self._pending])
        except OSError as error:
            self._note_disk_error(error)
            return False
        _logger.warning(
            "spool: disk writable again, %d events kept in memory are now on disk",
            len(self._pending),
        )
        self._pending.clear()
        self._disk_error = None
        return True

    def _note_disk_error(self, error):
        reason = f"{type(error).__name__}: {error.strerror or error}"
        if self._disk_error != reason:
            _logger.error(
                "spool: cannot write to %s (%s): %d events kept in memory until it can",
                self.directory,
                reason,
                len(self._pending),
            )
        self._disk_error = reason

    def append(self, events):
        """Queue ``events`` (JSON-able dicts) in order. True once they are on disk and
        fsynced; False when the disk refused them and they wait in memory."""
        if isinstance(events, dict):
            events = [events]
        payloads = [
            json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
            for event in events
        ]
        if not payloads:
            return True
        with self._lock:
            numbered = []
            for payload in payloads:
                numbered.append((self._next_seq, payload))
                self._next_seq += 1
            durable = False
            if self._flush_pending():
                try:
                    self._write([_frame(seq, payload) for seq, payload in numbered])
                    durable = True
                except OSError as error:
                    self._pending.extend(numbered)
                    self._note_disk_error(error)
            else:
                self._pending.extend(numbered)
            self.changed.notify_all()
            return durable

    def retry_pending(self):
        """Try again to write the events held in memory; True when none is left."""
        with self._lock:
            return self._flush_pending()

    # -- reading -------------------------------------------------------------------------------

    def peek(self, limit):
        """Up to ``limit`` of the oldest unacknowledged events, as ``SpoolRecord``s, in order."""
        with self._lock:
            result = []
            segments = self._segments()
            if self._read_segment in segments:
                start_index = segments.index(self._read_segment)
                position = self._read_pos
            else:
                start_index, position = 0, 0
            for name in segments[start_index:]:
                if len(result) >= limit:
                    break
                records, _valid_end = read_records(os.path.join(self.directory, name), position)
                position = 0
                for seq, payload, end in records:
                    if seq <= self._acked_seq:
                        continue
                    result.append(SpoolRecord(seq, self._decode(seq, payload), name, end))
                    if len(result) >= limit:
                        break
            last_seq = result[-1].seq if result else self._acked_seq
            for seq, payload in self._pending:
                if len(result) >= limit:
                    break
                if seq > last_seq:
                    result.append(SpoolRecord(seq, self._decode(seq, payload)))
            return result

    @staticmethod
    def _decode(seq, payload):
        try:
            return json.loads(payload)
        except ValueError:
            # Framed and checksummed, so this is not a torn write: keep it visible.
            return {"_unreadable_spool_record": seq}

    def commit(self, records):
        """Acknowledge ``records`` (a prefix of the last ``peek``): never delivered again."""
        if not records:
            return
        with self._lock:
            last = records[-1]
            self._acked_seq = max(self._acked_seq, last.seq)
            while self._pending and self._pending[0][0] <= self._acked_seq:
                self._pending.popleft()
            on_disk = [record for record in records if record.segment is not None]
            if on_disk:
                self._read_segment, self._read_pos = on_disk[-1].segment, on_disk[-1].end
            try:
                self._save_cursor()
                self._drop_delivered_segments()
            except OSError as error:
                # The cursor stays where it was on disk: after a restart these events are
                # sent again, and Odoo ignores the repeated ids.
                self._note_disk_error(error)

    def _save_cursor(self):
        path = os.path.join(self.directory, CURSOR_FILE)
        temporary = path + ".tmp"
        cursor = {"seq": self._acked_seq, "segment": self._read_segment, "position": self._read_pos}
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(cursor, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(self.directory)

    def _drop_delivered_segments(self):
        segments = self._segments()
        for name, following in zip(segments, segments[1:], strict=False):
            first_of_next = int(following[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)])
            if first_of_next - 1 <= self._acked_seq and name != self._writer_name:
                os.remove(os.path.join(self.directory, name))

    # -- state ---------------------------------------------------------------------------------

    def depth(self):
        """How many events wait for Odoo (on disk and in memory)."""
        with self._lock:
            return self._next_seq - 1 - self._acked_seq

    def in_memory(self):
        with self._lock:
            return len(self._pending)

    @property
    def disk_error(self):
        return self._disk_error

    def wait(self, timeout):
        """Block until something is appended, or ``timeout`` seconds."""
        with self._lock:
            self.changed.wait(timeout)

    def close(self):
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
