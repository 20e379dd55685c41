import logging
from datetime import timezone

import phonenumbers
from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from .. import providers

_logger = logging.getLogger(__name__)

EV = providers.events
FINAL_STATES = ("done", "missed", "busy", "failed")
# A call never moves backwards: events may arrive late, twice or out of order.
STATE_RANK = {"ringing": 0, "talking": 1, "done": 2, "missed": 2, "busy": 2, "failed": 2}
FINAL_STATE_BY_DISPOSITION = {
    "answered": "done",
    "busy": "busy",
    "failed": "failed",
    "no_answer": "missed",
    "cancel": "missed",
}


def _naive_utc(moment):
    """Odoo stores naive UTC datetimes; the provider layer gives aware ones."""
    if not moment:
        return False
    if moment.tzinfo:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


class CrmVoipCall(models.Model):
    """The one authoritative record of a call, fed by the PBX's own events."""

    _name = "crm.voip.call"
    _description = "Phone call"
    _inherit = ["mail.thread"]
    _order = "date_start desc, id desc"
    _check_company_auto = True

    # Identity
    provider_id = fields.Many2one(
        "crm.voip.provider", required=True, ondelete="restrict", index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    provider_call_id = fields.Char(string="PBX call id", required=True, readonly=True)
    direction = fields.Selection(
        [("inbound", "Incoming"), ("outbound", "Outgoing"), ("internal", "Internal")],
        required=True,
        default="inbound",
        index=True,
        readonly=True,
    )
    state = fields.Selection(
        [
            ("ringing", "Ringing"),
            ("talking", "In progress"),
            ("done", "Answered"),
            ("missed", "Not answered"),
            ("busy", "Busy"),
            ("failed", "Failed"),
        ],
        required=True,
        default="ringing",
        index=True,
        readonly=True,
    )
    disposition = fields.Selection(
        [
            ("answered", "Answered"),
            ("busy", "Busy"),
            ("no_answer", "No answer"),
            ("cancel", "Caller hung up"),
            ("failed", "Failed"),
        ],
        readonly=True,
    )

    # Numbers
    from_number = fields.Char(string="From", readonly=True)
    to_number = fields.Char(string="To", readonly=True)
    from_e164 = fields.Char(string="From (E.164)", readonly=True)
    to_e164 = fields.Char(string="To (E.164)", readonly=True)
    partner_number = fields.Char(
        string="Client number", readonly=True, help="The outside party: caller or callee."
    )
    partner_number_e164 = fields.Char(string="Client number (E.164)", index=True, readonly=True)
    did_number = fields.Char(string="Dialled line number", readonly=True)
    line_id = fields.Many2one(
        "crm.voip.line", string="Dialled line", readonly=True, check_company=True
    )
    extension = fields.Char(readonly=True)

    # CRM links
    partner_id = fields.Many2one("res.partner", string="Contact", index=True, check_company=True)
    lead_id = fields.Many2one("crm.lead", string="Lead/Opportunity", index=True, check_company=True)
    user_id = fields.Many2one("res.users", string="Salesperson", index=True)
    team_id = fields.Many2one("crm.team", string="Sales team", index=True, check_company=True)
    rang_user_ids = fields.Many2many(
        "res.users", string="Rang at", readonly=True, help="Users whose extension rang."
    )
    source_id = fields.Many2one("utm.source", string="Source", readonly=True)
    lead_created = fields.Boolean(string="Lead created from the call", readonly=True, copy=False)

    # Timing
    date_start = fields.Datetime(string="Started", readonly=True, index=True)
    date_answer = fields.Datetime(string="Answered", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    ring_seconds = fields.Integer(string="Ring time (s)", readonly=True, aggregator="avg")
    talk_seconds = fields.Integer(string="Talk time (s)", readonly=True, aggregator="sum")

    # Recording
    recording_ref = fields.Char(string="Recording reference", readonly=True, copy=False)

    event_ids = fields.One2many("crm.voip.event", "call_id", string="PBX events", readonly=True)
    note = fields.Html()

    _sql_constraints = [
        (
            "provider_call_unique",
            "UNIQUE(provider_id, provider_call_id)",
            "A PBX call is logged once.",
        ),
    ]

    @api.depends("direction", "partner_id", "partner_number", "partner_number_e164")
    def _compute_display_name(self):
        for call in self:
            who = (
                call.partner_id.name
                or call._crm_voip_format_number(call.partner_number_e164)
                or call.partner_number
                or call.env._("unknown number")
            )
            if call.direction == "outbound":
                call.display_name = call.env._("Call to %(who)s", who=who)
            else:
                call.display_name = call.env._("Call from %(who)s", who=who)

    def init(self):
        super().init()
        # Missed-call and report queries filter by client number within a company.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_voip_call_company_number_idx"
                " ON crm_voip_call (company_id, partner_number_e164, date_start DESC)"
            )
        )

    # ------------------------------------------------------------------
    # Event application (the state machine)
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_apply_event(self, provider, event):
        """Apply one normalized event; returns the call it belongs to."""
        call = self._crm_voip_get_or_create(provider, event)
        values = call._crm_voip_values_from_event(event)
        was_final = call.state in FINAL_STATES
        if values:
            call.write(values)
        if not call.partner_id and not call.lead_id and call.partner_number_e164:
            call._crm_voip_link_crm_records()
        if not was_final and call.state in FINAL_STATES:
            call._crm_voip_on_hangup()
        if event.recording_ref:
            call._crm_voip_on_recording(event.recording_ref)
        call._crm_voip_notify(event)
        return call

    @api.model
    def _crm_voip_get_or_create(self, provider, event):
        """Find the call, or create its row race-free and lock it.

        Events of one call may arrive in parallel: ``ON CONFLICT DO NOTHING`` plus the
        row lock serialize them (a loser gets a serialization failure, and Odoo
        retries its request), so a call is never logged twice.
        """
        direction = (
            event.direction
            if event.direction in ("inbound", "outbound", "internal")
            else ("outbound" if event.kind == EV.OUTGOING_STARTED else "inbound")
        )
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_voip_call (
                    provider_id, company_id, provider_call_id, direction, state,
                    create_uid, write_uid, create_date, write_date)
                VALUES (%s, %s, %s, %s, 'ringing', %s, %s,
                        now() at time zone 'UTC', now() at time zone 'UTC')
                ON CONFLICT (provider_id, provider_call_id) DO NOTHING
                RETURNING id
                """,
                provider.id,
                provider.company_id.id,
                event.provider_call_id,
                direction,
                self.env.uid,
                self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM crm_voip_call WHERE provider_id = %s AND provider_call_id = %s"
                    " FOR NO KEY UPDATE",
                    provider.id,
                    event.provider_call_id,
                )
            )
            row = self.env.cr.fetchone()
        return self.browse(row[0])

    def _crm_voip_values_from_event(self, event):  # noqa: C901 - one branch per event kind
        self.ensure_one()
        provider = self.provider_id
        region = provider._crm_voip_region()
        normalize = providers.numbers.normalize
        values = {}
        occurred = _naive_utc(event.occurred_at)
        started = _naive_utc(event.call_started_at) or occurred
        rank = STATE_RANK[self.state]

        if event.kind != EV.RECORDING_READY:
            if event.direction in ("inbound", "outbound", "internal") and not self.event_ids:
                values["direction"] = event.direction
            if started and (not self.date_start or started < self.date_start):
                values["date_start"] = started
            if event.from_number and not self.from_number:
                values["from_number"] = event.from_number
                values["from_e164"] = normalize(event.from_number, region) or False
            if event.to_number and not self.to_number:
                values["to_number"] = event.to_number
                values["to_e164"] = normalize(event.to_number, region) or False
            if event.did and not self.did_number:
                values["did_number"] = event.did
                line = provider._crm_voip_line_by_number(normalize(event.did, region), event.did)
                if line:
                    values.update(line_id=line.id, source_id=line.source_id.id)
                    if line.team_id and not self.team_id:
                        values["team_id"] = line.team_id.id
            direction = values.get("direction", self.direction)
            outside = event.to_number if direction == "outbound" else event.from_number
            if outside and not self.partner_number and not providers.numbers.is_extension(outside):
                values["partner_number"] = outside
                values["partner_number_e164"] = normalize(outside, region) or False

        user = provider._crm_voip_user_by_extension(event.extension)
        if event.kind in (EV.AGENT_RINGING, EV.CALL_STARTED) and user:
            values["rang_user_ids"] = [fields.Command.link(user.id)]
        if event.kind == EV.OUTGOING_STARTED:
            values.update(direction="outbound")
            if user:
                values.update(user_id=user.id, extension=event.extension)
        elif event.kind == EV.ANSWERED:
            if not self.date_answer or occurred >= self.date_answer:
                # The latest answer wins: a transferred call ends with its last agent.
                if event.extension:
                    values["extension"] = event.extension
                if user:
                    values["user_id"] = user.id
            if not self.date_answer:
                values["date_answer"] = occurred
            if rank < STATE_RANK["talking"]:
                values["state"] = "talking"
        elif event.kind in (EV.ENDED, EV.MISSED):
            disposition = event.disposition or (
                "answered" if event.kind == EV.ENDED else "no_answer"
            )
            if rank < STATE_RANK["done"]:
                values["state"] = FINAL_STATE_BY_DISPOSITION.get(disposition, "missed")
                values["disposition"] = disposition
                values["date_end"] = occurred
            elif not self.date_end:
                values["date_end"] = occurred
            if event.duration is not None and disposition == "answered":
                values["talk_seconds"] = event.duration
            if disposition == "answered" and not self.date_answer and not values.get("date_answer"):
                # The answer event never came: the talk time tells when it was.
                if event.duration is not None:
                    values["date_answer"] = fields.Datetime.subtract(
                        occurred, seconds=event.duration
                    )
            if event.extension and not self.user_id and not values.get("user_id") and user:
                values.update(user_id=user.id, extension=event.extension)
            if event.recording_ref:
                values["recording_ref"] = event.recording_ref
        elif event.kind == EV.RECORDING_READY:
            if event.recording_ref:
                values["recording_ref"] = event.recording_ref
        values.update(self._crm_voip_timing_values(values))
        if values.get("user_id") and not self.team_id and not values.get("team_id"):
            team = self.env["res.users"].browse(values["user_id"]).sudo().sale_team_id
            if team:
                values["team_id"] = team.id
        return values

    def _crm_voip_timing_values(self, values):
        start = values.get("date_start", self.date_start)
        answer = values.get("date_answer", self.date_answer)
        end = values.get("date_end", self.date_end)
        timing = {}
        if start and (answer or end):
            timing["ring_seconds"] = max(0, int(((answer or end) - start).total_seconds()))
        if answer and end and "talk_seconds" not in values and not self.talk_seconds:
            timing["talk_seconds"] = max(0, int((end - answer).total_seconds()))
        return timing

    # ------------------------------------------------------------------
    # Caller identification
    # ------------------------------------------------------------------

    def _crm_voip_link_crm_records(self):
        self.ensure_one()
        partner, lead = self._crm_voip_identify(self.partner_number_e164, self.company_id)
        if not partner and not lead:
            partner, lead = self._crm_voip_apply_unknown_caller_policy()
        values = {}
        if partner:
            values["partner_id"] = partner.id
        if lead:
            values["lead_id"] = lead.id
        if values:
            self.write(values)

    @api.model
    def _crm_voip_identify(self, number_e164, company):
        """The contact and lead a number belongs to; ``(partner, lead)``, each maybe empty.

        Several may match: an open opportunity beats a closed one, a recent interaction
        beats an old one, a record with a responsible salesperson beats one without.
        """
        Partner = self.env["res.partner"]
        Lead = self.env["crm.lead"]
        if not number_e164:
            return Partner, Lead
        partners = Partner._crm_voip_search_number(number_e164, company)
        leads = Lead._crm_voip_search_number(number_e164, company)
        if partners:
            leads |= Lead.search(
                [
                    ("partner_id", "child_of", partners.commercial_partner_id.ids),
                    ("company_id", "in", [company.id, False]),
                ],
                limit=50,
            )
        lead = leads._crm_voip_best_match()
        # The person whose number it is beats the company of his opportunity.
        partner = partners._crm_voip_best_match() or lead.partner_id
        return partner, lead

    def _crm_voip_apply_unknown_caller_policy(self):
        self.ensure_one()
        Partner = self.env["res.partner"]
        Lead = self.env["crm.lead"]
        policy = self.provider_id.unknown_caller_policy
        if policy == "nothing" or self.direction != "inbound" or not self.partner_number_e164:
            return Partner, Lead
        formatted = self._crm_voip_format_number(self.partner_number_e164)
        if policy == "contact":
            partner = Partner.create(
                {"name": formatted, "phone": self.partner_number_e164, "company_id": False}
            )
            return partner, Lead
        line = self.line_id
        lead = Lead.create(
            {
                "name": self.env._("Call from %(number)s", number=formatted),
                "type": "lead" if self.env.user.has_group("crm.group_use_lead") else "opportunity",
                "phone": self.partner_number_e164,
                "user_id": False,
                "team_id": (line.team_id or self.team_id).id,
                "company_id": self.company_id.id,
                "source_id": line.source_id.id,
                "medium_id": line.medium_id.id,
                "campaign_id": line.campaign_id.id,
            }
        )
        self.lead_created = True
        return Partner, lead

    @api.model
    def _crm_voip_format_number(self, number_e164):
        """``+7 495 123-45-67``: how people read a number."""
        if not number_e164 or not number_e164.startswith("+"):
            return number_e164 or ""
        try:
            parsed = phonenumbers.parse(number_e164)
        except phonenumbers.NumberParseException:
            return number_e164
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    # ------------------------------------------------------------------
    # Hang-up
    # ------------------------------------------------------------------

    def _crm_voip_on_hangup(self):
        """Post a compact line on the contact and the lead once the call is over."""
        self.ensure_one()
        if self.lead_created and self.lead_id and not self.lead_id.user_id and self.user_id:
            self.lead_id.user_id = self.user_id
        body = self._crm_voip_summary()
        # Logged, not posted: nobody needs an e-mail about it, and the salesperson (or the
        # webhook user, for unanswered calls) may have no sender address.
        author = self.user_id.partner_id or self.env.ref("base.partner_root")
        for record in (self.partner_id, self.lead_id):
            if record:
                record._message_log(body=body, author_id=author.id, message_type="comment")

    def _crm_voip_summary(self):
        self.ensure_one()
        number = self._crm_voip_format_number(self.partner_number_e164 or self.partner_number or "")
        state = dict(self._fields["state"]._description_selection(self.env))[self.state]
        if self.direction == "outbound":
            what = self.env._("Outgoing call to %(number)s", number=number)
        else:
            what = self.env._("Incoming call from %(number)s", number=number)
        parts = [what, state]
        if self.user_id:
            parts.append(self.user_id.name)
        if self.talk_seconds:
            minutes, seconds = divmod(self.talk_seconds, 60)
            parts.append(
                self.env._("%(minutes)s min %(seconds)02d s", minutes=minutes, seconds=seconds)
            )
        if self.line_id:
            parts.append(self.line_id.name)
        return Markup("📞 <a href='#' data-oe-model='crm.voip.call' data-oe-id='%s'>%s</a>") % (
            self.id,
            " · ".join(parts),
        )

    def _crm_voip_on_recording(self, recording_ref):
        """The PBX has (or will have) a recording of this call: fetch it later."""
        self.ensure_one()
        return True

    def _crm_voip_notify(self, event):
        """Hook for the browser side (incoming-call popup); nothing to push here yet."""
        return True

    def _crm_voip_routing_decision(self):
        """What to answer the PBX for a starting call. The base module only names the
        caller; ``crm_voip_routing`` decides who answers."""
        self.ensure_one()
        caller_name = self.partner_id.commercial_company_name or self.partner_id.name
        return providers.events.RoutingDecision(
            action=providers.events.DEFAULT, caller_name=(caller_name or "")[:64]
        )
