import logging
import threading

import pytz
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL
from odoo.tools.misc import format_datetime

from odoo.addons.crm_voip.tools.crash_points import crash_point

_logger = logging.getLogger(__name__)

OWNER_REASONS = [
    ("partner", "Contact's salesperson"),
    ("opportunity", "Salesperson of his open opportunity"),
    ("lead", "Salesperson of his lead"),
    ("rule", "The routing rule's missed-call user"),
    ("team_leader", "Sales team leader"),
    ("company", "Company default"),
]
ESCALATION_BATCH = 200
# How a task is closed by a call with the number (rather than by hand).
CALL_CLOSINGS = ("callback", "answered")
# What a salesperson may change on a call-back task he sees (the form's editable fields).
SALESPERSON_WRITABLE_FIELDS = {"user_id", "partner_id", "lead_id", "team_id"}


class CrmVoipMissedCall(models.Model):
    """A number to call back: one per number while open, however often it calls.

    Created by the first unanswered incoming call from a number, with a "Call" activity
    for a specific person; further misses from that number update it (counter, last
    time); an answered call with that number (our call-back, or the client calling again)
    closes it and its activity; past its deadline it is escalated once to the team leader.
    """

    _name = "crm.voip.missed.call"
    _description = "Missed call to call back"
    _order = "state_rank, deadline, id"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    number_e164 = fields.Char(string="Number", required=True, readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", check_company=True)
    lead_id = fields.Many2one("crm.lead", string="Lead/Opportunity", check_company=True)
    user_id = fields.Many2one("res.users", string="Calls back", index=True)
    owner_reason = fields.Selection(OWNER_REASONS, string="Chosen as", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales team", check_company=True, index=True)
    route_id = fields.Many2one("crm.voip.route", string="Routing rule", ondelete="set null")
    call_ids = fields.One2many(
        "crm.voip.call", "crm_voip_missed_call_id", string="Calls", readonly=True
    )
    missed_count = fields.Integer(string="Missed calls", default=1, readonly=True)
    first_missed_at = fields.Datetime(string="First missed", readonly=True)
    last_missed_at = fields.Datetime(string="Last missed", readonly=True)
    deadline = fields.Datetime(
        string="Call back before",
        readonly=True,
        help="The call-back deadline in working time of the company's calendar; the call "
        "analysis measures the call-backs of these missed calls against it too.",
    )
    res_model = fields.Char(string="Task on", readonly=True)
    res_id = fields.Many2oneReference(model_field="res_model", readonly=True)
    activity_id = fields.Many2one(
        "mail.activity", string="Task", ondelete="set null", index="btree_not_null", readonly=True
    )
    escalation_activity_id = fields.Many2one(
        "mail.activity",
        string="Escalation task",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    state = fields.Selection(
        [("open", "To call back"), ("done", "Called back"), ("cancel", "Cancelled")],
        default="open",
        required=True,
        index=True,
        readonly=True,
    )
    state_rank = fields.Integer(compute="_compute_state_rank", store=True)
    escalated = fields.Boolean(readonly=True)
    escalated_at = fields.Datetime(readonly=True)
    escalated_to_id = fields.Many2one("res.users", string="Escalated to", readonly=True)
    sms_sent = fields.Boolean(string="Text sent", readonly=True)
    done_at = fields.Datetime(string="Closed", readonly=True)
    done_by_id = fields.Many2one("res.users", string="Closed by", readonly=True)
    done_call_id = fields.Many2one(
        "crm.voip.call", string="Closing call", readonly=True, ondelete="set null"
    )
    done_reason = fields.Selection(
        [
            ("callback", "Called back"),
            ("answered", "The client called again and was answered"),
            ("manual", "Marked done"),
            ("cancelled", "Task cancelled"),
        ],
        string="Closed because",
        readonly=True,
    )
    callback_minutes = fields.Float(
        string="Time to call back (min)",
        compute="_compute_callback_minutes",
        store=True,
        aggregator="avg",
        digits=(16, 1),
    )
    callback_in_time = fields.Boolean(
        string="Called back in time",
        compute="_compute_callback_in_time",
        store=True,
        help="Closed by a call with the number (ours, or the client's, answered) started by "
        "the deadline. The call analysis counts its call-backs within the deadline the "
        "same way, against the same deadline.",
    )

    def init(self):
        super().init()
        # One open task per number and company: repeated misses find it by index, and two
        # misses racing each other cannot both create one.
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS crm_voip_missed_call_open_number_uniq"
                " ON crm_voip_missed_call (company_id, number_e164) WHERE state = 'open'"
            )
        )

    @api.depends("state")
    def _compute_state_rank(self):
        for missed in self:
            missed.state_rank = 0 if missed.state == "open" else 1

    @api.depends("done_at", "first_missed_at", "state")
    def _compute_callback_minutes(self):
        for missed in self:
            if missed.state == "done" and missed.done_at and missed.first_missed_at:
                delta = missed.done_at - missed.first_missed_at
                missed.callback_minutes = max(delta.total_seconds(), 0) / 60
            else:
                missed.callback_minutes = 0

    @api.depends("state", "done_reason", "done_at", "deadline")
    def _compute_callback_in_time(self):
        for missed in self:
            missed.callback_in_time = bool(
                missed.state == "done"
                and missed.done_reason in CALL_CLOSINGS
                and missed.done_at
                and missed.deadline
                and missed.done_at <= missed.deadline
            )

    def _crm_voip_number_text(self, viewer):
        """The task's number, formatted, as ``viewer`` (a user) may read it."""
        self.ensure_one()
        number = self.env["crm.voip.call"]._crm_voip_format_number(self.sudo().number_e164)
        return viewer._crm_voip_visible_number(number)

    @api.depends("number_e164", "partner_id", "missed_count")
    @api.depends_context("uid")
    def _compute_display_name(self):
        for missed in self:
            who = missed.partner_id.name or missed._crm_voip_number_text(self.env.user)
            missed.display_name = self.env._(
                "Call back %(who)s (%(count)s)", who=who, count=missed.missed_count
            )

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------

    def write(self, vals):
        user = self.env.user
        if not (
            self.env.su
            or user.has_group("crm_voip.crm_voip_group_manager")
            or user.has_group("crm_voip.crm_voip_group_webhook")
        ):
            # A salesperson organises the call-back (who, for which contact); its state,
            # deadline and closing are the server's (the reports count them).
            refused = set(vals) - SALESPERSON_WRITABLE_FIELDS
            if refused:
                raise AccessError(
                    self.env._(
                        "Only telephony managers may change these fields of a call-back "
                        "task: %(fields)s",
                        fields=", ".join(sorted(refused)),
                    )
                )
        result = super().write(vals)
        if vals.get("user_id"):
            # Handing the call-back to someone else hands him its activity (whoever may
            # reassign the task may move its activity, even on a record he cannot write).
            activities = self.filtered(lambda m: m.state == "open").activity_id.exists()
            activities.sudo().with_context(mail_activity_quick_update=True).write(
                {"user_id": vals["user_id"]}
            )
        return result

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_open_record(self):
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------------
    # Missed calls
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_register(self, call):
        """Record the unanswered incoming ``call``: a new task, or one more miss on the
        number's open task."""
        moment = call.date_start or call.date_end or fields.Datetime.now()
        # Found by the number, which whoever ends the call may not read.
        missed = (
            self.sudo()
            .search(
                [
                    ("company_id", "=", call.company_id.id),
                    ("number_e164", "=", call.partner_number_e164),
                    ("state", "=", "open"),
                ],
                limit=1,
            )
            .sudo(False)
        )
        if missed:
            missed.write(
                {
                    "missed_count": missed.missed_count + 1,
                    "last_missed_at": max(moment, missed.last_missed_at or moment),
                    "partner_id": missed.partner_id.id or call.partner_id.id,
                    "lead_id": missed.lead_id.id or call.lead_id.id,
                }
            )
            call.crm_voip_missed_call_id = missed
            if missed.activity_id:
                missed._crm_voip_refresh_activity()
            else:
                missed._crm_voip_schedule_activity()
            return missed
        owner, reason = call._crm_voip_missed_call_owner()
        missed = self.create(
            {
                "company_id": call.company_id.id,
                "number_e164": call.partner_number_e164,
                "partner_id": call.partner_id.id,
                "lead_id": call.lead_id.id,
                "user_id": owner.id,
                "owner_reason": reason if owner else False,
                "team_id": (
                    call.crm_voip_route_id.team_id or call.team_id or owner.sale_team_id
                ).id,
                "route_id": call.crm_voip_route_id.id,
                "first_missed_at": moment,
                "last_missed_at": moment,
                "deadline": call.company_id.sudo()._crm_voip_missed_deadline(moment),
            }
        )
        call.crm_voip_missed_call_id = missed
        missed._crm_voip_schedule_activity(call)
        return missed

    def _crm_voip_target_record(self, call=None):
        """Where the task lives: the open lead or opportunity, else the contact, else the
        call itself (a number nobody knows under the "only log" policy)."""
        self.ensure_one()
        lead = self.lead_id
        if lead and lead.active and lead.probability < 100:
            return lead
        if self.partner_id:
            return self.partner_id
        if lead:
            return lead
        return call or self.call_ids[:1]

    def _crm_voip_schedule_activity(self, call=None):
        self.ensure_one()
        if not self.user_id:
            # Kept as a task without activity, listed under Telephony → Call-backs.
            _logger.info(
                "crm_voip_routing: nobody to call back %s (company %s): no manager found",
                self.number_e164,
                self.company_id.id,
            )
            return False
        record = self._crm_voip_target_record(call)
        if not record:
            return False
        # No e-mail per missed call: the task shows in the person's activities at once.
        activity = record.with_context(mail_activity_quick_update=True).activity_schedule(
            "mail.mail_activity_data_call",
            date_deadline=self._crm_voip_local_date(self.deadline, self.user_id),
            summary=self._crm_voip_activity_summary(),
            note=self._crm_voip_activity_note(),
            user_id=self.user_id.id,
        )
        self.write({"activity_id": activity[:1].id, "res_model": record._name, "res_id": record.id})
        return activity

    def _crm_voip_refresh_activity(self):
        self.ensure_one()
        self.activity_id.write(
            {
                "summary": self._crm_voip_activity_summary(),
                "note": self._crm_voip_activity_note(),
            }
        )

    def _crm_voip_activity_summary(self):
        # Read by the task's owner: the number as he may see it.
        number = self._crm_voip_number_text(self.user_id or self.env.user)
        if self.missed_count > 1:
            return self.env._(
                "Call back %(number)s (%(count)s missed calls)",
                number=number,
                count=self.missed_count,
            )
        return self.env._("Call back %(number)s (missed call)", number=number)

    def _crm_voip_activity_note(self):
        user = self.user_id
        tz = user.tz or self.company_id.resource_calendar_id.tz or "UTC"
        number = self._crm_voip_number_text(user or self.env.user)
        text = self.env._(
            "%(count)s missed call(s) from %(number)s, first at %(first)s, last at %(last)s. "
            "Call back before %(deadline)s.",
            count=self.missed_count,
            number=number,
            first=format_datetime(self.env, self.first_missed_at, tz=tz, dt_format="short"),
            last=format_datetime(self.env, self.last_missed_at, tz=tz, dt_format="short"),
            deadline=format_datetime(self.env, self.deadline, tz=tz, dt_format="short"),
        )
        return Markup("<p>%s</p>") % text

    @api.model
    def _crm_voip_local_date(self, moment, user):
        tz_name = user.tz or self.env.company.resource_calendar_id.tz or "UTC"
        try:
            tz = pytz.timezone(tz_name)
        except pytz.UnknownTimeZoneError:
            tz = pytz.utc
        return pytz.utc.localize(moment).astimezone(tz).date()

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_close_for_call(self, call):
        """An answered call with the number closes its open task: our call-back (any
        outgoing call, by anyone) or the client calling again and being answered."""
        started = call.date_start or call.date_answer or fields.Datetime.now()
        # Found by the number, which whoever ends the call may not read.
        missed = (
            self.sudo()
            .search(
                [
                    ("company_id", "=", call.company_id.id),
                    ("number_e164", "=", call.partner_number_e164),
                    ("state", "=", "open"),
                    ("first_missed_at", "<=", started),
                ]
            )
            .sudo(False)
        )
        if missed:
            reason = "callback" if call.direction == "outbound" else "answered"
            missed._crm_voip_done(reason, call=call)
        return missed

    def _crm_voip_done(self, reason, call=None, user=None):
        for missed in self:
            closer = (call.user_id if call else user) or self.env.user
            moment = (call and (call.date_start or call.date_answer)) or fields.Datetime.now()
            missed.write(
                {
                    "state": "done",
                    "done_reason": reason,
                    "done_at": moment,
                    "done_by_id": closer.id,
                    "done_call_id": call.id if call else False,
                }
            )
            activities = (missed.activity_id | missed.escalation_activity_id).exists()
            if not activities:
                continue
            number = missed._crm_voip_number_text(missed.user_id or closer)
            if reason == "callback":
                feedback = self.env._(
                    "Called back %(number)s: %(who)s reached the client.",
                    number=number,
                    who=closer.name,
                )
            elif reason == "answered":
                feedback = self.env._(
                    "%(number)s called again and %(who)s answered.", number=number, who=closer.name
                )
            else:
                feedback = self.env._("The call-back task was marked done.")
            # Closed on behalf of whoever called back, whoever the task belonged to.
            activities.with_user(closer).sudo().with_context(
                crm_voip_missed_auto_done=True
            ).action_feedback(feedback=feedback)

    @api.model
    def _crm_voip_on_activity_done(self, activities):
        """Someone marked the call-back activity done by hand: the task is done."""
        if self.env.context.get("crm_voip_missed_auto_done") or not activities.ids:
            return
        missed = self.search([("activity_id", "in", activities.ids), ("state", "=", "open")])
        if not missed:
            return
        missed.write(
            {
                "state": "done",
                "done_reason": "manual",
                "done_at": fields.Datetime.now(),
                "done_by_id": self.env.user.id,
            }
        )
        others = missed.escalation_activity_id.exists() - activities
        if others:
            others.with_context(crm_voip_missed_auto_done=True).action_feedback(
                feedback=self.env._("The call-back task was marked done.")
            )

    @api.model
    def _crm_voip_on_activity_unlink(self, activities):
        """The call-back activity was cancelled: so is the task (no longer to do)."""
        if not activities.ids:
            return
        missed = self.search([("activity_id", "in", activities.ids), ("state", "=", "open")])
        if missed:
            missed.write(
                {
                    "state": "cancel",
                    "done_reason": "cancelled",
                    "done_at": fields.Datetime.now(),
                    "done_by_id": self.env.user.id,
                }
            )

    # ------------------------------------------------------------------
    # Escalation
    # ------------------------------------------------------------------

    @api.model
    def _cron_crm_voip_escalate(self, now=None):
        """Overdue call-backs: once, a task for the team leader, and optionally a text to the
        client."""
        now = now or fields.Datetime.now()
        testing = getattr(threading.current_thread(), "testing", False)
        overdue = self.search(
            [("state", "=", "open"), ("escalated", "=", False), ("deadline", "<", now)],
            order="deadline, id",
            limit=ESCALATION_BATCH,
        )
        for missed in overdue:
            # One task at a time, committed with its "escalated" mark: a worker killed in
            # the middle leaves each task escalated (its activity and text created) or
            # not at all, and the next run takes the rest, never one twice.
            try:
                with self.env.cr.savepoint():
                    missed._crm_voip_escalate(now)
                    crash_point(self.env, "escalate")
            except Exception:
                if testing:
                    raise
                # One task that cannot be escalated must not hold back the others.
                _logger.exception("crm_voip: could not escalate missed call %s", missed.id)
                continue
            if not testing:
                self.env.cr.commit()
        if len(overdue) == ESCALATION_BATCH:
            self.env["ir.cron"]._notify_progress(done=len(overdue), remaining=1)
        return overdue

    def _crm_voip_escalation_user(self):
        self.ensure_one()
        owner = self.user_id
        team = self.team_id or owner.sale_team_id
        leader = team.user_id
        if leader and leader != owner and leader.active:
            return leader
        fallback = self.company_id.crm_voip_escalation_user_id
        if fallback and fallback != owner and fallback.active:
            return fallback
        return self.env["res.users"]

    def _crm_voip_escalate(self, now):
        self.ensure_one()
        values = {"escalated": True, "escalated_at": now}
        leader = self._crm_voip_escalation_user()
        record = self.res_model and self.env[self.res_model].browse(self.res_id).exists()
        if leader and record:
            number = self.env["crm.voip.call"]._crm_voip_format_number(self.number_e164)
            tz = leader.tz or self.company_id.resource_calendar_id.tz or "UTC"
            note = self.env._(
                "%(count)s missed call(s) from %(number)s are not called back: %(owner)s had "
                "until %(deadline)s.",
                count=self.missed_count,
                number=number,
                owner=self.user_id.name or self.env._("nobody"),
                deadline=format_datetime(self.env, self.deadline, tz=tz, dt_format="short"),
            )
            activity = record.activity_schedule(
                "mail.mail_activity_data_call",
                date_deadline=self._crm_voip_local_date(now, leader),
                summary=self.env._("Overdue call-back: %(number)s", number=number),
                note=Markup("<p>%s</p>") % note,
                user_id=leader.id,
            )
            values.update(escalated_to_id=leader.id, escalation_activity_id=activity[:1].id)
        values["sms_sent"] = self._crm_voip_send_sorry_sms()
        self.write(values)

    def _crm_voip_send_sorry_sms(self):
        """The optional "sorry we missed you" text, through Odoo's SMS module when it is
        installed (it is not a dependency)."""
        self.ensure_one()
        company = self.company_id
        if not company.crm_voip_escalation_sms or "sms.sms" not in self.env:
            return False
        body = (company.crm_voip_escalation_sms_body or "").strip()
        if not body:
            return False
        # sms.sms is an administrators' model; the text goes to the number that called.
        self.env["sms.sms"].sudo().create(
            {"number": self.number_e164, "body": body, "partner_id": self.partner_id.id}
        )
        cron = self.env.ref("sms.ir_cron_sms_scheduler_action", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()
        return True
