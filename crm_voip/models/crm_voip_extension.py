from odoo import api, fields, models
from odoo.exceptions import UserError


class CrmVoipExtension(models.Model):
    """Which user answers at which extension of which PBX account."""

    _name = "crm.voip.extension"
    _description = "Telephony extension of a user"
    _order = "provider_id, extension"
    _check_company_auto = True
    _rec_name = "extension"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    provider_id = fields.Many2one(
        "crm.voip.provider", required=True, ondelete="cascade", index=True, check_company=True
    )
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    extension = fields.Char(required=True, help="Internal number on the PBX, e.g. 101.")
    mobile = fields.Char(help="The user's mobile, for forwarding when he is away.")

    _sql_constraints = [
        (
            "extension_unique",
            "UNIQUE(provider_id, extension)",
            "This extension already belongs to a user of this PBX account.",
        ),
        (
            "user_unique",
            "UNIQUE(provider_id, user_id)",
            "A user has one extension per PBX account.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        extensions = super().create(vals_list)
        self.env.registry.clear_cache()  # crm.voip.provider._crm_voip_user_id_by_extension
        return extensions

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    @api.model
    def _crm_voip_for_user(self, user):
        """The extension ``user`` calls from in the current company."""
        extension = self.search(
            [
                ("user_id", "=", user.id),
                ("provider_id.active", "=", True),
                ("company_id", "=", self.env.company.id),
            ],
            limit=1,
        )
        if not extension:
            raise UserError(
                self.env._(
                    "You have no telephony extension in %(company)s: ask your administrator "
                    "to give you one (Telephony > Configuration > Extensions).",
                    company=self.env.company.name,
                )
            )
        return extension
