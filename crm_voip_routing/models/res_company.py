import bisect
from datetime import timedelta

import pytz

from odoo import fields, models

# Missed calls dated with one read of the calendar span at most this long; the working
# time after each is read this far (a later deadline is planned on its own).
DEADLINE_SPAN = timedelta(days=31)
DEADLINE_HORIZON = timedelta(days=14)


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_voip_missed_sla_minutes = fields.Integer(
        string="Call-back deadline (working minutes)",
        default=15,
        help="A missed call must be called back within this many minutes of the company's "
        "working time: a call missed at night is due the next working morning.",
    )
    crm_voip_escalation_user_id = fields.Many2one(
        "res.users",
        string="Escalate overdue call-backs to",
        help="Who hears about an overdue call-back when its owner has no team leader "
        "(or leads the team himself).",
    )
    crm_voip_escalation_sms = fields.Boolean(
        string="Text the client when a call-back is overdue",
        help="Needs the SMS module; off by default.",
    )
    crm_voip_escalation_sms_body = fields.Text(
        string="Overdue call-back text",
        translate=True,
        default=lambda self: self.env._(
            "Sorry we missed your call. We will call you back as soon as possible."
        ),
    )
    crm_voip_routing_budget_ms = fields.Integer(
        string="Routing time budget (ms)",
        default=500,
        help="If deciding who answers takes longer (or fails), the PBX is told to use its "
        "own default route and the call goes on normally.",
    )

    def _crm_voip_missed_deadline(self, moment):
        """``moment`` plus the call-back deadline, counted in working minutes of the
        company's calendar (naive UTC in, naive UTC out)."""
        return self._crm_voip_missed_deadlines([moment])[0]

    def _crm_voip_missed_deadlines(self, moments):
        """The call-back deadline of each of ``moments`` (naive UTC): the moment plus the
        company's call-back minutes, counted in working time of its calendar (its public
        holidays excluded), so that a call missed at night is due the next morning;
        without a calendar, in plain minutes.

        The one rule of "called back in time" with this module: the call-back tasks and
        the missed calls without a task (a history dated at install) use it. The working
        time of a month of moments is read once, not once per moment."""
        self.ensure_one()
        minutes = max(self.crm_voip_missed_sla_minutes, 0)
        calendar = self.resource_calendar_id.sudo()
        if not calendar:
            return [moment + timedelta(minutes=minutes) for moment in moments]
        deadlines = [None] * len(moments)
        order = sorted(range(len(moments)), key=moments.__getitem__)
        begin = 0
        while begin < len(order):
            first = moments[order[begin]]
            end = begin
            while end < len(order) and moments[order[end]] - first <= DEADLINE_SPAN:
                end += 1
            span, begin = order[begin:end], end
            intervals = calendar._work_intervals_batch(
                pytz.utc.localize(first), pytz.utc.localize(moments[span[-1]] + DEADLINE_HORIZON)
            )[False]
            starts, stops = [], []
            for start, stop, _meta in intervals:
                starts.append(start.astimezone(pytz.utc).replace(tzinfo=None))
                stops.append(stop.astimezone(pytz.utc).replace(tzinfo=None))
            for i in span:
                deadlines[i] = _plan_minutes(moments[i], minutes, starts, stops)
                if deadlines[i] is None:
                    # Past the working time read: a long closure; plan this one alone.
                    planned = calendar.plan_hours(minutes / 60.0, moments[i], compute_leaves=True)
                    deadlines[i] = planned or moments[i] + timedelta(minutes=minutes)
        return deadlines


def _plan_minutes(moment, minutes, starts, stops):
    """``moment`` plus ``minutes`` of the working intervals ``starts``/``stops`` (sorted,
    disjoint, naive UTC), counted as ``resource.calendar.plan_hours`` counts them; None
    when they end first."""
    hours = minutes / 60.0
    for index in range(bisect.bisect_right(stops, moment), len(stops)):
        start = max(starts[index], moment)
        interval_hours = (stops[index] - start).total_seconds() / 3600
        if hours <= interval_hours:
            return start + timedelta(hours=hours)
        hours -= interval_hours
    return None
