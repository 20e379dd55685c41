import datetime

from odoo import api, fields, models
from odoo.models import parse_read_group_spec
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.misc import get_lang

from ..models.res_company import DEFAULT_DEADLINE_MINUTES, OWN_DEADLINE_FIELD
from .crm_voip_call_report_mixin import (
    ANSWERED_STATES,
    UNANSWERED_STATES,
    local_time_sql,
    outcome_sql,
    weekday_sql,
)

HOURS = [(f"{hour:02d}", f"{hour:02d}:00") for hour in range(24)]
# A won opportunity counts for the calls of the 30 days before it was won.
WON_WINDOW_DAYS = 30
# Local days are at most this far from UTC days (UTC-12 to UTC+14): a filter on the
# local date reads the call log's date_start index between these margins.
TZ_MARGIN_BEFORE = datetime.timedelta(hours=14)
TZ_MARGIN_AFTER = datetime.timedelta(hours=12)

# Groupings of the call date that whole months add up to.
WHOLE_MONTH_GRANULARITIES = ("month", "quarter", "year")
# What the daily totals can answer: a read_group that groups, filters and measures only
# with these is served from them.
DAILY_DIMENSIONS = frozenset(
    (
        "company_id",
        "user_id",
        "team_id",
        "direction",
        "outcome",
        "line_id",
        "source_id",
        "call_date",
        "weekday",
    )
)
# The dashboard: its KPI cards, and the KPIs the salespeople can be sorted by.
CARD_MEASURES = (
    "call_count",
    "inbound_count",
    "outbound_count",
    "answered_count",
    "missed_count",
    "answer_rate",
    "missed_rate",
    "talk_hours",
    "avg_talk_minutes",
    "avg_wait_minutes",
    "callback_sla_rate",
    "callback_median_minutes",
)
SALESPERSON_MEASURES = (
    "call_count",
    "answered_count",
    "answer_rate",
    "missed_count",
    "talk_hours",
    "avg_talk_minutes",
    "callback_sla_rate",
    "opportunities_won",
    "calls_per_won",
)
DASHBOARD_PERIODS = ("week", "month", "last_30_days", "quarter", "year")
DAILY_MEASURES = frozenset(
    (
        "call_count",
        "inbound_count",
        "outbound_count",
        "answered_count",
        "missed_count",
        "answer_rate",
        "missed_rate",
        "talk_hours",
        "avg_talk_minutes",
        "avg_wait_minutes",
        "called_back_count",
        "callback_sla_rate",
    )
)


class CrmVoipCallReport(models.Model):
    """Call analysis: one row per call, every dimension and measure of the telephony KPIs.

    A read_group whose grouping, filter and measures the daily totals can answer
    (``crm.voip.call.report.daily``) is served from them; the others read the call log.
    """

    _name = "crm.voip.call.report"
    _inherit = ["crm.voip.call.report.mixin"]
    _description = "Call analysis"
    _auto = False
    _order = "date_start desc, id desc"
    _rec_name = "call_id"
    _depends = {
        "crm.voip.call": [
            "company_id",
            "provider_id",
            "user_id",
            "team_id",
            "direction",
            "state",
            "line_id",
            "source_id",
            "partner_id",
            "lead_id",
            "outcome_id",
            "origin",
            "partner_number_e164",
            "date_start",
            "ring_seconds",
            "talk_seconds",
            "lead_created",
            "callback_deadline",
        ],
        "crm.voip.call.callback": ["call_id", "callback_call_id", "callback_date"],
        "crm.voip.provider": ["timezone"],
        "res.partner": ["commercial_partner_id", "country_id"],
        "crm.lead": ["active", "stage_id", "date_closed"],
        "crm.stage": ["is_won"],
    }

    call_id = fields.Many2one("crm.voip.call", string="Call", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True)
    commercial_partner_id = fields.Many2one("res.partner", string="Client", readonly=True)
    country_id = fields.Many2one("res.country", string="Client country", readonly=True)
    lead_id = fields.Many2one("crm.lead", string="Lead/Opportunity", readonly=True)
    wrapup_outcome_id = fields.Many2one(
        "crm.voip.call.outcome", string="Wrap-up outcome", readonly=True
    )
    origin = fields.Selection(selection="_selection_origin", readonly=True)
    partner_number = fields.Char(string="Client number", readonly=True)
    # The call log's spelling of the number (``+7 495 123-45-67``), sorted and searched
    # through the stored E.164 form.
    partner_number_display = fields.Char(
        string="Client number (formatted)",
        compute="_compute_partner_number_display",
        search="_search_partner_number_display",
    )
    date_start = fields.Datetime(string="Started", readonly=True)
    hour = fields.Selection(
        HOURS, string="Hour of day", readonly=True, help="In the PBX account's timezone."
    )
    ring_seconds = fields.Integer(string="Ring time (s)", readonly=True, aggregator=None)
    talk_seconds = fields.Integer(string="Talk time (s)", readonly=True, aggregator=None)
    callback_call_id = fields.Many2one("crm.voip.call", string="Called back by", readonly=True)
    callback_date = fields.Datetime(string="Called back at", readonly=True)
    callback_minutes = fields.Float(
        string="Time to call back (min)", readonly=True, aggregator=None, digits=(16, 1)
    )

    # Measures the daily totals cannot give: distinct counts and a median.
    callback_median_minutes = fields.Float(
        string="Median time to call back (min)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Half of the missed calls that were called back were within this time.",
    )
    clients_reached = fields.Integer(
        string="Clients reached",
        readonly=True,
        aggregator="sum",
        help="Distinct clients (contact's company, or number) with an answered call.",
    )
    opportunities_created = fields.Integer(
        string="Opportunities created",
        readonly=True,
        aggregator="sum",
        help="Distinct leads and opportunities created from the calls.",
    )
    opportunities_won = fields.Integer(
        string="Opportunities won",
        readonly=True,
        aggregator="sum",
        help="Distinct opportunities of the calls won within 30 days after a call.",
    )
    calls_per_won = fields.Float(
        string="Calls per won opportunity",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Calls of the group divided by the opportunities won within 30 days of them.",
    )

    @api.model
    def _selection_origin(self):
        # The call's own choices (translated), with what other modules add (a website
        # call-back).
        return self.env["crm.voip.call"]._fields["origin"]._description_selection(self.env)

    @api.depends("partner_number")
    def _compute_partner_number_display(self):
        format_number = self.env["crm.voip.call"]._crm_voip_format_number
        for row in self:
            row.partner_number_display = format_number(row.partner_number) or False

    def _search_partner_number_display(self, operator, value):
        return self.env["crm.voip.call"]._crm_voip_number_domain(
            operator, value, "partner_number", "partner_number"
        )

    def _order_field_to_sql(self, alias, field_name, direction, nulls, query):
        if field_name == "partner_number_display":
            field_name = "partner_number"
        return super()._order_field_to_sql(alias, field_name, direction, nulls, query)

    # ------------------------------------------------------------------
    # The table
    # ------------------------------------------------------------------

    @property
    def _table_query(self):
        return SQL("%s %s %s", self._select(), self._from(), self._where())

    def _select(self):
        local = local_time_sql("c", "pv")
        answered = SQL("c.state IN %s", ANSWERED_STATES)
        missed = SQL("(c.direction = 'inbound' AND c.state IN %s)", UNANSWERED_STATES)
        waited = SQL("(c.direction = 'inbound' AND c.ring_seconds IS NOT NULL)")
        return SQL(
            """
            SELECT
                c.id AS id,
                c.id AS call_id,
                c.company_id AS company_id,
                c.user_id AS user_id,
                c.team_id AS team_id,
                c.direction AS direction,
                %(outcome)s AS outcome,
                c.line_id AS line_id,
                c.source_id AS source_id,
                c.partner_id AS partner_id,
                p.commercial_partner_id AS commercial_partner_id,
                COALESCE(p.country_id, cp.country_id) AS country_id,
                c.lead_id AS lead_id,
                c.outcome_id AS wrapup_outcome_id,
                c.origin AS origin,
                c.partner_number_e164 AS partner_number,
                c.date_start AS date_start,
                (%(local)s)::date AS call_date,
                %(weekday)s AS weekday,
                lpad(EXTRACT(HOUR FROM %(local)s)::int::text, 2, '0')::varchar AS hour,
                c.ring_seconds AS ring_seconds,
                c.talk_seconds AS talk_seconds,
                1 AS call_count,
                (c.direction = 'inbound')::int AS inbound_count,
                (c.direction = 'outbound')::int AS outbound_count,
                (%(answered)s)::int AS answered_count,
                %(missed)s::int AS missed_count,
                CASE WHEN %(answered)s THEN 100.0 ELSE 0.0 END::float8 AS answer_rate,
                CASE WHEN c.direction = 'inbound'
                     THEN CASE WHEN %(missed)s THEN 100.0 ELSE 0.0 END
                END::float8 AS missed_rate,
                (CASE WHEN %(answered)s THEN COALESCE(c.talk_seconds, 0) ELSE 0 END)::int8
                    AS talk_seconds_total,
                (CASE WHEN %(answered)s THEN COALESCE(c.talk_seconds, 0) ELSE 0 END
                    / 3600.0)::float8 AS talk_hours,
                (CASE WHEN %(answered)s THEN COALESCE(c.talk_seconds, 0) / 60.0 END)::float8
                    AS avg_talk_minutes,
                (CASE WHEN %(waited)s THEN c.ring_seconds ELSE 0 END)::int8 AS wait_seconds,
                %(waited)s::int AS wait_count,
                (CASE WHEN %(waited)s THEN c.ring_seconds / 60.0 END)::float8
                    AS avg_wait_minutes,
                cb.callback_call_id AS callback_call_id,
                cb.callback_date AS callback_date,
                (EXTRACT(EPOCH FROM cb.callback_date - c.date_start) / 60.0)::float8
                    AS callback_minutes,
                (EXTRACT(EPOCH FROM cb.callback_date - c.date_start) / 60.0)::float8
                    AS callback_median_minutes,
                (cb.id IS NOT NULL)::int AS called_back_count,
                COALESCE(cb.callback_date <= %(deadline)s, FALSE)::int AS callback_in_sla_count,
                CASE WHEN %(missed)s THEN
                    CASE WHEN cb.callback_date <= %(deadline)s THEN 100.0 ELSE 0.0 END
                END::float8 AS callback_sla_rate,
                CASE WHEN %(answered)s
                     THEN COALESCE('p' || p.commercial_partner_id::text,
                                   'n' || c.partner_number_e164)
                END AS reached_client,
                (%(answered)s AND (p.commercial_partner_id IS NOT NULL
                                   OR c.partner_number_e164 IS NOT NULL))::int
                    AS clients_reached,
                CASE WHEN c.lead_created THEN c.lead_id END AS created_lead_id,
                (c.lead_created AND c.lead_id IS NOT NULL)::int AS opportunities_created,
                %(won_lead)s AS won_lead_id,
                (%(won_lead)s IS NOT NULL)::int AS opportunities_won,
                NULL::float8 AS calls_per_won
            """,
            outcome=outcome_sql("c"),
            local=local,
            weekday=weekday_sql(local),
            answered=answered,
            missed=missed,
            waited=waited,
            deadline=self._crm_voip_callback_deadline_sql(),
            won_lead=SQL(
                "CASE WHEN l.active AND st.is_won AND l.date_closed >= c.date_start"
                " AND l.date_closed < c.date_start + make_interval(days => %s)"
                " THEN c.lead_id END",
                WON_WINDOW_DAYS,
            ),
        )

    def _from(self):
        # LEFT JOINs on unique keys only: PostgreSQL drops the ones a query does not use.
        return SQL(
            """
            FROM crm_voip_call c
            LEFT JOIN crm_voip_provider pv ON pv.id = c.provider_id
            LEFT JOIN res_company rc ON rc.id = c.company_id
            LEFT JOIN res_partner p ON p.id = c.partner_id
            LEFT JOIN res_partner cp ON cp.id = p.commercial_partner_id
            LEFT JOIN crm_voip_call_callback cb ON cb.call_id = c.id
            LEFT JOIN crm_lead l ON l.id = c.lead_id
            LEFT JOIN crm_stage st ON st.id = l.stage_id
            """
        )

    def _where(self):
        return SQL("WHERE c.date_start IS NOT NULL")

    @api.model
    def _crm_voip_callback_deadline_sql(self, call_alias="c", company_alias="rc"):
        """The call-back deadline of the missed call ``call_alias``: the one stored on the
        call by the module that gives deadlines (``crm_voip_routing``: its call-back
        task's, in working time), else this module's own, the call's start plus the
        company's minutes on the wall clock."""
        Call = self.env["crm.voip.call"]
        Company = self.env["res.company"]
        return SQL(
            "COALESCE(%s, %s + make_interval(mins => COALESCE(%s, %s)))",
            SQL.identifier(
                call_alias, "callback_deadline", to_flush=Call._fields["callback_deadline"]
            ),
            SQL.identifier(call_alias, "date_start"),
            SQL.identifier(
                company_alias, OWN_DEADLINE_FIELD, to_flush=Company._fields[OWN_DEADLINE_FIELD]
            ),
            DEFAULT_DEADLINE_MINUTES,
        )

    # ------------------------------------------------------------------
    # Group values
    # ------------------------------------------------------------------

    def _crm_voip_group_formulas(self):
        formulas = super()._crm_voip_group_formulas()
        column = self._crm_voip_column
        formulas.update(
            {
                "callback_median_minutes": SQL(
                    "(percentile_cont(0.5) WITHIN GROUP (ORDER BY %s))::float8",
                    column("callback_minutes"),
                ),
                "clients_reached": SQL("COUNT(DISTINCT %s)", column("reached_client")),
                "opportunities_created": SQL("COUNT(DISTINCT %s)", column("created_lead_id")),
                "opportunities_won": SQL("COUNT(DISTINCT %s)", column("won_lead_id")),
                "calls_per_won": SQL(
                    "(COUNT(*)::float8 / NULLIF(COUNT(DISTINCT %s), 0))::float8",
                    column("won_lead_id"),
                ),
            }
        )
        # The mixin's ratios read the answered talk time of each row.
        formulas["avg_talk_minutes"] = SQL(
            "(SUM(%s) / NULLIF(SUM(%s), 0) / 60.0)::float8",
            column("talk_seconds_total"),
            column("answered_count"),
        )
        return formulas

    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        daily = self._crm_voip_daily_for(domain, groupby, aggregates, having)
        if daily is not None:
            return daily._read_group(
                domain, groupby, aggregates, having, offset=offset, limit=limit, order=order
            )
        return super()._read_group(
            domain, groupby, aggregates, having, offset=offset, limit=limit, order=order
        )

    def _crm_voip_daily_for(self, domain, groupby, aggregates, having):
        """The daily totals when they can answer this read_group exactly, else None."""
        if self.env.context.get("crm_voip_report_per_call"):
            return None
        for spec in groupby:
            fname, property_name, __ = parse_read_group_spec(spec)
            if property_name or fname not in DAILY_DIMENSIONS:
                return None
        having_specs = [leaf[0] for leaf in having or () if isinstance(leaf, (list, tuple))]
        for spec in [*aggregates, *having_specs]:
            if spec == "__count":
                continue
            fname, property_name, func = parse_read_group_spec(spec)
            if (
                property_name
                or fname not in DAILY_MEASURES
                or func != self._fields[fname].aggregator
            ):
                return None
        for element in expression.normalize_domain(list(domain or [])):
            if not expression.is_leaf(element):
                continue
            left = element[0]
            if isinstance(left, str) and left.split(".", 1)[0] not in DAILY_DIMENSIONS:
                return None
        daily = self.env["crm.voip.call.report.daily"]
        if not daily._crm_voip_frozen_until():
            return None  # nothing summed up yet: the call log is as fast
        if self._crm_voip_whole_months(domain, groupby):
            daily = daily.with_context(crm_voip_report_monthly=True)
        return daily

    @api.model
    def _crm_voip_whole_months(self, domain, groupby):
        """Whether the monthly sums answer exactly: no day, week or weekday among the
        groups, and every date condition on a month boundary."""
        for spec in groupby:
            fname, __, granularity = parse_read_group_spec(spec)
            if fname == "weekday":
                return False
            if fname == "call_date" and (granularity or "month") not in WHOLE_MONTH_GRANULARITIES:
                return False
        for element in expression.normalize_domain(list(domain or [])):
            if not expression.is_leaf(element) or not isinstance(element[0], str):
                continue
            fname, operator, value = element[0].split(".", 1)[0], element[1], element[2]
            if fname == "weekday":
                return False
            if fname != "call_date":
                continue
            day = _as_date(value)
            if not day:
                return False
            first = day.day == 1
            last = (day + datetime.timedelta(days=1)).day == 1
            if not ((operator in (">=", "<") and first) or (operator in ("<=", ">") and last)):
                return False
        return True

    # ------------------------------------------------------------------
    # Dashboard
    # ------------------------------------------------------------------

    @api.model
    @api.readonly
    def crm_voip_dashboard_data(self, period="month", sort_by="answer_rate", descending=True):
        """Everything the telephony dashboard shows, read with the user's access rules:
        KPI cards for today and this week, incoming calls by weekday and hour, and the
        salespeople sorted by ``sort_by`` over ``period``."""
        _ = self.env._
        if period not in DASHBOARD_PERIODS:
            period = "month"
        if sort_by not in SALESPERSON_MEASURES:
            sort_by = "answer_rate"
        today = fields.Date.context_today(self)
        week_start = today - datetime.timedelta(
            days=(today.isoweekday() - int(get_lang(self.env).week_start)) % 7
        )
        period_labels = {
            "week": _("This week"),
            "month": _("This month"),
            "last_30_days": _("Last 30 days"),
            "quarter": _("This quarter"),
            "year": _("This year"),
        }
        date_from, date_to = self._crm_voip_period_bounds(period, today, week_start)
        domain = self._crm_voip_date_domain(date_from, date_to)

        cards = []
        for key, label, start, end in (
            ("today", _("Today"), today, today),
            ("week", _("This week"), week_start, week_start + datetime.timedelta(days=6)),
        ):
            values = self._read_group(
                self._crm_voip_date_domain(start, end),
                aggregates=[self._crm_voip_aggregate_spec(name) for name in CARD_MEASURES],
            )[0]
            cards.append(
                {
                    "key": key,
                    "label": label,
                    "date_from": fields.Date.to_string(start),
                    "date_to": fields.Date.to_string(end),
                    "values": dict(zip(CARD_MEASURES, values, strict=True)),
                }
            )

        load = {
            (weekday, hour): (calls, missed)
            for weekday, hour, calls, missed in self._read_group(
                domain + [("direction", "=", "inbound")],
                ["weekday", "hour"],
                ["call_count:sum", "missed_count:sum"],
            )
        }
        hours = self._fields["hour"]._description_selection(self.env)
        weekdays = self._fields["weekday"]._description_selection(self.env)
        rows = []
        for weekday, weekday_label in weekdays:
            cells = []
            for hour, hour_label in hours:
                calls, missed = load.get((weekday, hour), (0, 0))
                cells.append(
                    {
                        "hour": hour,
                        "hour_label": hour_label,
                        "weekday_label": weekday_label,
                        "calls": calls,
                        "missed": missed,
                        "missed_rate": 100.0 * missed / calls if calls else False,
                    }
                )
            rows.append({"weekday": weekday, "label": weekday_label, "cells": cells})

        people = []
        for user, *values in self._read_group(
            domain,
            ["user_id"],
            [self._crm_voip_aggregate_spec(name) for name in SALESPERSON_MEASURES],
        ):
            person = dict(zip(SALESPERSON_MEASURES, values, strict=True))
            person.update(
                user_id=user.id or False,
                name=user.sudo().display_name if user else _("Unassigned"),
            )
            people.append(person)
        # By the chosen KPI (ties by name), people without a value for it last.
        people.sort(key=lambda person: person["name"])
        known = [person for person in people if person[sort_by] is not False]
        known.sort(key=lambda person: person[sort_by], reverse=bool(descending))
        people = known + [person for person in people if person[sort_by] is False]

        return {
            "period": {
                "key": period,
                "label": period_labels[period],
                "date_from": fields.Date.to_string(date_from),
                "date_to": fields.Date.to_string(date_to),
            },
            "periods": [[key, period_labels[key]] for key in DASHBOARD_PERIODS],
            "sort_by": sort_by,
            "descending": bool(descending),
            "sort_options": [
                [name, self._fields[name]._description_string(self.env)]
                for name in SALESPERSON_MEASURES
            ],
            "cards": cards,
            "heatmap": {
                "hours": hours,
                "rows": rows,
                "max_calls": max((calls for calls, __ in load.values()), default=0),
            },
            "salespeople": people,
            "callback_tasks": self._crm_voip_callback_tasks(),
            "domain": domain,
        }

    @api.model
    def _crm_voip_callback_tasks(self):
        """The routing module's call-back tasks as the user may see them, when that module
        is installed (read by name: this module does not depend on it); else ``False``."""
        if "crm.voip.missed.call" not in self.env:
            return False
        Task = self.env["crm.voip.missed.call"]
        if not Task.has_access("read"):
            return False
        # One statement for the four counts, under the user's record rules.
        query = Task._search([("state", "=", "open")])
        table = query.table
        [counts] = self.env.execute_query(
            query.select(
                SQL("COUNT(*)"),
                SQL(
                    "COUNT(*) FILTER (WHERE %s < %s)",
                    Task._field_to_sql(table, "deadline", query),
                    fields.Datetime.now(),
                ),
                SQL("COUNT(*) FILTER (WHERE %s)", Task._field_to_sql(table, "escalated", query)),
                SQL(
                    "COUNT(*) FILTER (WHERE %s = %s)",
                    Task._field_to_sql(table, "user_id", query),
                    self.env.uid,
                ),
            )
        )
        return dict(zip(("open", "overdue", "escalated", "mine"), counts, strict=True))

    @api.model
    def _crm_voip_aggregate_spec(self, name):
        return f"{name}:{self._fields[name].aggregator}"

    @api.model
    def _crm_voip_date_domain(self, date_from, date_to):
        return [
            ("call_date", ">=", fields.Date.to_string(date_from)),
            ("call_date", "<=", fields.Date.to_string(date_to)),
        ]

    @api.model
    def _crm_voip_period_bounds(self, period, today, week_start):
        if period == "week":
            return week_start, week_start + datetime.timedelta(days=6)
        if period == "last_30_days":
            return today - datetime.timedelta(days=29), today
        if period == "quarter":
            start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
            month = start.month + 3
            after = start.replace(year=start.year + (month > 12), month=(month - 1) % 12 + 1)
            return start, after - datetime.timedelta(days=1)
        if period == "year":
            return today.replace(month=1, day=1), today.replace(month=12, day=31)
        start = today.replace(day=1)
        next_month = (start + datetime.timedelta(days=32)).replace(day=1)
        return start, next_month - datetime.timedelta(days=1)

    # ------------------------------------------------------------------
    # Filters on the local date use the call log's index
    # ------------------------------------------------------------------

    @api.model
    def _where_calc(self, domain, active_test=True):
        return super()._where_calc(self._crm_voip_with_date_bounds(domain), active_test)

    @api.model
    def _crm_voip_with_date_bounds(self, domain):
        """Add ``date_start`` bounds implied by top-level ``call_date`` conditions.

        ``call_date`` is computed in each PBX account's timezone, which no index has;
        the bounds (a day wider than the local day on each side) let PostgreSQL read
        only the calls of the period. Only plain conjunctions are rewritten."""
        domain = list(domain or [])
        if not domain or any(element in ("|", "!") for element in domain):
            return domain
        bounds = []
        for element in domain:
            if not (expression.is_leaf(element) and element[0] == "call_date"):
                continue
            __, operator, value = element
            day = _as_date(value)
            if day is None:
                continue
            start = datetime.datetime.combine(day, datetime.time.min)
            next_day = start + datetime.timedelta(days=1)
            if operator in (">=", "="):
                bounds.append(("date_start", ">=", start - TZ_MARGIN_BEFORE))
            if operator == ">":
                bounds.append(("date_start", ">=", next_day - TZ_MARGIN_BEFORE))
            if operator in ("<=", "="):
                bounds.append(("date_start", "<", next_day + TZ_MARGIN_AFTER))
            if operator == "<":
                bounds.append(("date_start", "<", start + TZ_MARGIN_AFTER))
        return domain + bounds if bounds else domain


def _as_date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and value:
        try:
            return fields.Date.to_date(value[:10])
        except ValueError:
            return None
    return None
