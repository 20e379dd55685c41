from odoo import api, fields, models

from .. import providers


class CrmVoipPhoneMixin(models.AbstractModel):
    """Stored, indexed E.164 forms of a record's phone and mobile.

    ``phone_sanitized`` keeps only one of the two numbers (the mobile wins) and is not
    indexed on partners, and ``phone_mobile_search`` misses numbers typed in other
    human formats; caller identification needs both numbers, exact and indexed.
    """

    _name = "crm.voip.phone.mixin"
    _description = "Telephony: normalized numbers for caller identification"

    crm_voip_phone_e164 = fields.Char(
        string="Phone (E.164)", compute="_compute_crm_voip_e164", store=True, index="btree_not_null"
    )
    crm_voip_mobile_e164 = fields.Char(
        string="Mobile (E.164)",
        compute="_compute_crm_voip_e164",
        store=True,
        index="btree_not_null",
    )

    def _crm_voip_number_region(self):
        """The country a number without international prefix belongs to.

        Deliberately independent of the current user and context (a stored field must
        not change with who recomputes it): the record's country, its company's, then
        the main company's.
        """
        self.ensure_one()
        country = (
            self.country_id
            or self.company_id.country_id
            or self.env.ref("base.main_company").sudo().country_id
        )
        return country.code or "RU"

    @api.depends("phone", "mobile", "country_id", "company_id")
    def _compute_crm_voip_e164(self):
        normalize = providers.numbers.normalize
        for record in self:
            region = record._crm_voip_number_region()
            record.crm_voip_phone_e164 = normalize(record.phone or "", region) or False
            record.crm_voip_mobile_e164 = normalize(record.mobile or "", region) or False
