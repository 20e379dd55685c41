from odoo import fields, models

from .. import providers

SEE_NUMBERS_GROUP = "crm_voip.group_crm_voip_see_numbers"


class ResUsers(models.Model):
    _inherit = "res.users"

    crm_voip_extension_ids = fields.One2many(
        "crm.voip.extension", "user_id", string="Telephony extensions"
    )

    def _crm_voip_sees_numbers(self):
        """Whether this user reads clients' full numbers where telephony shows them."""
        self.ensure_one()
        return self._has_group(SEE_NUMBERS_GROUP)

    def _crm_voip_visible_number(self, number):
        """``number`` as this user may read it: whole for the members of "Sees client
        phone numbers", masked (``+7 495 ***-**-67``) for everyone else. The one rule
        every telephony screen, payload and export applies."""
        if not number:
            return number or ""
        if self._crm_voip_sees_numbers():
            return number
        return providers.numbers.mask_number(number)
