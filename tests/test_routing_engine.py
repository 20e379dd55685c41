"""The routing decision core of ``crm_voip_routing`` (``routing/engine.py``), without Odoo.

The addon's package imports Odoo, the engine must not: ``conftest.py`` loads its pure
package under the alias ``voip_routing``.
"""

import datetime as dt

import pytest
from voip_routing import engine as E

ANNA, BORIS, OLGA, LEADER = 1, 2, 3, 4
TEAM = 10
LINE_MSK, LINE_SPB = 100, 101


def agents(**overrides):
    """Everyone free, at his desk, with an extension; ``overrides`` per user name."""
    base = {
        ANNA: E.Agent(ANNA, "Anna", extension="101", mobile="+79165550101"),
        BORIS: E.Agent(BORIS, "Boris", extension="102"),
        OLGA: E.Agent(OLGA, "Olga", extension="103"),
        LEADER: E.Agent(LEADER, "Leader", extension="110"),
    }
    names = {"anna": ANNA, "boris": BORIS, "olga": OLGA, "leader": LEADER}
    for name, changes in overrides.items():
        user_id = names[name]
        base[user_id] = E.Agent(**{**base[user_id].__dict__, **changes})
    return base


def chain_rule(*steps, rule_id=1, **conditions):
    return E.Rule(id=rule_id, name=f"rule {rule_id}", steps=tuple(steps), **conditions)


MANAGER_CHAIN = chain_rule(
    E.Step(11, E.RESPONSIBLE, timeout=20),
    E.Step(12, E.RESPONSIBLE_MOBILE, timeout=15),
    E.Step(13, E.TEAM, timeout=20, team_id=TEAM),
    E.Step(14, E.VOICEMAIL, pbx_target="0-2"),
)
TEAM_MEMBERS = {TEAM: [ANNA, BORIS, OLGA]}


def plan(rule=MANAGER_CHAIN, responsible=ANNA, **agent_overrides):
    return E.plan_chain(
        rule, agents(**agent_overrides), responsible_id=responsible, team_members=TEAM_MEMBERS
    )


def reasons(result):
    return [(entry.reason, entry.user_id, entry.step_id) for entry in result.log]


# -----------------------------------------------------------------------------------------------
# Rules
# -----------------------------------------------------------------------------------------------


def always(_calendar_id):
    return True


def never(_calendar_id):
    return False


@pytest.mark.parametrize(
    ("conditions", "caller", "reason"),
    [
        ({}, E.Caller(), None),
        ({"line_ids": frozenset({LINE_MSK})}, E.Caller(line_id=LINE_SPB), E.OTHER_LINE),
        ({"line_ids": frozenset({LINE_MSK})}, E.Caller(line_id=LINE_MSK), None),
        ({"caller": E.CALLER_KNOWN}, E.Caller(known=False), E.CALLER_IS_UNKNOWN),
        ({"caller": E.CALLER_UNKNOWN}, E.Caller(known=True), E.CALLER_IS_KNOWN),
        ({"category_ids": frozenset({7})}, E.Caller(category_ids=frozenset({8})), E.NO_TAG),
        ({"category_ids": frozenset({7})}, E.Caller(category_ids=frozenset({7, 8})), None),
        ({"countries": frozenset({"GB"})}, E.Caller(country="RU"), E.OTHER_COUNTRY),
        ({"prefixes": ("+7495",)}, E.Caller(number="+74951234567"), None),
        ({"prefixes": ("+7495",)}, E.Caller(number="+78121234567"), E.OTHER_PREFIX),
        ({"prefixes": ("7812",)}, E.Caller(number="+78121234567"), None),
        ({"prefixes": ("+7495",)}, E.Caller(number=""), E.OTHER_PREFIX),
        ({"blacklist": E.BLACKLIST_ONLY}, E.Caller(blacklisted=False), E.NOT_BLACKLISTED),
        ({"blacklist": E.BLACKLIST_EXCLUDE}, E.Caller(blacklisted=True), E.BLACKLISTED),
        ({"calendar_id": 5, "time_mode": E.TIME_INSIDE}, E.Caller(), E.OUTSIDE_WINDOW),
        ({"calendar_id": 5, "time_mode": E.TIME_OUTSIDE}, E.Caller(), None),
    ],
)
def test_rule_conditions(conditions, caller, reason):
    rule = E.Rule(id=1, **conditions)
    assert E.rule_mismatch(rule, caller, never) == reason


def test_first_matching_rule_wins_and_trace_says_why_others_did_not():
    rules = [
        E.Rule(id=1, blacklist=E.BLACKLIST_ONLY),
        E.Rule(id=2, caller=E.CALLER_KNOWN),
        E.Rule(id=3),
        E.Rule(id=4),
    ]
    trace = []
    assert E.match_rule(rules, E.Caller(known=False), always, trace).id == 3
    assert [(entry.rule_id, entry.reason) for entry in trace] == [
        (1, E.NOT_BLACKLISTED),
        (2, E.CALLER_IS_UNKNOWN),
        (3, E.MATCHED),
    ]
    trace = []
    assert E.match_rule([E.Rule(id=1, caller=E.CALLER_KNOWN)], E.Caller(), always, trace) is None
    assert trace[-1].reason == E.NO_RULE


def test_time_window_is_asked_last_and_once_per_calendar():
    asked = []

    def in_window(calendar_id):
        asked.append(calendar_id)
        return False

    rules = [
        E.Rule(id=1, caller=E.CALLER_KNOWN, calendar_id=5, time_mode=E.TIME_INSIDE),
        E.Rule(id=2, calendar_id=5, time_mode=E.TIME_INSIDE),
        E.Rule(id=3, calendar_id=5, time_mode=E.TIME_OUTSIDE),
    ]
    assert E.match_rule(rules, E.Caller(known=False), in_window).id == 3
    assert asked == [5]


def test_parse_prefixes():
    assert E.parse_prefixes("+7 495, +7 (812);8-800\n+7495") == ("+7495", "+7812", "8800")
    assert E.parse_prefixes("") == ()


# -----------------------------------------------------------------------------------------------
# Chains
# -----------------------------------------------------------------------------------------------


def test_manager_first_then_mobile_team_and_voicemail():
    result = plan()
    assert [(a.action, a.targets, a.timeout) for a in result.attempts] == [
        (E.RESPONSIBLE, ("101",), 20),
        (E.RESPONSIBLE_MOBILE, ("101",), 15),
        (E.TEAM, ("102",), 20),
        (E.VOICEMAIL, ("0-2",), None),
    ]
    assert result.attempts[1].forward_number == "+79165550101"
    assert result.decision == E.Decision(E.REDIRECT, ("101",), 20, "", (ANNA,))
    assert (E.ALREADY_TRIED, ANNA, 13) in reasons(result)
    assert result.tried_user_ids == [ANNA, BORIS]
    assert result.terminal == E.VOICEMAIL


def test_manager_on_leave_goes_to_his_mobile():
    result = plan(anna={"on_leave": True})
    assert result.decision == E.Decision(E.REDIRECT, ("101",), 15, "+79165550101", (ANNA,))
    assert reasons(result)[0] == (E.ON_LEAVE, ANNA, 11)


def test_busy_manager_goes_to_a_colleague():
    result = plan(anna={"on_call": True})
    assert result.decision.targets == ("102",)
    assert reasons(result)[:3] == [
        (E.ON_CALL, ANNA, 11),
        (E.ON_CALL, ANNA, 12),
        (E.ON_CALL, ANNA, 13),
    ]


def test_do_not_disturb_stops_desk_and_mobile():
    result = plan(anna={"dnd": True})
    assert [entry[0] for entry in reasons(result)[:2]] == [E.DND, E.DND]


def test_off_hours_stops_the_mobile_unless_the_step_says_otherwise():
    everyone_off = {name: {"working": False} for name in ("anna", "boris", "olga")}
    result = plan(**everyone_off)
    assert result.decision == E.Decision(E.REDIRECT, ("0-2",))
    assert (E.NOBODY_AVAILABLE, 0, 13) in reasons(result)
    evening = chain_rule(E.Step(21, E.RESPONSIBLE_MOBILE, timeout=30, ignore_hours=True))
    assert plan(evening, **everyone_off).decision.forward_number == "+79165550101"


def test_no_mobile_no_extension_no_responsible():
    result = plan(anna={"mobile": "", "extension": ""})
    assert reasons(result)[:2] == [(E.NO_EXTENSION, ANNA, 11), (E.NO_MOBILE, ANNA, 12)]
    result = plan(responsible=0)
    assert reasons(result)[:2] == [(E.NO_RESPONSIBLE, 0, 11), (E.NO_RESPONSIBLE, 0, 12)]
    assert result.decision.targets == ("101",), "the team step rings Anna in turn"


def test_team_takes_turns():
    rule = chain_rule(E.Step(31, E.TEAM, timeout=20, team_id=TEAM))
    routed = []
    last = {ANNA: 0, BORIS: 0, OLGA: 0}
    for call_id in range(1, 31):
        people = agents(
            anna={"last_routed": last[ANNA]},
            boris={"last_routed": last[BORIS]},
            olga={"last_routed": last[OLGA]},
        )
        result = E.plan_chain(rule, people, team_members=TEAM_MEMBERS)
        chosen = result.decision.user_ids[0]
        last[chosen] = call_id
        routed.append(chosen)
    assert routed[:6] == [ANNA, BORIS, OLGA, ANNA, BORIS, OLGA]
    assert {user: routed.count(user) for user in (ANNA, BORIS, OLGA)} == {
        ANNA: 10,
        BORIS: 10,
        OLGA: 10,
    }


def test_team_skips_busy_members_and_uses_the_default_team():
    rule = chain_rule(E.Step(31, E.TEAM, timeout=20))
    result = E.plan_chain(
        rule, agents(anna={"on_call": True}), team_members=TEAM_MEMBERS, default_team_id=TEAM
    )
    assert result.decision.targets == ("102",)
    assert E.plan_chain(rule, agents(), team_members=TEAM_MEMBERS).log[0].reason == E.NO_TEAM
    empty = E.plan_chain(rule, agents(), team_members={TEAM: []}, default_team_id=TEAM)
    assert empty.log[0].reason == E.NO_MEMBERS


def test_users_in_order_and_all_at_once():
    rule = chain_rule(
        E.Step(41, E.USERS, timeout=10, user_ids=(BORIS, ANNA)),
        E.Step(42, E.USERS_ALL, timeout=30, user_ids=(ANNA, OLGA, LEADER)),
    )
    result = plan(rule, leader={"dnd": True})
    assert [(a.targets, a.timeout) for a in result.attempts] == [
        (("102",), 10),
        (("101",), 10),
        (("103",), 30),
    ]
    assert (E.ALREADY_TRIED, ANNA, 42) in reasons(result)
    assert (E.DND, LEADER, 42) in reasons(result)


def test_reject_and_steps_after_a_terminal_step():
    rule = chain_rule(E.Step(51, E.REJECT), E.Step(52, E.RESPONSIBLE))
    result = plan(rule)
    assert result.decision == E.Decision(E.REJECT)
    assert reasons(result) == [(E.ROUTED, 0, 51), (E.NOT_REACHED, 0, 52), (E.REJECT, 0, 0)]


def test_voicemail_without_target_is_the_pbx_route():
    result = plan(chain_rule(E.Step(61, E.VOICEMAIL)))
    assert result.decision == E.Decision()
    assert reasons(result)[0] == (E.PBX_DEFAULT, 0, 61)


def test_nobody_at_all_is_the_pbx_route():
    result = plan(chain_rule(E.Step(71, E.RESPONSIBLE)), anna={"working": False})
    assert result.decision == E.Decision()
    assert result.log[-1].reason == E.NO_ATTEMPT


def test_needed_users_and_teams():
    assert E.needed_teams(MANAGER_CHAIN, 0) == [TEAM]
    assert E.needed_users(MANAGER_CHAIN, ANNA, TEAM_MEMBERS) == [ANNA, BORIS, OLGA]
    stopped = chain_rule(E.Step(1, E.REJECT), E.Step(2, E.TEAM, team_id=TEAM))
    assert E.needed_teams(stopped, 0) == []
    assert E.needed_users(stopped, ANNA, TEAM_MEMBERS) == []


def test_decision_round_trip():
    decision = E.Decision(E.REDIRECT, ("101",), 20, "+79165550101", (ANNA,))
    assert E.Decision.from_dict(decision.to_dict()) == decision
    assert E.Decision.from_dict(None) == E.Decision()


# -----------------------------------------------------------------------------------------------
# Working time
# -----------------------------------------------------------------------------------------------

WEEK = [E.Attendance(day, 9.0, 18.0) for day in range(5)]


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (dt.datetime(2024, 1, 15, 9, 0), True),  # Monday 09:00
        (dt.datetime(2024, 1, 15, 8, 59, 59), False),
        (dt.datetime(2024, 1, 19, 17, 59), True),  # Friday
        (dt.datetime(2024, 1, 19, 18, 0), False),
        (dt.datetime(2024, 1, 13, 12, 0), False),  # Saturday
    ],
)
def test_within_attendances(moment, inside):
    assert E.within_attendances(moment, WEEK) is inside


def test_attendance_validity_dates_and_two_week_calendars():
    limited = [E.Attendance(0, 9.0, 18.0, date_from=dt.date(2024, 2, 1))]
    assert not E.within_attendances(dt.datetime(2024, 1, 15, 10, 0), limited)
    assert E.within_attendances(dt.datetime(2024, 2, 5, 10, 0), limited)
    monday = dt.datetime(2024, 1, 15, 10, 0)
    parity = E.week_type(monday.date())
    two_weeks = [E.Attendance(0, 9.0, 18.0, week_type=1 - parity)]
    assert not E.within_attendances(monday, two_weeks, two_weeks=True)
    assert E.within_attendances(monday + dt.timedelta(days=7), two_weeks, two_weeks=True)
