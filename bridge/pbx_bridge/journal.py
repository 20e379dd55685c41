"""A small sqlite journal of the calls the bridge folded, for Odoo's reconciliation
(``GET /history``): one row per call, updated by its events."""

import sqlite3
import threading
from datetime import datetime, timezone


def _epoch(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return None


class Journal:
    def __init__(self, path, keep_days=35):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS calls (call_id TEXT PRIMARY KEY, direction TEXT, "
            "from_number TEXT, to_number TEXT, extension TEXT, start REAL, duration INTEGER, "
            "disposition TEXT, recording_id TEXT)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS calls_start ON calls (start)")
        self.keep_days = keep_days

    def record(self, events):
        """Fold ``events`` (generic webhook event dicts) into their calls' rows."""
        with self._lock:
            for event in events:
                self._record(event)

    def _record(self, event):
        call_id = event.get("call_id")
        kind = event.get("type")
        if not call_id or not kind:
            return
        start = _epoch(event.get("timestamp"))
        self._db.execute(
            "INSERT OR IGNORE INTO calls (call_id, direction, from_number, to_number, start) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                call_id,
                event.get("direction") or ("outbound" if kind == "call.outgoing" else "inbound"),
                event.get("from") or "",
                event.get("to") or "",
                start,
            ),
        )
        if kind == "call.answered" and event.get("extension"):
            self._db.execute(
                "UPDATE calls SET extension = ? WHERE call_id = ?", (event["extension"], call_id)
            )
        elif kind in ("call.ended", "call.missed"):
            self._db.execute(
                "UPDATE calls SET disposition = ?, duration = ?, "
                "extension = COALESCE(NULLIF(?, ''), extension) WHERE call_id = ?",
                (
                    event.get("disposition") or "no_answer",
                    event.get("duration"),
                    event.get("extension") or "",
                    call_id,
                ),
            )
        elif kind == "call.recording" and event.get("recording_id"):
            self._db.execute(
                "UPDATE calls SET recording_id = ? WHERE call_id = ?",
                (event["recording_id"], call_id),
            )

    def calls(self, start, end, limit=5000):
        """The calls started between Unix times ``start`` and ``end``, as history rows."""
        with self._lock:
            rows = self._db.execute(
                "SELECT call_id, direction, from_number, to_number, extension, start, duration, "
                "disposition, recording_id FROM calls WHERE start >= ? AND start < ? "
                "ORDER BY start LIMIT ?",
                (start, end, limit),
            ).fetchall()
        return [
            {
                "call_id": row[0],
                "direction": row[1],
                "from": row[2],
                "to": row[3],
                "extension": row[4] or "",
                "start": datetime.fromtimestamp(row[5], timezone.utc).isoformat(),
                "duration": row[6],
                "disposition": row[7] or "",
                "recording_id": row[8] or "",
            }
            for row in rows
        ]

    def prune(self, now):
        with self._lock:
            self._db.execute("DELETE FROM calls WHERE start < ?", (now - self.keep_days * 86400,))

    def close(self):
        with self._lock:
            self._db.close()
