import base64
from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.crm_voip_dialer.models.crm_voip_dialer_campaign import CrmVoipDialerCampaign

from .common import DialerCommon


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestDialerCompliance(DialerCommon):
    def setUp(self):
        super().setUp()
        self.requests = []

        def fake_originate(model, adapter, claims):
            self.requests.extend(claims)
            return {}

        patcher = patch.object(CrmVoipDialerCampaign, "_dialer_originate", fake_originate)
        patcher.start()
        self.addCleanup(patcher.stop)

    def _dialled_numbers(self):
        lines = self.env["crm.voip.dialer.line"].browse(c["line_id"] for c in self.requests)
        return lines.mapped("phone_e164")

    def test_blacklist_exclusion_duplicates_invalid(self):
        partners = self._partners(6)
        partners[5].phone = partners[0].phone  # a duplicate number
        partners[4].phone = "12"  # not a number
        self.env["phone.blacklist"].sudo()._add([partners[1].phone])
        campaign = self._campaign(partners, exclusion_numbers=partners[2].phone)
        reasons = {line.partner_id: line.exclusion_reason for line in campaign.line_ids}
        self.assertEqual(reasons[partners[1]], "blacklist")
        self.assertEqual(reasons[partners[2]], "exclusion")
        self.assertEqual(reasons[partners[4]], "invalid")
        self.assertEqual(reasons[partners[5]], "duplicate")
        # Blacklisted after the lines were made: still never dialled.
        self.env["phone.blacklist"].sudo()._add([partners[3].phone])
        campaign.action_start()
        self._ready(campaign)
        for _round in range(4):
            campaign._cron_dialer_tick()
            for line in campaign.line_ids.filtered(lambda line: line.state == "dialing"):
                self._hang_up(line.call_id, "missed")
        self.assertEqual(self._dialled_numbers(), [partners[0].phone_sanitized] * 2)
        self.assertEqual(
            campaign.line_ids.filtered("partner_id").mapped("state").count("excluded"), 5
        )
        campaign._cron_dialer_tick()
        self.assertEqual(campaign.state, "done")

    def test_calling_window_in_contact_timezone(self):
        moscow = self._partners(1, tz="Europe/Moscow")
        vladivostok = self._partners(2, start=10, tz="Asia/Vladivostok")
        campaign = self._campaign(moscow | vladivostok, window_start=9.0, window_end=20.0)
        campaign.action_start()
        self._ready(campaign)
        # 07:00 UTC: 10:00 in Moscow, 17:00 in Vladivostok; 11:00 UTC: 14:00 and 21:00.
        with freeze_time(datetime(2030, 3, 5, 7, 0)):  # UTC, a Tuesday
            campaign._cron_dialer_tick()
        dialled = set(self._dialled_numbers())
        self.assertEqual(dialled, set((moscow | vladivostok).mapped("phone_sanitized")))
        for line in campaign.line_ids.filtered(lambda line: line.state == "dialing"):
            self._hang_up(line.call_id, "busy")
        self.requests.clear()
        with freeze_time(datetime(2030, 3, 5, 11, 0)):
            campaign._cron_dialer_tick()
        self.assertEqual(set(self._dialled_numbers()), set(moscow.mapped("phone_sanitized")))
        # Saturday: no calls at all without weekends.
        campaign.call_weekends = False
        for line in campaign.line_ids.filtered(lambda line: line.state == "dialing"):
            self._hang_up(line.call_id, "busy")
        self.requests.clear()
        with freeze_time(datetime(2030, 3, 9, 11, 0)):
            campaign._cron_dialer_tick()
        self.assertFalse(self.requests)

    def test_contact_timezone_detection(self):
        campaign = self._campaign(self.env["res.partner"], default_tz="Europe/Berlin")
        partner = self.env["res.partner"].create({"name": "No tz", "phone": "+74951234567"})
        self.assertEqual(campaign._dialer_contact_tz(partner, "+74951234567"), "Europe/Moscow")
        partner.tz = "Asia/Tokyo"
        self.assertEqual(campaign._dialer_contact_tz(partner, "+74951234567"), "Asia/Tokyo")
        campaign.tz = "Europe/Samara"
        self.assertEqual(campaign._dialer_contact_tz(partner, "+74951234567"), "Europe/Samara")

    def test_contact_timezone_from_the_address_state(self):
        """A country of several zones: the state of the contact's (or lead's) address
        decides, before a mobile number that says nothing of where its owner lives."""
        campaign = self._campaign(self.env["res.partner"], default_tz="Europe/Moscow")
        novosibirsk = self.env.ref("base.state_ru_nvs")
        partner = self.env["res.partner"].create(
            {"name": "Novosibirsk client", "mobile": "+79131234567", "state_id": novosibirsk.id}
        )
        lead = self.env["crm.lead"].create(
            {
                "name": "Californian lead",
                "phone": "+1 212 555 0100",  # a New York number
                "country_id": self.env.ref("base.us").id,
                "state_id": self.env.ref("base.state_us_5").id,  # California
                "company_id": self.company.id,
            }
        )
        lines = campaign._dialer_add_targets(partner)
        campaign.target_model = "crm.lead"
        lines |= campaign._dialer_add_targets(lead)
        self.assertEqual(lines.mapped("tz"), ["Asia/Novosibirsk", "America/Los_Angeles"])

    def test_retries_follow_delays(self):
        partners = self._partners(3)
        campaign = self._campaign(
            partners, retry_no_answer=60, retry_busy=10, retry_failed=30, max_attempts=3
        )
        campaign.action_start()
        self._ready(campaign)
        start = datetime(2030, 3, 5, 9, 0)
        with freeze_time(start):
            campaign._cron_dialer_tick()
            lines = campaign.line_ids.sorted("id")
            self.assertEqual(lines.mapped("state"), ["dialing"] * 3)
            self._hang_up(lines[0].call_id, "missed")
            self._hang_up(lines[1].call_id, "busy")
            self._hang_up(lines[2].call_id, "failed")
        self.assertEqual(
            lines.mapped("next_call_at"),
            [datetime(2030, 3, 5, 10, 0), datetime(2030, 3, 5, 9, 10), datetime(2030, 3, 5, 9, 30)],
        )
        self.requests.clear()
        with freeze_time(datetime(2030, 3, 5, 9, 9)):
            campaign._cron_dialer_tick()
        self.assertFalse(self.requests, "nothing is due yet")
        with freeze_time(datetime(2030, 3, 5, 9, 10)):
            campaign._cron_dialer_tick()
        self.assertEqual(self._dialled_numbers(), [lines[1].phone_e164])
        with freeze_time(datetime(2030, 3, 5, 9, 11)):
            self._hang_up(lines[1].call_id, "busy")
            self.assertEqual(lines[1].attempt_count, 2)
        with freeze_time(datetime(2030, 3, 5, 9, 21)):
            campaign._cron_dialer_tick()
            self._hang_up(lines[1].call_id, "busy")
        self.assertEqual(lines[1].state, "exhausted", "three attempts, no more")
        self.assertEqual(lines[1].attempt_ids.mapped("outcome"), ["busy"] * 3)
        with freeze_time(datetime(2030, 3, 5, 10, 0)):
            campaign._cron_dialer_tick()
            self._hang_up(lines[0].call_id, "done", talk=42)
        self.assertEqual(lines[0].state, "wrapup")
        lines[0].with_user(lines[0].user_id).action_dialer_dispose(self.disposition_lost.id)
        self.assertEqual(lines[0].state, "done")

    def test_dispositions_act_on_the_lead(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Survey lead",
                "phone": "+74953001111",
                "company_id": self.company.id,
                "type": "opportunity",
            }
        )
        campaign = self._campaign(lead, target_model="crm.lead")
        campaign.action_start()
        self._ready(campaign, self.salesman_anna)
        campaign._cron_dialer_tick()
        line = campaign.line_ids
        self._hang_up(line.call_id, "done", talk=30)
        line.with_user(self.salesman_anna).action_dialer_dispose(
            self.disposition_interested.id, "Wants a demo"
        )
        self.assertEqual(lead.stage_id, self.disposition_interested.stage_id)
        self.assertTrue(lead.activity_ids)
        self.assertEqual(line.disposition_id, self.disposition_interested)
        do_not_call = self.env.ref("crm_voip_dialer.disposition_do_not_call")
        lead2 = lead.copy({"phone": "+74953002222"})
        campaign._dialer_add_targets(lead2)
        campaign._cron_dialer_tick()
        line2 = campaign.line_ids - line
        self._hang_up(line2.call_id, "done", talk=30)
        line2.with_user(self.salesman_anna).action_dialer_dispose(do_not_call.id)
        self.assertTrue(
            self.env["phone.blacklist"].sudo().search([("number", "=", "+74953002222")])
        )

    def test_power_mode_respects_abandon_cap(self):
        partners = self._partners(120)
        campaign = self._campaign(
            partners,
            mode="power",
            power_ratio=3.0,
            abandon_cap=5.0,
            power_extension="100",
            max_attempts=1,
        )
        campaign.action_start()
        users = self.salesman_anna | self.salesman_boris
        self._ready(campaign, users)
        Line = self.env["crm.voip.dialer.line"]
        ahead_ticks = 0
        for _round in range(80):
            answered, abandoned, _finished, _in_flight = campaign._dialer_power_stats()
            free = len(campaign._dialer_free_agents(lock=False))
            before = len(self.requests)
            campaign._cron_dialer_tick()
            placed = len(self.requests) - before
            if answered and abandoned / answered >= 0.05:
                self.assertLessEqual(placed, free, "at the cap: no call beyond the free agents")
            ahead_ticks += placed > free
            # Every other call is answered; the agents finish their calls each round.
            for index, line in enumerate(
                campaign.line_ids.filtered(lambda x: x.state == "dialing")
            ):
                self._hang_up(line.call_id, "done" if index % 2 == 0 else "missed", talk=20)
            for line in Line.search([("campaign_id", "=", campaign.id), ("state", "=", "wrapup")]):
                line.with_user(line.user_id).action_dialer_dispose(self.disposition_lost.id)
            if campaign.state == "done":
                break
        answered, abandoned, finished, _in_flight = campaign._dialer_power_stats()
        self.assertGreater(ahead_ticks, 0, "power mode dials ahead when it may")
        self.assertEqual(finished, 120)
        self.assertLessEqual(abandoned / answered, 0.05 + 1.0 / answered)

    def test_stale_lines_are_recovered(self):
        """A lost hang-up, a PBX that never reported, an agent gone from his preview card:
        the scheduler frees the line (and with it the agent and the number)."""
        partners = self._partners(3)
        campaign = self._campaign(partners, retry_failed=30)
        campaign.action_start()
        self._ready(campaign)
        campaign._cron_dialer_tick()
        ended, silent, previewed = campaign.line_ids.sorted("id")
        self.assertEqual(set(campaign.line_ids.mapped("state")), {"dialing"})
        dialled_at = silent.call_id.date_start
        # The hang-up was applied to the call, but its line never heard of it.
        ended.call_id.sudo().write({"state": "busy", "date_end": dialled_at})
        previewed.call_id.sudo().write({"state": "failed"})
        previewed.write({"state": "preview", "call_id": False})
        agent = campaign.agent_ids.filtered(lambda a: a.user_id == previewed.user_id)
        agent.state = "offline"
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_voip_dialer_line SET write_date = %s WHERE id = %s",
            (dialled_at, previewed.id),
        )
        self.env.invalidate_all()
        campaign._dialer_recover_stale_lines(now=dialled_at + timedelta(minutes=5))
        self.assertEqual(ended.state, "pending")
        self.assertEqual(ended.last_outcome, "busy")
        self.assertEqual(silent.state, "dialing", "five minutes of silence is not stale yet")
        self.assertEqual(previewed.state, "preview", "a fresh card stays with its agent")
        campaign._dialer_recover_stale_lines(now=dialled_at + timedelta(minutes=45))
        self.assertRecordValues(
            silent | previewed,
            [
                {"state": "pending", "last_outcome": "failed", "user_id": False},
                {"state": "pending", "last_outcome": False, "user_id": False},
            ],
        )
        self.assertEqual(silent.call_id.state, "failed")
        logged = silent.call_id.message_ids.mapped("body")
        self.assertTrue(any("reported nothing" in str(body) for body in logged))

    def test_dashboard_is_for_the_supervisor_and_managers(self):
        campaign = self._campaign(self._partners(2), user_id=self.sales_manager.id)
        self.assertEqual(campaign.with_user(self.sales_manager).dialer_dashboard_data()["total"], 2)
        with self.assertRaises(AccessError):
            campaign.with_user(self.salesman_anna).dialer_dashboard_data()

    def test_import_reports_each_refused_row(self):
        campaign = self._campaign(self.env["res.partner"])
        self.env["phone.blacklist"].sudo()._add(["+74953009999"])
        rows = [
            "Имя;Телефон;tz",
            "Ivan;+7 495 300-00-01;Europe/Moscow",  # row 2: added
            "Nobody;;",  # row 3: no number
            "Lost;+7 495 300-00-02;Moscow time",  # row 4: not a timezone
            "Blocked;8 495 300-99-99;",  # row 5: on the phone blacklist
            "Ivan again;8 495 300-00-01;",  # row 6: the same number as row 2
            "Short;12;",  # row 7: not a number
            "Petr;+7 (495) 300-00-03;Asia/Yekaterinburg",  # row 8: added
        ]
        wizard = self.env["crm.voip.dialer.import"].create(
            {
                "campaign_id": campaign.id,
                "file": base64.b64encode("\n".join(rows).encode()),
                "filename": "list.csv",
            }
        )
        wizard.action_import()
        self.assertEqual(
            wizard.result.splitlines(),
            [
                "2 contacts added.",
                "Row 3: no phone number.",
                "Row 4: Moscow time is not a timezone (e.g. Europe/Moscow).",
                "Row 5: Blocked (8 495 300-99-99): Do-not-call list",
                "Row 6: Ivan again (8 495 300-00-01): Number already in the campaign",
                "Row 7: Short (12): Invalid number",
            ],
        )
        added = campaign.line_ids.filtered(lambda line: line.state == "pending")
        self.assertEqual(added.mapped("tz"), ["Europe/Moscow", "Asia/Yekaterinburg"])
