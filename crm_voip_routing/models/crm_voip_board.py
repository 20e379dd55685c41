"""The supervisor's live board: who is free, ringing, talking or away, and every line's
calls in progress and waiting.

The board loads once (``crm_voip_board_data``, built for its viewer) and then follows the
bus. Call and "do not disturb" pushes go to one channel per company, shared by every
board open in it, so they carry no name and no number: ids, states and times only. What
the viewer may see of a new call's client (name, card, number masked or not) comes from
``crm_voip_board_calls``, under his rights, when the board first meets the call.
"""

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from odoo.addons.crm_voip.callstate import states
from odoo.addons.crm_voip.tools import bus_push

from ..tools.router import TALKING_WINDOW, CallRouter

BOARD_CHANNEL = "crm_voip_board"
# Availability states shown for someone not on a call (the engine's reasons).
AWAY_TIME_OFF = "time_off"
AWAY_OFF_HOURS = "off_hours"


def board_channels(env, company_ids):
    """The bus channels of the boards open in these companies."""
    return [(company, BOARD_CHANNEL) for company in env["res.company"].browse(company_ids)]


def push_to_boards(env, company_ids, notification_type, message):
    if company_ids:
        bus_push.push_to_channels(env, board_channels(env, company_ids), notification_type, message)


class CrmVoipBoard(models.AbstractModel):
    _name = "crm.voip.board"
    _description = "Telephony live board"

    # ------------------------------------------------------------------
    # Browser entry points
    # ------------------------------------------------------------------

    @api.model
    def crm_voip_board_data(self):
        """Everything the board shows, for the current user (see ``_crm_voip_board_data``)."""
        return self._crm_voip_board_data()

    @api.model
    def crm_voip_board_calls(self, call_ids):
        """The rows of these live calls the current user's board may show (new calls
        announced by the bus); calls outside his scope are left out."""
        scope = self._crm_voip_board_scope()
        ids = [int(call_id) for call_id in call_ids or () if str(call_id).isdigit()]
        return self._crm_voip_board_calls(scope, ids) if ids else []

    # ------------------------------------------------------------------
    # Scope: who sees what
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_board_scope(self):
        """``{"company_ids", "team_ids"}`` the viewer's board covers; ``team_ids`` is None
        for a telephony manager (every salesperson of his companies). Anyone else who
        leads no team gets an AccessError."""
        user = self.env.user
        company_ids = self.env.companies.ids
        if user.has_group("crm_voip.crm_voip_group_manager"):
            return {"company_ids": company_ids, "team_ids": None}
        team_ids = []
        if user.has_group("crm_voip.crm_voip_group_user"):
            team_ids = (
                self.env["crm.team"]
                .sudo()
                .search(
                    [
                        ("user_id", "=", user.id),
                        ("company_id", "in", [*company_ids, False]),
                    ]
                )
                .ids
            )
        if not team_ids:
            raise AccessError(
                self.env._("The live board is for team leaders and telephony managers.")
            )
        return {"company_ids": company_ids, "team_ids": team_ids}

    # ------------------------------------------------------------------
    # Data
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_board_data(self):
        """The board of the current user, in a few queries whatever its size: the
        salespeople with an extension (grouped by team), their availability, the lines and
        the calls in progress. Refused (AccessError) to who leads no team and is no
        telephony manager."""
        scope = self._crm_voip_board_scope()
        members, teams = self._crm_voip_board_members(scope)
        calls = self._crm_voip_board_calls(scope)
        return {
            "server_now": fields.Datetime.to_string(fields.Datetime.now()),
            "company_ids": scope["company_ids"],
            "team_ids": scope["team_ids"] or [],
            "teams": teams,
            "members": members,
            "lines": self._crm_voip_board_lines(scope, {call["line_id"] for call in calls}),
            "calls": calls,
            "live_states": list(states.LIVE),
        }

    @api.model
    def _crm_voip_board_members(self, scope):
        """``(members, teams)``: each salesperson with an active extension in the scope's
        companies, with his "do not disturb", presence and absence; the teams in order."""
        env = self.env(su=True)
        company_ids = scope["company_ids"]
        team_ids = scope["team_ids"]
        team_filter = SQL("TRUE")
        if team_ids is not None:
            team_filter = SQL(
                "u.id IN (SELECT user_id FROM crm_team_member"
                " WHERE active AND crm_team_id = ANY(%s))",
                team_ids,
            )
        rows = env.execute_query_dict(
            SQL(
                """
                SELECT u.id, p.id AS partner_id, p.name,
                       COALESCE(u.crm_voip_dnd, false) AS dnd,
                       array_agg(DISTINCT x.extension ORDER BY x.extension) AS extensions,
                       (array_agg(x.provider_id ORDER BY x.provider_id))[1] AS provider_id,
                       (SELECT status FROM bus_presence WHERE user_id = u.id LIMIT 1) AS presence,
                       ARRAY(SELECT m.crm_team_id FROM crm_team_member m
                               JOIN crm_team t ON t.id = m.crm_team_id
                              WHERE m.user_id = u.id AND m.active AND t.active
                                AND (t.company_id = ANY(%(companies)s) OR t.company_id IS NULL)
                              ORDER BY t.sequence, t.id) AS team_ids
                  FROM crm_voip_extension x
                  JOIN crm_voip_provider pr ON pr.id = x.provider_id AND pr.active
                  JOIN res_users u ON u.id = x.user_id AND u.active
                  JOIN res_partner p ON p.id = u.partner_id
                 WHERE x.company_id = ANY(%(companies)s) AND %(team_filter)s
                 GROUP BY u.id, p.id
                 ORDER BY p.name, u.id
                """,
                companies=company_ids,
                team_filter=team_filter,
            )
        )
        away = self._crm_voip_board_absences(rows)
        shown_team_ids = set(team_ids) if team_ids is not None else None
        members = []
        used_team_ids = set()
        for row in rows:
            member_teams = [
                team_id
                for team_id in row["team_ids"]
                if shown_team_ids is None or team_id in shown_team_ids
            ]
            used_team_ids.update(member_teams)
            members.append(
                {
                    "id": row["id"],
                    "partner_id": row["partner_id"],
                    "name": row["name"] or "",
                    "extensions": row["extensions"],
                    "dnd": row["dnd"],
                    "presence": row["presence"] or "offline",
                    "away": away.get(row["id"], False),
                    "team_ids": member_teams,
                }
            )
        teams = [
            {"id": team.id, "name": team.name}
            for team in env["crm.team"].browse(sorted(used_team_ids)).sorted()
        ]
        return members, teams

    @api.model
    def _crm_voip_board_absences(self, rows):
        """``{user_id: "time_off" | "off_hours"}`` now, by the routing's own reading of
        their working hours and time off (``CallRouter.agents``), one account at a time."""
        router = CallRouter(self.env)
        now = fields.Datetime.now()
        by_provider = {}
        for row in rows:
            by_provider.setdefault(row["provider_id"], []).append(row["id"])
        calendars = {}
        away = {}
        for provider_id, user_ids in by_provider.items():
            provider = self.env["crm.voip.provider"].sudo().browse(provider_id)
            agents = router.agents(provider, user_ids, now, calendars=calendars)
            for user_id, agent in agents.items():
                if agent.on_leave:
                    away[user_id] = AWAY_TIME_OFF
                elif not agent.working:
                    away[user_id] = AWAY_OFF_HOURS
        return away

    @api.model
    def _crm_voip_board_lines(self, scope, extra_line_ids=()):
        """The active lines of the scope's companies (a team leader: his teams' lines, and
        those his people's calls came in on)."""
        domain = [("company_id", "in", scope["company_ids"])]
        if scope["team_ids"] is not None:
            domain += [
                "|",
                ("team_id", "in", scope["team_ids"]),
                ("id", "in", [line_id for line_id in extra_line_ids if line_id]),
            ]
        lines = self.env["crm.voip.line"].sudo().search(domain)
        return [
            {"id": line.id, "name": line.name or "", "number": line.number or ""} for line in lines
        ]

    @api.model
    def _crm_voip_board_calls(self, scope, call_ids=None):
        """The live calls the board shows, as its rows: states and times, the line, and
        the client as the viewer may see him (his card only if he may read it, the number
        through ``res.users._crm_voip_visible_number``)."""
        env = self.env(su=True)
        Call = env["crm.voip.call"]
        table, call_column, user_column = Call._crm_voip_rang_table()
        filters = [
            SQL("c.company_id = ANY(%s)", scope["company_ids"]),
            SQL("c.state IN %s", states.LIVE),
            SQL(
                "COALESCE(c.date_start, c.create_date) >= %s",
                fields.Datetime.now() - TALKING_WINDOW,
            ),
        ]
        if call_ids is not None:
            filters.append(SQL("c.id = ANY(%s)", list(call_ids)))
        if scope["team_ids"] is not None:
            members = SQL(
                "SELECT user_id FROM crm_team_member WHERE active AND crm_team_id = ANY(%s)",
                scope["team_ids"],
            )
            filters.append(
                SQL(
                    "(c.team_id = ANY(%(teams)s) OR c.user_id IN (%(members)s)"
                    " OR c.line_id IN (SELECT id FROM crm_voip_line"
                    "                   WHERE team_id = ANY(%(teams)s))"
                    " OR EXISTS (SELECT FROM %(rang)s r WHERE r.%(call_col)s = c.id"
                    "             AND r.%(user_col)s IN (%(members)s)))",
                    teams=scope["team_ids"],
                    members=members,
                    rang=table,
                    call_col=call_column,
                    user_col=user_column,
                )
            )
        rows = env.execute_query_dict(
            SQL(
                """
                SELECT c.id, c.state, c.direction, c.user_id, c.line_id, c.did_number,
                       c.company_id, c.partner_id, c.lead_id,
                       COALESCE(c.partner_number_e164, c.partner_number) AS number,
                       to_char(c.date_start, 'YYYY-MM-DD HH24:MI:SS') AS date_start,
                       to_char(c.date_answer, 'YYYY-MM-DD HH24:MI:SS') AS date_answer,
                       ARRAY(SELECT r.%(user_col)s FROM %(rang)s r
                              WHERE r.%(call_col)s = c.id) AS rang_user_ids
                  FROM crm_voip_call c
                 WHERE %(filters)s
                 ORDER BY COALESCE(c.date_start, c.create_date), c.id
                """,
                user_col=user_column,
                rang=table,
                call_col=call_column,
                filters=SQL(" AND ").join(filters),
            )
        )
        # The client's card only where the viewer may read it.
        partners = (
            self.env["res.partner"]
            .browse({row["partner_id"] for row in rows if row["partner_id"]})
            ._filtered_access("read")
        )
        leads = (
            self.env["crm.lead"]
            .browse({row["lead_id"] for row in rows if row["lead_id"] and not row["partner_id"]})
            ._filtered_access("read")
        )
        partner_names = {partner.id: partner.display_name for partner in partners}
        lead_names = {lead.id: lead.name for lead in leads}
        viewer = self.env.user
        result = []
        for row in rows:
            client = False
            if row["partner_id"] in partner_names:
                client = {
                    "model": "res.partner",
                    "id": row["partner_id"],
                    "name": partner_names[row["partner_id"]],
                }
            elif row["lead_id"] in lead_names:
                client = {
                    "model": "crm.lead",
                    "id": row["lead_id"],
                    "name": lead_names[row["lead_id"]],
                }
            result.append(
                {
                    "call_id": row["id"],
                    "company_id": row["company_id"],
                    "state": row["state"],
                    "direction": row["direction"],
                    "user_id": row["user_id"] or False,
                    "rang_user_ids": row["rang_user_ids"] or [],
                    "line_id": row["line_id"] or False,
                    "did_number": row["did_number"] or "",
                    "date_start": row["date_start"] or False,
                    "date_answer": row["date_answer"] or False,
                    "client": client,
                    "number": viewer._crm_voip_visible_number(row["number"]),
                }
            )
        return result
