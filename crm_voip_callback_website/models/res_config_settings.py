from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_voip_callback_source_id = fields.Many2one(
        related="website_id.crm_voip_callback_source_id", readonly=False
    )
