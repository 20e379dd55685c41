from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    crm_voip_extension_ids = fields.One2many(
        "crm.voip.extension", "user_id", string="Telephony extensions"
    )

    def _crm_voip_visible_number(self, number):
        """A client's number as this user may see it (stand-in: as it is)."""
        return number or ""
