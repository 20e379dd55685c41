from odoo import api, fields, models


class CrmVoipDialerDisposition(models.Model):
    """What the agent says of a dialer call, and what Odoo does about it."""

    _name = "crm.voip.dialer.disposition"
    _description = "Dialer call disposition"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", index=True)
    shortcut = fields.Char(
        size=1, help="A key the agent presses in the panel to pick this disposition (1-9, a-z)."
    )
    color = fields.Integer()
    is_contact = fields.Boolean(
        string="Reached the contact", default=True, help="Counts in the contact rate."
    )
    is_success = fields.Boolean(
        string="Conversion", help="Counts as a conversion on the supervisor dashboard."
    )
    # Actions
    stage_id = fields.Many2one(
        "crm.stage", string="Set lead stage", help="Move the lead of the line to this stage."
    )
    mark_lost = fields.Boolean(string="Mark the lead lost")
    lost_reason_id = fields.Many2one("crm.lost.reason", string="Lost reason")
    activity_type_id = fields.Many2one("mail.activity.type", string="Schedule activity")
    activity_days = fields.Integer(string="Activity due in (days)", default=1)
    activity_summary = fields.Char(translate=True)
    add_to_blacklist = fields.Boolean(
        string="Add to the do-not-call list",
        help="The number goes to the phone blacklist: no campaign will dial it again.",
    )
    retry = fields.Boolean(string="Call again later")
    retry_minutes = fields.Integer(string="Call again after (minutes)", default=120)

    _sql_constraints = [
        ("retry_minutes_positive", "CHECK(retry_minutes >= 0)", "The retry delay is positive."),
    ]

    @api.onchange("mark_lost")
    def _onchange_mark_lost(self):
        if not self.mark_lost:
            self.lost_reason_id = False
