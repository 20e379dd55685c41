from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    crm_voip_extension_ids = fields.One2many(
        "crm.voip.extension", "user_id", string="Telephony extensions"
    )
