"""Reconciliation: the calls whose webhooks never arrived, recovered from the PBX's history.

A cron reads each account's call history for a sliding window and feeds every call the
call log lacks, or has not seen end, through the webhooks' own path (``crm.voip.event``
then the state machine), under event keys of their own: a rerun, or a crash halfway,
stores nothing twice. See ``__manifest_docs__/nothing_lost.md``.
"""

import logging
import threading
from datetime import datetime, timedelta, timezone

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from .. import providers
from ..callstate import states

_logger = logging.getLogger(__name__)
HISTORY = providers.history
ERRORS = providers.errors

# Calls that started less than this ago are left for the next run: their webhooks may
# still be on their way, and the PBX's history may not list them yet.
SETTLE = timedelta(minutes=5)
# After a failure the window starts where the last good run ended, at most this far back.
MAX_CATCH_UP = timedelta(days=7)
# Longest range an on-demand run may read.
MAX_MANUAL_RANGE = timedelta(days=92)
# Delay before retrying after a failure: doubled on each failure in a row, up to the cap.
BACKOFF_FIRST = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=6)
# Calls listed as not matched, at most.
UNMATCHED_LIMIT = 50


def _aware(naive_utc):
    return naive_utc.replace(tzinfo=timezone.utc)


class CrmVoipProvider(models.Model):
    _inherit = "crm.voip.provider"

    reconcile_window_hours = fields.Integer(
        string="Reconciliation window (hours)",
        default=3,
        help="How far back the scheduled reconciliation reads the PBX's call history, every 15 "
        "minutes. 0 turns it off.",
    )
    reconcile_last_date = fields.Datetime(string="Last reconciliation", readonly=True)
    reconcile_last_result = fields.Char(string="Last result", readonly=True)
    reconcile_recovered_count = fields.Integer(
        string="Calls recovered",
        readonly=True,
        help="Calls the last reconciliation logged or completed from the PBX's history.",
    )
    reconcile_unmatched = fields.Text(
        string="Not matched",
        readonly=True,
        help="Calls of the PBX's history the last reconciliation could not log, and why.",
    )
    reconcile_error = fields.Text(string="Reconciliation error", readonly=True)
    reconcile_failures = fields.Integer(readonly=True)
    reconcile_next_try = fields.Datetime(
        string="Next reconciliation attempt",
        readonly=True,
        help="After a failure, the scheduled reconciliation waits until then.",
    )
    reconcile_covered_until = fields.Datetime(
        readonly=True,
        help="The end of the last window the scheduled reconciliation read: after a failure, "
        "the next run starts there.",
    )

    _sql_constraints = [
        (
            "reconcile_window_hours_positive",
            "CHECK(reconcile_window_hours >= 0)",
            "The reconciliation window cannot be negative.",
        ),
    ]

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    @api.model
    def _cron_crm_voip_reconcile(self):
        """Reconcile every account that reads a call history and is due, one at a time,
        each committed on its own (outside tests)."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        now = fields.Datetime.now()
        accounts = self.sudo().search(
            [
                ("reconcile_window_hours", ">", 0),
                "|",
                ("reconcile_next_try", "=", False),
                ("reconcile_next_try", "<=", now),
            ],
            order="reconcile_last_date asc nulls first, id",
        )
        accounts = accounts.filtered(lambda account: account._crm_voip_reconciles())
        for done, account in enumerate(accounts, start=1):
            account._crm_voip_reconcile(auto_commit=auto_commit)
            if auto_commit:
                self.env.cr.commit()
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(accounts) - done)
        return len(accounts)

    def action_crm_voip_reconcile(self):
        """The on-demand reconciliation: a date range to read."""
        self.ensure_one()
        self._crm_voip_check_reconcile_access()
        now = fields.Datetime.now()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reconcile with the PBX history"),
            "res_model": "crm.voip.reconcile.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_provider_id": self.id,
                "default_date_from": now - timedelta(hours=self.reconcile_window_hours or 3),
                "default_date_to": now,
            },
        }

    def _crm_voip_check_reconcile_access(self):
        if not (
            self.env.user.has_group("base.group_system")
            or self.env.user.has_group("crm_voip.crm_voip_group_manager")
        ):
            raise AccessError(
                self.env._("Only telephony managers reconcile with the PBX's call history.")
            )

    def _crm_voip_reconciles(self):
        self.ensure_one()
        adapter_class = self._crm_voip_adapter_class()
        if not (adapter_class and adapter_class.has_call_history):
            return False
        return self._get_crm_voip_adapter().reads_call_history()

    # ------------------------------------------------------------------
    # One run
    # ------------------------------------------------------------------

    def _crm_voip_reconcile(self, start=None, end=None, auto_commit=False):
        """Read the PBX's call history from ``start`` to ``end`` (naive UTC; by default
        the sliding window) and log what the webhooks missed. Returns a summary dict:
        ``recovered``, ``completed``, ``corrected``, ``known``, ``unmatched`` (texts),
        ``error`` (text or False).

        Nothing is held across the PBX's answer: what the request needs is read first,
        and with ``auto_commit`` the transaction is committed before the PBX is asked.
        A failure of the PBX is reported on the account, with a backoff; never raised.
        """
        self.ensure_one()
        account = self.sudo()
        manual = start is not None or end is not None
        now = fields.Datetime.now()
        if manual:
            start = start or now - timedelta(hours=account.reconcile_window_hours or 3)
            end = min(end or now, now)
            if end <= start:
                raise UserError(self.env._("The end of the range must be after its start."))
            if end - start > MAX_MANUAL_RANGE:
                raise UserError(self.env._("Reconcile at most %(days)s days at a time.", days=92))
        else:
            start, end = account._crm_voip_reconcile_window(now)
        try:
            adapter = account._get_crm_voip_adapter()
        except ERRORS.ProviderError as error:
            return account._crm_voip_reconcile_failed(error, manual)
        if auto_commit:
            self.env.cr.commit()
        try:
            history = adapter.call_history(_aware(start), _aware(end))
        except ERRORS.ProviderError as error:
            return account._crm_voip_reconcile_failed(error, manual)
        except Exception as error:  # noqa: BLE001 - an unreadable answer must not stop the cron
            _logger.exception("crm_voip: provider %s: unreadable call history", account.id)
            unreadable = ERRORS.RetryableError(
                f"{adapter.name}: unreadable call history ({type(error).__name__})"
            )
            return account._crm_voip_reconcile_failed(unreadable, manual)
        finally:
            adapter.close()
        summary = account._crm_voip_reconcile_history(history)
        account._crm_voip_reconcile_succeeded(summary, end, manual)
        return summary

    def _crm_voip_reconcile_window(self, now):
        """The scheduled run's window: the last hours, from further back when the last
        good run ended earlier (a failure, a stopped server); the newest minutes wait."""
        end = now - SETTLE
        start = end - timedelta(hours=self.reconcile_window_hours or 3)
        covered = self.reconcile_covered_until
        if covered and covered < start:
            start = max(covered - SETTLE, now - MAX_CATCH_UP)
        return start, end

    def _crm_voip_reconcile_history(self, history):
        """Log the calls of ``history`` (``HistoryCall``s) the call log lacks or has not
        seen end; compare the others. The summary dict of ``_crm_voip_reconcile``."""
        summary = {
            "recovered": 0,
            "completed": 0,
            "corrected": 0,
            "known": 0,
            "unmatched": [],
            "error": False,
        }
        adapter_class = self._crm_voip_adapter_class()
        planned = []
        for history_call in history:
            try:
                call_events = adapter_class.history_call_events(history_call)
            except ValueError as error:
                summary["unmatched"].append(self._crm_voip_unmatched_line(history_call, str(error)))
                continue
            planned.append((history_call, call_events))
        call_ids = list({events[0].provider_call_id for _call, events in planned if events})
        Call = self.env["crm.voip.call"].sudo()
        known = {
            call.provider_call_id: call
            for call in Call.search(
                [("provider_id", "=", self.id), ("provider_call_id", "in", call_ids)]
            )
        }
        applier = self._crm_voip_webhook_env()
        for history_call, call_events in planned:
            if not call_events:
                continue
            call = known.get(call_events[0].provider_call_id)
            try:
                with self.env.cr.savepoint():
                    outcome = self._crm_voip_reconcile_call(
                        applier, history_call, call_events, call
                    )
            except Exception as error:  # noqa: BLE001 - one call must not stop the others
                _logger.exception("crm_voip: could not reconcile call %s", history_call.call_id)
                self.env.invalidate_all()
                outcome = None
                reason = f"{type(error).__name__}: {error}"[:200]
            else:
                reason = self.env._("its events could not be applied")
            if outcome:
                summary[outcome] += 1
            else:
                summary["unmatched"].append(self._crm_voip_unmatched_line(history_call, reason))
        return summary

    def _crm_voip_reconcile_call(self, applier, history_call, call_events, call):
        """One call of the history: ``recovered``, ``completed``, ``corrected``, ``known``,
        or ``None`` when it could not be logged."""
        if call and call.state in states.FINAL:
            return "corrected" if call._crm_voip_compare_history(history_call) else "known"
        outcome = self._crm_voip_apply_history_events(applier, call_events, bool(call))
        if outcome == "completed":
            # What its webhooks did say may still differ from the history (who talked
            # last, when it started): the same comparison as for a call they completed.
            call.invalidate_recordset()
            call._crm_voip_compare_history(history_call)
        return outcome

    def _crm_voip_webhook_env(self):
        """This account as the webhooks see it: their user, their company, their context,
        so that a recovered call is logged exactly as its webhooks would have logged it."""
        webhook_user_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "crm_voip.user_crm_voip_webhook"
        )
        env = self.env(
            user=webhook_user_id,
            su=False,
            context={
                "allowed_company_ids": [self.company_id.id],
                "tracking_disable": True,
                "mail_create_nolog": True,
                "lang": self.env.context.get("lang") or "en_US",
            },
        )
        return self.with_env(env)

    def _crm_voip_apply_history_events(self, applier, call_events, existed):
        """Store and apply one call's rebuilt events; ``"recovered"`` (the call is new),
        ``"completed"`` (it had not ended), or ``None`` when they did not apply."""
        events_model = applier.env["crm.voip.event"]
        stored, _duplicates = events_model._crm_voip_store(applier, call_events)
        events_model._crm_voip_apply_stored(stored)
        call = (
            self.env["crm.voip.call"]
            .sudo()
            .search(
                [
                    ("provider_id", "=", self.id),
                    ("provider_call_id", "=", call_events[0].provider_call_id),
                ],
                limit=1,
            )
        )
        if not call:
            # An outgoing call placed from Odoo keeps its own id until the PBX names it.
            call = (
                events_model.sudo()
                .search(
                    [
                        ("provider_id", "=", self.id),
                        ("event_key", "in", [event.event_key for event in call_events]),
                        ("state", "=", "applied"),
                    ],
                    limit=1,
                )
                .call_id
            )
        if not call or call.state not in states.FINAL:
            return None
        call._crm_voip_mark_recovered(created=not existed)
        return "completed" if existed else "recovered"

    def _crm_voip_unmatched_line(self, history_call, reason):
        started = history_call.started_at
        when = started.strftime("%Y-%m-%d %H:%M UTC") if isinstance(started, datetime) else "?"
        return f"{history_call.call_id or '?'} ({when}): {reason}"

    # ------------------------------------------------------------------
    # What the account shows
    # ------------------------------------------------------------------

    def _crm_voip_reconcile_succeeded(self, summary, end, manual):
        unmatched = summary["unmatched"][:UNMATCHED_LIMIT]
        if len(summary["unmatched"]) > UNMATCHED_LIMIT:
            unmatched.append(f"… (+{len(summary['unmatched']) - UNMATCHED_LIMIT})")
        values = {
            "reconcile_last_date": fields.Datetime.now(),
            "reconcile_last_result": self._crm_voip_reconcile_result_text(summary),
            "reconcile_recovered_count": summary["recovered"] + summary["completed"],
            "reconcile_unmatched": "\n".join(unmatched) or False,
            "reconcile_error": False,
            "reconcile_failures": 0,
            "reconcile_next_try": False,
        }
        if not manual:
            values["reconcile_covered_until"] = end
        self.write(values)
        self._crm_voip_api_succeeded()

    def _crm_voip_reconcile_failed(self, error, manual):
        """Report ``error`` on the account and wait before the next scheduled try: longer
        after each failure in a row, at least what the PBX asked for."""
        now = fields.Datetime.now()
        message = self._crm_voip_error_text(error)[:1000]
        if isinstance(error, ERRORS.RateLimitError) and error.kept:
            # A limit the adapter kept to is no failure: the next run comes when the PBX
            # allows it, without the backoff, and the account's health is untouched.
            _logger.info("crm_voip: provider %s: reconciliation waits: %s", self.id, error)
            values = {
                "reconcile_last_date": now,
                "reconcile_last_result": self.env._(
                    "Waiting for the PBX's rate limit (%(seconds)s s)",
                    seconds=error.retry_after,
                ),
                "reconcile_error": message,
            }
            if not manual:
                values["reconcile_next_try"] = now + timedelta(seconds=error.retry_after)
            self.write(values)
        else:
            _logger.warning("crm_voip: provider %s: reconciliation failed: %s", self.id, error)
            failures = self.reconcile_failures + 1
            delay = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                delay = max(delay, timedelta(seconds=retry_after))
            values = {
                "reconcile_last_date": now,
                "reconcile_last_result": self.env._("Failed: %(error)s", error=message[:200]),
                "reconcile_error": message,
            }
            if not manual:
                values.update(reconcile_failures=failures, reconcile_next_try=now + delay)
            self.write(values)
            self._crm_voip_api_failed(error)
        return {
            "recovered": 0,
            "completed": 0,
            "corrected": 0,
            "known": 0,
            "unmatched": [],
            "error": message,
        }

    def _crm_voip_reconcile_result_text(self, summary):
        return self.env._(
            "%(recovered)s recovered, %(completed)s completed, %(corrected)s corrected, "
            "%(known)s already logged, %(unmatched)s not matched",
            recovered=summary["recovered"],
            completed=summary["completed"],
            corrected=summary["corrected"],
            known=summary["known"],
            unmatched=len(summary["unmatched"]),
        )
