import datetime

import pytz

from odoo import api, models
from odoo.tools import SQL

from .crm_voip_call_report import TZ_MARGIN_AFTER, TZ_MARGIN_BEFORE
from .crm_voip_call_report_mixin import (
    ANSWERED_STATES,
    UNANSWERED_STATES,
    local_time_sql,
    outcome_sql,
    weekday_sql,
)

STORE_TABLE = "crm_voip_call_report_day"
# The same sums per month (``day`` is the first of the month), for the months whose
# every day is summed up: a pivot per month reads some thirty times fewer rows.
MONTH_TABLE = "crm_voip_call_report_month"
# The module's own tables (not models): dropped by the uninstall hook.
TABLES = (
    STORE_TABLE,
    MONTH_TABLE,
    "crm_voip_call_report_dirty_day",
    "crm_voip_call_report_state",
)
# Monthly rows get ids above the daily rows' (the calls' own rows are negative).
MONTH_ID_OFFSET = 1_000_000_000
# pg_advisory_xact_lock key of the summing job (two runs must not interleave).
FREEZE_LOCK_KEY = 7311524019
DIMENSION_COLUMNS = (
    "company_id",
    "day",
    "user_id",
    "team_id",
    "direction",
    "outcome",
    "line_id",
    "source_id",
)
SUM_COLUMNS = (
    "call_count",
    "inbound_count",
    "outbound_count",
    "answered_count",
    "missed_count",
    "talk_seconds",
    "wait_seconds",
    "wait_count",
    "called_back_count",
    "callback_in_sla_count",
)


class CrmVoipCallReportDaily(models.Model):
    """The call analysis summed up per day, salesperson, team, direction, outcome and line.

    Days before yesterday (in each PBX account's timezone) are summed up once by a job
    and kept in ``crm_voip_call_report_day``; yesterday, today and any older day whose
    calls changed since (``crm_voip_call_report_dirty_day``) are summed from the call log
    at query time, so the figures are always those of the call log. The per-call report
    hands its read_group here whenever these dimensions and measures are enough: a
    pivot over millions of calls then reads a few hundred thousand rows.
    """

    _name = "crm.voip.call.report.daily"
    _inherit = ["crm.voip.call.report.mixin"]
    _description = "Call analysis per day"
    _auto = False
    _order = "call_date desc"
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
            "date_start",
            "ring_seconds",
            "talk_seconds",
            "callback_deadline",
        ],
        "crm.voip.call.callback": ["call_id", "callback_date"],
        "crm.voip.provider": ["timezone"],
    }

    def init(self):
        super().init()
        cr = self.env.cr
        for table in (STORE_TABLE, MONTH_TABLE):
            cr.execute(
                SQL(
                    """
                    CREATE TABLE IF NOT EXISTS %s (
                        id SERIAL PRIMARY KEY,
                        company_id INTEGER NOT NULL REFERENCES res_company(id) ON DELETE CASCADE,
                        day DATE NOT NULL,
                        user_id INTEGER REFERENCES res_users(id) ON DELETE SET NULL,
                        team_id INTEGER REFERENCES crm_team(id) ON DELETE SET NULL,
                        direction VARCHAR,
                        outcome VARCHAR,
                        line_id INTEGER REFERENCES crm_voip_line(id) ON DELETE SET NULL,
                        source_id INTEGER REFERENCES utm_source(id) ON DELETE SET NULL,
                        call_count INTEGER NOT NULL,
                        inbound_count INTEGER NOT NULL,
                        outbound_count INTEGER NOT NULL,
                        answered_count INTEGER NOT NULL,
                        missed_count INTEGER NOT NULL,
                        talk_seconds BIGINT NOT NULL,
                        wait_seconds BIGINT NOT NULL,
                        wait_count INTEGER NOT NULL,
                        called_back_count INTEGER NOT NULL,
                        callback_in_sla_count INTEGER NOT NULL
                    )
                    """,
                    SQL.identifier(table),
                )
            )
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_voip_call_report_day_day_idx"
                " ON crm_voip_call_report_day (day)"
            )
        )
        cr.execute(
            SQL("CREATE TABLE IF NOT EXISTS crm_voip_call_report_dirty_day (day DATE PRIMARY KEY)")
        )
        cr.execute(
            SQL(
                "CREATE TABLE IF NOT EXISTS crm_voip_call_report_state"
                " (id INTEGER PRIMARY KEY CHECK (id = 1), frozen_until DATE)"
            )
        )
        # The first month the monthly sums do not cover (they cover every month before).
        cr.execute(
            SQL("ALTER TABLE crm_voip_call_report_state ADD COLUMN IF NOT EXISTS months_until DATE")
        )

    # ------------------------------------------------------------------
    # The table
    # ------------------------------------------------------------------

    @property
    def _table_query(self):
        until, months_until, dirty = self._crm_voip_rollup_state()
        if not until:
            return self._crm_voip_rows(
                SQL("(%s)", self._crm_voip_aggregate(SQL("TRUE"))), SQL("-a.min_id")
            )
        dirty = [day for day in dirty if day < until]
        local_day = SQL("(%s)::date", local_time_sql("c", "pv"))
        daily_rows = SQL(
            "%s WHERE a.day < %s AND NOT (a.day = ANY(%s::date[]))",
            self._crm_voip_rows(SQL.identifier(STORE_TABLE), SQL("a.id")),
            until,
            dirty,
        )
        if months_until and self.env.context.get("crm_voip_report_monthly"):
            # Whole months from the monthly sums, except those with a day to read again;
            # the days of those and of the following months from the daily sums.
            dirty_months = sorted({day.replace(day=1) for day in dirty})
            stored = [
                SQL(
                    "%s WHERE a.day < %s AND NOT (a.day = ANY(%s::date[]))",
                    self._crm_voip_rows(
                        SQL.identifier(MONTH_TABLE), SQL("a.id + %s", MONTH_ID_OFFSET)
                    ),
                    months_until,
                    dirty_months,
                ),
                SQL(
                    "%s AND (a.day >= %s OR date_trunc('month', a.day)::date = ANY(%s::date[]))",
                    daily_rows,
                    months_until,
                    dirty_months,
                ),
            ]
        else:
            stored = [daily_rows]
        branches = [
            *stored,
            self._crm_voip_rows(
                SQL(
                    "(%s)",
                    self._crm_voip_aggregate(
                        SQL(
                            "c.date_start >= %s AND %s >= %s",
                            datetime.datetime.combine(until, datetime.time.min) - TZ_MARGIN_BEFORE,
                            local_day,
                            until,
                        )
                    ),
                ),
                SQL("-a.min_id"),
            ),
        ]
        if dirty:
            branches.append(
                self._crm_voip_rows(
                    SQL("(%s)", self._crm_voip_aggregate_days(dirty)), SQL("-a.min_id")
                )
            )
        return SQL(" UNION ALL ").join(branches)

    def _crm_voip_group_formulas(self):
        formulas = super()._crm_voip_group_formulas()
        # A row is a day's total: the count of a group is its number of calls.
        formulas["__count"] = SQL("SUM(%s)", self._crm_voip_column("call_count"))
        return formulas

    def _crm_voip_rows(self, source, id_sql):
        """The model's columns over ``source`` (the stored table or a subquery)."""
        return SQL(
            """
            SELECT %(id)s AS id,
                   a.company_id, a.day AS call_date, %(weekday)s AS weekday,
                   a.user_id, a.team_id, a.direction, a.outcome, a.line_id, a.source_id,
                   a.call_count, a.inbound_count, a.outbound_count, a.answered_count,
                   a.missed_count, a.talk_seconds, (a.talk_seconds / 3600.0)::float8 AS talk_hours,
                   a.wait_seconds, a.wait_count, a.called_back_count, a.callback_in_sla_count,
                   NULL::float8 AS answer_rate, NULL::float8 AS missed_rate,
                   NULL::float8 AS avg_talk_minutes, NULL::float8 AS avg_wait_minutes,
                   NULL::float8 AS callback_sla_rate
              FROM %(source)s a
            """,
            id=id_sql,
            weekday=weekday_sql(SQL("a.day")),
            source=source,
        )

    @api.model
    def _crm_voip_aggregate(self, condition, join=None):
        """The call log summed per day and dimensions, for the calls matching
        ``condition`` (SQL over the aliases ``c``, ``pv``, ``cb``, ``rc``)."""
        answered = SQL("c.state IN %s", ANSWERED_STATES)
        missed = SQL("c.direction = 'inbound' AND c.state IN %s", UNANSWERED_STATES)
        waited = SQL("c.direction = 'inbound' AND c.ring_seconds IS NOT NULL")
        deadline = self.env["crm.voip.call.report"]._crm_voip_callback_deadline_sql("c", "rc")
        return SQL(
            """
            SELECT MIN(c.id) AS min_id,
                   c.company_id AS company_id,
                   (%(local)s)::date AS day,
                   c.user_id AS user_id,
                   c.team_id AS team_id,
                   c.direction AS direction,
                   %(outcome)s AS outcome,
                   c.line_id AS line_id,
                   c.source_id AS source_id,
                   COUNT(*)::int4 AS call_count,
                   (COUNT(*) FILTER (WHERE c.direction = 'inbound'))::int4 AS inbound_count,
                   (COUNT(*) FILTER (WHERE c.direction = 'outbound'))::int4 AS outbound_count,
                   (COUNT(*) FILTER (WHERE %(answered)s))::int4 AS answered_count,
                   (COUNT(*) FILTER (WHERE %(missed)s))::int4 AS missed_count,
                   COALESCE(SUM(c.talk_seconds) FILTER (WHERE %(answered)s), 0)::int8
                       AS talk_seconds,
                   COALESCE(SUM(c.ring_seconds) FILTER (WHERE %(waited)s), 0)::int8
                       AS wait_seconds,
                   (COUNT(*) FILTER (WHERE %(waited)s))::int4 AS wait_count,
                   COUNT(cb.id)::int4 AS called_back_count,
                   (COUNT(*) FILTER (WHERE cb.callback_date <= %(deadline)s))::int4
                       AS callback_in_sla_count
              FROM crm_voip_call c
              %(join)s
              LEFT JOIN crm_voip_provider pv ON pv.id = c.provider_id
              LEFT JOIN res_company rc ON rc.id = c.company_id
              LEFT JOIN crm_voip_call_callback cb ON cb.call_id = c.id
             WHERE c.date_start IS NOT NULL AND %(condition)s
             GROUP BY 2, 3, 4, 5, 6, 7, 8, 9
            """,
            local=local_time_sql("c", "pv"),
            outcome=outcome_sql("c"),
            answered=answered,
            missed=missed,
            waited=waited,
            deadline=deadline,
            join=join or SQL(),
            condition=condition,
        )

    @api.model
    def _crm_voip_aggregate_days(self, days):
        """The aggregate of the calls of these local days (read through the date index)."""
        return self._crm_voip_aggregate(
            SQL("(%s)::date = d.day", local_time_sql("c", "pv")),
            join=SQL(
                "JOIN unnest(%s::date[]) AS d(day)"
                " ON c.date_start >= d.day - %s AND c.date_start < d.day + %s",
                sorted(days),
                TZ_MARGIN_BEFORE,
                datetime.timedelta(days=1) + TZ_MARGIN_AFTER,
            ),
        )

    # ------------------------------------------------------------------
    # Summing up (the job) and keeping the sums right
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_rollup_state(self):
        """``(frozen_until, months_until, dirty_days)``: days before ``frozen_until`` are
        summed up, except the dirty ones; months before ``months_until`` too."""
        cr = self.env.cr
        cr.execute(
            SQL("SELECT frozen_until, months_until FROM crm_voip_call_report_state WHERE id = 1")
        )
        until, months_until = cr.fetchone() or (None, None)
        if not until:
            return None, None, []
        cr.execute(SQL("SELECT day FROM crm_voip_call_report_dirty_day ORDER BY day"))
        return until, months_until, [day for (day,) in cr.fetchall()]

    @api.model
    def _crm_voip_frozen_until(self):
        self.env.cr.execute(SQL("SELECT frozen_until FROM crm_voip_call_report_state WHERE id = 1"))
        row = self.env.cr.fetchone()
        return row[0] if row else None

    @api.model
    def _crm_voip_mark_dirty(self, days):
        """These summed-up days changed: read them from the call log until re-summed."""
        days = sorted({day for day in days if day})
        if days:
            self.env.cr.execute(
                SQL(
                    "INSERT INTO crm_voip_call_report_dirty_day (day)"
                    " SELECT unnest(%s::date[]) ON CONFLICT DO NOTHING",
                    days,
                )
            )

    @api.model
    def _crm_voip_invalidate(self):
        """Forget every sum (after a change of the call-back deadline, say); the reports
        read the call log until the job sums the days up again."""
        cr = self.env.cr
        cr.execute(SQL("DELETE FROM crm_voip_call_report_state"))
        cr.execute(SQL("DELETE FROM crm_voip_call_report_dirty_day"))
        cr.execute(SQL("DELETE FROM crm_voip_call_report_day"))
        cr.execute(SQL("DELETE FROM %s", SQL.identifier(MONTH_TABLE)))
        cron = self.env.ref("crm_voip_reports.ir_cron_crm_voip_report_freeze", False)
        if cron:
            cron.sudo()._trigger()

    @api.model
    def _crm_voip_freeze_target(self, today=None):
        """The first day not to sum up: yesterday in the earliest timezone of the PBX
        accounts (their calls may still change)."""
        if today:
            return today - datetime.timedelta(days=1)
        zones = set(
            self.env["crm.voip.provider"]
            .sudo()
            .with_context(active_test=False)
            .search([])
            .mapped("timezone")
        ) or {"UTC"}
        now = datetime.datetime.now(pytz.utc)
        local_today = min(now.astimezone(pytz.timezone(zone)).date() for zone in zones)
        return local_today - datetime.timedelta(days=1)

    @api.model
    def _cron_crm_voip_report_freeze(self, today=None):
        """Sum up the days that will not change any more, and the dirty ones again."""
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s)", FREEZE_LOCK_KEY))
        if not cr.fetchone()[0]:
            return False
        self.env.flush_all()
        target = self._crm_voip_freeze_target(today)
        until, summed_months_until, dirty = self._crm_voip_rollup_state()
        if until and target < until:
            target = until
        dirty = [day for day in dirty if until and day < until]
        local_day = SQL("(%s)::date", local_time_sql("c", "pv"))
        upper = SQL(
            "c.date_start < %s AND %s < %s",
            datetime.datetime.combine(target, datetime.time.min) + TZ_MARGIN_AFTER,
            local_day,
            target,
        )
        columns = SQL(", ").join(
            SQL.identifier(name) for name in (*DIMENSION_COLUMNS, *SUM_COLUMNS)
        )
        if not until:
            cr.execute(SQL("DELETE FROM crm_voip_call_report_day"))
            condition = upper
        else:
            cr.execute(
                SQL(
                    "DELETE FROM crm_voip_call_report_day"
                    " WHERE (day >= %s AND day < %s) OR day = ANY(%s::date[])",
                    until,
                    target,
                    dirty,
                )
            )
            condition = SQL(
                "%s AND c.date_start >= %s AND %s >= %s",
                upper,
                datetime.datetime.combine(until, datetime.time.min) - TZ_MARGIN_BEFORE,
                local_day,
                until,
            )
        cr.execute(
            SQL(
                "INSERT INTO crm_voip_call_report_day (%s) SELECT %s FROM (%s) a",
                columns,
                columns,
                self._crm_voip_aggregate(condition),
            )
        )
        if dirty:
            cr.execute(
                SQL(
                    "INSERT INTO crm_voip_call_report_day (%s) SELECT %s FROM (%s) a",
                    columns,
                    columns,
                    self._crm_voip_aggregate_days(dirty),
                )
            )
            cr.execute(
                SQL("DELETE FROM crm_voip_call_report_dirty_day WHERE day = ANY(%s::date[])", dirty)
            )
        months_until = target.replace(day=1)
        if not until or dirty or summed_months_until != months_until:
            # Only then can a past month's total have changed.
            self._crm_voip_sum_months(columns, months_until)
        cr.execute(
            SQL(
                "INSERT INTO crm_voip_call_report_state (id, frozen_until, months_until)"
                " VALUES (1, %s, %s) ON CONFLICT (id) DO UPDATE"
                " SET frozen_until = EXCLUDED.frozen_until, months_until = EXCLUDED.months_until",
                target,
                months_until,
            )
        )
        return target

    @api.model
    def _crm_voip_sum_months(self, columns, months_until):
        """Sum the daily rows of every month before ``months_until`` up again (a few
        hundred thousand rows at most: cheaper than keeping track of what changed)."""
        dimensions = [
            SQL("date_trunc('month', day)::date") if name == "day" else SQL.identifier(name)
            for name in DIMENSION_COLUMNS
        ]
        sums = [SQL("SUM(%s)", SQL.identifier(name)) for name in SUM_COLUMNS]
        self.env.cr.execute(SQL("DELETE FROM %s", SQL.identifier(MONTH_TABLE)))
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s) SELECT %s FROM %s WHERE day < %s GROUP BY %s",
                SQL.identifier(MONTH_TABLE),
                columns,
                SQL(", ").join([*dimensions, *sums]),
                SQL.identifier(STORE_TABLE),
                months_until,
                SQL(", ").join(dimensions),
            )
        )


def local_date(moment, zone):
    """The local date of a naive UTC datetime in the timezone ``zone``."""
    return pytz.utc.localize(moment).astimezone(pytz.timezone(zone or "UTC")).date()
