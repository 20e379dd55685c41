from odoo import models

from .crm_voip_board import push_to_boards


class ResUsers(models.Model):
    _inherit = "res.users"

    def write(self, vals):
        result = super().write(vals)
        if "crm_voip_dnd" in vals:
            # The live boards show it at once: to the boards of each user's companies.
            for user in self.sudo():
                push_to_boards(
                    self.env,
                    user.company_ids.ids,
                    "crm_voip/board_member",
                    {"user_id": user.id, "dnd": user.crm_voip_dnd},
                )
        return result
