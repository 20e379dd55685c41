from odoo import models
from odoo.tools import SQL

from odoo.addons.crm_voip import providers

from .crm_voip_board import push_to_boards

EV = providers.events


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    def _crm_voip_notify(self, event):
        super()._crm_voip_notify(event)
        if event.kind != EV.RECORDING_READY:
            self._crm_voip_board_push()

    def _crm_voip_board_push(self):
        """Tell the live boards of the call's company what became of it.

        Every board of the company shares the channel, so the message says no name and no
        number: a board that meets a new call asks for the row its viewer may see
        (``crm.voip.board.crm_voip_board_calls``).
        """
        self.ensure_one()
        self.env.flush_all()  # the query reads what this request has just written
        table, call_column, user_column = self._crm_voip_rang_table()
        [row] = self.env.execute_query_dict(
            SQL(
                """
                SELECT c.id AS call_id, c.company_id, c.state, c.direction,
                       c.user_id, c.line_id, c.team_id,
                       to_char(c.date_start, 'YYYY-MM-DD HH24:MI:SS') AS date_start,
                       to_char(c.date_answer, 'YYYY-MM-DD HH24:MI:SS') AS date_answer,
                       ARRAY(SELECT r.%(user_col)s FROM %(rang)s r
                              WHERE r.%(call_col)s = c.id) AS rang_user_ids
                  FROM crm_voip_call c WHERE c.id = %(call)s
                """,
                user_col=user_column,
                rang=table,
                call_col=call_column,
                call=self.id,
            )
        )
        row.update(
            user_id=row["user_id"] or False,
            line_id=row["line_id"] or False,
            team_id=row["team_id"] or False,
            date_start=row["date_start"] or False,
            date_answer=row["date_answer"] or False,
        )
        push_to_boards(self.env, [row["company_id"]], "crm_voip/board_call", row)
