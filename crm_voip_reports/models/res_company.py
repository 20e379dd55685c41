from odoo import fields, models

ROUTING_SLA_FIELD = "crm_voip_missed_sla_minutes"
OWN_SLA_FIELD = "crm_voip_callback_sla_minutes"


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_voip_callback_sla_minutes = fields.Integer(
        string="Call-back deadline for the reports (minutes)",
        default=15,
        help="A missed call counts as called back in time when an answered call with its "
        "number follows within this many minutes. With the routing module installed, its "
        "call-back deadline is used instead.",
    )

    def _crm_voip_sla_field_name(self):
        """The company field holding the call-back deadline the reports measure against."""
        return ROUTING_SLA_FIELD if ROUTING_SLA_FIELD in self._fields else OWN_SLA_FIELD

    def write(self, vals):
        sla_changed = any(
            name in vals and any(company[name] != vals[name] for company in self)
            for name in (ROUTING_SLA_FIELD, OWN_SLA_FIELD)
            if name in self._fields
        )
        result = super().write(vals)
        if sla_changed:
            # Every summed-up "called back in time" figure depends on it.
            self.env["crm.voip.call.report.daily"].sudo()._crm_voip_invalidate()
        return result
