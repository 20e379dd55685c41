"""Hidden client numbers on campaign lines: the numbers are for "Sees client phone
numbers" only (see ``crm_voip/models/crm_voip_call_masking.py``); an agent outside it
reads them masked in his panel and still calls them, the server dialling the line's
own number."""

from odoo import api, fields, models

SEE_NUMBERS_GROUP = "crm_voip.group_crm_voip_see_numbers"
RAW_NUMBER_FIELDS = frozenset({"phone", "phone_e164"})


class CrmVoipDialerLine(models.Model):
    _name = "crm.voip.dialer.line"
    _inherit = ["crm.voip.dialer.line", "crm.voip.hidden.number.mixin"]

    _crm_voip_hidden_number_fields = RAW_NUMBER_FIELDS

    phone = fields.Char(groups=SEE_NUMBERS_GROUP)
    phone_e164 = fields.Char(groups=SEE_NUMBERS_GROUP)

    @api.depends_context("uid")
    def _compute_display_name(self):
        super()._compute_display_name()
        user = self.env.user
        if not user._crm_voip_sees_numbers():
            for line in self:
                number = line.sudo().phone_e164 or line.sudo().phone or ""
                line.display_name = f"{line.name} ({user._crm_voip_visible_number(number)})"


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    @api.model
    def _crm_voip_number_from_record(self, record, field_name):
        if record._name == "crm.voip.dialer.line":
            line = record.sudo()
            return line.phone_e164 or line.phone or None
        return super()._crm_voip_number_from_record(record, field_name)
