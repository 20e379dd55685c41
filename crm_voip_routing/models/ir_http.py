from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        result = super().session_info()
        user = self.env.user
        if user._is_internal() and user.has_group("crm_voip.crm_voip_group_user"):
            result["crm_voip_routing"] = {"dnd": user.crm_voip_dnd}
        return result
