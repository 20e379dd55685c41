"""Hidden client numbers: what a user outside "Sees client phone numbers" reads of a call.

The raw numbers are readable by that group only (``groups=``): ``read``, ``search_read``,
grouping and domains on them refuse everyone else, and views drop them. Server code
still works with them as the user (call back, wrap-up): a raw number the ORM fetches
for it is fetched in sudo, while an export checks the fields it is asked for. What the
lists and the form show is ``partner_number_display``, masked for such a user
(``res.users._crm_voip_visible_number``), and searching it finds only calls whose
contact or lead he may read: the search cannot tell him an unknown caller's number.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import providers
from .res_users import SEE_NUMBERS_GROUP

# The call's fields that hold a client's number (the dialled line's own number and the
# extension do not).
RAW_NUMBER_FIELDS = frozenset(
    {
        "from_number",
        "to_number",
        "from_e164",
        "to_e164",
        "partner_number",
        "partner_number_e164",
        "dialled_number",
    }
)


class CrmVoipCall(models.Model):
    _name = "crm.voip.call"
    _inherit = ["crm.voip.call", "crm.voip.hidden.number.mixin"]

    _crm_voip_hidden_number_fields = RAW_NUMBER_FIELDS

    from_number = fields.Char(groups=SEE_NUMBERS_GROUP)
    to_number = fields.Char(groups=SEE_NUMBERS_GROUP)
    from_e164 = fields.Char(groups=SEE_NUMBERS_GROUP)
    to_e164 = fields.Char(groups=SEE_NUMBERS_GROUP)
    partner_number = fields.Char(groups=SEE_NUMBERS_GROUP)
    partner_number_e164 = fields.Char(groups=SEE_NUMBERS_GROUP)
    dialled_number = fields.Char(groups=SEE_NUMBERS_GROUP)

    @api.depends_context("uid")
    def _compute_partner_number_display(self):
        super()._compute_partner_number_display()
        user = self.env.user
        if not user._crm_voip_sees_numbers():
            for call in self:
                call.partner_number_display = (
                    user._crm_voip_visible_number(call.partner_number_display) or False
                )

    @api.depends_context("uid")
    def _compute_display_name(self):
        return super()._compute_display_name()

    def _search_partner_number_display(self, operator, value):
        domain = super()._search_partner_number_display(operator, value)
        return self._crm_voip_number_search(domain)

    def _order_field_to_sql(self, alias, field_name, direction, nulls, query):
        if field_name == "partner_number_display" and not self.env.su:
            # Sorted by the stored numbers, which the user may not read: in sudo.
            return self.sudo()._order_field_to_sql(alias, field_name, direction, nulls, query)
        return super()._order_field_to_sql(alias, field_name, direction, nulls, query)

    def _crm_voip_number_for(self, viewer):
        """The client's number as ``viewer`` (a user) may read it, formatted."""
        self.ensure_one()
        call = self.sudo()
        number = self._crm_voip_format_number(call.partner_number_e164) or call.partner_number
        return viewer._crm_voip_visible_number(number or "")

    # ------------------------------------------------------------------
    # Calling a number the user may not read: the server takes it from the record
    # ------------------------------------------------------------------

    @api.model
    def crm_voip_dial_prepare(self, number, res_model=False, res_id=False, field_name=False):
        """Click-to-call from a record: a number shown masked is dialled from the record
        it belongs to (``field_name`` of ``res_model``/``res_id``), never from what the
        browser sent, once the user is known to read that record."""
        record = self._crm_voip_dial_record(res_model, res_id)
        if record:
            from_record = self._crm_voip_number_from_record(record, field_name)
            if from_record:
                number = from_record
        if number and providers.numbers.MASK_CHAR in number:
            raise UserError(
                self.env._(
                    "This number is hidden: call it from the call or the contact it belongs to."
                )
            )
        return super().crm_voip_dial_prepare(number, res_model=res_model, res_id=res_id)

    @api.model
    def _crm_voip_dial_record(self, res_model, res_id):
        if not res_model or not res_id or res_model not in self.env:
            return None
        record = self.env[res_model].browse(int(res_id)).exists()
        if not record:
            return None
        record.check_access("read")
        return record

    @api.model
    def _crm_voip_number_from_record(self, record, field_name):
        """The client's number of ``record`` (readable by the user), which telephony
        shows masked, or None: the number shown is the one to dial. The other modules
        add their records (the dialer's lines)."""
        if record._name == "crm.voip.call":
            call = record.sudo()
            return call.partner_number_e164 or call.partner_number or None
        if record._name == "crm.voip.recording":
            call = record.call_id.sudo()
            return call.partner_number_e164 or call.partner_number or None
        return None

    def crm_voip_create_contact(self, name=False, with_opportunity=False):
        # A contact created from an unknown caller is named after his number: as its
        # creator may read it.
        if not name and len(self) == 1 and not self.partner_id:
            name = self._crm_voip_number_for(self.env.user)
        return super().crm_voip_create_contact(name=name, with_opportunity=with_opportunity)
