from odoo import fields, models


class CrmVoipRecording(models.Model):
    _inherit = "crm.voip.recording"

    # The call's number as its reader may see it (masked outside "Sees client phone
    # numbers"), searched the same way.
    partner_number = fields.Char(related="call_id.partner_number_display")
