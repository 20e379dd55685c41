import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import phonenumbers
import pytz

from odoo import fields
from odoo.tools import SQL

from odoo.addons.crm_voip import providers
from odoo.addons.crm_voip.callstate import states

from ..routing import engine

_logger = logging.getLogger(__name__)

# A call still "talking" after this long lost its end event: it no longer makes anyone busy.
TALKING_WINDOW = timedelta(hours=4)
# Being rung is busy only for as long as a PBX rings anyone.
RINGING_WINDOW = timedelta(minutes=3)


class RoutingTimeout(Exception):
    """Deciding took longer than the company's budget: the PBX keeps its own route."""


@dataclass
class RoutingResult:
    """Everything the routing of one call (or one "test a number") found out."""

    when: object = None  # naive UTC datetime the decision is made for
    caller: engine.Caller = field(default_factory=engine.Caller)
    route: object = None  # crm.voip.route record (maybe empty)
    plan: engine.Plan | None = None
    rule_trace: list = field(default_factory=list)  # engine.LogEntry per rule examined
    responsible: object = None  # res.users record (maybe empty)
    responsible_source: str = ""
    team: object = None  # crm.team record: the team of the chain's team steps
    agents: dict = field(default_factory=dict)
    rules: tuple = ()  # the company's compiled rules, in order

    @property
    def decision(self):
        return self.plan.decision if self.plan else engine.Decision()


@dataclass(frozen=True)
class CalendarFacts:
    """A working calendar as the engine reads it."""

    id: int
    tz: str
    flexible: bool
    two_weeks: bool
    attendances: tuple


class CallRouter:
    """The Odoo side of the routing engine: gathers the facts a decision needs in a few
    indexed queries, asks ``routing.engine``, and answers with what it decided.

    A plain service holding an environment (like ``sms``'s ``SmsApi``), used by the
    webhook, the "Test a number" wizard and the lookup endpoint. It runs as superuser: it
    reads other people's calendars, time off, presence and the phone blacklist, which its
    callers (the webhook user, a dialplan's API user) may not read. It writes nothing.

    Only the rules are cached, compiled per company and keyed by a fingerprint of their
    rows (read at every call), so an edited rule applies to the next call in every worker.
    Everything about people (who owns the client, who is away, busy or on "do not
    disturb") is read live: a salesperson reassigned a minute ago gets the next call.
    Reads go through SQL where the ORM would fetch whole records for one column.
    """

    def __init__(self, env):
        self.env = env(su=True)

    # ------------------------------------------------------------------
    # Entry point
    # ------------------------------------------------------------------

    def route(
        self,
        provider,
        number_e164,
        *,
        line=None,
        partner=None,
        lead=None,
        caller_is_new=False,
        team=None,
        when=None,
        budget_deadline=None,
        exclude_call_id=0,
        flushed=False,
    ):
        """Decide who answers a call from ``number_e164`` to ``provider``'s ``line``.

        ``partner``/``lead`` are the identified caller, ``caller_is_new`` says they were
        created by this very call (the number was unknown), ``team`` is the call's team
        (from the dialled line), ``when`` the naive UTC moment of the call (default: now).
        ``budget_deadline`` is a ``time.perf_counter()`` value after which the routing gives
        up (``RoutingTimeout``). The facts are read with SQL: pending ORM writes are
        flushed first unless ``flushed`` says the caller just did.
        """
        env = self.env
        if not flushed:
            env.flush_all()
        provider = provider.sudo()
        company = provider.company_id
        partner = (partner or env["res.partner"]).sudo()
        lead = (lead or env["crm.lead"]).sudo()
        line = (line or env["crm.voip.line"]).sudo()
        team = (team or env["crm.team"]).sudo()
        when = when or fields.Datetime.now()
        result = RoutingResult(when=when, route=env["crm.voip.route"], team=env["crm.team"])
        result.responsible = env["res.users"]

        def check_budget():
            if budget_deadline is not None and time.perf_counter() > budget_deadline:
                raise RoutingTimeout()

        number_e164 = number_e164 or ""
        result.caller = engine.Caller(
            number=number_e164,
            country=self.number_country(number_e164),
            known=bool(partner or lead) and not caller_is_new,
            category_ids=self.partner_categories(partner),
            line_id=line.id or 0,
            blacklisted=self.is_blacklisted(number_e164, flush=False),
        )
        rules = self.rules(company.id)
        result.rules = rules
        check_budget()
        calendars = {}

        def in_window(calendar_id):
            if calendar_id not in calendars:
                calendars.update(self.calendars([calendar_id]))
            return self.in_calendar_facts(calendars.get(calendar_id), when, company.id)

        rule = engine.match_rule(rules, result.caller, in_window, trace=result.rule_trace)
        check_budget()
        if rule is None:
            return result
        route = env["crm.voip.route"].browse(rule.id)
        rule_team = env["crm.team"].browse(rule.team_id)
        result.route = route
        actions = {step.action for step in rule.steps}
        if actions & {engine.RESPONSIBLE, engine.RESPONSIBLE_MOBILE}:
            result.responsible, result.responsible_source = self.responsible(
                partner, lead, rule_team or team or line.team_id
            )
        result.team = (
            rule_team
            or team
            or line.team_id
            or self.partner_team(partner)
            or lead.team_id
            or result.responsible.sale_team_id
        )
        team_members = self.team_members(engine.needed_teams(rule, result.team.id))
        user_ids = engine.needed_users(rule, result.responsible.id, team_members)
        check_budget()
        result.agents = self.agents(
            provider,
            user_ids,
            when,
            rotating_ids={uid for members in team_members.values() for uid in members},
            exclude_call_id=exclude_call_id,
            calendars=calendars,
        )
        check_budget()
        result.plan = engine.plan_chain(
            rule,
            result.agents,
            responsible_id=result.responsible.id,
            team_members=team_members,
            default_team_id=result.team.id,
        )
        return result

    # ------------------------------------------------------------------
    # Rules
    # ------------------------------------------------------------------

    def rules(self, company_id):
        """The company's active rules, in order, compiled for the engine."""
        return self.env["crm.voip.route"]._crm_voip_compiled_rules(
            company_id, self.rules_fingerprint(company_id)
        )

    def rules_fingerprint(self, company_id):
        """Changes whenever a rule or step of the company is created, written (its many2many
        fields included: writing them writes the row), archived or deleted: the row count,
        the sum of the ids and the sum of the row versions (``xmin``)."""
        self.env.cr.execute(
            SQL(
                """
                SELECT (SELECT concat(count(*), ':', sum(id), ':', sum(xmin::text::bigint))
                          FROM crm_voip_route WHERE company_id = %(company)s),
                       (SELECT concat(count(*), ':', sum(id), ':', sum(xmin::text::bigint))
                          FROM crm_voip_route_step WHERE company_id = %(company)s)
                """,
                company=company_id,
            )
        )
        return self.env.cr.fetchone()

    # ------------------------------------------------------------------
    # Facts about the caller
    # ------------------------------------------------------------------

    def number_country(self, number_e164):
        if not number_e164 or not number_e164.startswith("+"):
            return ""
        try:
            parsed = phonenumbers.parse(number_e164)
        except phonenumbers.NumberParseException:
            return ""
        return phonenumbers.region_code_for_number(parsed) or ""

    def partner_categories(self, partner):
        """The tags of the contact and of its company."""
        if not partner:
            return frozenset()
        ids = list({partner.id, partner.commercial_partner_id.id})
        self.env.cr.execute(
            SQL(
                "SELECT category_id FROM res_partner_res_partner_category_rel"
                " WHERE partner_id = ANY(%s)",
                ids,
            )
        )
        return frozenset(row[0] for row in self.env.cr.fetchall())

    def is_blacklisted(self, number_e164, flush=True):
        """Whether Odoo's phone blacklist (the one SMS uses) blocks this E.164 number:
        crm_voip's rule (``phone.blacklist._crm_voip_blocked``), one index probe."""
        if not number_e164:
            return False
        return bool(self.env["phone.blacklist"]._crm_voip_blocked([number_e164], flush=flush))

    def responsible(self, partner, lead, team):
        """The client's own manager: ``(user, source)``.

        His contact's salesperson (or his company's); else the salesperson of his most
        recent open opportunity; else the salesperson of the lead the number belongs to;
        else the leader of his team (the contact's where contacts have one, the lead's,
        else ``team``: the rule's or the dialled line's). Archived users do not count.
        """
        Users = self.env["res.users"]
        cr = self.env.cr
        if partner:
            cr.execute(
                SQL(
                    """
                    SELECT COALESCE(pu.id, cu.id), cp.id
                      FROM res_partner p
                      JOIN res_partner cp ON cp.id = COALESCE(p.commercial_partner_id, p.id)
                 LEFT JOIN res_users pu ON pu.id = p.user_id AND pu.active
                 LEFT JOIN res_users cu ON cu.id = cp.user_id AND cu.active
                     WHERE p.id = %s
                    """,
                    partner.id,
                )
            )
            user_id, commercial_id = cr.fetchone() or (None, None)
            if user_id:
                return Users.browse(user_id), engine.SOURCE_PARTNER
            company_ids = [self.env.company.id]
            cr.execute(
                SQL(
                    """
                    SELECT l.user_id
                      FROM crm_lead l
                      JOIN res_users u ON u.id = l.user_id AND u.active
                     WHERE l.partner_id IN (SELECT id FROM res_partner
                                             WHERE commercial_partner_id = %(commercial)s)
                       AND l.type = 'opportunity' AND l.active AND l.probability < 100
                       AND (l.company_id IS NULL OR l.company_id = ANY(%(companies)s))
                     ORDER BY l.create_date DESC, l.id DESC
                     LIMIT 1
                    """,
                    commercial=commercial_id or partner.id,
                    companies=company_ids,
                )
            )
            row = cr.fetchone()
            if row:
                return Users.browse(row[0]), engine.SOURCE_OPPORTUNITY
        if lead:
            user_id = self.active_user(lead.user_id.id)
            if user_id:
                return Users.browse(user_id), engine.SOURCE_LEAD
        leader_team = self.partner_team(partner) or lead.team_id or team
        if leader_team:
            user_id = self.active_user(leader_team.user_id.id)
            if user_id:
                return Users.browse(user_id), engine.SOURCE_TEAM_LEADER
        return Users, ""

    def active_user(self, user_id):
        if not user_id:
            return 0
        self.env.cr.execute(SQL("SELECT id FROM res_users WHERE id = %s AND active", user_id))
        row = self.env.cr.fetchone()
        return row[0] if row else 0

    def partner_team(self, partner):
        """The client's sales team, where contacts have one (the Sales app adds it)."""
        if "team_id" not in partner._fields:
            return self.env["crm.team"]
        return partner.team_id or partner.commercial_partner_id.team_id

    # ------------------------------------------------------------------
    # Facts about time
    # ------------------------------------------------------------------

    def calendars(self, calendar_ids):
        """``{calendar_id: CalendarFacts}`` of the given calendars, in two queries."""
        calendar_ids = [cid for cid in set(calendar_ids) if cid]
        if not calendar_ids:
            return {}
        self.env.cr.execute(
            SQL(
                "SELECT id, tz, flexible_hours, two_weeks_calendar FROM resource_calendar"
                " WHERE id = ANY(%s)",
                calendar_ids,
            )
        )
        header = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        self.env.cr.execute(
            SQL(
                """
                SELECT calendar_id, dayofweek, hour_from, hour_to, date_from, date_to, week_type
                  FROM resource_calendar_attendance
                 WHERE calendar_id = ANY(%s) AND resource_id IS NULL
                   AND display_type IS NULL AND COALESCE(day_period, '') != 'lunch'
                """,
                calendar_ids,
            )
        )
        attendances = {cid: [] for cid in header}
        for (
            calendar_id,
            day,
            hour_from,
            hour_to,
            date_from,
            date_to,
            week,
        ) in self.env.cr.fetchall():
            attendances[calendar_id].append(
                engine.Attendance(
                    weekday=int(day),
                    hour_from=hour_from,
                    hour_to=hour_to,
                    date_from=date_from,
                    date_to=date_to,
                    week_type=int(week) if week else None,
                )
            )
        return {
            cid: CalendarFacts(
                cid, tz or "UTC", bool(flexible), bool(two_weeks), tuple(attendances[cid])
            )
            for cid, (tz, flexible, two_weeks) in header.items()
        }

    def working_now(self, calendar, tz_name, when):
        """Whether ``when`` (naive UTC) is within ``calendar``'s hours in ``tz_name``."""
        if calendar is None or calendar.flexible:
            return True
        try:
            tz = pytz.timezone(tz_name or calendar.tz)
        except pytz.UnknownTimeZoneError:
            tz = pytz.utc
        local = pytz.utc.localize(when).astimezone(tz)
        return engine.within_attendances(local, calendar.attendances, calendar.two_weeks)

    def leaves(self, when, company_id, calendar_ids=(), resource_ids=()):
        """Time off covering ``when``: ``(calendar ids with a public holiday, resource ids
        on leave)``; ``False`` among the calendars means every calendar of the company."""
        self.env.cr.execute(
            SQL(
                """
                SELECT resource_id, calendar_id
                  FROM resource_calendar_leaves
                 WHERE time_type = 'leave'
                   AND date_from <= %(when)s AND date_to > %(when)s
                   AND (resource_id = ANY(%(resources)s)
                        OR (resource_id IS NULL
                            AND (calendar_id = ANY(%(calendars)s) OR calendar_id IS NULL)
                            AND (company_id = %(company)s OR company_id IS NULL)))
                """,
                when=when,
                resources=list(resource_ids),
                calendars=list(calendar_ids),
                company=company_id,
            )
        )
        holidays, on_leave = set(), set()
        for resource_id, calendar_id in self.env.cr.fetchall():
            if resource_id:
                on_leave.add(resource_id)
            else:
                holidays.add(calendar_id or False)
        if False in holidays:
            holidays |= set(calendar_ids)
        return holidays, on_leave

    def in_calendar_facts(self, calendar, when, company_id):
        """Rule time windows: within the calendar's hours, in its own timezone, and not on
        one of its public holidays."""
        if calendar is None:
            return False
        if not self.working_now(calendar, calendar.tz, when):
            return False
        holidays, _on_leave = self.leaves(when, company_id, [calendar.id])
        return calendar.id not in holidays

    def in_calendar(self, calendar, when, company):
        """Whether ``when`` is within ``calendar``'s working time (see above)."""
        self.env.flush_all()
        facts = self.calendars(calendar.ids).get(calendar.id)
        return self.in_calendar_facts(facts, when, company.id)

    # ------------------------------------------------------------------
    # Facts about people
    # ------------------------------------------------------------------

    def team_members(self, team_ids):
        """``{team_id: [user_id, ...]}`` in membership order, active users only."""
        if not team_ids:
            return {}
        self.env.cr.execute(
            SQL(
                """
                SELECT m.crm_team_id, m.user_id
                  FROM crm_team_member m
                  JOIN res_users u ON u.id = m.user_id
                 WHERE m.crm_team_id = ANY(%s) AND m.active AND u.active
                 ORDER BY m.create_date, m.id
                """,
                list(team_ids),
            )
        )
        members = {team_id: [] for team_id in team_ids}
        for team_id, user_id in self.env.cr.fetchall():
            members[team_id].append(user_id)
        return members

    def agents(self, provider, user_ids, when, rotating_ids=(), exclude_call_id=0, calendars=None):
        """``{user_id: engine.Agent}``: extension, mobile and availability of each user at
        ``when`` (naive UTC), in a handful of queries whatever their number (SQL: the
        caller flushes pending ORM writes first)."""
        if not user_ids:
            return {}
        company = provider.company_id
        region = provider._crm_voip_region()
        user_ids = list(user_ids)
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT u.id, p.name, p.tz, COALESCE(u.crm_voip_dnd, false),
                       x.extension, x.mobile,
                       (SELECT array_agg(ARRAY[r.id, COALESCE(r.calendar_id, 0),
                                               COALESCE(r.company_id, 0)]
                                         ORDER BY (r.company_id = %(company)s) IS TRUE DESC, r.id)
                          FROM resource_resource r WHERE r.user_id = u.id),
                       (SELECT r.tz FROM resource_resource r WHERE r.user_id = u.id
                         ORDER BY (r.company_id = %(company)s) IS TRUE DESC, r.id LIMIT 1)
                  FROM res_users u
                  JOIN res_partner p ON p.id = u.partner_id
             LEFT JOIN crm_voip_extension x
                    ON x.user_id = u.id AND x.provider_id = %(provider)s
                 WHERE u.id = ANY(%(users)s)
                """,
                company=company.id,
                provider=provider.id,
                users=user_ids,
            )
        )
        rows = cr.fetchall()
        company_calendar = company.resource_calendar_id.id
        people = {}
        for user_id, name, tz, dnd, extension, mobile, resources, resource_tz in rows:
            resource_id, calendar_id = 0, 0
            if resources:
                resource_id, calendar_id = resources[0][0], resources[0][1]
            people[user_id] = {
                "name": name or "",
                "tz": tz or resource_tz or "",
                "dnd": dnd,
                "extension": extension or "",
                "mobile": mobile or "",
                "resource": resource_id,
                "calendar": calendar_id or company_calendar or 0,
            }
        calendars = calendars if calendars is not None else {}
        missing = {p["calendar"] for p in people.values()} - set(calendars)
        if missing:
            calendars.update(self.calendars(missing))
        holidays, on_leave = self.leaves(
            when,
            company.id,
            [p["calendar"] for p in people.values() if p["calendar"]],
            [p["resource"] for p in people.values() if p["resource"]],
        )
        busy = self.busy_user_ids(user_ids, when, exclude_call_id)
        last_routed = self.last_routed([uid for uid in user_ids if uid in rotating_ids])
        agents = {}
        for user_id in user_ids:
            person = people.get(user_id)
            if person is None:
                continue
            calendar = calendars.get(person["calendar"])
            working = (calendar is None or calendar.id not in holidays) and (
                self.working_now(calendar, person["tz"], when)
            )
            mobile = ""
            if person["mobile"]:
                mobile = providers.numbers.normalize(person["mobile"], region) or ""
            agents[user_id] = engine.Agent(
                user_id=user_id,
                name=person["name"],
                extension=person["extension"],
                mobile=mobile,
                dnd=person["dnd"],
                on_call=user_id in busy,
                on_leave=bool(person["resource"]) and person["resource"] in on_leave,
                working=working,
                last_routed=last_routed.get(user_id, 0),
            )
        return agents

    def busy_user_ids(self, user_ids, when, exclude_call_id=0):
        """Users already talking, or being rung, at ``when`` according to the live calls."""
        Call = self.env["crm.voip.call"]
        rang = Call._fields["rang_user_ids"]
        self.env.cr.execute(
            SQL(
                """
                SELECT c.user_id
                  FROM crm_voip_call c
                 WHERE c.state IN %(live)s
                   AND c.date_start BETWEEN %(talk_from)s AND %(until)s
                   AND c.id != %(call)s
                   AND c.user_id = ANY(%(users)s)
                   AND (c.state = 'talking' OR c.date_start >= %(ring_from)s)
                 UNION
                SELECT c.crm_voip_routed_user_id
                  FROM crm_voip_call c
                 WHERE c.state = 'ringing'
                   AND c.date_start BETWEEN %(ring_from)s AND %(until)s
                   AND c.id != %(call)s
                   AND c.crm_voip_routed_user_id = ANY(%(users)s)
                 UNION
                SELECT r.%(user_col)s
                  FROM crm_voip_call c
                  JOIN %(rel)s r ON r.%(call_col)s = c.id
                 WHERE c.state = 'ringing'
                   AND c.date_start BETWEEN %(ring_from)s AND %(until)s
                   AND c.id != %(call)s
                   AND r.%(user_col)s = ANY(%(users)s)
                """,
                talk_from=when - TALKING_WINDOW,
                ring_from=when - RINGING_WINDOW,
                until=when + timedelta(minutes=1),
                call=exclude_call_id or 0,
                live=states.LIVE,
                users=list(user_ids),
                rel=SQL.identifier(rang.relation),
                call_col=SQL.identifier(rang.column1),
                user_col=SQL.identifier(rang.column2),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def last_routed(self, user_ids):
        """``{user_id: id of the last call routed to him first}`` for the round-robin."""
        if not user_ids:
            return {}
        self.env.cr.execute(
            SQL(
                """
                SELECT u.id,
                       (SELECT c.id FROM crm_voip_call c
                         WHERE c.crm_voip_routed_user_id = u.id
                         ORDER BY c.id DESC LIMIT 1)
                  FROM unnest(%s::int[]) AS u(id)
                """,
                list(user_ids),
            )
        )
        return {user_id: call_id or 0 for user_id, call_id in self.env.cr.fetchall()}
