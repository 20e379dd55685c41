from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_voip_missed_sla_minutes = fields.Integer(
        related="company_id.crm_voip_missed_sla_minutes", readonly=False
    )
    crm_voip_escalation_user_id = fields.Many2one(
        related="company_id.crm_voip_escalation_user_id", readonly=False
    )
    crm_voip_escalation_sms = fields.Boolean(
        related="company_id.crm_voip_escalation_sms", readonly=False
    )
    crm_voip_escalation_sms_body = fields.Text(
        related="company_id.crm_voip_escalation_sms_body", readonly=False
    )
    crm_voip_routing_budget_ms = fields.Integer(
        related="company_id.crm_voip_routing_budget_ms", readonly=False
    )
