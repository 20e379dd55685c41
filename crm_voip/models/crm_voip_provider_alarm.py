import logging
import threading
from datetime import timedelta

import pytz
from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.crash_points import crash_point

_logger = logging.getLogger(__name__)

ALARM_FIELDS_GROUPS = "crm_voip.crm_voip_group_manager,base.group_system"
# The last verified contact is written at most once per this many seconds per account:
# a busy PBX posts many times a second, the alarms count in minutes.
CONTACT_RESOLUTION = timedelta(seconds=60)
# Refusals are weighed over this window.
REFUSAL_WINDOW = timedelta(minutes=15)
# Silence is measured in working time over at most this far back (older is "long").
SILENCE_HORIZON = timedelta(days=31)


class CrmVoipProvider(models.Model):
    _name = "crm.voip.provider"
    _inherit = ["crm.voip.provider", "mail.thread", "mail.activity.mixin"]

    silence_threshold_minutes = fields.Integer(
        string="Silence alarm after (working minutes)",
        default=60,
        groups=ALARM_FIELDS_GROUPS,
        help="No verified request from the PBX for this many minutes of the company's "
        "working time (its calendar, public holidays excluded) raises the alarm. 0: never.",
    )
    refusal_alarm_count = fields.Integer(
        string="Refusal alarm: at least",
        default=10,
        groups=ALARM_FIELDS_GROUPS,
        help="Refused webhook requests (bad signature, malformed body, ...) within 15 minutes "
        "that raise the alarm, if they also are the share below of all requests. 0: never.",
    )
    refusal_alarm_share = fields.Integer(
        string="Refusal alarm: share (%)",
        default=50,
        groups=ALARM_FIELDS_GROUPS,
        help="The refused requests' share of the 15 minutes' requests (refused ones and "
        "events received) that raises the alarm.",
    )
    last_contact_date = fields.Datetime(
        string="Last verified request",
        readonly=True,
        copy=False,
        groups=ALARM_FIELDS_GROUPS,
        help="The last request of the PBX whose signature was verified, with or without "
        "events (a heartbeat counts); written at most once a minute.",
    )
    alarm_state = fields.Selection(
        [("green", "Normal"), ("red", "Alarm")],
        default="green",
        required=True,
        readonly=True,
        copy=False,
        groups=ALARM_FIELDS_GROUPS,
    )
    alarm_reason = fields.Text(readonly=True, copy=False, groups=ALARM_FIELDS_GROUPS)
    alarm_date = fields.Datetime(
        string="Alarm since", readonly=True, copy=False, groups=ALARM_FIELDS_GROUPS
    )
    refusal_ids = fields.One2many(
        "crm.voip.refusal",
        "provider_id",
        string="Refused requests",
        readonly=True,
        groups=ALARM_FIELDS_GROUPS,
    )
    health = fields.Selection(selection_add=[("alarm", "Alarm")])

    @api.depends("api_error", "alarm_state")
    def _compute_event_stats(self):
        super()._compute_event_stats()
        for provider in self:
            if provider.health != "api_error" and provider.sudo().alarm_state == "red":
                provider.health = "alarm"

    # ------------------------------------------------------------------
    # The webhook's side (cheap: no write transaction of the request)
    # ------------------------------------------------------------------

    def _crm_voip_note_contact(self):
        """A request of the PBX was verified: its last contact is now. Written in a
        cursor of its own, at most once per ``CONTACT_RESOLUTION`` (the value read with
        the account says whether it is due), never waiting for a lock on the account."""
        self.ensure_one()
        now = fields.Datetime.now()
        last = self.sudo().last_contact_date
        if last and now - last < CONTACT_RESOLUTION:
            return
        try:
            with self.env.registry.cursor() as cr:
                cr.execute(
                    SQL(
                        """
                        UPDATE crm_voip_provider SET last_contact_date = %(now)s
                         WHERE id = (SELECT id FROM crm_voip_provider
                                      WHERE id = %(id)s
                                        AND (last_contact_date IS NULL
                                             OR last_contact_date < %(due)s)
                                        FOR UPDATE SKIP LOCKED)
                        """,
                        now=now,
                        id=self.id,
                        due=now - CONTACT_RESOLUTION,
                    )
                )
        except Exception:  # noqa: BLE001 - the event is received all the same
            _logger.exception("crm_voip: could not note the contact of provider %s", self.id)
        self.invalidate_recordset(["last_contact_date"])

    def _crm_voip_note_refusal(self, status, reason, remote_addr):
        """A request to this account's URL was refused (its token was right)."""
        self.ensure_one()
        self.env["crm.voip.refusal"].sudo()._crm_voip_note(self.id, status, reason, remote_addr)

    # ------------------------------------------------------------------
    # The alarms' cron
    # ------------------------------------------------------------------

    @api.model
    def _cron_crm_voip_check_alarms(self, now=None):
        """Every few minutes: raise or clear each active account's alarm. Each account is
        committed on its own (outside tests): a worker killed in the middle leaves the
        accounts done so far done, and the rest for the next run; an alarm is raised
        (with its activities) in the same transaction as it is marked, so never twice."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        self.env["crm.voip.refusal"].sudo()._crm_voip_prune()
        now = now or fields.Datetime.now()
        accounts = self.sudo().search([])
        since = now - REFUSAL_WINDOW
        refused = dict(
            self.env["crm.voip.refusal"]
            .sudo()
            ._read_group(
                [("provider_id", "in", accounts.ids), ("minute", ">=", since)],
                ["provider_id"],
                ["count:sum"],
            )
        )
        received = dict(
            self.env["crm.voip.event"]
            .sudo()
            ._read_group(
                [("provider_id", "in", accounts.ids), ("create_date", ">=", since)],
                ["provider_id"],
                ["__count"],
            )
        )
        raised = cleared = 0
        for account in accounts:
            with self.env.cr.savepoint():
                reasons = account._crm_voip_alarm_reasons(
                    now, refused.get(account, 0), received.get(account, 0)
                )
                if reasons:
                    raised += account._crm_voip_raise_alarm(reasons, now)
                elif account.alarm_state == "red" and account._crm_voip_contact_since_alarm():
                    account._crm_voip_clear_alarm()
                    cleared += 1
                crash_point(self.env, "alarms")
            if auto_commit:
                self.env.cr.commit()
        return raised, cleared

    def _crm_voip_alarm_reasons(self, now, refused, received):
        """What is wrong with this account now (translated sentences), or nothing."""
        self.ensure_one()
        reasons = []
        threshold = self.silence_threshold_minutes
        if threshold > 0 and self.last_contact_date:
            silent = self._crm_voip_working_minutes(self.last_contact_date, now)
            if silent > threshold:
                reasons.append(
                    self.env._(
                        "No verified request from the PBX for %(minutes)s minutes of working "
                        "time (limit %(limit)s); last one at %(last)s UTC.",
                        minutes=int(silent),
                        limit=threshold,
                        last=fields.Datetime.to_string(self.last_contact_date),
                    )
                )
        if self.refusal_alarm_count > 0 and refused >= self.refusal_alarm_count:
            share = 100 * refused / (refused + received)
            if share >= self.refusal_alarm_share:
                reasons.append(
                    self.env._(
                        "%(refused)s webhook requests refused in the last 15 minutes "
                        "(%(share)s%% of the requests; limit %(limit)s and %(limit_share)s%%).",
                        refused=refused,
                        share=int(share),
                        limit=self.refusal_alarm_count,
                        limit_share=self.refusal_alarm_share,
                    )
                )
        return reasons

    def _crm_voip_working_minutes(self, start, end):
        """Minutes of the company's working time between ``start`` and ``end`` (naive
        UTC): its calendar's hours, less its public holidays; all of it without one."""
        self.ensure_one()
        start = max(start, end - SILENCE_HORIZON)
        if start >= end:
            return 0
        calendar = self.company_id.resource_calendar_id.sudo()
        if not calendar:
            return (end - start).total_seconds() / 60
        intervals = calendar._work_intervals_batch(pytz.utc.localize(start), pytz.utc.localize(end))
        return sum((stop - begin).total_seconds() for begin, stop, _meta in intervals[False]) / 60

    def _crm_voip_contact_since_alarm(self):
        self.ensure_one()
        return bool(
            self.last_contact_date and self.alarm_date and self.last_contact_date > self.alarm_date
        )

    def _crm_voip_alarm_managers(self):
        """The telephony managers of the account's company (who hear of its alarms)."""
        self.ensure_one()
        group = self.env.ref("crm_voip.crm_voip_group_manager")
        return (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("groups_id", "in", group.ids),
                    ("share", "=", False),
                    ("company_ids", "in", self.company_id.ids),
                ]
            )
        )

    def _crm_voip_raise_alarm(self, reasons, now):
        """Mark the account red with ``reasons``; when it was green, one activity for each
        telephony manager of its company. Returns 1 when the alarm is new."""
        self.ensure_one()
        reason = "\n".join(reasons)
        if self.alarm_state == "red":
            if reason != self.alarm_reason:
                self.alarm_reason = reason
            return 0
        self.write({"alarm_state": "red", "alarm_reason": reason, "alarm_date": now})
        note = Markup("<p>%s</p>") % Markup("<br/>").join(reasons)
        for manager in self._crm_voip_alarm_managers():
            self.activity_schedule(
                "crm_voip.mail_activity_type_crm_voip_alarm",
                summary=self.env._("Telephony alarm: %(account)s", account=self.name),
                note=note,
                user_id=manager.id,
            )
        self._message_log(
            body=Markup("<p>%s</p>%s") % (self.env._("Telephony alarm raised."), note)
        )
        _logger.warning("crm_voip: alarm on provider %s: %s", self.id, reason)
        return 1

    def _crm_voip_clear_alarm(self):
        """Events flow again: green, the alarm's activities done, a line in the chatter."""
        self.ensure_one()
        self.write({"alarm_state": "green", "alarm_reason": False, "alarm_date": False})
        activity_type = self.env.ref("crm_voip.mail_activity_type_crm_voip_alarm")
        activities = self.activity_ids.filtered(lambda a: a.activity_type_id == activity_type)
        feedback = self.env._("The PBX's requests are received again: the alarm is over.")
        if activities:
            activities.action_feedback(feedback=feedback)
        self._message_log(body=Markup("<p>%s</p>") % feedback)
        _logger.info("crm_voip: alarm on provider %s cleared", self.id)
