from odoo import api, fields, models

IMPORT_STATUSES = [
    ("new", "New extension"),
    ("linked", "Already set"),
    ("moved", "The user's extension changes"),
    ("reassigned", "Taken from another user"),
    ("unmatched", "No Odoo user with this e-mail"),
]


class CrmVoipExtensionImportLine(models.TransientModel):
    _name = "crm.voip.extension.import.line"
    _description = "An extension of the PBX, as it would be imported"
    _order = "extension"

    import_id = fields.Many2one("crm.voip.extension.import", required=True, ondelete="cascade")
    selected = fields.Boolean(string="To import")
    extension = fields.Char(required=True, readonly=True)
    pbx_name = fields.Char(string="Name at the PBX", readonly=True)
    pbx_email = fields.Char(string="E-mail at the PBX", readonly=True)
    user_id = fields.Many2one(
        "res.users", string="Odoo user", domain=[("share", "=", False)], ondelete="cascade"
    )
    status = fields.Selection(IMPORT_STATUSES, compute="_compute_status")
    current_user_id = fields.Many2one("res.users", string="Now used by", compute="_compute_status")

    @api.depends("extension", "user_id", "import_id.provider_id")
    def _compute_status(self):
        for provider, lines in self.grouped(lambda line: line.import_id.provider_id).items():
            users_by_extension = self._crm_voip_users_by_extension(provider)
            for line in lines:
                line.status = self._crm_voip_status(
                    users_by_extension, line.extension, line.user_id
                )
                line.current_user_id = users_by_extension.get(line.extension, False)

    @api.model
    def _crm_voip_users_by_extension(self, provider):
        """``{extension: user}`` of the account's extensions, in one query."""
        extensions = self.env["crm.voip.extension"].search([("provider_id", "=", provider.id)])
        return {extension.extension: extension.user_id for extension in extensions}

    @api.model
    def _crm_voip_status(self, users_by_extension, extension, user):
        """What importing ``extension`` for ``user`` would do, given the account's
        ``users_by_extension``."""
        if not user:
            return "unmatched"
        current = users_by_extension.get(extension)
        if current == user:
            return "linked"
        if current:
            return "reassigned"
        return "moved" if user in users_by_extension.values() else "new"
