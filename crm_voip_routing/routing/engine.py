"""The routing decision core: plain Python, no Odoo import.

Given the facts the Odoo side gathered about a starting call (who calls, on which line,
which rules exist, who could answer and whether they can right now), it tells:

* which rule applies (the first one, in order, whose every condition holds), and why each
  rule before it did not;
* the ordered attempts of that rule's chain ("ring Anna's extension 20 s, then her mobile
  15 s, then the next free member of the team, then voicemail"), with the reason every
  skipped step or person was skipped;
* the decision the PBX gets: the first attempt (a PBX that takes a single redirect target
  falls back on its own scenario when it times out).

Everything here is deterministic and side-effect free, so that it is tested without a
database (``tests/test_routing_engine.py`` at the repository root) and cheap at call time.
"""

import math
from dataclasses import dataclass, field

# Rule conditions -----------------------------------------------------------------------------
CALLER_ANY = "any"
CALLER_KNOWN = "known"
CALLER_UNKNOWN = "unknown"

TIME_ANY = "any"
TIME_INSIDE = "inside"
TIME_OUTSIDE = "outside"

BLACKLIST_ANY = "any"
BLACKLIST_ONLY = "only"
BLACKLIST_EXCLUDE = "exclude"

# Step actions ----------------------------------------------------------------------------------
RESPONSIBLE = "responsible"
RESPONSIBLE_MOBILE = "responsible_mobile"
TEAM = "team"
USERS = "users"
USERS_ALL = "users_all"
VOICEMAIL = "voicemail"
REJECT = "reject"
STEP_ACTIONS = (RESPONSIBLE, RESPONSIBLE_MOBILE, TEAM, USERS, USERS_ALL, VOICEMAIL, REJECT)
TERMINAL_ACTIONS = (VOICEMAIL, REJECT)

# What the PBX is told (the strings of ``crm_voip.providers.events``) --------------------------
REDIRECT = "redirect"
DEFAULT = "default"
# REJECT is both a step action and a PBX action.

# Log entry kinds -------------------------------------------------------------------------------
KIND_RULE = "rule"
KIND_STEP = "step"
KIND_DECISION = "decision"

# Reasons (codes; the Odoo side gives them translated labels) ----------------------------------
MATCHED = "matched"
OTHER_LINE = "other_line"
CALLER_IS_KNOWN = "caller_known"
CALLER_IS_UNKNOWN = "caller_unknown"
NO_TAG = "no_tag"
OTHER_COUNTRY = "other_country"
OTHER_PREFIX = "other_prefix"
OUTSIDE_WINDOW = "outside_window"
INSIDE_WINDOW = "inside_window"
BLACKLISTED = "blacklisted"
NOT_BLACKLISTED = "not_blacklisted"
NO_RULE = "no_rule"

ROUTED = "routed"  # the first attempt: what the PBX is told
FALLBACK = "fallback"  # a later attempt, if the ones before are not answered
NO_RESPONSIBLE = "no_responsible"
NO_USERS = "no_users"
NO_TEAM = "no_team"
NO_MEMBERS = "no_members"
DND = "dnd"
ON_CALL = "on_call"
ON_LEAVE = "on_leave"
OFF_HOURS = "off_hours"
NO_EXTENSION = "no_extension"
NO_MOBILE = "no_mobile"
ALREADY_TRIED = "already_tried"
NOBODY_AVAILABLE = "nobody_available"
NOT_REACHED = "not_reached"
PBX_DEFAULT = "pbx_default"
NO_ATTEMPT = "no_attempt"

# Where the responsible person comes from -------------------------------------------------------
SOURCE_PARTNER = "partner"
SOURCE_OPPORTUNITY = "opportunity"
SOURCE_LEAD = "lead"
SOURCE_TEAM_LEADER = "team_leader"
# Sources that name the client's own manager (a team leader is only a stand-in).
OWNER_SOURCES = (SOURCE_PARTNER, SOURCE_OPPORTUNITY, SOURCE_LEAD)


# -----------------------------------------------------------------------------------------------
# Facts
# -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """What is known about the calling number when the call starts."""

    number: str = ""  # E.164, or "" for a hidden number
    country: str = ""  # ISO code of the number's country
    known: bool = False  # an existing contact or lead has this number
    category_ids: frozenset = frozenset()  # the contact's tags (and its company's)
    line_id: int = 0  # the dialled line (DID), 0 when unknown
    blacklisted: bool = False


@dataclass(frozen=True)
class Step:
    """One link of a rule's chain."""

    id: int
    action: str
    timeout: int = 20
    user_ids: tuple = ()
    team_id: int = 0
    pbx_target: str = ""
    ignore_hours: bool = False  # also ring outside the person's working hours


@dataclass(frozen=True)
class Rule:
    id: int
    name: str = ""
    line_ids: frozenset = frozenset()  # empty: any line
    caller: str = CALLER_ANY
    category_ids: frozenset = frozenset()  # empty: any; else at least one tag
    countries: frozenset = frozenset()  # ISO codes; empty: any
    prefixes: tuple = ()  # E.164 prefixes ("+7495"); empty: any
    calendar_id: int = 0
    time_mode: str = TIME_ANY
    blacklist: str = BLACKLIST_ANY
    steps: tuple = ()
    team_id: int = 0  # the team of its team steps without one


@dataclass(frozen=True)
class Agent:
    """A person who may be rung, and whether he can take a call right now."""

    user_id: int
    name: str = ""
    extension: str = ""  # on the PBX account of the call
    mobile: str = ""  # E.164, for forwarding
    dnd: bool = False  # "do not disturb" in Odoo
    on_call: bool = False  # already talking or being rung
    on_leave: bool = False  # a time-off entry covers this moment
    working: bool = True  # inside his working hours
    last_routed: int = 0  # id of the last call routed to him first; 0: never

    def blocker(self, *, mobile=False, ignore_hours=False):
        """Why he cannot be rung now (a reason code), or None.

        His mobile is for when he is away: time off does not stop it, a call in progress or
        "do not disturb" does, and so do his working hours unless the step says otherwise.
        """
        if self.dnd:
            return DND
        if self.on_call:
            return ON_CALL
        if self.on_leave and not mobile:
            return ON_LEAVE
        if not self.working and not ignore_hours:
            return OFF_HOURS
        if mobile:
            return None if self.mobile else NO_MOBILE
        return None if self.extension else NO_EXTENSION


@dataclass(frozen=True)
class Attempt:
    """One thing the PBX should do, for ``timeout`` seconds, before the next attempt."""

    step_id: int
    action: str
    targets: tuple = ()  # extensions, or a PBX scenario / voicemail id
    timeout: int | None = None
    user_ids: tuple = ()
    forward_number: str = ""


@dataclass(frozen=True)
class LogEntry:
    kind: str
    reason: str
    rule_id: int = 0
    step_id: int = 0
    user_id: int = 0
    targets: tuple = ()
    timeout: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    """What the PBX is told: ``action`` is ``redirect``, ``reject`` or ``default``."""

    action: str = DEFAULT
    targets: tuple = ()
    timeout: int | None = None
    forward_number: str = ""
    user_ids: tuple = ()

    def to_dict(self):
        return {
            "action": self.action,
            "targets": list(self.targets),
            "timeout": self.timeout,
            "forward_number": self.forward_number,
            "user_ids": list(self.user_ids),
        }

    @classmethod
    def from_dict(cls, data):
        data = data or {}
        return cls(
            action=data.get("action") or DEFAULT,
            targets=tuple(data.get("targets") or ()),
            timeout=data.get("timeout"),
            forward_number=data.get("forward_number") or "",
            user_ids=tuple(data.get("user_ids") or ()),
        )


@dataclass
class Plan:
    rule: Rule | None = None
    attempts: list = field(default_factory=list)
    log: list = field(default_factory=list)
    terminal: str = ""  # VOICEMAIL or REJECT when the chain ends with one

    @property
    def decision(self):
        if not self.attempts:
            return Decision()
        first = self.attempts[0]
        if first.action == REJECT:
            return Decision(action=REJECT)
        if not first.targets:
            return Decision()
        return Decision(
            action=REDIRECT,
            targets=first.targets,
            timeout=first.timeout,
            forward_number=first.forward_number,
            user_ids=first.user_ids,
        )

    @property
    def tried_user_ids(self):
        """Everyone the chain would ring, in order, once each."""
        seen = []
        for attempt in self.attempts:
            for user_id in attempt.user_ids:
                if user_id not in seen:
                    seen.append(user_id)
        return seen


# -----------------------------------------------------------------------------------------------
# Rules
# -----------------------------------------------------------------------------------------------


def parse_prefixes(text):
    """``"+7 495, +7812;8-800"`` -> ``("+7495", "+7812", "8800")``: separators and spaces out."""
    prefixes = []
    for chunk in (text or "").replace(";", ",").replace("\n", ",").split(","):
        prefix = "".join(ch for ch in chunk if ch.isdigit() or ch == "+")
        if prefix and prefix not in prefixes:
            prefixes.append(prefix)
    return tuple(prefixes)


def _prefix_matches(number, prefixes):
    if not number:
        return False
    digits = number.lstrip("+")
    for prefix in prefixes:
        if prefix.startswith("+"):
            if number.startswith(prefix):
                return True
        elif digits.startswith(prefix):
            return True
    return False


def rule_mismatch(rule, caller, in_window):
    """Why ``rule`` does not apply to ``caller`` (a reason code), or None when it does.

    ``in_window(calendar_id)`` says whether the call's moment is inside the calendar's
    working time; it is only called when every cheaper condition holds.
    """
    if rule.line_ids and caller.line_id not in rule.line_ids:
        return OTHER_LINE
    if rule.blacklist == BLACKLIST_ONLY and not caller.blacklisted:
        return NOT_BLACKLISTED
    if rule.blacklist == BLACKLIST_EXCLUDE and caller.blacklisted:
        return BLACKLISTED
    if rule.caller == CALLER_KNOWN and not caller.known:
        return CALLER_IS_UNKNOWN
    if rule.caller == CALLER_UNKNOWN and caller.known:
        return CALLER_IS_KNOWN
    if rule.category_ids and not (rule.category_ids & caller.category_ids):
        return NO_TAG
    if rule.countries and caller.country not in rule.countries:
        return OTHER_COUNTRY
    if rule.prefixes and not _prefix_matches(caller.number, rule.prefixes):
        return OTHER_PREFIX
    if rule.calendar_id and rule.time_mode in (TIME_INSIDE, TIME_OUTSIDE):
        inside = in_window(rule.calendar_id)
        if rule.time_mode == TIME_INSIDE and not inside:
            return OUTSIDE_WINDOW
        if rule.time_mode == TIME_OUTSIDE and inside:
            return INSIDE_WINDOW
    return None


def match_rule(rules, caller, in_window, trace=None):
    """The first rule of ``rules`` (already in order) that applies, or None.

    ``trace``, a list, receives a log entry per rule examined.
    """
    memo = {}

    def window(calendar_id):
        if calendar_id not in memo:
            memo[calendar_id] = bool(in_window(calendar_id))
        return memo[calendar_id]

    for rule in rules:
        reason = rule_mismatch(rule, caller, window)
        if trace is not None:
            trace.append(LogEntry(KIND_RULE, reason or MATCHED, rule_id=rule.id))
        if reason is None:
            return rule
    if trace is not None:
        trace.append(LogEntry(KIND_DECISION, NO_RULE))
    return None


# -----------------------------------------------------------------------------------------------
# Who is needed
# -----------------------------------------------------------------------------------------------


def step_team(step, default_team_id, rule=None):
    """A team step's team: its own, else the rule's, else ``default_team_id``."""
    return step.team_id or (rule.team_id if rule else 0) or default_team_id or 0


def needed_teams(rule, default_team_id):
    """The teams whose members the rule's chain may ring."""
    teams = []
    for step in rule.steps:
        if step.action == TEAM:
            team_id = step_team(step, default_team_id, rule)
            if team_id and team_id not in teams:
                teams.append(team_id)
        if step.action in TERMINAL_ACTIONS:
            break
    return teams


def needed_users(rule, responsible_id, team_members):
    """Everyone whose availability the chain may ask about, in first-use order."""
    users = []

    def add(ids):
        for user_id in ids:
            if user_id and user_id not in users:
                users.append(user_id)

    for step in rule.steps:
        if step.action in (RESPONSIBLE, RESPONSIBLE_MOBILE):
            add([responsible_id])
        elif step.action in (USERS, USERS_ALL):
            add(step.user_ids)
        elif step.action == TEAM:
            for members in team_members.values():
                add(members)
        elif step.action in TERMINAL_ACTIONS:
            break
    return users


# -----------------------------------------------------------------------------------------------
# The chain
# -----------------------------------------------------------------------------------------------


def round_robin(member_ids, agents):
    """Members in turn order: the one routed a call longest ago (or never) first; ties keep
    the team's order."""
    position = {user_id: index for index, user_id in enumerate(member_ids)}
    return sorted(
        member_ids,
        key=lambda user_id: (
            agents[user_id].last_routed if user_id in agents else 0,
            position[user_id],
        ),
    )


def plan_chain(rule, agents, responsible_id=0, team_members=None, default_team_id=0):
    """The ordered attempts of ``rule``'s chain and why each step or person was skipped.

    ``agents`` maps user ids to ``Agent`` facts; ``team_members`` maps team ids to their
    member ids in team order; ``responsible_id`` is the client's responsible person.
    """
    return _ChainPlanner(rule, agents, responsible_id, team_members or {}, default_team_id).run()


class _ChainPlanner:
    """Walks a rule's steps once, in order; one method per step action."""

    def __init__(self, rule, agents, responsible_id, team_members, default_team_id):
        self.rule = rule
        self.agents = agents
        self.responsible_id = responsible_id
        self.team_members = team_members
        self.default_team_id = default_team_id
        self.plan = Plan(rule=rule)
        self.rung = set()  # users whose extension an earlier attempt rings

    def run(self):
        plan, rule = self.plan, self.rule
        handlers = {
            RESPONSIBLE: self._responsible,
            RESPONSIBLE_MOBILE: self._responsible_mobile,
            TEAM: self._team,
            USERS: self._users,
            USERS_ALL: self._users_all,
        }
        for index, step in enumerate(rule.steps):
            if step.action in TERMINAL_ACTIONS:
                self._terminal(step)
                for later in rule.steps[index + 1 :]:
                    self._skip(later, NOT_REACHED)
                break
            handler = handlers.get(step.action)
            if handler:
                handler(step)
        decision = plan.decision
        plan.log.append(
            LogEntry(
                KIND_DECISION,
                decision.action if plan.attempts else NO_ATTEMPT,
                rule_id=rule.id,
                targets=decision.targets,
                timeout=decision.timeout,
                user_id=decision.user_ids[0] if decision.user_ids else 0,
            )
        )
        return plan

    # -- helpers ---------------------------------------------------------------------------------

    def _reason(self):
        return ROUTED if not self.plan.attempts else FALLBACK

    def _ring(self, step, user_ids, *, mobile_of=None):
        if mobile_of is not None:
            targets, forward = (mobile_of.extension or mobile_of.mobile,), mobile_of.mobile
        else:
            targets, forward = tuple(self.agents[uid].extension for uid in user_ids), ""
        reason = self._reason()
        self.plan.attempts.append(
            Attempt(
                step_id=step.id,
                action=step.action,
                targets=targets,
                timeout=step.timeout,
                user_ids=tuple(user_ids),
                forward_number=forward,
            )
        )
        for user_id in user_ids:
            self.plan.log.append(
                LogEntry(
                    KIND_STEP,
                    reason,
                    rule_id=self.rule.id,
                    step_id=step.id,
                    user_id=user_id,
                    targets=targets,
                    timeout=step.timeout,
                )
            )
        if mobile_of is None:
            self.rung.update(user_ids)

    def _skip(self, step, reason, user_id=0, detail=""):
        self.plan.log.append(
            LogEntry(
                KIND_STEP,
                reason,
                rule_id=self.rule.id,
                step_id=step.id,
                user_id=user_id,
                detail=detail,
            )
        )

    def _blocker(self, user_id, step, mobile=False):
        agent = self.agents.get(user_id)
        if agent is None:
            return NO_MOBILE if mobile else NO_EXTENSION
        if not mobile and user_id in self.rung:
            return ALREADY_TRIED
        return agent.blocker(mobile=mobile, ignore_hours=step.ignore_hours)

    # -- step actions ----------------------------------------------------------------------------

    def _responsible(self, step):
        if not self.responsible_id:
            self._skip(step, NO_RESPONSIBLE)
            return
        reason = self._blocker(self.responsible_id, step)
        if reason:
            self._skip(step, reason, self.responsible_id)
        else:
            self._ring(step, [self.responsible_id])

    def _responsible_mobile(self, step):
        if not self.responsible_id:
            self._skip(step, NO_RESPONSIBLE)
            return
        reason = self._blocker(self.responsible_id, step, mobile=True)
        if reason:
            self._skip(step, reason, self.responsible_id)
        else:
            self._ring(step, [self.responsible_id], mobile_of=self.agents[self.responsible_id])

    def _team(self, step):
        team_id = step_team(step, self.default_team_id, self.rule)
        if not team_id:
            self._skip(step, NO_TEAM)
            return
        members = self.team_members.get(team_id) or []
        if not members:
            self._skip(step, NO_MEMBERS, detail=str(team_id))
            return
        for user_id in round_robin(members, self.agents):
            reason = self._blocker(user_id, step)
            if reason:
                self._skip(step, reason, user_id)
                continue
            self._ring(step, [user_id])
            return
        self._skip(step, NOBODY_AVAILABLE)

    def _users(self, step):
        if not step.user_ids:
            self._skip(step, NO_USERS)
            return
        before = len(self.plan.attempts)
        for user_id in step.user_ids:
            reason = self._blocker(user_id, step)
            if reason:
                self._skip(step, reason, user_id)
            else:
                self._ring(step, [user_id])
        if len(self.plan.attempts) == before:
            self._skip(step, NOBODY_AVAILABLE)

    def _users_all(self, step):
        if not step.user_ids:
            self._skip(step, NO_USERS)
            return
        free = []
        for user_id in step.user_ids:
            reason = self._blocker(user_id, step)
            if reason:
                self._skip(step, reason, user_id)
            else:
                free.append(user_id)
        if free:
            self._ring(step, free)
        else:
            self._skip(step, NOBODY_AVAILABLE)

    def _terminal(self, step):
        target = (step.pbx_target or "").strip()
        targets = (target,) if step.action == VOICEMAIL and target else ()
        reason = self._reason()
        if step.action == VOICEMAIL and not targets:
            reason = PBX_DEFAULT
        self.plan.attempts.append(Attempt(step_id=step.id, action=step.action, targets=targets))
        self.plan.log.append(
            LogEntry(KIND_STEP, reason, rule_id=self.rule.id, step_id=step.id, targets=targets)
        )
        self.plan.terminal = step.action


# -----------------------------------------------------------------------------------------------
# Working time
# -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attendance:
    """One line of a working calendar: weekday 0 (Monday) to 6, hours as floats."""

    weekday: int
    hour_from: float
    hour_to: float
    date_from: object = None  # datetime.date or None
    date_to: object = None
    week_type: int | None = None  # 0/1 for two-week calendars


def week_type(day):
    """Odoo's week parity of a date (``resource.calendar.attendance.get_week_type``)."""
    return int(math.floor((day.toordinal() - 1) / 7) % 2)


def within_attendances(local_moment, attendances, two_weeks=False):
    """Whether a local (naive or aware, in the calendar's timezone) moment is working time."""
    day = local_moment.date()
    hour = local_moment.hour + local_moment.minute / 60 + local_moment.second / 3600
    parity = week_type(day) if two_weeks else None
    for attendance in attendances:
        if attendance.weekday != local_moment.weekday():
            continue
        if two_weeks and attendance.week_type is not None and attendance.week_type != parity:
            continue
        if attendance.date_from and day < attendance.date_from:
            continue
        if attendance.date_to and day > attendance.date_to:
            continue
        if attendance.hour_from <= hour < attendance.hour_to:
            return True
    return False
