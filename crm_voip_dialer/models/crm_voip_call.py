from odoo import api, fields, models
from odoo.exceptions import AccessError


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    dialer_line_id = fields.Many2one(
        "crm.voip.dialer.line", string="Campaign contact", readonly=True, index="btree_not_null"
    )

    @api.model
    def _crm_voip_apply_event(self, provider, event):
        call = super()._crm_voip_apply_event(provider, event)
        if call.dialer_line_id and call.state == "talking":
            call.dialer_line_id.sudo()._dialer_on_answer(call)
        return call

    def _crm_voip_on_hangup(self):
        super()._crm_voip_on_hangup()
        if self.dialer_line_id:
            # The dialer's disposition form replaces crm_voip's wrap-up panel.
            self.sudo().wrapup_done = True
            self.dialer_line_id.sudo()._dialer_on_call_end(self)

    @api.model
    def crm_voip_dial_prepare(self, number, res_model=False, res_id=False, **kwargs):
        """Preview mode: the agent dials the contact of his card through click-to-call."""
        if res_model != "crm.voip.dialer.line" or not res_id:
            return super().crm_voip_dial_prepare(number, res_model, res_id, **kwargs)
        line = self.env["crm.voip.dialer.line"].sudo().browse(int(res_id)).exists()
        if not line or line.user_id != self.env.user or line.state != "preview":
            raise AccessError(self.env._("This contact is not waiting for your call."))
        claim = line._dialer_start_call(self.env.user)
        if not claim:
            raise AccessError(self.env._("This contact may not be called."))
        return self.browse(claim["call_id"])._crm_voip_state_payload()
