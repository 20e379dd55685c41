from odoo import api, fields, models
from odoo.fields import Command


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_voip_recording_retention_days = fields.Integer(
        string="Keep call recordings (days)",
        default=365,
        help="Recordings of older calls are deleted every night, except those kept forever "
        "or under legal hold; the calls stay in the log. 0 keeps them forever.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        # The webhook user acts in the company of the PBX account that called it.
        webhook_user = self.env.ref("crm_voip.user_crm_voip_webhook", raise_if_not_found=False)
        if webhook_user:
            webhook_user.sudo().write({"company_ids": [Command.link(c.id) for c in companies]})
        return companies
