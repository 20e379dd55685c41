from odoo import models

from .crm_voip_board import BOARD_CHANNEL, board_channels


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        return super()._build_bus_channel_list(self._crm_voip_board_channels(channels))

    def _crm_voip_board_channels(self, channels):
        """A live board asks for "crm_voip_board": it gets the board channels of the
        companies of a telephony manager or a team leader, and anyone else nothing (the
        name alone would otherwise be a channel any user could listen to)."""
        if BOARD_CHANNEL not in channels:
            return channels
        channels = [channel for channel in channels if channel != BOARD_CHANNEL]
        user = self.env.user
        if user and user._is_internal() and self._crm_voip_board_viewer(user):
            channels.extend(board_channels(self.env, user.company_ids.ids))
        return channels

    def _crm_voip_board_viewer(self, user):
        if user.has_group("crm_voip.crm_voip_group_manager"):
            return True
        return user.has_group("crm_voip.crm_voip_group_user") and bool(
            self.env["crm.team"].sudo().search_count([("user_id", "=", user.id)], limit=1)
        )
