from odoo import fields, models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.voip.phone.mixin"]

    crm_voip_call_ids = fields.One2many("crm.voip.call", "lead_id", string="Call log")
    crm_voip_call_count = fields.Integer(
        string="Calls",
        compute="_compute_crm_voip_call_count",
        groups="crm_voip.crm_voip_group_user",
    )

    def _compute_crm_voip_call_count(self):
        counts = dict(
            self.env["crm.voip.call"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.crm_voip_call_count = counts.get(lead, 0)

    crm_voip_recording_count = fields.Integer(
        string="Recordings",
        compute="_compute_crm_voip_recording_count",
        groups="crm_voip.crm_voip_group_user",
    )

    def _compute_crm_voip_recording_count(self):
        counts = dict(
            self.env["crm.voip.recording"]._read_group(
                [("lead_id", "in", self.ids), ("state", "=", "done")], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.crm_voip_recording_count = counts.get(lead, 0)

    def action_crm_voip_open_recordings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_voip.crm_voip_recording_action")
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"search_default_filter_available": 1}
        return action

    def action_crm_voip_open_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_voip.crm_voip_call_action")
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id}
        return action
