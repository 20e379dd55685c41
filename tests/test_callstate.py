"""The call state machine (``crm_voip/callstate``), without Odoo or a database."""

import datetime as dt

import pytest
from voip_callstate import machine, states
from voip_providers import events as ev

T0 = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.timezone.utc)
ANNA, BORIS = 7, 8
SALES, SUPPORT = 20, 21
LINE = machine.Line(id=3, team_id=SUPPORT, source_id=40)


class FakeDirectory(machine.Directory):
    extensions = {"101": ANNA, "102": BORIS}
    teams = {ANNA: SALES}

    def normalize(self, number):
        digits = "".join(ch for ch in number or "" if ch.isdigit())
        return f"+{digits}" if len(digits) >= 10 else None

    def user_for_extension(self, extension):
        return self.extensions.get(extension)

    def line_for_number(self, number_e164, raw_number):
        return LINE if number_e164 == "+74951200000" else None

    def team_of_user(self, user_id):
        return self.teams.get(user_id)


def new_call(**values):
    call = dict.fromkeys(machine.CALL_FIELDS, False)
    call.update({"state": states.RINGING, "direction": ev.INBOUND, **values})
    return call


def event(kind, seconds=0, **values):
    values.setdefault("direction", ev.INBOUND)
    return ev.CallEvent(
        kind=kind,
        provider_call_id="c1",
        event_key=f"{kind}-{seconds}-{values.get('extension', '')}",
        occurred_at=T0 + dt.timedelta(seconds=seconds),
        **values,
    )


def play(call, *events):
    """Apply ``events`` in turn, as the model does; the transitions, in order."""
    transitions = []
    for item in events:
        transition = machine.apply(call, item, FakeDirectory())
        call.update(transition.values)
        transitions.append(transition)
    return transitions


def naive(seconds):
    return (T0 + dt.timedelta(seconds=seconds)).replace(tzinfo=None)


INCOMING = (
    event(
        ev.CALL_STARTED, 0, from_number="+7 916 123-45-67", did="74951200000", call_started_at=T0
    ),
    event(ev.AGENT_RINGING, 1, from_number="79161234567", extension="101"),
    event(ev.ANSWERED, 6, extension="101"),
    event(ev.ENDED, 71, disposition="answered", duration=65, extension="101"),
)


def test_an_answered_call_from_start_to_end():
    call = new_call()
    started, ringing, answered, ended = play(call, *INCOMING)
    assert started.values["partner_number_e164"] == "+79161234567"
    assert started.values["line_id"] == LINE.id and started.values["source_id"] == 40
    assert started.values["team_id"] == SUPPORT  # the line's team, not the salesperson's
    assert ringing.rang_user_id == ANNA and not ringing.hung_up
    assert answered.values["state"] == states.TALKING and answered.values["user_id"] == ANNA
    assert ended.hung_up and call["state"] == states.DONE
    assert call["date_start"] == naive(0) and call["date_answer"] == naive(6)
    assert call["ring_seconds"] == 6 and call["talk_seconds"] == 65
    assert "team_id" not in answered.values


def test_events_in_any_order_end_the_same():
    in_order = new_call()
    play(in_order, *INCOMING)
    reversed_order = new_call()
    transitions = play(reversed_order, *reversed(INCOMING))
    for name in ("state", "date_start", "date_answer", "date_end", "talk_seconds", "user_id"):
        assert reversed_order[name] == in_order[name], name
    # Only the first event to make the call final hangs it up.
    assert [t.hung_up for t in transitions] == [True, False, False, False]


def test_a_repeated_event_changes_nothing():
    call = new_call()
    play(call, *INCOMING)
    for item in INCOMING:
        transition = machine.apply(call, item, FakeDirectory())
        changed = {k: v for k, v in transition.values.items() if call.get(k) != v}
        assert not changed and not transition.hung_up


def test_a_call_never_moves_backwards():
    call = new_call()
    play(call, event(ev.MISSED, 30, disposition="no_answer"))
    assert call["state"] == states.MISSED
    late_answer = play(call, event(ev.ANSWERED, 10, extension="102"))[0]
    assert call["state"] == states.MISSED and "state" not in late_answer.values
    assert call["date_answer"] == naive(10)  # the detail is still kept


@pytest.mark.parametrize(
    ("disposition", "state"),
    [("busy", states.BUSY), ("failed", states.FAILED), ("cancel", states.MISSED)],
)
def test_unanswered_dispositions(disposition, state):
    call = new_call()
    (transition,) = play(call, event(ev.MISSED, 20, disposition=disposition, call_started_at=T0))
    assert call["state"] == state and call["disposition"] == disposition
    assert transition.hung_up and call["ring_seconds"] == 20


def test_a_transferred_call_ends_with_its_last_agent():
    call = new_call()
    play(
        call,
        event(ev.ANSWERED, 5, extension="101"),
        event(ev.ANSWERED, 40, extension="102"),
    )
    assert call["user_id"] == BORIS and call["extension"] == "102"
    assert call["date_answer"] == naive(5)


def test_a_transfer_whose_first_answer_arrives_last_keeps_the_first_answer_time():
    call = new_call()
    play(
        call,
        event(ev.CALL_STARTED, 0, from_number="79161234567"),
        event(ev.ANSWERED, 40, extension="102"),
        event(ev.ANSWERED, 5, extension="101"),  # retried: it arrives after the transfer
    )
    assert call["user_id"] == BORIS and call["extension"] == "102"
    assert call["date_answer"] == naive(5)
    assert call["ring_seconds"] == 5


def test_hang_up_without_answer_event_derives_the_answer_time():
    call = new_call()
    play(call, event(ev.ENDED, 100, disposition="answered", duration=30, extension="101"))
    assert call["date_answer"] == naive(70) and call["talk_seconds"] == 30
    assert call["user_id"] == ANNA and call["team_id"] == SALES


def test_outgoing_call_names_the_callee_as_client():
    call = new_call()
    (transition,) = play(
        call,
        event(
            ev.OUTGOING_STARTED,
            0,
            direction=ev.OUTBOUND,
            from_number="101",
            to_number="84951234567",
            extension="101",
        ),
    )
    assert transition.values["direction"] == ev.OUTBOUND
    assert call["user_id"] == ANNA and call["team_id"] == SALES
    # The direction is the call's as stored: the client is read with it.
    outbound = new_call(direction=ev.OUTBOUND)
    play(outbound, event(ev.ANSWERED, 3, from_number="101", to_number="74951234567"))
    assert outbound["partner_number"] == "74951234567"


def test_an_extension_is_never_the_client():
    call = new_call()
    play(call, event(ev.CALL_STARTED, 0, from_number="103"))
    assert not call["partner_number"]


def test_recording_ready_changes_only_the_reference():
    call = new_call(state=states.DONE, date_start=naive(0))
    (transition,) = play(call, event(ev.RECORDING_READY, 90, recording_ref="rec-1"))
    assert transition.values == {"recording_ref": "rec-1"}


def test_state_groups_partition_the_states():
    assert set(states.LIVE) | set(states.FINAL) == set(states.STATES)
    assert not set(states.LIVE) & set(states.FINAL)
    assert set(states.ANSWERED) | set(states.UNANSWERED) == set(states.STATES) - {states.RINGING}
    assert set(states.RANK) == set(states.STATES)
    assert set(states.FINAL_STATE_BY_DISPOSITION) == set(ev.DISPOSITIONS)
    assert set(states.FINAL_STATE_BY_DISPOSITION.values()) <= set(states.FINAL)
    assert states.groups()["final"] == list(states.FINAL)
