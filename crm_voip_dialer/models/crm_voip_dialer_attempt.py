from odoo import fields, models


class CrmVoipDialerAttempt(models.Model):
    """One call of a campaign line: when, who, and how it went."""

    _name = "crm.voip.dialer.attempt"
    _description = "Dialer call attempt"
    _order = "date_start desc, id desc"

    line_id = fields.Many2one("crm.voip.dialer.line", required=True, ondelete="cascade", index=True)
    campaign_id = fields.Many2one(related="line_id.campaign_id", store=True, index=True)
    company_id = fields.Many2one(related="line_id.company_id", store=True)
    call_id = fields.Many2one("crm.voip.call", string="Call", index="btree_not_null")
    user_id = fields.Many2one("res.users", string="Agent", index=True)
    number = fields.Char()
    date_start = fields.Datetime(string="Dialled", required=True, default=fields.Datetime.now)
    date_end = fields.Datetime(string="Ended")
    outcome = fields.Selection(
        [
            ("answered", "Answered"),
            ("no_answer", "No answer"),
            ("busy", "Busy"),
            ("failed", "Failed"),
            ("abandoned", "Abandoned (no free agent)"),
        ],
        help="Empty while the call is going on.",
    )
    talk_seconds = fields.Integer(string="Talk time (s)", aggregator="sum")
    disposition_id = fields.Many2one("crm.voip.dialer.disposition")
    note = fields.Text()
