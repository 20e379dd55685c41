from odoo import fields, models


class Website(models.Model):
    _inherit = "website"

    crm_voip_callback_source_id = fields.Many2one(
        "crm.voip.callback.source",
        string="Call-back button",
        ondelete="set null",
        domain="[('company_id', '=', company_id)]",
        help='Shows its "Call me back" button on every page of the website.',
    )
