from odoo import fields, models

# The field the reports' own deadline is read from, and its value when empty.
OWN_DEADLINE_FIELD = "crm_voip_callback_sla_minutes"
DEFAULT_DEADLINE_MINUTES = 15
# The routing module's deadline setting: its call-back deadlines replace the reports' own.
ROUTING_SLA_FIELD = "crm_voip_missed_sla_minutes"


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_voip_callback_sla_minutes = fields.Integer(
        string="Call-back deadline for the reports (minutes)",
        default=DEFAULT_DEADLINE_MINUTES,
        help="A missed call counts as called back in time when an answered call with its "
        "number follows within this many minutes. With the routing module installed, the "
        "deadline of its call-back tasks (in working time) is used instead.",
    )

    def write(self, vals):
        deadline_changed = OWN_DEADLINE_FIELD in vals and any(
            company[OWN_DEADLINE_FIELD] != vals[OWN_DEADLINE_FIELD] for company in self
        )
        result = super().write(vals)
        if deadline_changed:
            # Every summed-up "called back in time" figure without a stored deadline
            # depends on it.
            self.env["crm.voip.call.report.daily"].sudo()._crm_voip_invalidate()
        return result
