from odoo import api, fields, models

from .res_company import ROUTING_SLA_FIELD


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_voip_callback_sla_minutes = fields.Integer(
        related="company_id.crm_voip_callback_sla_minutes", readonly=False
    )
    crm_voip_reports_routing_sla = fields.Boolean(
        compute="_compute_crm_voip_reports_routing_sla",
        help="The routing module's call-back deadline applies to the reports.",
    )

    @api.depends("company_id")
    def _compute_crm_voip_reports_routing_sla(self):
        routing = ROUTING_SLA_FIELD in self.env["res.company"]._fields
        for settings in self:
            settings.crm_voip_reports_routing_sla = routing
