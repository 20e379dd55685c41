from odoo import api, fields, models

WEBSITE_CALLBACK = "website_callback"


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    origin = fields.Selection(
        selection_add=[(WEBSITE_CALLBACK, "Website call-back")],
        ondelete={WEBSITE_CALLBACK: lambda calls: calls.write({"origin": "click_to_call"})},
    )
    crm_voip_callback_source_id = fields.Many2one(
        "crm.voip.callback.source",
        string="Website",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The website whose call-back button asked for this call.",
    )
    # ``source_id`` (the UTM source) is crm_voip's: the line's, or the visit's here.
    medium_id = fields.Many2one("utm.medium", string="Medium", readonly=True)
    campaign_id = fields.Many2one("utm.campaign", string="Campaign", readonly=True)
    crm_voip_callback_url = fields.Char(
        string="Page", readonly=True, help="The page the visitor asked from."
    )

    @api.model
    def _crm_voip_click_to_call_origins(self):
        # Placed by Odoo through the PBX like a click-to-call: claimed, adopted and
        # refused the same way.
        return (*super()._crm_voip_click_to_call_origins(), WEBSITE_CALLBACK)
