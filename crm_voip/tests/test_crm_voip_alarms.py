"""Silence and refusal alarms, through the real webhook endpoint and the real cron."""

import datetime as dt
import json
from datetime import timedelta

from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from ..tools.crash_points import expect_crash
from . import test_crm_voip_webhook_input as hostile
from .common import user_of_company

REFUSALS = "crm.voip.refusal"
ALARM_LOGGER = "odoo.addons.crm_voip.models.crm_voip_provider_alarm"


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_alarms")
class TestCrmVoipAlarms(hostile.TestWebhookHostileInput):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.generic.sudo().write({"refusal_alarm_count": 5, "refusal_alarm_share": 50})
        # Office hours of the company, in UTC for readable tests: Monday-Friday 9-18.
        cls.company.resource_calendar_id = cls.env["resource.calendar"].create(
            {
                "name": "VoIP office hours",
                "tz": "UTC",
                "company_id": cls.company.id,
                "attendance_ids": [Command.clear()]
                + [
                    Command.create(
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 9,
                            "hour_to": 18,
                            "day_period": "morning",
                        }
                    )
                    for day in range(5)
                ],
            }
        )

    def setUp(self):
        super().setUp()
        # A raised alarm is logged as a warning: expected here.
        self.enterContext(mute_logger(ALARM_LOGGER))

    # -- helpers ---------------------------------------------------------------------------

    def alarm_activities(self, provider):
        activity_type = self.env.ref("crm_voip.mail_activity_type_crm_voip_alarm")
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "crm.voip.provider"),
                ("res_id", "=", provider.id),
                ("activity_type_id", "=", activity_type.id),
            ]
        )

    def refusals(self, provider=None):
        domain = [("provider_id", "=", provider.id)] if provider else []
        return self.env[REFUSALS].sudo().search(domain)

    def check_alarms(self, now=None):
        self.env.flush_all()
        result = self.env["crm.voip.provider"]._cron_crm_voip_check_alarms(now=now)
        self.env.flush_all()
        self.env.invalidate_all()
        return result

    def age(self, provider, minutes):
        """Everything of the account happened ``minutes`` earlier: its refusals, its
        alarm, its last contact (time passes)."""
        self.env.flush_all()
        shift = timedelta(minutes=minutes)
        self.env.cr.execute(
            SQL(
                "UPDATE crm_voip_refusal SET minute = minute - %s, last_date = last_date - %s"
                " WHERE provider_id = %s",
                shift,
                shift,
                provider.id,
            )
        )
        self.env.cr.execute(
            SQL(
                "UPDATE crm_voip_provider SET alarm_date = alarm_date - %s,"
                " last_contact_date = last_contact_date - %s WHERE id = %s",
                shift,
                shift,
                provider.id,
            )
        )
        self.env.invalidate_all()

    # -- refusals ----------------------------------------------------------------------------

    def test_unknown_tokens_write_nothing(self):
        before = len(self.refusals())
        for index in range(20):
            response = self.post(f"{self.base_url()}/crm_voip/webhook/no-such-token-{index}", b"{}")
            self.assertEqual(response.status_code, 404)
        self.assertEqual(len(self.refusals()), before, "a flood of unknown URLs writes nothing")

    def test_refusals_raise_then_events_clear_the_alarm(self):
        generic = self.generic.sudo()
        managers = generic._crm_voip_alarm_managers()
        self.assertIn(self.sales_manager, managers)
        self.assertNotIn(self.salesman_anna, managers)
        # Bad signatures and a malformed (signed) body, through the real endpoint.
        good = self.generic_post()
        self.assertEqual(good.status_code, 200, good.text)
        for _index in range(6):
            response = self.post(
                self._webhook_url(self.generic),
                json.dumps({"id": "forged"}).encode(),
                {"X-Crm-Voip-Timestamp": "1", "X-Crm-Voip-Signature": "v1=00"},
            )
            self.assertRefused(response, 403, "bad signature")
        self.assertRefused(self.generic_post(body="{not json"), 400, "malformed")
        self.assertRefused(self.generic_post(body="[1, 2]"), 400, "malformed")
        rows = self.refusals(generic)
        self.assertEqual(sum(rows.mapped("count")), 8)
        self.assertEqual(set(rows.mapped("status")), {400, 403})
        self.assertLessEqual(len(rows), 4, "one row per minute and status, not per request")
        self.assertTrue(all(row.reason and row.remote_addr for row in rows))

        raised, _cleared = self.check_alarms()
        self.assertGreaterEqual(raised, 1)
        self.assertEqual(generic.alarm_state, "red")
        self.assertEqual(generic.health, "alarm")
        self.assertIn("8 webhook requests refused", generic.alarm_reason)
        self.assertEqual(set(generic.refusal_ids.ids), set(rows.ids))
        activities = self.alarm_activities(generic)
        self.assertEqual(activities.user_id, managers)
        self.assertEqual(len(activities), len(managers), "one activity per telephony manager")
        # Not repeated while the alarm stands.
        self.check_alarms()
        self.assertEqual(self.alarm_activities(generic), activities)

        # The window passes without a verified request: still red (nothing flows).
        self.age(generic, 20)
        self.check_alarms()
        self.assertEqual(generic.alarm_state, "red")
        # Events flow again: green on its own, the activities done, a line in the chatter.
        self.assertEqual(self.generic_post().status_code, 200)
        self.assertGreater(generic.last_contact_date, generic.alarm_date)
        _raised, cleared = self.check_alarms()
        self.assertGreaterEqual(cleared, 1)
        self.assertEqual(generic.alarm_state, "green")
        self.assertEqual(generic.health, "ok")
        self.assertFalse(self.alarm_activities(generic))
        self.assertIn(
            "the alarm is over", " ".join(generic.message_ids.mapped("body")), "chatter line"
        )

    def test_few_refusals_among_many_events_raise_nothing(self):
        generic = self.generic.sudo()
        generic.refusal_alarm_share = 60
        for _index in range(5):
            self.assertEqual(self.generic_post().status_code, 200)
        for _index in range(5):
            self.assertRefused(self.generic_post(body="{not json"), 400, "malformed")
        self.check_alarms()
        self.assertEqual(generic.alarm_state, "green", "5 of 10 requests: under 60%")

    # -- silence -----------------------------------------------------------------------------

    def test_silence_counts_in_working_hours_only(self):
        zadarma = self.zadarma.sudo()
        zadarma.silence_threshold_minutes = 60
        monday_8 = dt.datetime(2024, 1, 15, 8, 0)
        self.env.cr.execute(
            "UPDATE crm_voip_provider SET last_contact_date = %s WHERE id = %s",
            (monday_8, zadarma.id),
        )
        self.env.invalidate_all()
        # 90 minutes later, 30 of them working: quiet.
        self.check_alarms(now=dt.datetime(2024, 1, 15, 9, 30))
        self.assertEqual(zadarma.alarm_state, "green")
        # Friday evening to Monday morning: 63 hours, 30 working minutes.
        self.env.cr.execute(
            "UPDATE crm_voip_provider SET last_contact_date = %s WHERE id = %s",
            (dt.datetime(2024, 1, 12, 17, 30), zadarma.id),
        )
        self.env.invalidate_all()
        self.check_alarms(now=dt.datetime(2024, 1, 15, 9, 0))
        self.assertEqual(zadarma.alarm_state, "green")
        # 61 working minutes: the alarm.
        self.check_alarms(now=dt.datetime(2024, 1, 15, 9, 31))
        self.assertEqual(zadarma.alarm_state, "red")
        self.assertIn("61 minutes of working time", zadarma.alarm_reason)
        self.assertEqual(
            len(self.alarm_activities(zadarma)), len(zadarma._crm_voip_alarm_managers())
        )
        # A verified request without any event (a voice-menu step) is a contact.
        response = self.zadarma_post(event="NOTIFY_IVR")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            self.env["crm.voip.event"].search_count([("provider_id", "=", zadarma.id)]), 0
        )
        self.assertGreater(zadarma.last_contact_date, dt.datetime(2024, 1, 15, 9, 31))
        self.check_alarms(now=dt.datetime(2024, 1, 15, 9, 36))
        self.assertEqual(zadarma.alarm_state, "green")
        self.assertFalse(self.alarm_activities(zadarma))

    def test_worker_killed_in_the_middle_raises_each_alarm_once(self):
        """The cron stopped in the middle of its accounts, after the first one's commit:
        the next run raises the rest, and the first one's activities are not repeated."""
        accounts = (self.zadarma | self.generic).sudo()
        self.env.cr.execute(
            "UPDATE crm_voip_provider SET last_contact_date = %s WHERE id IN %s",
            (dt.datetime(2024, 1, 12, 17, 30), tuple(accounts.ids)),
        )
        self.env.invalidate_all()
        monday = dt.datetime(2024, 1, 15, 12, 0)
        order = self.env["crm.voip.provider"].sudo().search([])
        first, second = order.filtered(lambda a: a in accounts)[:2]
        # Stopped inside the second silent account, after the commit of those before it.
        crash = {"job": "alarms", "at": order.ids.index(second.id) + 1}
        expect_crash(
            self,
            lambda: (
                self.env["crm.voip.provider"]
                .with_context(crm_voip_crash=crash)
                ._cron_crm_voip_check_alarms(now=monday)
            ),
        )
        self.env.invalidate_all()
        managers = first._crm_voip_alarm_managers()
        self.assertEqual((first.alarm_state, second.alarm_state), ("red", "green"))
        self.assertEqual(len(self.alarm_activities(first)), len(managers))
        self.assertFalse(self.alarm_activities(second), "the second account's work rolled back")
        self.check_alarms(now=monday)
        self.assertEqual((first.alarm_state, second.alarm_state), ("red", "red"))
        self.assertEqual(len(self.alarm_activities(first)), len(managers), "not twice")
        self.assertEqual(len(self.alarm_activities(second)), len(managers))

    def test_contact_written_at_most_once_a_minute(self):
        zadarma = self.zadarma.sudo()
        self.assertEqual(self.zadarma_post(event="NOTIFY_IVR").status_code, 200)
        first = zadarma.last_contact_date
        self.assertTrue(first)
        earlier = first - timedelta(seconds=30)
        self.env.cr.execute(
            "UPDATE crm_voip_provider SET last_contact_date = %s WHERE id = %s",
            (earlier, zadarma.id),
        )
        self.env.invalidate_all()
        self.assertEqual(self.zadarma_post(event="NOTIFY_IVR").status_code, 200)
        self.assertEqual(zadarma.last_contact_date, earlier, "under a minute old: not written")

    # -- access ------------------------------------------------------------------------------

    def test_alarm_fields_are_the_managers(self):
        self.assertRefused(self.generic_post(body="{not json"), 400, "malformed")
        anna_view = self.generic.with_user(self.salesman_anna)
        for field in ("alarm_reason", "alarm_state", "last_contact_date", "refusal_ids"):
            with self.subTest(field=field), self.assertRaises(AccessError):
                anna_view.read([field])
        with self.assertRaises(AccessError):
            self.env[REFUSALS].with_user(self.salesman_anna).search([])
        manager_view = self.generic.with_user(self.sales_manager)
        self.assertEqual(manager_view.read(["alarm_state"])[0]["alarm_state"], "green")
        self.assertEqual(len(self.env[REFUSALS].with_user(self.sales_manager).search([])), 1)
        self.assertIn(manager_view.health, ("never", "ok"))
        # Another company's manager sees none of this company's refusals.
        company_2 = self.env["res.company"].sudo().create({"name": "Alarm Co 2"})
        stranger = user_of_company(
            self.env, company_2, "voip_alarm_manager_co2", "sales_team.group_sale_manager"
        )
        refusals_of_stranger = self.env[REFUSALS].with_user(stranger)
        self.assertFalse(
            refusals_of_stranger.with_context(allowed_company_ids=company_2.ids).search([])
        )
