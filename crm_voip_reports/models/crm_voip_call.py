import datetime

from odoo import api, fields, models
from odoo.tools import SQL

from ..report.crm_voip_call_report_daily import local_date
from ..report.crm_voip_call_report_mixin import ANSWERED_STATES, UNANSWERED_STATES

# A change of these fields changes the call's line in the daily statistics.
REPORT_FIELDS = frozenset(
    (
        "company_id",
        "provider_id",
        "user_id",
        "team_id",
        "direction",
        "state",
        "line_id",
        "source_id",
        "date_start",
        "ring_seconds",
        "talk_seconds",
        "callback_deadline",
    )
)
# Calls younger than this belong to today or yesterday in every timezone: never summed up.
SURELY_LIVE = datetime.timedelta(hours=23)


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    # ------------------------------------------------------------------
    # ORM: keep the daily statistics right
    # ------------------------------------------------------------------

    def _crm_voip_on_created(self):
        # Every new call, made by create() or by its first PBX event: a call reported
        # late (its webhooks delayed, or recovered) may belong to a summed-up day.
        result = super()._crm_voip_on_created()
        self._crm_voip_report_mark_days(self._crm_voip_report_summed_days())
        return result

    def write(self, vals):
        if REPORT_FIELDS.isdisjoint(vals):
            return super().write(vals)
        days = self._crm_voip_report_summed_days()
        result = super().write(vals)
        self._crm_voip_report_mark_days(days | self._crm_voip_report_summed_days())
        return result

    def unlink(self):
        days = self._crm_voip_report_summed_days()
        Callback = self.env["crm.voip.call.callback"].sudo()
        # Missed calls whose call-back goes away look for another one afterwards.
        orphans = Callback.search(
            [("callback_call_id", "in", self.ids), ("call_id", "not in", self.ids)]
        ).call_id.ids
        result = super().unlink()
        changed = self.browse(Callback._crm_voip_recompute(orphans))
        self._crm_voip_report_mark_days(days | changed._crm_voip_report_summed_days())
        return result

    @api.model
    def _crm_voip_update_callback_deadlines(self, call_ids=None):
        # Written in SQL, many at once (a module that gives deadlines was installed or
        # uninstalled): the "called back in time" sums are done again.
        changed = super()._crm_voip_update_callback_deadlines(call_ids)
        if changed:
            self.env["crm.voip.call.report.daily"].sudo()._crm_voip_invalidate()
        return changed

    # ------------------------------------------------------------------
    # Hang-up: call-backs
    # ------------------------------------------------------------------

    def _crm_voip_on_hangup(self):
        result = super()._crm_voip_on_hangup()
        self._crm_voip_report_update_callbacks()
        return result

    def _crm_voip_report_update_callbacks(self):
        """Link missed calls to the call that called them back.

        An answered call (ours to the number, or the client's again) is the call-back of
        the missed calls of that number before it that had none, or a later one; a missed
        call that arrives late looks for its own call-back."""
        missed_ids = set()
        answered = self.env["crm.voip.call"]
        for call in self:
            if not call.partner_number_e164 or not call.date_start:
                continue
            if call.direction == "inbound" and call.state in UNANSWERED_STATES:
                missed_ids.add(call.id)
            elif call.direction in ("inbound", "outbound") and call.state in ANSWERED_STATES:
                answered |= call
        if answered:
            self.flush_model(
                ["company_id", "partner_number_e164", "date_start", "state", "direction"]
            )
            for call in answered:
                self.env.cr.execute(
                    SQL(
                        """
                        SELECT m.id
                          FROM crm_voip_call m
                          LEFT JOIN crm_voip_call_callback cb ON cb.call_id = m.id
                         WHERE m.company_id = %(company)s
                           AND m.partner_number_e164 = %(number)s
                           AND m.direction = 'inbound'
                           AND m.state IN %(unanswered)s
                           AND m.date_start < %(start)s
                           AND (cb.id IS NULL OR cb.callback_date > %(start)s
                                OR (cb.callback_date = %(start)s
                                    AND cb.callback_call_id > %(call)s))
                        """,
                        company=call.company_id.id,
                        number=call.partner_number_e164,
                        unanswered=UNANSWERED_STATES,
                        start=call.date_start,
                        call=call.id,
                    )
                )
                missed_ids.update(row[0] for row in self.env.cr.fetchall())
        changed = self.env["crm.voip.call.callback"].sudo()._crm_voip_recompute(missed_ids)
        if changed:
            calls = self.browse(changed)
            calls._crm_voip_report_mark_days(calls._crm_voip_report_summed_days())

    # ------------------------------------------------------------------
    # Daily statistics
    # ------------------------------------------------------------------

    def _crm_voip_report_summed_days(self):
        """The local days of these calls that the daily statistics have summed up."""
        limit = fields.Datetime.now() - SURELY_LIVE
        old = [call for call in self if call.date_start and call.date_start < limit]
        if not old:
            return set()
        until = self.env["crm.voip.call.report.daily"]._crm_voip_frozen_until()
        if not until:
            return set()
        days = set()
        for call in old:
            day = local_date(call.date_start, call.provider_id.sudo().timezone)
            if day < until:
                days.add(day)
        return days

    def _crm_voip_report_mark_days(self, days):
        if days:
            self.env["crm.voip.call.report.daily"]._crm_voip_mark_dirty(days)
