from odoo import api, models
from odoo.fields import Command


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        # The webhook user acts in the company of the PBX account that called it.
        webhook_user = self.env.ref("crm_voip.user_crm_voip_webhook", raise_if_not_found=False)
        if webhook_user:
            webhook_user.sudo().write({"company_ids": [Command.link(c.id) for c in companies]})
        return companies
