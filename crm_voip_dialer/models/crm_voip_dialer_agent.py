from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from .crm_voip_dialer_campaign import AGENT_BUSY_STATES


class CrmVoipDialerAgent(models.Model):
    """An agent's session in a campaign: joined, ready or pausing, and his contact."""

    _name = "crm.voip.dialer.agent"
    _description = "Dialer agent session"
    _order = "campaign_id, id"
    _rec_name = "user_id"

    campaign_id = fields.Many2one(
        "crm.voip.dialer.campaign", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    user_id = fields.Many2one("res.users", string="Agent", required=True, ondelete="cascade")
    state = fields.Selection(
        [("offline", "Left"), ("ready", "Ready"), ("paused", "On pause")],
        default="offline",
        required=True,
    )
    date_ready = fields.Datetime(help="Since when the agent waits: the longest waiting goes first.")
    line_id = fields.Many2one("crm.voip.dialer.line", string="Contact", compute="_compute_line_id")
    status = fields.Selection(
        [
            ("offline", "Left"),
            ("paused", "On pause"),
            ("ready", "Waiting for a call"),
            ("preview", "Preview"),
            ("dialing", "Dialling"),
            ("talking", "Talking"),
            ("wrapup", "Wrap-up"),
        ],
        compute="_compute_line_id",
    )

    _sql_constraints = [
        ("campaign_user_uniq", "UNIQUE(campaign_id, user_id)", "An agent joins a campaign once."),
    ]

    def _compute_line_id(self):
        lines = self.env["crm.voip.dialer.line"].search(
            [("user_id", "in", self.user_id.ids), ("state", "in", AGENT_BUSY_STATES)]
        )
        for agent in self:
            line = lines.filtered(
                lambda line, a=agent: (
                    line.user_id == a.user_id and line.campaign_id == a.campaign_id
                )
            )[:1]
            agent.line_id = line
            agent.status = line.state if line else agent.state

    # ------------------------------------------------------------------
    # Panel actions (the agent himself)
    # ------------------------------------------------------------------

    @api.model
    def dialer_my_campaigns(self):
        """The running or paused campaigns the current user is an agent of."""
        campaigns = self.env["crm.voip.dialer.campaign"].search(
            [("state", "in", ("running", "paused"))]
        )
        user = self.env.user
        mode_labels = dict(campaigns._fields["mode"]._description_selection(self.env))
        return [
            {"id": campaign.id, "name": campaign.name, "mode": mode_labels[campaign.mode]}
            for campaign in campaigns
            if user in campaign._dialer_agent_users()
        ]

    @api.model
    def dialer_join(self, campaign_id):
        """Join a campaign as the current user; the agent leaves his other campaigns."""
        campaign = self.env["crm.voip.dialer.campaign"].browse(campaign_id).exists()
        user = self.env.user
        if not campaign or user not in campaign._dialer_agent_users():
            raise AccessError(self.env._("You are not an agent of this campaign."))
        self.env["crm.voip.extension"]._crm_voip_for_user(user)  # a clear error without one
        sessions = self.sudo().search([("user_id", "=", user.id)])
        sessions.filtered(lambda s: s.campaign_id != campaign).write({"state": "offline"})
        agent = sessions.filtered(lambda s: s.campaign_id == campaign)
        if not agent:
            agent = self.sudo().create({"campaign_id": campaign.id, "user_id": user.id})
        agent._dialer_set_state("paused")
        return agent.dialer_panel_data()

    def _dialer_check_own(self):
        self.ensure_one()
        if self.user_id != self.env.user and not self.env.su:
            raise AccessError(self.env._("This is not your session."))
        return self.sudo()

    def _dialer_set_state(self, state):
        values = {"state": state}
        if state == "ready":
            values["date_ready"] = fields.Datetime.now()
        self.write(values)
        self.campaign_id._dialer_notify()
        # The scheduler dials for progressive and power campaigns; in preview the agent
        # dials himself.
        if state == "ready" and any(mode != "preview" for mode in self.campaign_id.mapped("mode")):
            self.env.ref("crm_voip_dialer.ir_cron_dialer_tick")._trigger()

    def action_ready(self):
        agent = self._dialer_check_own()
        agent._dialer_set_state("ready")
        if agent.campaign_id.mode == "preview" and agent.campaign_id.state == "running":
            # Preview: the next card comes with the answer, not in a second request.
            return self.dialer_preview_next()
        return self.dialer_panel_data()

    def action_pause(self):
        self._dialer_check_own()._dialer_set_state("paused")
        return self.dialer_panel_data()

    def action_leave(self):
        agent = self._dialer_check_own()
        agent._dialer_set_state("offline")
        line = agent.line_id
        if line.state == "preview":
            line.write({"state": "pending", "user_id": False})
        return True

    def dialer_preview_next(self):
        """Preview mode: reserve the next contact for this agent, to look at before dialling."""
        agent = self._dialer_check_own()
        campaign = agent.campaign_id
        if campaign.mode != "preview" or campaign.state != "running":
            raise UserError(self.env._("The campaign is not running in preview mode."))
        if agent.line_id:
            return agent.dialer_panel_data()
        line = campaign.sudo()._dialer_pick(1)
        if line:
            line.write({"state": "preview", "user_id": agent.user_id.id})
        else:
            campaign._dialer_check_finished()
        return agent.dialer_panel_data()

    def dialer_preview_skip(self):
        agent = self._dialer_check_own()
        line = agent.line_id
        if line.state == "preview":
            line.write({"state": "pending", "user_id": False})
        return agent.dialer_preview_next()

    def dialer_dispose(self, disposition_id, note=False):
        agent = self._dialer_check_own()
        line = agent.line_id
        if not line:
            raise UserError(self.env._("You have no contact to wrap up."))
        line.with_user(self.env.user).sudo(self.env.su).action_dialer_dispose(disposition_id, note)
        if agent.campaign_id.mode == "preview" and agent.state == "ready":
            return agent.dialer_preview_next()
        return agent.dialer_panel_data()

    def dialer_panel_data(self):
        """Everything the agent panel shows."""
        agent = self._dialer_check_own()
        # The contact is computed from the lines, which this request may have just changed.
        agent.invalidate_recordset(["line_id", "status"])
        campaign = agent.campaign_id
        line = agent.line_id
        card = False
        if line:
            lead = line.lead_id
            partner = line.partner_id
            call = line.call_id
            line_states = dict(line._fields["state"]._description_selection(self.env))
            call_states = dict(call._fields["state"]._description_selection(self.env))
            card = {
                "line_id": line.id,
                "name": line.name,
                "phone": self.env.user._crm_voip_visible_number(
                    line.sudo().phone_e164 or line.sudo().phone
                ),
                "partner_id": partner.id,
                "partner_name": partner.display_name or "",
                "company": partner.commercial_company_name or partner.parent_id.name or "",
                "lead_id": lead.id,
                "lead_name": lead.name or "",
                "stage": lead.stage_id.name or "",
                "attempts": line.attempt_count,
                "state": line.state,
                "state_label": line_states[line.state],
                "call_id": call.id,
                "call_state": call.state or "",
                "call_state_label": call_states.get(call.state, ""),
                # The call bar's timer: talk time once answered, ring time before.
                "call_since": fields.Datetime.to_string(call.date_answer or call.date_start)
                if call
                else False,
                "history": [
                    {
                        "date": fields.Datetime.to_string(attempt.date_start),
                        "outcome": dict(
                            attempt._fields["outcome"]._description_selection(self.env)
                        ).get(attempt.outcome, ""),
                        "disposition": attempt.disposition_id.name or "",
                    }
                    for attempt in line.attempt_ids
                ],
            }
        status_labels = dict(agent._fields["status"]._description_selection(self.env))
        return {
            "agent_id": agent.id,
            "state": agent.state,
            "status": agent.status,
            "status_label": status_labels[agent.status],
            "campaign": {
                "id": campaign.id,
                "name": campaign.name,
                "mode": campaign.mode,
                "state": campaign.state,
                "script": campaign.script or "",
            },
            "card": card,
            "dispositions": [
                {"id": d.id, "name": d.name, "shortcut": (d.shortcut or "").lower()}
                for d in campaign.disposition_ids
            ],
        }
