"""Crash safety of the escalation: the real cron method stopped in the middle of its
batch, after the first task's commit, then run again."""

import datetime as dt

from odoo.tests import tagged

from odoo.addons.crm_voip.tools.crash_points import expect_crash

from . import test_missed_calls
from .common import IVAN_CALLER, ROMASHKA_CALLER, msk


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_crash_safety")
class TestEscalationCrash(test_missed_calls.TestMissedCalls):
    def escalation_activities(self):
        return self.env["mail.activity"].search([("summary", "like", "Overdue call-back")])

    def test_worker_killed_in_the_middle_escalates_each_task_once(self):
        self.company.crm_voip_escalation_sms = True  # no SMS app here: nothing is sent
        first = self._missed(msk(2024, 1, 15, 10, 0), caller=IVAN_CALLER).crm_voip_missed_call_id
        second = self._missed(
            msk(2024, 1, 15, 10, 1), caller=ROMASHKA_CALLER
        ).crm_voip_missed_call_id
        self.assertTrue(first and second and first != second)
        MissedCall = self.env["crm.voip.missed.call"]
        now = dt.datetime(2024, 1, 15, 8, 0)
        crash = {"job": "escalate", "at": 2}
        expect_crash(
            self,
            lambda: MissedCall.with_context(crm_voip_crash=crash)._cron_crm_voip_escalate(now=now),
        )
        self.env.invalidate_all()
        # The first task was escalated and committed; the second one's escalation, under
        # way when the worker died, rolled back whole (its activity, its text).
        self.assertTrue(first.escalated)
        self.assertFalse(second.escalated)
        self.assertFalse(second.escalation_activity_id)
        self.assertEqual(self.escalation_activities(), first.escalation_activity_id)
        # The next run takes the rest, and only the rest.
        self.assertEqual(MissedCall._cron_crm_voip_escalate(now=now), second)
        self.assertTrue(second.escalated)
        self.assertEqual(
            self.escalation_activities(),
            first.escalation_activity_id | second.escalation_activity_id,
            "one escalation per task",
        )
        self.assertFalse(MissedCall._cron_crm_voip_escalate(now=now + dt.timedelta(hours=1)))
