from odoo import api, fields, models

from .. import providers


class CrmVoipLine(models.Model):
    """A company phone number (DID) on the PBX: what the caller dialled."""

    _name = "crm.voip.line"
    _description = "Telephony line (dialled number)"
    _order = "provider_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(
        string="Label",
        required=True,
        translate=True,
        help="Shown to the salesperson, e.g. 'Moscow sales 495'.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    provider_id = fields.Many2one(
        "crm.voip.provider", required=True, ondelete="cascade", index=True, check_company=True
    )
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    number = fields.Char(required=True, help="The number as the PBX reports it.")
    number_e164 = fields.Char(
        string="Number (E.164)", compute="_compute_number_e164", store=True, index=True
    )
    source_id = fields.Many2one(
        "utm.source",
        string="Source",
        help="Call tracking: leads created from calls to this number get this source.",
    )
    medium_id = fields.Many2one("utm.medium", string="Medium")
    campaign_id = fields.Many2one("utm.campaign", string="Campaign")
    team_id = fields.Many2one("crm.team", string="Sales team", check_company=True)

    _sql_constraints = [
        ("number_unique", "UNIQUE(provider_id, number)", "This line already exists."),
    ]

    @api.depends("number", "provider_id.country_id", "provider_id.company_id.country_id")
    def _compute_number_e164(self):
        for line in self:
            region = line.provider_id._crm_voip_region() if line.provider_id else "RU"
            line.number_e164 = providers.numbers.normalize(line.number or "", region) or False

    @api.depends("name", "number")
    def _compute_display_name(self):
        for line in self:
            line.display_name = f"{line.name} ({line.number})" if line.number else line.name
