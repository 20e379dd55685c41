from odoo import Command, api, fields, models
from odoo.exceptions import AccessError


class CrmVoipExtensionImport(models.TransientModel):
    """The PBX's employees, matched to Odoo users by e-mail, shown before anything is
    written: the manager checks (or corrects) each match, then imports the extensions."""

    _name = "crm.voip.extension.import"
    _description = "Import of a PBX's extensions"

    provider_id = fields.Many2one("crm.voip.provider", string="PBX account", required=True)
    line_ids = fields.One2many(
        "crm.voip.extension.import.line", "import_id", string="Extensions of the PBX"
    )

    @api.model
    def _crm_voip_preview_values(self, provider, pbx_extensions):
        """The wizard's lines for the PBX's ``pbx_extensions`` (``providers.events.Extension``):
        each employee's Odoo user by e-mail, among the account company's internal users,
        and selected when importing it changes something."""
        emails = {item.email.strip().lower() for item in pbx_extensions if item.email}
        users_by_email = {}
        if emails:
            users = self.env["res.users"].search(
                [
                    ("share", "=", False),
                    ("company_ids", "in", provider.company_id.id),
                    ("email", "!=", False),
                ]
            )
            for user in users:
                users_by_email.setdefault(user.email.strip().lower(), user)
        Line = self.env["crm.voip.extension.import.line"]
        users_by_extension = Line._crm_voip_users_by_extension(provider)
        lines = []
        for item in sorted(pbx_extensions, key=lambda pbx: pbx.extension):
            user = users_by_email.get((item.email or "").strip().lower(), self.env["res.users"])
            status = Line._crm_voip_status(users_by_extension, item.extension, user)
            lines.append(
                {
                    "extension": item.extension,
                    "pbx_name": item.name,
                    "pbx_email": item.email,
                    "user_id": user.id,
                    "selected": status in ("new", "moved", "reassigned"),
                }
            )
        return lines

    def action_import(self):
        """Write the selected lines' extensions: new ones, a user's moved extension, an
        extension given to another user."""
        self.ensure_one()
        if not self.env.user.has_group("crm_voip.crm_voip_group_manager"):
            raise AccessError(self.env._("Only telephony managers import extensions."))
        self.provider_id.check_access("read")
        provider = self.provider_id
        Extension = self.env["crm.voip.extension"]
        # The account's extensions, read once and kept current as lines are imported.
        extensions = Extension.search([("provider_id", "=", provider.id)])
        by_number = {extension.extension: extension for extension in extensions}
        by_user = {extension.user_id: extension for extension in extensions}
        counts = {"created": 0, "changed": 0}
        for line in self.line_ids.filtered(lambda item: item.selected and item.user_id):
            taken, own = by_number.get(line.extension), by_user.get(line.user_id)
            if taken and taken == own:
                continue
            if own:
                if taken:
                    del by_user[taken.user_id]
                    taken.unlink()
                del by_number[own.extension]
                own.extension = line.extension
                extension = own
                counts["changed"] += 1
            elif taken:
                del by_user[taken.user_id]
                taken.user_id = line.user_id
                extension = taken
                counts["changed"] += 1
            else:
                extension = Extension.create(
                    {
                        "provider_id": provider.id,
                        "user_id": line.user_id.id,
                        "extension": line.extension,
                    }
                )
                counts["created"] += 1
            by_number[line.extension] = by_user[line.user_id] = extension
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Extensions imported"),
                "message": self.env._(
                    "%(created)s extensions added, %(changed)s changed.", **counts
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    @api.model
    def _crm_voip_action(self, provider, lines):
        """The preview window of ``provider``'s extensions (nothing stored yet)."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Import extensions from the PBX"),
            "res_model": self._name,
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_provider_id": provider.id,
                "default_line_ids": [Command.create(values) for values in lines],
            },
        }
