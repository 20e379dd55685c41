import logging
import uuid
from datetime import timezone

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, file_open, html2plaintext
from odoo.tools.mail import generate_tracking_message_id

from .. import providers
from ..tools import bus_push

_logger = logging.getLogger(__name__)

EV = providers.events
FINAL_STATES = ("done", "missed", "busy", "failed")
# A call never moves backwards: events may arrive late, twice or out of order.
STATE_RANK = {"ringing": 0, "talking": 1, "done": 2, "missed": 2, "busy": 2, "failed": 2}
# What applying an event, the hang-up and the pushes read of the call.
CALL_APPLY_FIELDS = [
    "provider_id",
    "company_id",
    "direction",
    "state",
    "origin",
    "from_number",
    "to_number",
    "partner_number",
    "partner_number_e164",
    "did_number",
    "line_id",
    "extension",
    "partner_id",
    "lead_id",
    "user_id",
    "team_id",
    "lead_created",
    "date_start",
    "date_answer",
    "date_end",
    "talk_seconds",
    "recording_ref",
    "wrapup_done",
]
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


def _user_name_sql(user_id):
    """A user's name (his contact's), as a sub-query: ``user_id`` is a value or a column.

    Nested rather than joined: with the 30 indexes of ``res_partner``, PostgreSQL plans
    it in half the time, and on the webhook path every statement is planned again.
    """
    return SQL(
        "(SELECT name FROM res_partner"
        " WHERE id = (SELECT partner_id FROM res_users WHERE id = %s))",
        user_id,
    )


def _prefetch_user_names(users):
    """A user's name is his contact's: read just that, not the two whole rows."""
    users = users.sudo()
    users.fetch(["partner_id"])
    users.partner_id.fetch(["name"])


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
    recording_ids = fields.One2many("crm.voip.recording", "call_id", string="Recordings")

    event_ids = fields.One2many("crm.voip.event", "call_id", string="PBX events", readonly=True)

    # Click-to-call and wrap-up
    origin = fields.Selection(
        [("pbx", "PBX"), ("click_to_call", "Click-to-call")],
        default="pbx",
        required=True,
        readonly=True,
        help="Click-to-call: placed from Odoo; PBX: reported by the PBX (desk phone, softphone).",
    )
    dialled_number = fields.Char(
        readonly=True, help="The number sent to the PBX after its dialling rules."
    )
    outcome_id = fields.Many2one("crm.voip.call.outcome", string="Outcome")
    wrapup_done = fields.Boolean(string="Wrapped up", copy=False)
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
        with file_open("crm_voip/models/sql/crm_voip_identify.sql") as script:
            self.env.cr.execute(script.read())
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
        # What applying reads, in one query and without the record rules (the call is
        # the provider's, and the webhook user may read it): the first field read
        # would load every column of the row through them.
        call.sudo().fetch(CALL_APPLY_FIELDS)
        values = call._crm_voip_values_from_event(event)
        was_final = call.state in FINAL_STATES
        rang_user = values.pop("rang_user_id", None)
        if rang_user:
            call._crm_voip_add_rang_user(rang_user)
        if values:
            # In sudo: the call is this provider's, in its company; the record rules
            # would cost a query to say so on every event.
            call.sudo().write(values)
        if not call.partner_id and not call.lead_id and call.partner_number_e164:
            # The PBX waits for our answer to a starting call: an unknown caller's lead
            # or contact is created with the call's next event, not while it waits.
            call._crm_voip_link_crm_records(apply_policy=event.kind != EV.CALL_STARTED)
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
        if event.direction == "outbound":
            adopted = self._crm_voip_adopt_click_to_call(provider, event)
            if adopted:
                return adopted
        direction = (
            event.direction
            if event.direction in ("inbound", "outbound", "internal")
            else ("outbound" if event.kind == EV.OUTGOING_STARTED else "inbound")
        )
        # Most events belong to a known call: one round trip finds and locks it, or
        # inserts it.
        self.env.cr.execute(
            SQL(
                """
                WITH known AS (
                    SELECT id FROM crm_voip_call
                     WHERE provider_id = %(provider)s AND provider_call_id = %(call)s
                       FOR NO KEY UPDATE
                ), inserted AS (
                    INSERT INTO crm_voip_call (
                        provider_id, company_id, provider_call_id, direction, state, origin,
                        create_uid, write_uid, create_date, write_date)
                    SELECT %(provider)s, %(company)s, %(call)s, %(direction)s, 'ringing', 'pbx',
                           %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                     WHERE NOT EXISTS (SELECT FROM known)
                    ON CONFLICT (provider_id, provider_call_id) DO NOTHING
                    RETURNING id
                )
                SELECT id FROM known UNION ALL SELECT id FROM inserted
                """,
                provider=provider.id,
                company=provider.company_id.id,
                call=event.provider_call_id,
                direction=direction,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            # Inserted by a concurrent request since our lookup: wait for it and lock it.
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
            values["rang_user_id"] = user.id  # not a field: see _crm_voip_add_rang_user
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
            user = self.env["res.users"].browse(values["user_id"]).sudo()
            user.fetch(["sale_team_id"])  # not the whole user row
            team = user.sale_team_id
            if team:
                values["team_id"] = team.id
        return values

    def _crm_voip_add_rang_user(self, user_id):
        """Add a user to ``rang_user_ids`` in SQL: the ORM would first read the current
        users, through the record rules of users and companies, on every ringing event."""
        self.ensure_one()
        table, call_column, user_column = self._crm_voip_rang_table()
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s, %s) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                table,
                call_column,
                user_column,
                self.id,
                user_id,
            )
        )
        self.invalidate_recordset(["rang_user_ids"])

    def _crm_voip_rang_table(self):
        """The table and columns of ``rang_user_ids``, as SQL identifiers."""
        field = self._fields["rang_user_ids"]
        names = (field.relation, field.column1, field.column2)
        return tuple(SQL.identifier(name) for name in names)

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

    def _crm_voip_link_crm_records(self, apply_policy=True):
        self.ensure_one()
        # The PBX's view: every record of the call's company, as the webhook user sees.
        partner, lead = self.sudo()._crm_voip_identify(self.partner_number_e164, self.company_id)
        partner, lead = partner.sudo(False), lead.sudo(False)
        if not partner and not lead and apply_policy:
            partner, lead = self._crm_voip_apply_unknown_caller_policy()
        values = {}
        if partner:
            values["partner_id"] = partner.id
        if lead:
            values["lead_id"] = lead.id
        if values:
            # What the write's company check reads, rather than the whole rows.
            partner.sudo().fetch(["company_id"])
            lead.sudo().fetch(["company_id"])
            self.company_id.sudo().fetch(["parent_path"])
            self.sudo().write(values)

    @api.model
    def _crm_voip_identify(self, number_e164, company):
        """The contact and lead a number belongs to; ``(partner, lead)``, each maybe empty.

        Several may match: an open opportunity beats a closed one, a recent interaction
        beats an old one, a record with a responsible salesperson beats one without
        (``crm_voip_identify()`` in ``models/sql`` ranks them, in one round trip: this
        is on the path of every call). The search covers the active records of the
        company and shared ones, which is all the webhook user may read; any other user
        (a salesperson's click-to-call) gets only what his record rules show him.
        """
        Partner = self.env["res.partner"]
        Lead = self.env["crm.lead"]
        if not number_e164:
            return Partner, Lead
        # The function reads these columns: pending writes must be in the database.
        numbers = ["crm_voip_phone_e164", "crm_voip_mobile_e164"]
        Partner.flush_model(
            ["active", "company_id", "user_id", "parent_id", "commercial_partner_id", *numbers]
        )
        Lead.flush_model(
            ["active", "company_id", "partner_id", "stage_id", "probability", "type", "user_id"]
            + numbers
        )
        self.env["crm.stage"].flush_model(["is_won"])
        self.flush_model(["partner_id", "date_start"])
        [(partner_ids, lead_ids, lead_partner_ids)] = self.env.execute_query(
            SQL("SELECT * FROM crm_voip_identify(%s, %s)", number_e164, company.id)
        )
        partners = Partner.browse(partner_ids or ())
        leads = Lead.browse(lead_ids or ())
        if self.env.su or self.env.user.has_group("crm_voip.crm_voip_group_webhook"):
            lead = leads[:1]
            lead_partner = Partner.browse(
                lead_partner_ids[0] if lead and lead_partner_ids[0] else ()
            )
        else:
            partners = partners._filtered_access("read")
            lead = leads._filtered_access("read")[:1]
            lead_partner = lead.partner_id
        # The person whose number it is beats the company of his opportunity.
        return partners[:1] or lead_partner, lead

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
        return providers.numbers.format_international(number_e164 or "")

    # ------------------------------------------------------------------
    # Hang-up
    # ------------------------------------------------------------------

    def _crm_voip_on_hangup(self):
        """Log a compact line on the contact and the lead once the call is over."""
        self.ensure_one()
        if self.lead_created and self.lead_id and not self.lead_id.user_id and self.user_id:
            self.lead_id.user_id = self.user_id
        records = [record for record in (self.partner_id, self.lead_id) if record]
        if records:
            self._crm_voip_log_summary(records)

    def _crm_voip_log_summary(self, records):
        """The call's summary as a logged note on each record's chatter, in SQL.

        What ``_message_log()`` writes (an internal note, nobody notified, nobody
        followed), without its cost on every hang-up: a ``mail.message`` create
        computes the company's catch-all address and sanitizes the body, which is
        ours and escaped. The salesperson (or OdooBot, for unanswered calls) signs it.
        """
        call = self.sudo()  # the author's contact, read without the users' record rules
        call.user_id.fetch(["partner_id"])
        author = call.user_id.partner_id or self.env.ref("base.partner_root").sudo()
        author.fetch(["name", "email"])
        body = Markup(
            '<p>📞 <a href="#" data-oe-model="crm.voip.call" data-oe-id="%s">%s</a></p>'
        ) % (self.id, self._crm_voip_summary_text())
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        now = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO mail_message (
                    model, res_id, body, message_type, subtype_id, is_internal,
                    author_id, email_from, message_id, email_add_signature, date,
                    create_uid, write_uid, create_date, write_date)
                VALUES %s
                """,
                SQL(", ").join(
                    SQL(
                        "(%s, %s, %s, 'comment', %s, TRUE, %s, %s, %s, FALSE, %s, %s, %s, %s, %s)",
                        record._name,
                        record.id,
                        str(body),
                        subtype_id,
                        author.id,
                        author.email_formatted or None,
                        generate_tracking_message_id("message-notify"),
                        now,
                        self.env.uid,
                        self.env.uid,
                        now,
                        now,
                    )
                    for record in records
                ),
            )
        )
        for record in records:
            record.invalidate_recordset(["message_ids"])

    def _crm_voip_summary_text(self):
        self.ensure_one()
        _prefetch_user_names(self.user_id)
        self.line_id.sudo().fetch(["name"])
        return self._crm_voip_summary_line(
            {
                "direction": self.direction,
                "number": self.partner_number_e164 or self.partner_number,
                "state": self.state,
                "user_name": self.user_id.name,
                "talk_seconds": self.talk_seconds,
                "line_name": self.line_id.name,
            }
        )

    @api.model
    def _crm_voip_summary_line(self, call, state_labels=None):
        """``Incoming call from +7 495 … · Answered · Anna · 2 min 05 s · Moscow``.

        ``call`` holds plain values (direction, number, state, user_name,
        talk_seconds, line_name): the popup reads them in SQL, many calls at once.
        """
        if state_labels is None:
            state_labels = dict(self._fields["state"]._description_selection(self.env))
        number = self._crm_voip_format_number(call["number"] or "")
        if call["direction"] == "outbound":
            what = self.env._("Outgoing call to %(number)s", number=number)
        else:
            what = self.env._("Incoming call from %(number)s", number=number)
        parts = [what, state_labels[call["state"]]]
        if call["user_name"]:
            parts.append(call["user_name"])
        if call["talk_seconds"]:
            minutes, seconds = divmod(call["talk_seconds"], 60)
            parts.append(
                self.env._("%(minutes)s min %(seconds)02d s", minutes=minutes, seconds=seconds)
            )
        if call["line_name"]:
            parts.append(call["line_name"])
        return " · ".join(parts)

    def _crm_voip_on_recording(self, recording_ref):
        """The PBX has (or will have) a recording of this call: fetch it later."""
        self.ensure_one()
        return self.env["crm.voip.recording"]._crm_voip_request(self, recording_ref)

    def _crm_voip_notify(self, event):
        """Push the call to the browsers of the users it concerns, never to anyone else.

        An extension ringing gets the full popup; every later change (answered here or
        elsewhere, hung up) goes to everyone who was rung and to the call's user, so each
        popup updates or closes itself.
        """
        self.ensure_one()
        # What is pushed follows from the call itself, whatever the webhook user may
        # read; and in sudo, each read below is one plain query, without record rules.
        call = self.sudo()
        if event.kind == EV.AGENT_RINGING and call.direction == "inbound":
            user = call.provider_id._crm_voip_user_by_extension(event.extension)
            if user and call.state == "ringing":
                bus_push.push_to_users(
                    user, "crm_voip/incoming_call", call._crm_voip_popup_payload()
                )
            return
        if event.kind == EV.RECORDING_READY:
            return
        table, call_column, user_column = self._crm_voip_rang_table()
        # Everyone rung and the call's user: their contacts are their bus channels.
        partner_ids = [
            partner_id
            for (partner_id,) in self.env.execute_query(
                SQL(
                    "SELECT partner_id FROM res_users WHERE id = %s"
                    " OR id IN (SELECT %s FROM %s WHERE %s = %s) ORDER BY id",
                    call.user_id.id or None,
                    user_column,
                    table,
                    call_column,
                    call.id,
                )
            )
        ]
        if partner_ids:
            bus_push.push_to_partners(
                self.env, partner_ids, "crm_voip/call_update", call._crm_voip_state_payload()
            )

    def _crm_voip_routing_decision(self):
        """What to answer the PBX for a starting call. The base module only names the
        caller; ``crm_voip_routing`` decides who answers."""
        self.ensure_one()
        self.partner_id.sudo().fetch(["name", "commercial_company_name"])
        caller_name = self.partner_id.commercial_company_name or self.partner_id.name
        return providers.events.RoutingDecision(
            action=providers.events.DEFAULT, caller_name=(caller_name or "")[:64]
        )

    # ------------------------------------------------------------------
    # Browser payloads (incoming-call popup, call bar)
    # ------------------------------------------------------------------

    def _crm_voip_state_payload(self):
        self.ensure_one()
        # Pushed on almost every PBX event: one query for the two names shown.
        [(user_name, partner_name)] = self.env.execute_query(
            SQL(
                "SELECT %s, (SELECT name FROM res_partner WHERE id = %s)",
                _user_name_sql(self.user_id.id or None),
                self.partner_id.id or None,
            )
        )
        return {
            "call_id": self.id,
            "direction": self.direction,
            "state": self.state,
            "origin": self.origin,
            "user_id": self.user_id.id,
            "user_name": user_name or "",
            "number": self._crm_voip_format_number(self.partner_number_e164)
            or self.partner_number
            or "",
            "partner_name": partner_name or "",
            "date_start": fields.Datetime.to_string(self.date_start) if self.date_start else False,
            "date_answer": fields.Datetime.to_string(self.date_answer)
            if self.date_answer
            else False,
            "talk_seconds": self.talk_seconds,
            "wrapup_done": self.wrapup_done,
        }

    def _crm_voip_popup_payload(self, history_limit=3):
        """Everything the popup shows, sent with the ringing event: no round trip.

        Built while the phone rings, and for every ringing extension: the contact, the
        lead, the client's open opportunities, last calls and messages and overdue
        activities come from one query (``_crm_voip_popup_query``), in sudo, as the
        popup shows what the call is about whatever the webhook user may read.
        """
        self.ensure_one()
        self.env.flush_all()  # the query reads what this request has just written
        lang = self.env.lang or "en_US"
        today = fields.Date.context_today(self.with_context(tz=self.provider_id.timezone))
        [(line_name, partner, lead, opportunities, calls, messages, activities)] = (
            self.env.execute_query(self._crm_voip_popup_query(lang, today, history_limit))
        )
        opportunities = opportunities or []
        if not partner and lead:
            # No contact: the popup offers the lead itself.
            opportunities = [dict(lead, stage=lead["stage"] or "")]
        responsible = (
            (partner and partner["user_name"])
            or (lead and lead["user_name"])
            or (opportunities[:1] and opportunities[0]["user_name"])
            or ""
        )
        currency = self.env["res.currency"]
        if opportunities:
            currency = self.company_id.sudo().currency_id
        payload = self._crm_voip_state_payload()
        payload.update(
            {
                "partner": partner
                and {
                    "id": partner["id"],
                    "name": partner["name"],
                    "company_name": partner["company_name"] or "",
                    "is_company": partner["is_company"],
                }
                or False,
                "lead": lead
                and {"id": lead["id"], "name": lead["name"], "type": lead["type"]}
                or False,
                "line": (self.line_id or self.did_number)
                and {"name": line_name or "", "number": self.did_number}
                or False,
                "responsible": responsible,
                "opportunities": [
                    {
                        "id": opportunity["id"],
                        "name": opportunity["name"],
                        "stage": opportunity["stage"] or "",
                        "expected_revenue": opportunity["expected_revenue"],
                        "revenue": currency.format(opportunity["expected_revenue"])
                        if currency
                        else str(opportunity["expected_revenue"]),
                        "probability": opportunity["probability"],
                    }
                    for opportunity in opportunities
                ],
                "interactions": self._crm_voip_interactions(calls, messages, history_limit),
                "overdue_activities": [
                    {
                        "id": activity["id"],
                        "summary": activity["summary"] or activity["type_name"] or "",
                        "date_deadline": activity["date_deadline"],
                        "user": activity["user_name"] or "",
                    }
                    for activity in activities or []
                ],
            }
        )
        return payload

    def _crm_voip_popup_query(self, lang, today, history_limit):
        """One round trip for the popup; each part is a JSON value (NULL when empty).

        The same rules as the ORM searches they replace: active opportunities of the
        client's family (his company, its people, their addresses, archived ones too)
        in the call's company or shared, newest stage change first; the family's (or
        the lead's) other calls in the company, newest first; the newest comments and
        e-mails on the contact and the lead; their overdue activities, oldest first.
        """
        partner_id = self.partner_id.id or 0
        lead_id = self.lead_id.id or 0

        def translated(column):
            return SQL("COALESCE(%s->>%s, %s->>'en_US')", column, lang, column)

        def timestamp(column):
            return SQL("to_char(%s, 'YYYY-MM-DD HH24:MI:SS')", column)

        family = SQL(
            "SELECT member.id FROM res_partner member WHERE member.commercial_partner_id ="
            " (SELECT commercial_partner_id FROM res_partner WHERE id = %s)",
            partner_id,
        )
        call_filter = (
            SQL("other.partner_id IN (%s)", family)
            if self.partner_id
            else SQL("other.lead_id = %s", lead_id)
        )
        return SQL(
            """
            SELECT
              (SELECT %(line_name)s FROM crm_voip_line line WHERE line.id = %(line)s),
              (SELECT row_to_json(p) FROM (
                  SELECT partner.id, partner.name, partner.is_company,
                         CASE WHEN company.id != partner.id THEN company.name END AS company_name,
                         %(partner_user)s AS user_name
                    FROM res_partner partner
                    LEFT JOIN res_partner company ON company.id = partner.commercial_partner_id
                   WHERE partner.id = %(partner)s) p),
              (SELECT row_to_json(l) FROM (
                  SELECT lead.id, lead.name, lead.type, lead.expected_revenue, lead.probability,
                         %(lead_stage)s AS stage, %(lead_user)s AS user_name
                    FROM crm_lead lead LEFT JOIN crm_stage stage ON stage.id = lead.stage_id
                   WHERE lead.id = %(lead)s) l),
              (SELECT json_agg(o) FROM (
                  SELECT lead.id, lead.name, lead.expected_revenue, lead.probability,
                         %(lead_stage)s AS stage, %(lead_user)s AS user_name
                    FROM crm_lead lead LEFT JOIN crm_stage stage ON stage.id = lead.stage_id
                   WHERE lead.partner_id IN (%(family)s) AND lead.active
                     AND lead.type = 'opportunity' AND lead.probability < 100
                     AND (lead.company_id = %(company)s OR lead.company_id IS NULL)
                   ORDER BY lead.date_last_stage_update DESC, lead.id DESC
                   LIMIT 5) o),
              (SELECT json_agg(c) FROM (
                  SELECT %(call_date)s AS date, other.direction, other.state,
                         COALESCE(other.partner_number_e164, other.partner_number) AS number,
                         other.talk_seconds, %(call_user)s AS user_name,
                         %(line_name)s AS line_name
                    FROM crm_voip_call other
                    LEFT JOIN crm_voip_line line ON line.id = other.line_id
                   WHERE other.id != %(call)s AND other.company_id = %(company)s
                     AND (%(partner)s != 0 OR %(lead)s != 0) AND %(call_filter)s
                   ORDER BY other.date_start DESC, other.id DESC
                   LIMIT %(limit)s) c),
              (SELECT json_agg(m) FROM (
                  SELECT %(message_date)s AS date, message.body, author.name AS author
                    FROM mail_message message
                    LEFT JOIN res_partner author ON author.id = message.author_id
                   WHERE message.message_type IN ('comment', 'email')
                     AND ((message.model = 'res.partner' AND message.res_id = %(partner)s)
                          OR (message.model = 'crm.lead' AND message.res_id = %(lead)s))
                   ORDER BY message.id DESC
                   LIMIT %(limit)s) m),
              (SELECT json_agg(a) FROM (
                  SELECT activity.id, activity.summary, %(type_name)s AS type_name,
                         activity.date_deadline::text AS date_deadline,
                         %(activity_user)s AS user_name
                    FROM mail_activity activity
                    LEFT JOIN mail_activity_type kind ON kind.id = activity.activity_type_id
                   WHERE activity.active AND activity.date_deadline < %(today)s
                     AND ((activity.res_model = 'res.partner' AND activity.res_id = %(partner)s)
                          OR (activity.res_model = 'crm.lead' AND activity.res_id = %(lead)s))
                   ORDER BY activity.date_deadline, activity.id
                   LIMIT 5) a)
            """,
            partner=partner_id,
            lead=lead_id,
            call=self.id,
            line=self.line_id.id or 0,
            company=self.company_id.id,
            family=family,
            call_filter=call_filter,
            limit=history_limit,
            today=today,
            partner_user=_user_name_sql(SQL("partner.user_id")),
            lead_user=_user_name_sql(SQL("lead.user_id")),
            call_user=_user_name_sql(SQL("other.user_id")),
            activity_user=_user_name_sql(SQL("activity.user_id")),
            lead_stage=translated(SQL("stage.name")),
            line_name=translated(SQL("line.name")),
            type_name=translated(SQL("kind.name")),
            call_date=timestamp(SQL("COALESCE(other.date_start, other.create_date)")),
            message_date=timestamp(SQL("message.date")),
        )

    def _crm_voip_interactions(self, calls, messages, limit):
        """The last calls and messages with this client, newest first."""
        state_labels = dict(self._fields["state"]._description_selection(self.env))
        items = [
            {
                "kind": "call",
                "date": call["date"],
                "summary": self._crm_voip_summary_line(call, state_labels),
            }
            for call in calls or []
        ]
        for message in messages or []:
            text = html2plaintext(message["body"] or "").strip()
            if text.startswith("📞"):
                continue  # our own call summaries: already listed as calls
            items.append(
                {
                    "kind": "message",
                    "date": message["date"],
                    "summary": (message["author"] or "") + ": " + text[:140],
                }
            )
        items.sort(key=lambda item: item["date"], reverse=True)
        return items[:limit]

    # ------------------------------------------------------------------
    # Click-to-call
    # ------------------------------------------------------------------

    @api.model
    def crm_voip_dial_prepare(self, number, res_model=False, res_id=False):
        """First step of click-to-call: validate, then log the call before the PBX rings.

        The PBX request itself is the second step (``/crm_voip/originate``), made
        outside this transaction: nothing waits on the PBX while holding the database.
        """
        extension = self.env["crm.voip.extension"]._crm_voip_for_user(self.env.user)
        provider = extension.provider_id
        dialled, number_e164 = provider._crm_voip_dial_number(number or "")
        values = {
            "provider_id": provider.id,
            "company_id": provider.company_id.id,
            "provider_call_id": f"c2c-{uuid.uuid4().hex}",
            "direction": "outbound",
            "state": "ringing",
            "origin": "click_to_call",
            "user_id": self.env.user.id,
            "team_id": self.env.user.sale_team_id.id,
            "extension": extension.extension,
            "to_number": number,
            "to_e164": number_e164,
            "partner_number": number,
            "partner_number_e164": number_e164,
            "dialled_number": dialled,
            "date_start": fields.Datetime.now(),
        }
        values.update(self._crm_voip_links_from_record(res_model, res_id))
        # A salesperson may not create call records by hand; this one is his own call.
        call = self.sudo().create(values).sudo(False)
        if not call.partner_id and not call.lead_id:
            partner, lead = self._crm_voip_identify(number_e164, provider.company_id)
            call.sudo().write({"partner_id": partner.id, "lead_id": lead.id})
        return call._crm_voip_state_payload()

    @api.model
    def _crm_voip_links_from_record(self, res_model, res_id):
        if not res_model or not res_id:
            return {}
        if res_model == "crm.lead":
            lead = self.env["crm.lead"].browse(int(res_id)).exists()
            return {"lead_id": lead.id, "partner_id": lead.partner_id.id} if lead else {}
        if res_model == "res.partner":
            partner = self.env["res.partner"].browse(int(res_id)).exists()
            return {"partner_id": partner.id} if partner else {}
        record = self.env[res_model].browse(int(res_id)).exists() if res_model in self.env else None
        partner = record and "partner_id" in record._fields and record.partner_id
        return {"partner_id": partner.id} if partner else {}

    def _crm_voip_originate(self):
        """Ask the PBX for the two-leg call. Runs in a read-only request: no write here."""
        self.ensure_one()
        adapter = self.provider_id._get_crm_voip_adapter()
        try:
            adapter.originate(self.extension, self.dialled_number, None)
        except providers.errors.AuthError:
            return self.env._("The PBX refused our credentials; ask your administrator.")
        except providers.errors.RateLimitError:
            return self.env._("The PBX is busy with too many requests; try again in a minute.")
        except providers.errors.ProviderError as error:
            return self.env._("The PBX could not place the call: %(error)s", error=error)
        finally:
            adapter.close()
        return False

    def crm_voip_originate_failed(self, reason):
        """Third step, when the PBX refused: the call is logged as failed, with why."""
        self.ensure_one()
        if self.origin != "click_to_call" or self.user_id != self.env.user:
            raise AccessError(self.env._("This is not your call."))
        if self.state == "ringing":
            self.sudo().write(
                {
                    "state": "failed",
                    "disposition": "failed",
                    "date_end": fields.Datetime.now(),
                    "note": Markup("<p>%s</p>") % reason,
                    "wrapup_done": True,
                }
            )
        return self._crm_voip_state_payload()

    @api.model
    def _crm_voip_adopt_click_to_call(self, provider, event):
        """The PBX reports the call Odoo asked for under its own id: take it over."""
        if event.kind not in (EV.OUTGOING_STARTED, EV.ENDED, EV.MISSED, EV.ANSWERED):
            return None
        number = providers.numbers.normalize(event.to_number, provider._crm_voip_region())
        if not number or not event.extension:
            return None
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_voip_call SET provider_call_id = %(pbx_id)s
                 WHERE id = (
                    SELECT id FROM crm_voip_call
                     WHERE provider_id = %(provider)s AND origin = 'click_to_call'
                       AND provider_call_id LIKE %(c2c_pattern)s AND state = 'ringing'
                       AND extension = %(extension)s AND partner_number_e164 = %(number)s
                       AND create_date > (now() at time zone 'UTC') - interval '10 minutes'
                       AND NOT EXISTS (
                            SELECT 1 FROM crm_voip_call known
                             WHERE known.provider_id = %(provider)s
                               AND known.provider_call_id = %(pbx_id)s)
                     ORDER BY id DESC LIMIT 1
                     FOR UPDATE SKIP LOCKED)
                RETURNING id
                """,
                pbx_id=event.provider_call_id,
                c2c_pattern="c2c-%",
                provider=provider.id,
                extension=event.extension,
                number=number,
            )
        )
        row = self.env.cr.fetchone()
        if row:
            self.invalidate_model(["provider_call_id"])
            return self.browse(row[0])
        return None

    # ------------------------------------------------------------------
    # Wrap-up
    # ------------------------------------------------------------------

    def crm_voip_wrapup(self, values):
        """Save what the salesperson says of the call, and do the follow-ups he asked.

        ``values``: outcome_id, note, next_call_date, next_call_summary,
        create_opportunity, opportunity_name, task_summary, task_date.
        """
        self.ensure_one()
        self._crm_voip_check_own_call()
        call = self.sudo()
        note = (values.get("note") or "").strip()
        outcome = self.env["crm.voip.call.outcome"].browse(values.get("outcome_id") or [])
        write = {"wrapup_done": True}
        if outcome:
            write["outcome_id"] = outcome.id
        if note:
            write["note"] = Markup("<p>%s</p>") % note
        call.write(write)
        target = self.lead_id or self.partner_id
        if values.get("create_opportunity") and not (
            self.lead_id and self.lead_id.type == "opportunity"
        ):
            target = self._crm_voip_create_opportunity(values.get("opportunity_name"))
        if note or outcome:
            body = Markup("<p>📞 %s</p>") % " · ".join(
                part for part in (self._crm_voip_summary_text(), outcome.name, note) if part
            )
            for record in (self.partner_id, self.lead_id):
                if record:
                    record.message_post(
                        body=body, message_type="comment", subtype_xmlid="mail.mt_note"
                    )
        if values.get("next_call_date") and target:
            target.activity_schedule(
                "mail.mail_activity_data_call",
                date_deadline=fields.Date.to_date(values["next_call_date"]),
                summary=values.get("next_call_summary") or self.env._("Call back"),
                user_id=self.env.user.id,
            )
        if values.get("task_summary") and target:
            target.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=fields.Date.to_date(values.get("task_date"))
                or fields.Date.context_today(self),
                summary=values["task_summary"],
                user_id=self.env.user.id,
            )
        self.env.user._bus_send("crm_voip/wrapup_done", {"call_id": self.id})
        return {"lead_id": self.lead_id.id, "partner_id": self.partner_id.id}

    def crm_voip_create_contact(self, name=False, with_opportunity=False):
        """Unknown caller: a contact (and an opportunity) from the number in one step."""
        self.ensure_one()
        self._crm_voip_check_own_call()
        if not self.partner_id:
            partner = self.env["res.partner"].create(
                {
                    "name": name or self._crm_voip_format_number(self.partner_number_e164),
                    "phone": self.partner_number_e164 or self.partner_number,
                    "company_id": False,
                }
            )
            self.sudo().partner_id = partner
            if self.lead_id and not self.lead_id.partner_id:
                self.lead_id.partner_id = partner
        if with_opportunity:
            self._crm_voip_create_opportunity()
        return {"partner_id": self.partner_id.id, "lead_id": self.lead_id.id}

    def crm_voip_add_note(self, note):
        self.ensure_one()
        self._crm_voip_check_own_call(allow_rang=True)
        note = (note or "").strip()
        if not note:
            return False
        body = Markup("<p>%s</p>") % note
        self.sudo().write({"note": (self.note or Markup()) + body})
        for record in (self.partner_id, self.lead_id):
            if record:
                record.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_note")
        return True

    def _crm_voip_create_opportunity(self, name=False):
        self.ensure_one()
        if self.lead_id and self.lead_id.type == "opportunity":
            return self.lead_id
        if self.lead_id:
            # A lead created from the call becomes the opportunity.
            self.lead_id.convert_opportunity(self.partner_id)
            return self.lead_id
        who = self.partner_id.commercial_partner_id.name or self._crm_voip_format_number(
            self.partner_number_e164
        )
        lead = self.env["crm.lead"].create(
            {
                "name": name or self.env._("Opportunity from the call with %(who)s", who=who),
                "type": "opportunity",
                "partner_id": self.partner_id.id,
                "phone": self.partner_number_e164 if not self.partner_id else False,
                "user_id": self.env.user.id,
                "team_id": self.team_id.id or self.env.user.sale_team_id.id,
                "company_id": self.company_id.id,
                "source_id": self.source_id.id,
            }
        )
        self.sudo().lead_id = lead
        return lead

    def _crm_voip_check_own_call(self, allow_rang=False):
        """Wrap-up actions are the call's salesperson's (or a manager's)."""
        user = self.env.user
        if self.env.su or user.has_group("crm_voip.crm_voip_group_manager"):
            return
        if self.user_id == user or (allow_rang and user in self.rang_user_ids):
            return
        raise AccessError(self.env._("Only the salesperson who had this call can wrap it up."))
