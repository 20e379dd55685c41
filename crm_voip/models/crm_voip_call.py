"""The call log: one authoritative record per call, moved by its PBX's events.

The state machine is pure Python (``crm_voip/callstate``): this model reads the call, asks
the machine what an event changes, writes that, and runs the follow-ups. The call's other
jobs live beside it, one file each: caller identification (``crm_voip_call_caller_id``),
its chatter lines (``crm_voip_call_chatter``), the browser pushes and the popup
(``crm_voip_call_popup``), click-to-call (``crm_voip_call_click_to_call``) and the
wrap-up (``crm_voip_call_wrapup``). The hooks other modules extend are listed in
``__manifest_docs__/architecture.md``.
"""

import logging
import re

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL, file_open, split_every

from .. import providers
from ..callstate import machine, states

EV = providers.events
_logger = logging.getLogger(__name__)
# Missed calls whose call-back deadline is recomputed at a time (install, upgrade).
CALLBACK_DEADLINE_BATCH = 50_000
# What applying an event, the hang-up and the pushes read of the call, in one query.
CALL_APPLY_FIELDS = list(
    dict.fromkeys(
        [
            *machine.CALL_FIELDS,
            "provider_id",
            "company_id",
            "origin",
            "partner_number_e164",
            "line_id",
            "extension",
            "partner_id",
            "lead_id",
            "lead_created",
            "partner_created",
            "recording_ref",
            "wrapup_done",
        ]
    )
)


class CallDirectory(machine.Directory):
    """The state machine's questions, answered from the PBX account's own tables."""

    def __init__(self, provider):
        self.provider = provider
        self.region = provider._crm_voip_region()

    def normalize(self, number):
        return providers.numbers.normalize(number, self.region)

    def user_for_extension(self, extension):
        return self.provider._crm_voip_user_id_by_extension(extension)

    def line_for_number(self, number_e164, raw_number):
        line = self.provider._crm_voip_line_by_number(number_e164, raw_number)
        if not line:
            return None
        return machine.Line(line.id, line.team_id.id or None, line.source_id.id or None)

    def team_of_user(self, user_id):
        user = self.provider.env["res.users"].sudo().browse(user_id)
        user.fetch(["sale_team_id"])  # not the whole user row
        return user.sale_team_id.id or None


class CrmVoipCall(models.Model):
    """The one authoritative record of a call, fed by the PBX's own events."""

    _name = "crm.voip.call"
    _description = "Phone call"
    _inherit = ["mail.thread"]
    _order = "date_start desc, id desc"
    _check_company_auto = True
    # Salespeople have no write access to calls (the PBX and the server set them; the
    # wrap-up methods write what they are made for): their notes and activities on a
    # call they may read still go in its chatter.
    _mail_post_access = "read"

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
            (states.RINGING, "Ringing"),
            (states.TALKING, "In progress"),
            (states.DONE, "Answered"),
            (states.MISSED, "Not answered"),
            (states.BUSY, "Busy"),
            (states.FAILED, "Failed"),
        ],
        required=True,
        default=states.RINGING,
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
    # What the lists and the form show (the popup's spelling); sorted and searched
    # through the stored numbers.
    partner_number_display = fields.Char(
        string="Client number (formatted)",
        compute="_compute_partner_number_display",
        search="_search_partner_number_display",
    )
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
    # What the call created: its caller was unknown, or it became an opportunity. Routing
    # (a "new" caller), the reports (opportunities from calls) and the hang-up read these.
    partner_created = fields.Boolean(
        string="Contact created by the call",
        readonly=True,
        copy=False,
        help="The contact was created for this call: by the unknown-caller policy or from "
        "the wrap-up.",
    )
    lead_created = fields.Boolean(
        string="Lead created by the call",
        readonly=True,
        copy=False,
        help="The lead or opportunity was created for this call: by the unknown-caller "
        "policy or from the wrap-up.",
    )

    # Timing
    date_start = fields.Datetime(string="Started", readonly=True, index=True)
    date_answer = fields.Datetime(string="Answered", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    ring_seconds = fields.Integer(string="Ring time (s)", readonly=True, aggregator="avg")
    talk_seconds = fields.Integer(string="Talk time (s)", readonly=True, aggregator="sum")
    # "Called back in time" has one definition: an answered call with the number started
    # by this deadline. Set by the module that gives missed calls a deadline (see
    # ``_crm_voip_callback_deadlines``); the reports read it.
    callback_deadline = fields.Datetime(
        string="Call back before",
        readonly=True,
        copy=False,
        help="For a missed incoming call: when it had to be called back, as the module that "
        "gives call-back deadlines set it (the routing module: its call-back task's deadline, "
        "in working time). Empty: the call analysis applies its own deadline in minutes.",
    )

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

    @api.depends("direction", "partner_id", "partner_number_display")
    def _compute_display_name(self):
        for call in self:
            who = (
                call.partner_id.name or call.partner_number_display or call.env._("unknown number")
            )
            if call.direction == "outbound":
                call.display_name = call.env._("Call to %(who)s", who=who)
            else:
                call.display_name = call.env._("Call from %(who)s", who=who)

    @api.depends("partner_number", "partner_number_e164")
    def _compute_partner_number_display(self):
        for call in self:
            call.partner_number_display = (
                call._crm_voip_format_number(call.partner_number_e164)
                or call.partner_number
                or False
            )

    def _search_partner_number_display(self, operator, value):
        return self._crm_voip_number_domain(
            operator, value, "partner_number", "partner_number_e164"
        )

    @api.model
    def _crm_voip_number_domain(self, operator, value, raw_field, e164_field):
        """Search a number as it is shown (``+7 495 123-45-67``) or as it is stored.

        The shown spelling has spaces and dashes the stored numbers lack: a partial
        search also compares its digits with them.
        """
        domain = [(raw_field, operator, value)]
        digits = re.sub(r"\D", "", value) if isinstance(value, str) else ""
        if operator in ("ilike", "like") and digits:
            # One field may be both (the call analysis keeps only the E.164 form).
            names = dict.fromkeys((e164_field, raw_field))
            domain = expression.OR([domain, *([(name, "like", digits)] for name in names)])
        return domain

    def _order_field_to_sql(self, alias, field_name, direction, nulls, query):
        # The formatted number sorts as the numbers it is made of.
        if field_name == "partner_number_display":
            order_by = super()._order_field_to_sql
            return SQL(", ").join(
                order_by(alias, name, direction, nulls, query)
                for name in ("partner_number_e164", "partner_number")
            )
        return super()._order_field_to_sql(alias, field_name, direction, nulls, query)

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
    # ORM
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        calls = super().create(vals_list)
        calls._crm_voip_on_created()
        return calls

    # ------------------------------------------------------------------
    # Event application
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_apply_event(self, provider, event):
        """Apply one normalized event; returns the call it belongs to."""
        if event.kind == EV.ORIGINATE_REFUSED:
            return self._crm_voip_click_to_call_refused(provider, event)
        call, created = self._crm_voip_get_or_create(provider, event)
        # In sudo: the call is this provider's, in its company. What applying reads comes
        # in one plain query; through the record rules, the first field read would load
        # every column of the row.
        call_sudo = call.sudo()
        call_sudo.fetch(CALL_APPLY_FIELDS)
        transition = machine.apply(call_sudo._crm_voip_snapshot(), event, CallDirectory(provider))
        if transition.rang_user_id:
            call._crm_voip_add_rang_user(transition.rang_user_id)
        if transition.values:
            call_sudo.write(transition.values)
        if created:
            call._crm_voip_on_created()
        if not call.partner_id and not call.lead_id and call.partner_number_e164:
            # The PBX waits for our answer to a starting call: an unknown caller's lead
            # or contact is created with the call's next event, not while it waits.
            call._crm_voip_link_crm_records(apply_policy=event.kind != EV.CALL_STARTED)
        if transition.hung_up:
            call._crm_voip_on_hangup()
        if event.kind == EV.CALL_STARTED and provider._crm_voip_adapter_class().routes_by_command:
            call._crm_voip_route_by_command(provider, event)
        if event.recording_ref:
            call._crm_voip_on_recording(event.recording_ref)
        call._crm_voip_notify(event)
        return call

    def _crm_voip_snapshot(self):
        """The call as the state machine reads it (``machine.CALL_FIELDS``, ids for links)."""
        self.ensure_one()
        return {
            name: self[name].id if self._fields[name].type == "many2one" else self[name]
            for name in machine.CALL_FIELDS
        }

    @api.model
    def _crm_voip_get_or_create(self, provider, event):
        """The call of ``event``, locked, and whether this event created it.

        Events of one call may arrive in parallel: ``ON CONFLICT DO NOTHING`` plus the
        row lock serialize them (a loser gets a serialization failure, and Odoo
        retries its request), so a call is never logged twice. The row is inserted in
        SQL, not by ``create()``: ``_crm_voip_on_created`` is the hook of every new call.
        """
        if event.direction == EV.OUTBOUND or event.origin_ref:
            adopted = self._crm_voip_adopt_click_to_call(provider, event)
            if adopted:
                return adopted, False
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
                    SELECT %(provider)s, %(company)s, %(call)s, %(direction)s, %(state)s, 'pbx',
                           %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                     WHERE NOT EXISTS (SELECT FROM known)
                    ON CONFLICT (provider_id, provider_call_id) DO NOTHING
                    RETURNING id
                )
                SELECT id, FALSE FROM known UNION ALL SELECT id, TRUE FROM inserted
                """,
                provider=provider.id,
                company=provider.company_id.id,
                call=event.provider_call_id,
                direction=event.direction,
                state=states.RINGING,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            # Inserted by a concurrent request since our lookup: wait for it and lock it.
            self.env.cr.execute(
                SQL(
                    "SELECT id, FALSE FROM crm_voip_call"
                    " WHERE provider_id = %s AND provider_call_id = %s FOR NO KEY UPDATE",
                    provider.id,
                    event.provider_call_id,
                )
            )
            row = self.env.cr.fetchone()
        return self.browse(row[0]), row[1]

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

    # ------------------------------------------------------------------
    # Hooks: what follows a call's life (extended by the other modules)
    # ------------------------------------------------------------------

    def _crm_voip_on_created(self):
        """A new call: created by ``create()`` (click-to-call, dialer) or by its first
        PBX event (inserted in SQL, then given that event's values). Nothing to do in
        the base module."""

    def _crm_voip_on_hangup(self):
        """The call has just ended: its lead gets an owner, its summary reaches the chatter."""
        self.ensure_one()
        if self.lead_created and self.lead_id and not self.lead_id.user_id and self.user_id:
            self.lead_id.user_id = self.user_id
        records = [record for record in (self.partner_id, self.lead_id) if record]
        if records:
            self._crm_voip_log_summary(records)

    def _crm_voip_on_recording(self, recording_ref):
        """The PBX has (or will have) a recording of this call: fetch it later."""
        self.ensure_one()
        return self.env["crm.voip.recording"]._crm_voip_request(self, recording_ref)

    def _crm_voip_routing_decision(self):
        """What to answer the PBX for a starting call. The base module only names the
        caller; ``crm_voip_routing`` decides who answers."""
        self.ensure_one()
        self.partner_id.sudo().fetch(["name", "commercial_company_name"])
        caller_name = self.partner_id.commercial_company_name or self.partner_id.name
        return EV.RoutingDecision(action=EV.DEFAULT, caller_name=(caller_name or "")[:64])

    def _crm_voip_route_by_command(self, provider, event):
        """A PBX that takes its routing as a command: decide now, send the command once
        this transaction is committed (never hold the database while the PBX answers).
        Not sent, or refused, the PBX's own scenario stands, and the call says why."""
        self.ensure_one()
        if self.direction != "inbound" or self.state != states.RINGING:
            return
        decision = self._crm_voip_routing_decision()
        if decision.action == EV.DEFAULT:
            return
        adapter = provider._get_crm_voip_adapter()
        registry, call_id, uid = self.env.registry, self.id, self.env.uid
        provider_id = provider.id
        context = dict(self.env.context)

        def send():
            try:
                adapter.route(event, decision, request_ref=f"route-{call_id}")
            except providers.errors.ProviderError as error:
                _logger.warning("crm_voip: call %s not routed by the PBX: %s", call_id, error)
                with registry.cursor() as cr:
                    env = api.Environment(cr, uid, context)
                    env["crm.voip.call"].browse(call_id)._crm_voip_routing_undelivered(error)
                    env["crm.voip.provider"].browse(provider_id)._crm_voip_api_failed(error)
            finally:
                adapter.close()

        self.env.cr.postcommit.add(send)

    def _crm_voip_routing_undelivered(self, error):
        """The PBX did not take the routing command (``error``): its own scenario routed
        the call. ``crm_voip_routing`` says so in its log."""

    # ------------------------------------------------------------------
    # Call-back deadline of a missed call (extended by the other modules)
    # ------------------------------------------------------------------

    def _crm_voip_callback_deadlines(self):
        """``{call id: deadline}`` (naive UTC) of these missed incoming calls: a call-back
        (an answered call with the number, ours or the client's) started by then is in
        time. The base module gives none: the call analysis then applies its own minutes.
        ``crm_voip_routing`` gives its call-back tasks' deadlines, in working time.

        An override adds its deadlines to what ``super()`` returns, so that the result
        does not depend on the order in which the modules were loaded."""
        return {}

    def _crm_voip_store_callback_deadline(self):
        """Store the call-back deadline of these missed calls, as the hook gives it: the
        module that sets deadlines calls this when it records a missed call."""
        deadlines = self._crm_voip_callback_deadlines()
        for call in self:
            deadline = deadlines.get(call.id, False)
            if call.callback_deadline != deadline:
                call.callback_deadline = deadline

    @api.model
    def _crm_voip_update_callback_deadlines(self, call_ids=None):
        """Store the call-back deadline of every missed incoming call with a number (of
        ``call_ids`` when given), in batches and set-based writes: for when the rule
        itself changes (a module that gives deadlines is installed, upgraded or
        uninstalled). Returns the ids whose deadline changed."""
        self.flush_model()
        query = SQL(
            "SELECT id FROM crm_voip_call"
            " WHERE direction = 'inbound' AND state IN %s AND date_start IS NOT NULL"
            " AND partner_number_e164 IS NOT NULL %s ORDER BY id",
            states.UNANSWERED,
            SQL("AND id = ANY(%s)", sorted(call_ids)) if call_ids is not None else SQL(),
        )
        changed = []
        for batch in split_every(
            CALLBACK_DEADLINE_BATCH, [row[0] for row in self.env.execute_query(query)]
        ):
            deadlines = self.browse(batch)._crm_voip_callback_deadlines()
            rows = self.env.execute_query(
                SQL(
                    """
                    UPDATE crm_voip_call c
                       SET callback_deadline = v.deadline
                      FROM unnest(%s::int[], %s::timestamp[]) AS v(id, deadline)
                     WHERE c.id = v.id AND c.callback_deadline IS DISTINCT FROM v.deadline
                    RETURNING c.id
                    """,
                    list(batch),
                    [deadlines.get(call_id) for call_id in batch],
                )
            )
            changed.extend(row[0] for row in rows)
            # A million calls go through here at install: keep the cache small.
            self.env.invalidate_all()
        return changed

    @api.model
    def _crm_voip_format_number(self, number_e164):
        """``+7 495 123-45-67``: how people read a number."""
        return providers.numbers.format_international(number_e164 or "")
