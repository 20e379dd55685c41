"""Hidden client numbers, what every record holding them does (``crm_voip_call_masking.py``
says the rule): its raw number fields are readable by "Sees client phone numbers" only
(``groups=``), its server code still reads them, an export checks them, and a search by
number confirms to anyone else only the numbers of clients he may read otherwise."""

from odoo import models


class CrmVoipHiddenNumberMixin(models.AbstractModel):
    _name = "crm.voip.hidden.number.mixin"
    _description = "Hidden client numbers"

    #: The fields holding a client's number, declared with ``groups=`` the group's.
    _crm_voip_hidden_number_fields = ()

    def _crm_voip_number_search(self, domain):
        """``domain``, a search by a client's number, as the current user may run it: for
        those outside the group, matched in sudo (the numbers are not theirs to search)
        and only on records whose contact or lead they may read otherwise; an unknown
        caller's number stays unknown. The model has ``partner_id`` and ``lead_id``."""
        if self.env.user._crm_voip_sees_numbers():
            return domain
        user_env = self.env(su=False)
        return [
            ("id", "in", self.sudo()._search(domain)),
            "|",
            ("partner_id", "in", user_env["res.partner"]._search([])),
            ("lead_id", "in", user_env["crm.lead"]._search([])),
        ]

    def _fetch_field(self, field):
        if (
            field.name in self._crm_voip_hidden_number_fields
            and not self.env.su
            and not field.is_accessible(self.env)
        ):
            # Server code reading the number it works with; what it shows goes through
            # ``_crm_voip_visible_number``. ``read`` and searches check first.
            return self.sudo()._fetch_field(field)
        return super()._fetch_field(field)

    def _export_rows(self, field_paths, *args, **kwargs):
        # Exports read values by attribute, which ``_fetch_field`` lets through above.
        names = {path[0] for path in field_paths if path and path[0] in self._fields}
        self.check_field_access_rights("read", sorted(names))
        return super()._export_rows(field_paths, *args, **kwargs)
