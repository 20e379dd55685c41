"""The bridge's disk spool: durable once ``append`` returns, in order, no duplicates, a
torn tail cut off, a refusing disk survived (events kept in memory, written later)."""

import errno
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "bridge"
if str(BRIDGE) not in sys.path:
    sys.path.insert(0, str(BRIDGE))

from pbx_bridge import spool as spool_module  # noqa: E402
from pbx_bridge.spool import Spool  # noqa: E402


def _events(start, count):
    return [{"id": f"e{number}", "n": number} for number in range(start, start + count)]


def _drain(spool, limit=1000):
    records = spool.peek(limit)
    spool.commit(records)
    return [record.event["n"] for record in records]


def test_append_peek_commit_in_order_across_reopen(tmp_path):
    spool = Spool(tmp_path, segment_bytes=300)
    assert spool.append(_events(0, 10)) is True
    assert spool.depth() == 10
    first = spool.peek(4)
    assert [record.event["n"] for record in first] == [0, 1, 2, 3]
    assert [record.event["n"] for record in spool.peek(4)] == [0, 1, 2, 3]  # peek moves nothing
    spool.commit(first)
    spool.close()

    reopened = Spool(tmp_path, segment_bytes=300)
    assert reopened.depth() == 6
    assert _drain(reopened) == [4, 5, 6, 7, 8, 9]
    reopened.append(_events(10, 3))
    assert _drain(reopened) == [10, 11, 12]
    assert reopened.depth() == 0


def test_delivered_segments_are_removed(tmp_path):
    spool = Spool(tmp_path, segment_bytes=200)
    for number in range(30):
        spool.append(_events(number, 1))
    assert len(list(tmp_path.glob("seg-*.log"))) > 3
    assert _drain(spool) == list(range(30))
    assert len(list(tmp_path.glob("seg-*.log"))) == 1  # only the one being written
    spool.close()
    assert _drain(Spool(tmp_path, segment_bytes=200)) == []


def test_torn_tail_is_cut_off_at_opening(tmp_path, caplog):
    spool = Spool(tmp_path)
    spool.append(_events(0, 3))
    spool.close()
    segment = sorted(tmp_path.glob("seg-*.log"))[-1]
    whole = segment.read_bytes()
    # Half of a fourth record: the header promises more than was written.
    record = spool_module._frame(4, b'{"id":"e3","n":3}')
    segment.write_bytes(whole + record[: len(record) // 2])

    reopened = Spool(tmp_path)
    assert "never completely written" in caplog.text
    assert segment.read_bytes() == whole
    assert _drain(reopened) == [0, 1, 2]
    reopened.append(_events(3, 1))  # numbered after the last whole record
    assert _drain(reopened) == [3]


def test_corrupt_record_ends_the_valid_part(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_events(0, 3))
    spool.close()
    segment = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = bytearray(segment.read_bytes())
    data[-2] ^= 0xFF  # a flipped byte in the last record's payload
    segment.write_bytes(bytes(data))
    assert _drain(Spool(tmp_path)) == [0, 1]


def test_refused_writes_stay_in_memory_and_reach_the_disk_later(tmp_path, monkeypatch, caplog):
    spool = Spool(tmp_path)
    spool.append(_events(0, 2))
    real_write = Spool._write

    def disk_full(self, frames):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Spool, "_write", disk_full)
    assert spool.append(_events(2, 2)) is False
    assert spool.append(_events(4, 1)) is False
    assert "No space left on device" in caplog.text
    assert caplog.text.count("cannot write") == 1  # once per outage, not per event
    assert spool.in_memory() == 3
    assert spool.disk_error
    # Delivery goes on from memory, in order, behind what is on disk.
    first = spool.peek(3)
    assert [record.event["n"] for record in first] == [0, 1, 2]
    spool.commit(first)
    assert spool.in_memory() == 2

    monkeypatch.setattr(Spool, "_write", real_write)
    assert spool.append(_events(5, 1)) is True  # the held events are written first
    assert spool.in_memory() == 0 and not spool.disk_error
    spool.close()
    assert _drain(Spool(tmp_path)) == [3, 4, 5]


def test_unwritable_directory_does_not_raise(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool", segment_bytes=10)  # a segment per append
    spool.append(_events(0, 1))

    def refuse(path, mode="r", *args, **kwargs):
        if "a" in mode and str(path).endswith(".log"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(spool_module, "open", refuse, raising=False)
    assert spool.append(_events(1, 1)) is False  # a new segment cannot be created
    assert [record.event["n"] for record in spool.peek(10)] == [0, 1]
    monkeypatch.delattr(spool_module, "open")
    assert spool.retry_pending() is True
    assert _drain(spool) == [0, 1]


WRITER = """
import sys
sys.path.insert(0, {bridge!r})
from pbx_bridge.spool import Spool
spool = Spool({directory!r}, segment_bytes=4096)
number = {start}
while True:
    spool.append([{{"id": "e%d" % number, "n": number, "pad": "x" * (number % 300)}}])
    sys.stdout.write("%d\\n" % number)
    sys.stdout.flush()
    number += 1
"""


def _run_writer(directory, start, acknowledged, kill_after):
    script = WRITER.format(bridge=str(BRIDGE), directory=str(directory), start=start)
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        deadline = time.monotonic() + 30
        while len(acknowledged) < kill_after and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
    finally:
        process.send_signal(signal.SIGKILL)  # in the middle of whatever it was doing
        process.wait()
        process.stdout.close()


@pytest.mark.parametrize("rounds", [3])
def test_killed_writer_loses_no_acknowledged_event(tmp_path, rounds):
    acknowledged = []
    delivered = []
    for round_number in range(rounds):
        _run_writer(tmp_path, len(acknowledged) + 10_000 * round_number, acknowledged, 150)
        reopened = Spool(tmp_path, segment_bytes=4096)
        records = reopened.peek(100_000)
        numbers = [record.event["n"] for record in records]
        # Deliver half, as the poster would have before the next crash.
        reopened.commit(records[: len(records) // 2])
        delivered.extend(numbers[: len(numbers) // 2])
        reopened.close()
        # In order, no duplicates, and everything acknowledged is there (an event whose
        # append had not returned may or may not be).
        assert numbers == sorted(set(numbers))
    final = Spool(tmp_path, segment_bytes=4096)
    delivered.extend(_drain(final, 100_000))
    assert delivered == sorted(set(delivered))
    missing = set(acknowledged) - set(delivered)
    assert not missing, f"acknowledged events lost: {sorted(missing)[:10]}"


def test_cursor_file_is_replaced_atomically(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_events(0, 2))
    spool.commit(spool.peek(1))
    cursor = json.loads((tmp_path / "cursor.json").read_text())
    assert cursor["seq"] == 1
    assert not os.path.exists(tmp_path / "cursor.json.tmp")
