from odoo import fields, models
from odoo.exceptions import AccessError


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "crm.voip.phone.mixin"]

    crm_voip_call_ids = fields.One2many("crm.voip.call", "partner_id", string="Call log")
    crm_voip_call_count = fields.Integer(
        string="Calls",
        compute="_compute_crm_voip_call_count",
        groups="crm_voip.crm_voip_group_user",
    )

    def _compute_crm_voip_call_count(self):
        counts = dict(
            self.env["crm.voip.call"]._read_group(
                [("partner_id", "child_of", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.crm_voip_call_count = sum(
                count
                for call_partner, count in counts.items()
                if call_partner.commercial_partner_id == partner.commercial_partner_id
                or call_partner == partner
            )

    crm_voip_recording_count = fields.Integer(
        string="Recordings",
        compute="_compute_crm_voip_recording_count",
        groups="crm_voip.crm_voip_group_user",
    )

    def _compute_crm_voip_recording_count(self):
        # Counted like the calls: a contact shows its whole company's recordings.
        counts = dict(
            self.env["crm.voip.recording"]._read_group(
                [
                    ("partner_id", "child_of", self.commercial_partner_id.ids),
                    ("state", "=", "done"),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.crm_voip_recording_count = sum(
                count
                for recording_partner, count in counts.items()
                if recording_partner.commercial_partner_id == partner.commercial_partner_id
            )

    def unlink(self):
        # Deleting a person deletes his call recordings (an erasure request), except
        # those under legal hold. Through sudo: whoever may delete the contact may
        # not see every recording of him.
        self.env["crm.voip.recording"].sudo()._crm_voip_erase_partners(self)
        return super().unlink()

    def action_crm_voip_open_recordings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_voip.crm_voip_recording_action")
        action["domain"] = [("partner_id", "child_of", self.commercial_partner_id.id)]
        action["context"] = {"search_default_filter_available": 1}
        return action

    def action_crm_voip_erase_recordings(self):
        """Erasure request: delete the call recordings of these contacts (not their
        company's), except those under legal hold."""
        if not self.env.user.has_group("crm_voip.crm_voip_group_manager"):
            raise AccessError(self.env._("Only telephony managers can erase call recordings."))
        self.check_access("read")
        # His companies' recordings only: another company's are its managers' to erase.
        erased, held = (
            self.env["crm.voip.recording"]
            .sudo()
            ._crm_voip_erase_partners(self, companies=self.env.companies)
        )
        message = self.env._("%(count)s call recording(s) deleted.", count=len(erased))
        if held:
            message += " " + self.env._("%(count)s kept: under legal hold.", count=len(held))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning" if held else "success",
                "title": self.env._("Call recordings erased"),
                "message": message,
                "sticky": bool(held),
            },
        }

    def action_crm_voip_open_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_voip.crm_voip_call_action")
        action["domain"] = [("partner_id", "child_of", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
