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
        Extension = self.env["crm.voip.extension"]
        for line in self:
            provider = line.import_id.provider_id
            line.status = self._crm_voip_status(provider, line.extension, line.user_id)
            line.current_user_id = Extension.search(
                [("provider_id", "=", provider.id), ("extension", "=", line.extension)], limit=1
            ).user_id

    @api.model
    def _crm_voip_status(self, provider, extension, user):
        """What importing ``extension`` for ``user`` would do on ``provider``."""
        if not user:
            return "unmatched"
        Extension = self.env["crm.voip.extension"]
        taken = Extension.search(
            [("provider_id", "=", provider.id), ("extension", "=", extension)], limit=1
        )
        if taken.user_id == user:
            return "linked"
        if taken:
            return "reassigned"
        own = Extension.search(
            [("provider_id", "=", provider.id), ("user_id", "=", user.id)], limit=1
        )
        return "moved" if own else "new"
