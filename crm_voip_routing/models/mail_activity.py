from odoo import models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        # The call-back task follows its activity; the person marking it done may not
        # read the telephony task itself.
        self.env["crm.voip.missed.call"].sudo()._crm_voip_on_activity_done(self)
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)

    def unlink(self):
        self.env["crm.voip.missed.call"].sudo()._crm_voip_on_activity_unlink(self)
        return super().unlink()
