"""The Asterisk benchmark's folding (``benchmarks/asterisk_bridge.py``) on a tiny stream:
each copy of the real streams is a new set of calls, all closed."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import asterisk_bridge  # noqa: E402


def test_each_copy_folds_into_new_calls():
    template = asterisk_bridge.StreamTemplate(asterisk_bridge.REAL_STREAMS.glob("*.ami"))
    streams = len(list(asterisk_bridge.REAL_STREAMS.glob("*.ami")))
    totals = asterisk_bridge.fold_benchmark(template, copies=3, batch=2)
    assert totals["messages"] == 3 * template.events
    assert totals["calls"] == 3 * streams
    assert totals["open_calls"] == 0
