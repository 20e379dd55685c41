from odoo import fields, models

from .res_users import SEE_NUMBERS_GROUP


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_voip_hide_numbers = fields.Boolean(
        string="Hide client numbers from salespeople",
        help="Telephony users see clients' numbers masked (+7 495 ***-**-67) in the call log, "
        "the popup, recordings, reports and the dialer, unless they are in the group "
        '"Sees client phone numbers". They still call and call back: the server dials the '
        "number of the record.",
    )

    def _crm_voip_number_groups(self):
        return self.env.ref("crm_voip.crm_voip_group_user").sudo(), self.env.ref(
            SEE_NUMBERS_GROUP
        ).sudo()

    def get_values(self):
        values = super().get_values()
        user_group, see_numbers = self._crm_voip_number_groups()
        values["crm_voip_hide_numbers"] = see_numbers not in user_group.implied_ids
        return values

    def set_values(self):
        super().set_values()
        user_group, see_numbers = self._crm_voip_number_groups()
        hidden = see_numbers not in user_group.implied_ids
        # Odoo's own way of implied groups: removing the implication also takes the group
        # from the users who had it only through it (managers keep it through theirs).
        if self.crm_voip_hide_numbers and not hidden:
            user_group._remove_group(see_numbers)
        elif not self.crm_voip_hide_numbers and hidden:
            user_group._apply_group(see_numbers)
