from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.router import CallRouter


class ResPartner(models.Model):
    _inherit = "res.partner"

    crm_voip_number_blocked = fields.Boolean(
        string="Calls blocked",
        compute="_compute_crm_voip_number_blocked",
        groups="crm_voip.crm_voip_group_user",
    )
    crm_voip_missed_call_count = fields.Integer(
        string="Call-backs",
        compute="_compute_crm_voip_missed_call_count",
        groups="crm_voip.crm_voip_group_user",
    )

    @api.depends("crm_voip_phone_e164", "crm_voip_mobile_e164")
    def _compute_crm_voip_number_blocked(self):
        router = CallRouter(self.env)
        for partner in self:
            partner.crm_voip_number_blocked = any(
                router.is_blacklisted(number) for number in partner._crm_voip_numbers()
            )

    def _compute_crm_voip_missed_call_count(self):
        counts = dict(
            self.env["crm.voip.missed.call"]._read_group(
                [("partner_id", "in", self.ids), ("state", "=", "open")],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.crm_voip_missed_call_count = counts.get(partner, 0)

    def _crm_voip_numbers(self):
        self.ensure_one()
        return [n for n in (self.crm_voip_phone_e164, self.crm_voip_mobile_e164) if n]

    def action_crm_voip_block_numbers(self):
        numbers = self._crm_voip_blacklist_numbers()
        message = self.env._("Blocked from the contact by %(user)s", user=self.env.user.name)
        # The blacklist is an administrators' model; telephony managers may add to it.
        self.env["phone.blacklist"].sudo()._add(numbers, message=message)
        return True

    def action_crm_voip_unblock_numbers(self):
        numbers = self._crm_voip_blacklist_numbers()
        message = self.env._("Unblocked from the contact by %(user)s", user=self.env.user.name)
        self.env["phone.blacklist"].sudo()._remove(numbers, message=message)
        return True

    def action_crm_voip_open_missed_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_voip_routing.crm_voip_missed_call_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        return action

    def _crm_voip_blacklist_numbers(self):
        if not self.env.user.has_group("crm_voip.crm_voip_group_manager"):
            raise AccessError(self.env._("Only telephony managers may block numbers."))
        numbers = [number for partner in self for number in partner._crm_voip_numbers()]
        if not numbers:
            raise UserError(self.env._("This contact has no phone number to block."))
        return numbers
