"""A call of the PBX's call history told as the webhooks' events; the PBXs' history limits."""

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from provider_support import http_response, patch_transport
from voip_callstate import machine
from voip_providers import errors, get_adapter_class, history, telfin, zadarma
from voip_providers import events as ev
from voip_providers.events import HistoryCall
from voip_test_local_http import LocalServer

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def test_answered_call_is_one_end_event_with_the_talk_time():
    call = HistoryCall(
        "in_1", ev.INBOUND, "74957654321", "74951204567", "101", T0, 65, "answered", "rec-1"
    )
    (event,) = history.history_events(call)
    assert (event.kind, event.provider_call_id, event.event_key) == (
        ev.ENDED,
        "in_1",
        "history:in_1:ended",
    )
    assert (event.from_number, event.to_number, event.did, event.extension) == (
        "74957654321",
        "74951204567",
        "74951204567",
        "101",
    )
    assert event.call_started_at == T0
    assert event.occurred_at == T0 + timedelta(seconds=65)
    assert (event.disposition, event.duration, event.recording_ref) == ("answered", 65, "rec-1")
    assert event.provider_event == history.HISTORY_PROVIDER_EVENT
    assert event.raw["call_id"] == "in_1"
    assert ev.CallEvent.from_dict(event.to_dict()) == event  # stored as a webhook's event


@pytest.mark.parametrize(
    ("disposition", "duration", "kind", "expected"),
    [
        ("no_answer", 0, ev.MISSED, "no_answer"),
        ("busy", 0, ev.MISSED, "busy"),
        ("", 12, ev.ENDED, "answered"),  # no outcome, a talk time: answered
        ("", None, ev.MISSED, "no_answer"),
        ("weird", 0, ev.MISSED, "no_answer"),
    ],
)
def test_outcome_of_a_history_call(disposition, duration, kind, expected):
    call = HistoryCall("c", ev.INBOUND, "79161234567", "101", "", T0, duration, disposition)
    (event,) = history.history_events(call)
    assert (event.kind, event.disposition) == (kind, expected)
    assert event.did == ""  # an extension is no line
    assert event.occurred_at == (T0 + timedelta(seconds=12) if kind == ev.ENDED else T0)


def test_outgoing_call_has_no_line():
    call = HistoryCall("out_1", ev.OUTBOUND, "101", "74957654321", "101", T0, 5, "answered")
    (event,) = history.history_events(call)
    assert (event.direction, event.did, event.to_number) == (ev.OUTBOUND, "", "74957654321")


@pytest.mark.parametrize(
    "call",
    [
        HistoryCall("", ev.INBOUND, started_at=T0),
        HistoryCall("x", ev.INBOUND),
        HistoryCall("x", "sideways", started_at=T0),
    ],
)
def test_unusable_history_calls(call):
    with pytest.raises(history.UnusableHistoryCall):
        history.history_events(call)


def test_event_keys_are_never_a_webhooks_and_fit():
    long_id = "x" * 400
    key = history.history_event_key(long_id, ev.ENDED)
    assert len(key) <= ev.EVENT_KEY_MAX_LEN and history.is_history_event_key(key)
    assert key == history.history_event_key(long_id, ev.ENDED)
    assert not history.is_history_event_key("NOTIFY_END|in_1")


class _Directory(machine.Directory):
    def normalize(self, number):
        return "+" + number if len(number) > 5 else None

    def user_for_extension(self, extension):
        return {"101": 7}.get(extension)

    def line_for_number(self, number_e164, raw_number):
        return machine.Line(3, 4, 5) if raw_number == "74951204567" else None

    def team_of_user(self, user_id):
        return 4


def _new_call(direction):
    call = dict.fromkeys(machine.CALL_FIELDS)
    call.update(state="ringing", direction=direction, talk_seconds=0)
    return call


def test_the_state_machine_logs_a_recovered_call_whole():
    call = HistoryCall("in_1", ev.INBOUND, "74957654321", "74951204567", "101", T0, 65, "answered")
    (event,) = history.history_events(call)
    values = machine.apply(_new_call(ev.INBOUND), event, _Directory()).values
    start = T0.replace(tzinfo=None)
    assert values["state"] == "done"
    assert values["user_id"] == 7 and values["line_id"] == 3 and values["team_id"] == 4
    assert values["partner_number"] == "74957654321"
    assert (values["date_start"], values["date_answer"]) == (start, start)
    assert values["date_end"] == start + timedelta(seconds=65)
    assert values["talk_seconds"] == 65 and values["ring_seconds"] == 0


def test_differences_with_a_completed_call():
    answered = HistoryCall("c", ev.INBOUND, extension="102", started_at=T0, duration=95,
                           disposition="answered")  # fmt: skip
    same = {"disposition": "answered", "talk_seconds": 93, "extension": "102"}
    assert history.history_differences(same, answered) == []
    ours = {"disposition": "answered", "talk_seconds": 40, "extension": "101"}
    assert history.history_differences(ours, answered) == [
        ("talk_seconds", 40, 95),
        ("extension", "101", "102"),
    ]
    missed = {"disposition": "no_answer", "talk_seconds": 0, "extension": ""}
    assert history.history_differences(missed, answered) == [("outcome", "no_answer", "answered")]


def test_history_starting_earlier_says_the_first_webhook_was_lost():
    answered = HistoryCall("c", ev.INBOUND, extension="102", started_at=T0, duration=95,
                           disposition="answered")  # fmt: skip
    start = T0.replace(tzinfo=None)
    base = {"disposition": "answered", "talk_seconds": 95, "extension": "102"}
    later = {**base, "date_start": start + timedelta(seconds=6)}
    assert history.history_differences(later, answered) == [
        ("start", start + timedelta(seconds=6), start)
    ]
    # Within a second, or later than ours: the same start.
    assert history.history_differences({**base, "date_start": start + timedelta(seconds=1)},
                                       answered) == []  # fmt: skip
    assert history.history_differences({**base, "date_start": start - timedelta(seconds=5)},
                                       answered) == []  # fmt: skip


def test_every_adapter_tells_history_calls_the_same_way():
    call = HistoryCall("in_1", ev.INBOUND, "74957654321", "74951204567", "", T0, 0, "no_answer")
    for code in ("generic", "zadarma", "mango", "uis", "telfin"):
        assert get_adapter_class(code).history_call_events(call) == history.history_events(call)


# -- the PBXs' limits on their history ------------------------------------------------------


def _zadarma_stats_response():
    return http_response(payload={"status": "success", "stats": []})


def test_zadarma_keeps_to_three_statistics_requests_a_minute():
    adapter, transport = patch_transport(
        zadarma.ZadarmaAdapter({"api_key": "k", "api_secret": "s"}),
        *[_zadarma_stats_response() for _ in range(3)],
    )
    for _run in range(3):
        assert adapter.call_history(T0, T0 + timedelta(hours=3)) == []
    with pytest.raises(errors.RateLimitError) as caught:
        adapter.call_history(T0, T0 + timedelta(hours=3))
    assert len(transport.calls) == 3  # the fourth was never sent
    assert 1 <= caught.value.retry_after <= 61
    # Another key has its own budget.
    other, _transport = patch_transport(
        zadarma.ZadarmaAdapter({"api_key": "k2", "api_secret": "s"}), _zadarma_stats_response()
    )
    assert other.call_history(T0, T0 + timedelta(hours=3)) == []


def test_telfin_sends_one_history_request_at_a_time(monkeypatch):
    monkeypatch.setattr(telfin, "HISTORY_LOCK_WAIT", 0.2)
    adapter = telfin.TelfinAdapter(
        {"client_id": "app", "client_secret": "secret", "base_url": "https://telfin.example"}
    )
    lock = adapter._history_lock()
    assert lock is telfin.TelfinAdapter(dict(adapter.config))._history_lock()
    holder = threading.Thread(target=lambda: (lock.acquire(), time.sleep(0.5), lock.release()))
    holder.start()
    time.sleep(0.05)
    try:
        with pytest.raises(errors.RateLimitError) as caught:
            adapter.call_history(T0, T0 + timedelta(hours=1))
    finally:
        holder.join()
    assert caught.value.retry_after == telfin.HISTORY_BUSY_RETRY


def test_a_history_api_that_times_out_is_retryable():
    def slow(_request):
        return 200, {"X-Test-Delay": "1.5", "Content-Type": "application/json"}, b"{}"

    with LocalServer(slow) as server:
        adapter = get_adapter_class("generic")(
            {"base_url": server.url, "api_key": "k", "timeout": 0.5}
        )
        with pytest.raises(errors.RetryableError, match="no answer"):
            adapter.call_history(T0, T0 + timedelta(hours=3))


def test_a_history_api_that_answers_garbage_is_refused():
    def garbage(_request):
        return 200, {"Content-Type": "text/html"}, b"<html>Maintenance</html>"

    with LocalServer(garbage) as server:
        adapter = get_adapter_class("generic")({"base_url": server.url, "api_key": "k"})
        with pytest.raises(errors.PermanentError, match="no JSON"):
            adapter.call_history(T0, T0 + timedelta(hours=3))


def test_zadarma_reads_a_long_history_over_time(monkeypatch):
    """A history of more pages than the minute allows is read page by page: once the
    first page is in, the adapter waits for the next slot instead of failing the read."""
    slept = []
    monkeypatch.setattr(zadarma.time, "sleep", slept.append)
    clock = [1000.0]
    monkeypatch.setattr(zadarma.time, "monotonic", lambda: clock[0] + sum(slept))
    row = {"pbx_call_id": "in_1", "callstart": "2026-01-01 10:00:00", "disposition": "answered"}
    full_page = http_response(
        payload={"status": "success", "stats": [row] * zadarma.STATS_PAGE_SIZE}
    )
    last_page = http_response(payload={"status": "success", "stats": [row]})
    adapter, transport = patch_transport(
        zadarma.ZadarmaAdapter({"api_key": "k", "api_secret": "s"}),
        *[full_page] * 4,
        last_page,
    )
    calls = adapter.call_history(T0, T0 + timedelta(hours=3))
    assert len(calls) == 4 * zadarma.STATS_PAGE_SIZE + 1
    assert len(transport.calls) == 5
    assert len(slept) == 1 and 1 <= slept[0] <= 61
    # A read that would wait longer than STATS_HISTORY_WAIT refuses, with the wait.
    monkeypatch.setattr(zadarma, "STATS_HISTORY_WAIT", 0)
    zadarma._stats_requests.clear()
    adapter, _transport = patch_transport(
        zadarma.ZadarmaAdapter({"api_key": "k", "api_secret": "s"}), *[full_page] * 3
    )
    with pytest.raises(errors.RateLimitError):
        adapter.call_history(T0, T0 + timedelta(hours=3))
