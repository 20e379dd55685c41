"""Hidden client numbers in the call analysis: the same rule as the call log
(``crm_voip/models/crm_voip_call_masking.py``): the stored number is for "Sees client
phone numbers" only, the shown one is masked for everyone else, and searching it finds
only calls whose contact or lead he may read."""

from odoo import api, fields, models

SEE_NUMBERS_GROUP = "crm_voip.group_crm_voip_see_numbers"


class CrmVoipCallReport(models.Model):
    _name = "crm.voip.call.report"
    _inherit = ["crm.voip.call.report", "crm.voip.hidden.number.mixin"]

    partner_number = fields.Char(groups=SEE_NUMBERS_GROUP)

    @api.depends_context("uid")
    def _compute_partner_number_display(self):
        # The stored number is read in sudo: a masked user may not read its field.
        format_number = self.env["crm.voip.call"]._crm_voip_format_number
        user = self.env.user
        for row in self:
            number = format_number(row.sudo().partner_number)
            row.partner_number_display = user._crm_voip_visible_number(number) or False

    def _search_partner_number_display(self, operator, value):
        domain = super()._search_partner_number_display(operator, value)
        return self._crm_voip_number_search(domain)

    def _order_field_to_sql(self, alias, field_name, direction, nulls, query):
        if field_name == "partner_number_display" and not self.env.su:
            return self.sudo()._order_field_to_sql(alias, field_name, direction, nulls, query)
        return super()._order_field_to_sql(alias, field_name, direction, nulls, query)
