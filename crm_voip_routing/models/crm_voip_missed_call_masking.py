"""Hidden client numbers on the call-back tasks, by the rule the call log follows
(``crm_voip/models/crm_voip_call_masking.py``): the raw number is readable by "Sees client
phone numbers" only; everyone else reads ``number_display``, masked, and finds by it only
the tasks whose contact or lead he may read otherwise."""

from odoo import api, fields, models

from odoo.addons.crm_voip.models.res_users import SEE_NUMBERS_GROUP


class CrmVoipMissedCall(models.Model):
    _name = "crm.voip.missed.call"
    _inherit = ["crm.voip.missed.call", "crm.voip.hidden.number.mixin"]

    _crm_voip_hidden_number_fields = ("number_e164",)

    number_e164 = fields.Char(string="Number (E.164)", groups=SEE_NUMBERS_GROUP)
    number_display = fields.Char(
        string="Number",
        compute="_compute_number_display",
        search="_search_number_display",
        help="The number to call back, masked for whoever may not read clients' numbers.",
    )

    @api.depends("number_e164")
    @api.depends_context("uid")
    def _compute_number_display(self):
        for missed in self:
            missed.number_display = missed._crm_voip_number_text(self.env.user) or False

    def _search_number_display(self, operator, value):
        if operator not in ("ilike", "not ilike", "=", "!=", "in", "not in"):
            return [("id", "=", False)]
        digits = value
        if isinstance(value, str):
            # A number is searched by its digits, however it is written.
            digits = "".join(ch for ch in value if ch.isdigit()) or value
        return self._crm_voip_number_search([("number_e164", operator, digits)])


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    @api.model
    def _crm_voip_number_from_record(self, record, field_name):
        if record._name == "crm.voip.missed.call":
            return record.sudo().number_e164 or None
        return super()._crm_voip_number_from_record(record, field_name)
