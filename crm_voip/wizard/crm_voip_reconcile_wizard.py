from odoo import fields, models


class CrmVoipReconcileWizard(models.TransientModel):
    """An on-demand reconciliation of a PBX account with its call history, for a range
    the manager chooses (the scheduled one reads the last hours)."""

    _name = "crm.voip.reconcile.wizard"
    _description = "Reconciliation with the PBX's call history"

    provider_id = fields.Many2one("crm.voip.provider", string="PBX account", required=True)
    date_from = fields.Datetime(string="From", required=True)
    date_to = fields.Datetime(string="To", required=True)

    def action_reconcile(self):
        self.ensure_one()
        provider = self.provider_id
        provider._crm_voip_check_reconcile_access()
        summary = provider.sudo()._crm_voip_reconcile(start=self.date_from, end=self.date_to)
        if summary["error"]:
            kind, title = "danger", self.env._("The PBX's call history could not be read")
            message = summary["error"]
        else:
            kind, title = "success", self.env._("Reconciled with the PBX history")
            message = provider.sudo()._crm_voip_reconcile_result_text(summary)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": kind,
                "title": title,
                "message": message,
                "sticky": bool(summary["error"] or summary["unmatched"]),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
