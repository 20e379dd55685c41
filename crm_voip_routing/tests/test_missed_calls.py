"""No call is lost: unanswered incoming calls, played over HTTP, become one call-back task
per number for a specific person; a call-back closes it; an overdue one is escalated."""

import datetime as dt

from odoo.tests import tagged

from .common import IVAN_CALLER, MONDAY_10, ROMASHKA_CALLER, CrmVoipRoutingHttpCommon, msk

CALL_TYPE = "mail.mail_activity_data_call"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestMissedCalls(CrmVoipRoutingHttpCommon):
    def _missed(self, moment, caller=IVAN_CALLER, provider="zadarma", **params):
        call, _deliveries = self.play_call(
            provider, "missed", caller=caller, call_start=moment, **params
        )
        self.assertEqual(call.state, "missed")
        return call

    def test_repeated_missed_calls_make_one_task(self):
        calls = [
            self._missed(msk(2024, 1, 15, 10, minute), extensions=["101"]) for minute in (0, 5, 12)
        ]
        missed = calls[0].crm_voip_missed_call_id
        self.assertTrue(missed)
        self.assertEqual(calls[1].crm_voip_missed_call_id, missed)
        self.assertEqual(calls[2].crm_voip_missed_call_id, missed)
        self.assertRecordValues(
            missed,
            [
                {
                    "number_e164": "+79167654321",
                    "partner_id": self.client_ivan.id,
                    "missed_count": 3,
                    "state": "open",
                    "user_id": self.salesman_anna.id,
                    "owner_reason": "partner",
                    "first_missed_at": dt.datetime(2024, 1, 15, 7, 0),
                    "last_missed_at": dt.datetime(2024, 1, 15, 7, 12),
                    # 15 working minutes after the first miss.
                    "deadline": dt.datetime(2024, 1, 15, 7, 15),
                }
            ],
        )
        activities = self.env["mail.activity"].search(
            [
                ("res_model", "=", "crm.lead"),
                ("res_id", "=", self.opportunity_romashka.id),
                ("activity_type_id", "=", self.env.ref(CALL_TYPE).id),
            ]
        )
        self.assertEqual(activities, missed.activity_id, "one activity, not three")
        self.assertEqual(activities.user_id, self.salesman_anna)
        self.assertEqual(activities.date_deadline, dt.date(2024, 1, 15))
        self.assertIn("3 missed calls", activities.summary)
        self.assertIn("3 missed call(s)", activities.note)
        self.assertEqual(self.client_ivan.crm_voip_missed_call_count, 1)

    def test_callback_closes_the_task(self):
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        activity = missed.activity_id
        # Boris calls back from his desk phone, by hand: any answered call-back counts.
        callback, _deliveries = self.play_call(
            "zadarma",
            "outgoing",
            extension="102",
            number=IVAN_CALLER,
            call_start=msk(2024, 1, 15, 10, 20),
        )
        self.assertEqual(callback.state, "done")
        self.assertRecordValues(
            missed,
            [
                {
                    "state": "done",
                    "done_reason": "callback",
                    "done_by_id": self.salesman_boris.id,
                    "done_call_id": callback.id,
                    "callback_minutes": 20.0,
                }
            ],
        )
        self.assertFalse(activity.exists(), "the activity is marked done")
        done_message = self.opportunity_romashka.message_ids.filtered(
            lambda m: "reached the client" in (m.body or "")
        )
        self.assertEqual(len(done_message), 1)
        self.assertEqual(done_message.author_id, self.salesman_boris.partner_id)
        # The next miss opens a new task.
        later = self._missed(msk(2024, 1, 15, 11, 0))
        self.assertNotEqual(later.crm_voip_missed_call_id, missed)

    def test_unanswered_callback_keeps_the_task(self):
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        self.play_call(
            "zadarma",
            "outgoing",
            extension="102",
            number=IVAN_CALLER,
            answered=False,
            call_start=msk(2024, 1, 15, 10, 20),
        )
        self.assertEqual(missed.state, "open")
        self.assertTrue(missed.activity_id)

    def test_answered_incoming_call_closes_the_task(self):
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        self.play_call(
            "zadarma",
            "answered",
            caller=IVAN_CALLER,
            answered_by="101",
            call_start=msk(2024, 1, 15, 10, 30),
        )
        self.assertRecordValues(
            missed,
            [{"state": "done", "done_reason": "answered", "done_by_id": self.salesman_anna.id}],
        )

    def test_call_answered_elsewhere_in_the_ring_group_is_not_missed(self):
        call, _deliveries = self.play_call(
            "zadarma",
            "ring_group_answered_elsewhere",
            caller=IVAN_CALLER,
            extensions=["101", "102"],
            answered_by="102",
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(call.state, "done")
        self.assertFalse(call.crm_voip_missed_call_id)
        self.assertFalse(
            self.env["crm.voip.missed.call"].search([("number_e164", "=", "+79167654321")])
        )

    def test_busy_and_abandoned_calls_are_missed_calls(self):
        busy, _deliveries = self.play_call(
            "zadarma", "busy", caller=IVAN_CALLER, call_start=msk(*MONDAY_10)
        )
        self.assertEqual(busy.state, "busy")
        # Hung up in the voice menu, before any of our extensions rang.
        abandoned = self._missed(msk(2024, 1, 15, 10, 3))
        self.assertEqual(busy.crm_voip_missed_call_id, abandoned.crm_voip_missed_call_id)
        self.assertEqual(busy.crm_voip_missed_call_id.missed_count, 2)

    def test_unknown_number_task_goes_to_the_team_leader_on_a_new_lead(self):
        call = self._missed(msk(*MONDAY_10), caller="79990001122")
        self.assertTrue(call.lead_created)
        missed = call.crm_voip_missed_call_id
        self.assertRecordValues(
            missed,
            [
                {
                    "user_id": self.sales_manager.id,
                    "owner_reason": "team_leader",
                    "lead_id": call.lead_id.id,
                    "res_model": "crm.lead",
                    "res_id": call.lead_id.id,
                }
            ],
        )

    def test_rule_missed_call_user(self):
        self.route_unknown.missed_user_id = self.salesman_other
        missed = self._missed(msk(*MONDAY_10), caller="79990001133").crm_voip_missed_call_id
        self.assertEqual(missed.user_id, self.salesman_other)
        self.assertEqual(missed.owner_reason, "rule")

    def test_only_log_policy_puts_the_task_on_the_call(self):
        self.zadarma.unknown_caller_policy = "nothing"
        call = self._missed(msk(*MONDAY_10), caller="79990001144")
        self.assertFalse(call.lead_id or call.partner_id)
        missed = call.crm_voip_missed_call_id
        self.assertEqual((missed.res_model, missed.res_id), ("crm.voip.call", call.id))
        self.assertEqual(call.activity_ids, missed.activity_id)

    def test_activity_marked_done_by_hand_closes_the_task(self):
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        missed.activity_id.with_user(self.salesman_anna).action_feedback(feedback="Called")
        self.assertRecordValues(
            missed,
            [{"state": "done", "done_reason": "manual", "done_by_id": self.salesman_anna.id}],
        )

    def test_handing_the_task_over_moves_its_activity(self):
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        missed.with_user(self.sales_manager).user_id = self.salesman_boris
        self.assertEqual(missed.activity_id.user_id, self.salesman_boris)

    def test_activity_cancelled_cancels_the_task(self):
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        missed.activity_id.with_user(self.salesman_anna).unlink()
        self.assertEqual(missed.state, "cancel")

    def test_overdue_task_is_escalated_to_the_team_leader_once(self):
        self.company.crm_voip_escalation_sms = True  # no SMS app here: nothing is sent
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        MissedCall = self.env["crm.voip.missed.call"]
        self.assertFalse(MissedCall._cron_crm_voip_escalate(now=dt.datetime(2024, 1, 15, 7, 14)))
        escalated = MissedCall._cron_crm_voip_escalate(now=dt.datetime(2024, 1, 15, 7, 16))
        self.assertEqual(escalated, missed)
        self.assertRecordValues(
            missed,
            [
                {
                    "escalated": True,
                    "escalated_to_id": self.sales_manager.id,
                    "sms_sent": "sms.sms" in self.env,
                    "state": "open",
                }
            ],
        )
        escalation = missed.escalation_activity_id
        self.assertRecordValues(
            escalation,
            [
                {
                    "user_id": self.sales_manager.id,
                    "res_model": "crm.lead",
                    "res_id": self.opportunity_romashka.id,
                    "date_deadline": dt.date(2024, 1, 15),
                }
            ],
        )
        self.assertIn("Overdue", escalation.summary)
        self.assertFalse(MissedCall._cron_crm_voip_escalate(now=dt.datetime(2024, 1, 15, 9, 0)))
        # The call-back closes both the task and its escalation.
        self.play_call(
            "zadarma",
            "outgoing",
            extension="101",
            number=IVAN_CALLER,
            call_start=msk(2024, 1, 15, 10, 40),
        )
        self.assertEqual(missed.state, "done")
        self.assertFalse(escalation.exists())

    def test_team_leader_missing_escalates_to_the_company_user(self):
        self.team.user_id = False
        self.company.crm_voip_escalation_user_id = self.salesman_other
        missed = self._missed(msk(*MONDAY_10)).crm_voip_missed_call_id
        self.env["crm.voip.missed.call"]._cron_crm_voip_escalate(now=dt.datetime(2024, 1, 15, 8, 0))
        self.assertEqual(missed.escalated_to_id, self.salesman_other)
        self.assertEqual(missed.escalation_activity_id.user_id, self.salesman_other)

    def test_generic_missed_event_makes_a_task(self):
        call, _deliveries = self.play_call(
            "generic",
            "missed",
            caller=ROMASHKA_CALLER,
            use_missed_event=True,
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(call.state, "missed")
        self.assertEqual(call.crm_voip_missed_call_id.user_id, self.salesman_anna)
