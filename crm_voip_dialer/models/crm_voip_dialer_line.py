from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..dialer import pacing
from .crm_voip_dialer_campaign import AGENT_BUSY_STATES, NUMBER_BUSY_STATES

OUTCOME_BY_CALL_STATE = {
    "done": "answered",
    "missed": "no_answer",
    "busy": "busy",
    "failed": "failed",
}


class CrmVoipDialerLine(models.Model):
    """One contact of a campaign: its number, where it stands, and its attempts."""

    _name = "crm.voip.dialer.line"
    _description = "Dialer campaign contact"
    _order = "campaign_id, priority desc, next_call_at, id"
    _check_company_auto = True

    campaign_id = fields.Many2one(
        "crm.voip.dialer.campaign", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True, index=True)
    name = fields.Char(string="Contact", required=True)
    partner_id = fields.Many2one("res.partner", string="Partner", index="btree_not_null")
    lead_id = fields.Many2one("crm.lead", string="Lead", index="btree_not_null")
    phone = fields.Char(string="Number")
    phone_e164 = fields.Char(string="Number (E.164)", readonly=True)
    tz = fields.Char(
        string="Timezone", required=True, default="UTC", help="Calling hours are in this zone."
    )
    priority = fields.Integer(default=0)
    state = fields.Selection(
        [
            ("pending", "To call"),
            ("preview", "In preview"),
            ("dialing", "Dialling"),
            ("talking", "Talking"),
            ("wrapup", "Wrap-up"),
            ("done", "Done"),
            ("exhausted", "No more attempts"),
            ("excluded", "Excluded"),
        ],
        default="pending",
        required=True,
        index=True,
        copy=False,
    )
    exclusion_reason = fields.Selection(
        [
            ("no_number", "No number"),
            ("invalid", "Invalid number"),
            ("blacklist", "Do-not-call list"),
            ("exclusion", "Campaign exclusion list"),
            ("duplicate", "Number already in the campaign"),
        ],
        readonly=True,
        copy=False,
    )
    user_id = fields.Many2one("res.users", string="Agent", readonly=True, copy=False)
    call_id = fields.Many2one("crm.voip.call", string="Current call", readonly=True, copy=False)
    attempt_count = fields.Integer(string="Attempts", readonly=True, copy=False)
    next_call_at = fields.Datetime(
        string="Call after", required=True, default=fields.Datetime.now, copy=False
    )
    last_outcome = fields.Selection(
        [
            ("answered", "Answered"),
            ("no_answer", "No answer"),
            ("busy", "Busy"),
            ("failed", "Failed"),
            ("abandoned", "Abandoned (no free agent)"),
        ],
        readonly=True,
        copy=False,
    )
    disposition_id = fields.Many2one(
        "crm.voip.dialer.disposition", readonly=True, copy=False, index="btree_not_null"
    )
    attempt_ids = fields.One2many("crm.voip.dialer.attempt", "line_id", string="Attempts log")
    note = fields.Text()

    def init(self):
        super().init()
        cr = self.env.cr
        # The scheduler's claiming query walks this index in order and stops at its limit.
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_voip_dialer_line_pick_idx ON crm_voip_dialer_line"
                " (campaign_id, priority DESC, next_call_at, id) WHERE state = 'pending'"
            )
        )
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_voip_dialer_line_tz_idx ON crm_voip_dialer_line"
                " (campaign_id, tz) WHERE state = 'pending'"
            )
        )
        # A number is in one call at a time, across every campaign and worker.
        cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS crm_voip_dialer_line_number_busy_uniq"
                " ON crm_voip_dialer_line (phone_e164) WHERE state IN %s",
                NUMBER_BUSY_STATES,
            )
        )
        # An agent has one contact at a time.
        cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS crm_voip_dialer_line_agent_busy_uniq"
                " ON crm_voip_dialer_line (user_id) WHERE state IN %s",
                AGENT_BUSY_STATES,
            )
        )
        # A number is called once per campaign, however many targets share it.
        cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS crm_voip_dialer_line_campaign_number_uniq"
                " ON crm_voip_dialer_line (campaign_id, phone_e164)"
                " WHERE state != 'excluded' AND phone_e164 IS NOT NULL"
            )
        )

    @api.depends("name", "phone_e164")
    def _compute_display_name(self):
        for line in self:
            line.display_name = f"{line.name} ({line.phone_e164 or line.phone or ''})"

    # ------------------------------------------------------------------
    # Calls
    # ------------------------------------------------------------------

    def _dialer_start_call(self, user, state="dialing"):
        """Log the call of this line (agent ``user``; none in power mode) and lock the line.

        Returns the PBX request ``{line_id, extension, dialled}``, or ``None`` when the
        line may not be dialled after all (it is then excluded, or the agent has no
        extension).
        """
        self.ensure_one()
        campaign = self.campaign_id
        provider = campaign.provider_id
        if self.phone_e164 in campaign._dialer_excluded_set():
            self.write({"state": "excluded", "exclusion_reason": "exclusion"})
            return None
        if self.env["phone.blacklist"]._crm_voip_blocked([self.phone_e164]):
            self.write({"state": "excluded", "exclusion_reason": "blacklist"})
            return None
        try:
            dialled, number = provider.with_user(
                user or campaign.user_id or self.env.user
            )._crm_voip_dial_number(self.phone_e164)
        except UserError:
            self.write({"state": "excluded", "exclusion_reason": "invalid"})
            return None
        if user:
            extension = (
                self.env["crm.voip.extension"]
                .sudo()
                .search([("user_id", "=", user.id), ("provider_id", "=", provider.id)], limit=1)
                .extension
            )
            if not extension:
                return None
        else:
            extension = campaign.power_extension
        # The campaign's cron (or the agent) logs the call as any click-to-call.
        call = self.env["crm.voip.call"]._crm_voip_create_click_to_call(
            provider,
            user,
            extension,
            self.phone,
            dialled,
            number,
            partner_id=self.partner_id.id,
            lead_id=self.lead_id.id,
            dialer_line_id=self.id,
        )
        self.write(
            {
                "state": state,
                "user_id": user.id,
                "call_id": call.id,
                "attempt_count": self.attempt_count + 1,
                "last_outcome": False,
            }
        )
        self.env["crm.voip.dialer.attempt"].create(
            {
                "line_id": self.id,
                "call_id": call.id,
                "user_id": user.id,
                "date_start": call.date_start,
                "number": number,
            }
        )
        return {
            "line_id": self.id,
            "call_id": call.id,
            "call_ref": call.provider_call_id,
            "extension": extension,
            "dialled": dialled,
        }

    def _dialer_current_attempt(self):
        self.ensure_one()
        return self.attempt_ids.filtered(lambda a: a.call_id == self.call_id)[:1]

    def _dialer_on_answer(self, call):
        """The client picked up (a ``talking`` event)."""
        self.ensure_one()
        if self.call_id != call or self.state != "dialing":
            return
        values = {"state": "talking"}
        if not self.user_id:
            user = self._dialer_take_agent(call)
            if not user:
                return  # no free agent yet: decided at the hang-up
            values["user_id"] = user.id
        self.write(values)
        self._dialer_current_attempt().write({"user_id": self.user_id.id})
        self.campaign_id._dialer_notify()

    def _dialer_take_agent(self, call):
        """Power mode: the agent the PBX connected the call to, else any free agent."""
        campaign = self.campaign_id
        free = campaign._dialer_free_agents()
        if call.user_id and call.user_id in free.user_id:
            user = call.user_id
        else:
            user = free[:1].user_id
        if user:
            call.sudo().write({"user_id": user.id})
        return user

    def _dialer_on_call_end(self, call):
        """The call is over: log the attempt, then wrap-up, retry or give up."""
        self.ensure_one()
        if self.call_id != call or self.state not in ("dialing", "talking"):
            return
        outcome = OUTCOME_BY_CALL_STATE.get(call.state, "failed")
        attempt = self._dialer_current_attempt()
        user = self.user_id
        if outcome == "answered" and not user:
            user = self._dialer_take_agent(call)
            if not user:
                outcome = "abandoned"
        attempt.write(
            {
                "outcome": outcome,
                "date_end": call.date_end or fields.Datetime.now(),
                "talk_seconds": call.talk_seconds if outcome == "answered" else 0,
                "user_id": user.id,
            }
        )
        if outcome == "answered":
            self.write({"state": "wrapup", "user_id": user.id, "last_outcome": outcome})
        else:
            self.write({"last_outcome": outcome})
            self._dialer_schedule_retry(outcome)
        self.campaign_id._dialer_notify(users=user)
        self.env.ref("crm_voip_dialer.ir_cron_dialer_tick")._trigger()

    def _dialer_schedule_retry(self, outcome, minutes=None):
        """Back to the queue after the campaign's delay for ``outcome``, or exhausted."""
        campaign = self.campaign_id
        delays = {
            "no_answer": campaign.retry_no_answer,
            "busy": campaign.retry_busy,
            "failed": campaign.retry_failed,
            "abandoned": campaign.retry_no_answer,
        }
        if minutes is not None:
            delays[outcome] = minutes
        for line in self:
            when = pacing.next_attempt(
                outcome, fields.Datetime.now(), line.attempt_count, campaign.max_attempts, delays
            )
            if when:
                line.write({"state": "pending", "user_id": False, "next_call_at": when})
            else:
                line.write({"state": "exhausted", "user_id": False})

    # ------------------------------------------------------------------
    # Disposition
    # ------------------------------------------------------------------

    def action_dialer_dispose(self, disposition_id, note=False):
        """The agent's verdict on the call; applies the disposition's actions."""
        self.ensure_one()
        if (
            not self.env.su
            and self.user_id != self.env.user
            and not self.env.user.has_group("crm_voip.crm_voip_group_manager")
        ):
            raise AccessError(self.env._("This contact is not yours."))
        if self.state not in ("wrapup", "talking", "dialing"):
            raise UserError(self.env._("This contact has no call to wrap up."))
        disposition = self.env["crm.voip.dialer.disposition"].browse(disposition_id).exists()
        # The campaign's own or a shared one, that the agent may read.
        company = disposition.sudo().company_id
        if not disposition or (company and company != self.sudo().company_id):
            raise UserError(self.env._("Pick a disposition."))
        disposition.check_access("read")
        line = self.sudo()
        attempt = line._dialer_current_attempt()
        attempt.write({"disposition_id": disposition.id, "note": note or False})
        line.write({"disposition_id": disposition.id, "note": note or line.note})
        line._dialer_apply_disposition(disposition, note, self.env.user)
        if disposition.retry and line.attempt_count < line.campaign_id.max_attempts:
            line.write(
                {
                    "state": "pending",
                    "user_id": False,
                    "next_call_at": fields.Datetime.add(
                        fields.Datetime.now(), minutes=disposition.retry_minutes
                    ),
                }
            )
        else:
            line.write({"state": "done", "user_id": False})
        if line.call_id and not line.call_id.wrapup_done:
            line.call_id.write({"wrapup_done": True})
        line.campaign_id._dialer_notify(users=self.env.user)
        self.env.ref("crm_voip_dialer.ir_cron_dialer_tick")._trigger()
        return True

    def _dialer_apply_disposition(self, disposition, note, user):
        self.ensure_one()
        lead = self.lead_id
        target = lead or self.partner_id
        body = Markup("<p>%s</p>") % " · ".join(
            part
            for part in (
                self.env._("Campaign %(name)s", name=self.campaign_id.name),
                disposition.name,
                note,
            )
            if part
        )
        if target:
            target.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_note")
        if lead and disposition.stage_id:
            lead.write({"stage_id": disposition.stage_id.id})
        if lead and disposition.mark_lost:
            lead.action_set_lost(lost_reason_id=disposition.lost_reason_id.id)
        if target and disposition.activity_type_id:
            target.activity_schedule(
                activity_type_id=disposition.activity_type_id.id,
                date_deadline=fields.Date.add(
                    fields.Date.context_today(self), days=disposition.activity_days
                ),
                summary=disposition.activity_summary or disposition.name,
                user_id=user.id,
            )
        if disposition.add_to_blacklist and self.phone_e164:
            self.env["phone.blacklist"].sudo()._add(
                [self.phone_e164],
                message=self.env._("Campaign %(name)s", name=self.campaign_id.name),
            )
