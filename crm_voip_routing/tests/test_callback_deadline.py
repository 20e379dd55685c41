"""One definition of "called back in time": the call-back task's deadline, in working
time, for the task and for the call analysis (``crm_voip_reports``, when installed: it is
not a dependency, its report is read by model name).

Calls are played over HTTP (Zadarma) in the week of Monday 15 January 2024; the company
works Monday to Friday 09:00-18:00, Moscow time, and gives 15 working minutes.
"""

import datetime as dt

from odoo.tests import tagged

from ..hooks import post_init_hook, uninstall_hook
from .common import CrmVoipRoutingHttpCommon, msk, utc_naive

# (label, missed at [(day of January 2024, time)], called back at, by whom, in time?)
CASES = [
    ("night, called back at nine", [(15, "23:00")], (16, "09:00"), "us", True),
    ("night, called back after lunch", [(15, "23:00")], (16, "14:00"), "us", False),
    ("Friday evening, Monday 09:04", [(19, "17:50")], (22, "09:04"), "us", True),
    ("working hours, twenty minutes", [(15, "10:00")], (15, "10:20"), "us", False),
    ("Saturday, the client again on Monday", [(13, "12:00")], (15, "09:10"), "client", True),
    ("17:55, Tuesday 09:10", [(15, "17:55")], (16, "09:10"), "us", True),
    # The second miss belongs to the first one's task: its deadline is the task's.
    ("two misses, one task", [(15, "10:00"), (15, "10:10")], (15, "10:20"), "us", False),
]


def jan(day, time):
    hour, minute = (int(part) for part in time.split(":"))
    return (2024, 1, day, hour, minute)


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestCallbackDeadline(CrmVoipRoutingHttpCommon):
    def setUp(self):
        super().setUp()
        if "crm.voip.call.report" not in self.env:
            self.skipTest("the call analysis (crm_voip_reports) is not installed")
        self.Report = self.env["crm.voip.call.report"]

    def _number(self, index):
        return f"7999000{index:04d}"

    def _miss(self, moment, number):
        call, _deliveries = self.play_call(
            "zadarma", "missed", caller=number, call_start=msk(*moment)
        )
        self.assertEqual(call.state, "missed")
        return call

    def _call_back(self, moment, number, how="us"):
        if how == "us":
            call, _deliveries = self.play_call(
                "zadarma", "outgoing", extension="102", number=number, call_start=msk(*moment)
            )
        else:
            call, _deliveries = self.play_call(
                "zadarma", "answered", caller=number, answered_by="101", call_start=msk(*moment)
            )
        self.assertEqual(call.state, "done")
        return call

    def report_in_time(self, call):
        """The call analysis's verdict on one missed call, from its per-call rows."""
        [row] = self.Report.with_context(crm_voip_report_per_call=True).search_read(
            [("call_id", "=", call.id)], ["callback_sla_rate", "callback_call_id"]
        )
        self.assertTrue(row["callback_call_id"], "the report found the call-back")
        return row["callback_sla_rate"] == 100.0

    def test_night_miss_called_back_at_nine_is_in_time_for_both(self):
        """Missed Monday 23:00, due Tuesday 09:15 in working time: a call-back at 09:00 is
        in time for the task and the report; one at 14:00 is late for both (ten hours
        after the miss, the wall clock would call both late)."""
        for index, (callback_at, in_time) in enumerate(
            [((2024, 1, 16, 9, 0), True), ((2024, 1, 16, 14, 0), False)]
        ):
            with self.subTest(callback_at=callback_at):
                number = self._number(index)
                missed = self._miss((2024, 1, 15, 23, 0), number)
                task = missed.crm_voip_missed_call_id
                self.assertEqual(task.deadline, utc_naive(msk(2024, 1, 16, 9, 15)))
                self.assertEqual(missed.callback_deadline, task.deadline)
                self._call_back(callback_at, number)
                self.assertEqual(task.state, "done")
                self.assertEqual(task.callback_in_time, in_time)
                self.assertEqual(self.report_in_time(missed), in_time)

    def test_task_and_report_give_the_same_verdict(self):
        """Over every case, the task's verdict, the report's per call and the daily sums
        agree, and are the expected ones."""
        missed_calls = []
        for index, (label, misses, callback_at, how, expected) in enumerate(CASES):
            number = self._number(10 + index)
            calls = [self._miss(jan(*moment), number) for moment in misses]
            self._call_back(jan(*callback_at), number, how)
            for call in calls:
                task = call.crm_voip_missed_call_id
                with self.subTest(case=label, call=call.date_start):
                    self.assertEqual(task.state, "done")
                    self.assertEqual(call.callback_deadline, task.deadline)
                    self.assertEqual(task.callback_in_time, expected, "the task's verdict")
                    self.assertEqual(self.report_in_time(call), expected, "the report's")
                missed_calls.append((call, expected))
        # On the wall clock the night miss called back at nine would be late, and the
        # second of "two misses" (10 minutes) in time: the cases tell the rules apart.
        in_time = sum(expected for _call, expected in missed_calls)
        Daily = self.env["crm.voip.call.report.daily"]
        Daily._cron_crm_voip_report_freeze(today=dt.date.today())
        domain = [("company_id", "=", self.company.id)]
        self.assertIsNotNone(self.Report._crm_voip_daily_for(domain, [], ["missed_count:sum"], ()))
        [(missed_count, rate)] = self.Report._read_group(
            domain, [], ["missed_count:sum", "callback_sla_rate:avg"]
        )
        self.assertEqual(missed_count, len(missed_calls))
        self.assertAlmostEqual(rate, 100.0 * in_time / len(missed_calls))

    def test_past_calls_get_the_deadline_a_task_would_have(self):
        """Installing the module dates the missed calls it did not see (no task) by its
        rule; uninstalling it gives them back to the report's own minutes."""
        number = self._number(30)
        missed = self._miss((2024, 1, 15, 23, 0), number)
        self._call_back((2024, 1, 16, 9, 0), number)
        # As if logged before the module was installed: no task, no deadline.
        missed.sudo().write({"crm_voip_missed_call_id": False, "callback_deadline": False})
        post_init_hook(self.env)
        self.assertEqual(missed.callback_deadline, utc_naive(msk(2024, 1, 16, 9, 15)))
        self.assertTrue(self.report_in_time(missed))
        uninstall_hook(self.env)
        self.assertFalse(missed.callback_deadline)
        # The report's own rule: 15 minutes on the wall clock.
        self.assertFalse(self.report_in_time(missed))

    def test_one_reading_of_the_calendar_for_many_moments(self):
        """The batch rule gives what the calendar's own planning gives, moment by moment,
        over weeks, nights, weekends and a public holiday."""
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Holiday",
                "calendar_id": self.calendar.id,
                "date_from": utc_naive(msk(2024, 1, 17, 0, 0)),
                "date_to": utc_naive(msk(2024, 1, 17, 23, 59)),
            }
        )
        start = utc_naive(msk(2024, 1, 12, 0, 0))
        moments = [start + dt.timedelta(minutes=97 * step) for step in range(1000)]
        deadlines = self.company._crm_voip_missed_deadlines(moments)
        calendar = self.company.resource_calendar_id
        for moment, deadline in zip(moments[::37], deadlines[::37], strict=True):
            self.assertEqual(deadline, calendar.plan_hours(0.25, moment, compute_leaves=True))
        # Tuesday 17:50 + 15 working minutes, Wednesday off: Thursday 09:05.
        [deadline] = self.company._crm_voip_missed_deadlines([utc_naive(msk(2024, 1, 16, 17, 50))])
        self.assertEqual(deadline, utc_naive(msk(2024, 1, 18, 9, 5)))
