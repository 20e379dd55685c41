from datetime import timedelta

from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_voip_missed_sla_minutes = fields.Integer(
        string="Call-back deadline (working minutes)",
        default=15,
        help="A missed call must be called back within this many minutes of the company's "
        "working time: a call missed at night is due the next working morning.",
    )
    crm_voip_escalation_user_id = fields.Many2one(
        "res.users",
        string="Escalate overdue call-backs to",
        help="Who hears about an overdue call-back when its owner has no team leader "
        "(or leads the team himself).",
    )
    crm_voip_escalation_sms = fields.Boolean(
        string="Text the client when a call-back is overdue",
        help="Needs the SMS module; off by default.",
    )
    crm_voip_escalation_sms_body = fields.Text(
        string="Overdue call-back text",
        translate=True,
        default=lambda self: self.env._(
            "Sorry we missed your call. We will call you back as soon as possible."
        ),
    )
    crm_voip_routing_budget_ms = fields.Integer(
        string="Routing time budget (ms)",
        default=500,
        help="If deciding who answers takes longer (or fails), the PBX is told to use its "
        "own default route and the call goes on normally.",
    )

    def _crm_voip_missed_deadline(self, moment):
        """``moment`` plus the call-back deadline, counted in working minutes of the
        company's calendar (naive UTC in, naive UTC out)."""
        self.ensure_one()
        minutes = max(self.crm_voip_missed_sla_minutes, 0)
        calendar = self.resource_calendar_id
        deadline = False
        if calendar:
            deadline = calendar.sudo().plan_hours(minutes / 60.0, moment, compute_leaves=True)
        return deadline or moment + timedelta(minutes=minutes)
