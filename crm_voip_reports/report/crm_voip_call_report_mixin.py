from odoo import fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

from odoo.addons.crm_voip.callstate import states

OUTCOMES = [
    ("answered", "Answered"),
    ("missed", "Not answered"),
    ("busy", "Busy"),
    ("failed", "Failed"),
    ("ringing", "In progress"),
]
WEEKDAYS = [
    ("0", "Monday"),
    ("1", "Tuesday"),
    ("2", "Wednesday"),
    ("3", "Thursday"),
    ("4", "Friday"),
    ("5", "Saturday"),
    ("6", "Sunday"),
]
ANSWERED_STATES = states.ANSWERED
UNANSWERED_STATES = states.UNANSWERED


def outcome_sql(call_alias):
    """The report's outcome of a call row: answered, missed, busy, failed or ringing."""
    state = SQL.identifier(call_alias, "state")
    return SQL(
        "(CASE WHEN %(state)s IN %(answered)s THEN 'answered'"
        " WHEN %(state)s IN %(unanswered)s THEN %(state)s ELSE 'ringing' END)::varchar",
        state=state,
        answered=ANSWERED_STATES,
        unanswered=UNANSWERED_STATES,
    )


def local_time_sql(call_alias, provider_alias):
    """The call's start in its PBX account's timezone (naive local time)."""
    return SQL(
        "timezone(COALESCE(%s, 'UTC'), timezone('UTC', %s))",
        SQL.identifier(provider_alias, "timezone"),
        SQL.identifier(call_alias, "date_start"),
    )


def weekday_sql(local_date):
    """ISO weekday, Monday = '0', of a local date or time."""
    return SQL("(EXTRACT(ISODOW FROM %s)::int - 1)::varchar", local_date)


class CrmVoipCallReportMixin(models.AbstractModel):
    """What the call analysis per call and its daily totals have in common.

    Every rate and average is a ratio of sums of per-row columns (``call_count``,
    ``answered_count``, ``talk_seconds``...): a row is one call in the per-call report and
    one day's total in the daily one, and ``_read_group_select`` computes each ratio from
    the group's sums, so that a pivot cell, a row total and the grand total are each
    right, which averaging per-row rates would not give.
    """

    _name = "crm.voip.call.report.mixin"
    _description = "Telephony statistics: common dimensions and measures"

    # Dimensions
    company_id = fields.Many2one("res.company", string="Company", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales team", readonly=True)
    direction = fields.Selection(
        [("inbound", "Incoming"), ("outbound", "Outgoing"), ("internal", "Internal")],
        readonly=True,
    )
    outcome = fields.Selection(OUTCOMES, readonly=True)
    line_id = fields.Many2one("crm.voip.line", string="Dialled line", readonly=True)
    source_id = fields.Many2one("utm.source", string="Source", readonly=True)
    call_date = fields.Date(
        string="Date", readonly=True, help="The day of the call in its PBX account's timezone."
    )
    weekday = fields.Selection(WEEKDAYS, string="Weekday", readonly=True)

    # Measures
    call_count = fields.Integer(string="Calls", readonly=True, aggregator="sum")
    inbound_count = fields.Integer(string="Incoming calls", readonly=True, aggregator="sum")
    outbound_count = fields.Integer(string="Outgoing calls", readonly=True, aggregator="sum")
    answered_count = fields.Integer(string="Answered", readonly=True, aggregator="sum")
    missed_count = fields.Integer(
        string="Missed",
        readonly=True,
        aggregator="sum",
        help="Incoming calls nobody answered: no answer, busy or failed.",
    )
    answer_rate = fields.Float(
        string="Answer rate (%)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Answered calls out of all calls of the group.",
    )
    missed_rate = fields.Float(
        string="Missed rate (%)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Missed incoming calls out of the incoming calls of the group.",
    )
    talk_hours = fields.Float(
        string="Talk time (h:mm)", readonly=True, aggregator="sum", digits=(16, 2)
    )
    avg_talk_minutes = fields.Float(
        string="Avg talk time (m:ss)",
        readonly=True,
        aggregator="avg",
        help="Talk time per answered call.",
    )
    avg_wait_minutes = fields.Float(
        string="Avg wait time (m:ss)",
        readonly=True,
        aggregator="avg",
        help="How long incoming callers waited before someone answered or they hung up.",
    )
    called_back_count = fields.Integer(
        string="Called back",
        readonly=True,
        aggregator="sum",
        help="Missed calls followed by an answered call with the same number: our call "
        "back, or the client calling again and getting through.",
    )
    callback_sla_rate = fields.Float(
        string="Called back within deadline (%)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Missed calls called back within the company's call-back deadline, out of "
        "all missed calls of the group.",
    )

    def _crm_voip_group_formulas(self):
        """``{field name: SQL aggregate}``: how a group's value is computed from its rows."""
        column = self._crm_voip_column
        return {
            "answer_rate": SQL(
                "(100.0 * SUM(%s) / NULLIF(SUM(%s), 0))::float8",
                column("answered_count"),
                column("call_count"),
            ),
            "missed_rate": SQL(
                "(100.0 * SUM(%s) / NULLIF(SUM(%s), 0))::float8",
                column("missed_count"),
                column("inbound_count"),
            ),
            "avg_talk_minutes": SQL(
                "(SUM(%s) / NULLIF(SUM(%s), 0) / 60.0)::float8",
                column("talk_seconds"),
                column("answered_count"),
            ),
            "avg_wait_minutes": SQL(
                "(SUM(%s) / NULLIF(SUM(%s), 0) / 60.0)::float8",
                column("wait_seconds"),
                column("wait_count"),
            ),
            "callback_sla_rate": SQL(
                "(100.0 * SUM(%s) / NULLIF(SUM(%s), 0))::float8",
                column("callback_in_sla_count"),
                column("missed_count"),
            ),
        }

    def _crm_voip_column(self, name):
        return SQL.identifier(self._table, name)

    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec == "__count":
            formula = self._crm_voip_group_formulas().get("__count")
            return (
                formula
                if formula is not None
                else super()._read_group_select(aggregate_spec, query)
            )
        fname, property_name, func = parse_read_group_spec(aggregate_spec)
        field = self._fields.get(fname)
        formula = self._crm_voip_group_formulas().get(fname)
        if formula is not None and not property_name and field and func == field.aggregator:
            return formula
        return super()._read_group_select(aggregate_spec, query)
