"""An agent works a preview and a progressive campaign in headless Chromium.

The VATS simulator plays the PBX over real HTTP; the scheduler's cron runs in a
background thread as Odoo's cron worker would (HttpCase starts no cron)."""

import threading

from odoo import SUPERUSER_ID, api
from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.crm_voip.tests import test_crm_voip_ui as crm_voip_ui
from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

from .common import DialerMixin

CALLBACK_PATH = "/v1/request/callback/"


@tagged("post_install", "-at_install", "crm_voip_dialer", "crm_voip_ui")
class TestDialerUi(DialerMixin, CrmVoipHttpCommon):
    _write_screenshot = staticmethod(crm_voip_ui.TestCrmVoipUi._write_screenshot)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._dialer_setup()
        partners = cls._partners(2, prefix="7495310", tz="Europe/Moscow")
        cls.lead_preview, cls.lead_progressive = cls.env["crm.lead"].create(
            [
                {
                    "name": f"Renewal {partner.name}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "phone": partner.phone,
                    "user_id": cls.salesman_anna.id,
                    "company_id": cls.company.id,
                }
                for partner in partners
            ]
        )
        campaign_values = {
            "target_model": "crm.lead",
            "agent_user_ids": [Command.set(cls.salesman_anna.ids)],
            "script": "<p>Good morning, this is <b>Anna</b> from Romashka.</p>",
        }
        cls.preview_campaign = cls._campaign(
            cls.lead_preview, name="Preview: spring offers", mode="preview", **campaign_values
        )
        cls.progressive_campaign = cls._campaign(
            cls.lead_progressive, name="Progressive: renewals", **campaign_values
        )
        (cls.preview_campaign | cls.progressive_campaign).action_start()

    def setUp(self):
        super().setUp()
        crm_voip_ui.TestCrmVoipUi._deliver_bus_notifications(self)
        if crm_voip_ui.SCREENSHOT_DIR:
            crm_voip_ui.TestCrmVoipUi._capture_screenshots_for_docs(self)
        self.sim.webhook_headers = {"Cookie": f"test_request_key={self.canonical_tag}_browser_js"}
        self.sim.auto_play_originate = True
        self.sim.originate_delay = 1.0
        self.sim.originate_event_gap = 1.5
        self.addCleanup(setattr, self.sim, "auto_play_originate", False)
        self.addCleanup(setattr, self.sim, "originate_event_gap", 0.0)

    def authenticate(self, user, password, browser=None):
        # The scheduler thread's test cursor shares this test's connection, and only the
        # cursors of other threads take the test lock: hold it while the login queries
        # run, or a tick may read their rows (and the session token comes out wrong).
        with self.registry.test_lock:
            return super().authenticate(user, password, browser=browser)

    def _run_scheduler_in_background(self):
        """The dialer cron, every half second, in its own (test) cursor; returns its stop."""
        stop = threading.Event()
        registry = self.registry

        def loop():
            while not stop.wait(0.5):
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["crm.voip.dialer.campaign"]._cron_dialer_tick()

        thread = threading.Thread(target=loop, name="dialer-cron", daemon=True)
        thread.start()

        def halt():
            stop.set()
            thread.join(10)

        self.addCleanup(halt)
        return halt

    def test_agent_works_preview_and_progressive_campaigns(self):
        self.env.flush_all()
        stop_scheduler = self._run_scheduler_in_background()
        self.start_tour(
            "/odoo/action-crm_voip_dialer.crm_voip_dialer_agent_panel_action",
            "crm_voip_dialer_agent_tour",
            login="voip_anna",
            timeout=180,
        )
        # Stopped before the test reads, for the same reason as in ``authenticate``.
        stop_scheduler()
        self.sim.wait_background(15)
        self.env.invalidate_all()
        callbacks = [r for r in self.sim.requests if r.path == CALLBACK_PATH]
        self.assertEqual(
            [(r.params["from"], r.params["to"]) for r in callbacks],
            [("101", "74953100000"), ("101", "74953100001")],
            "one PBX request per contact, from Anna's extension",
        )
        # Preview: "Interested" (shortcut key 1) moved the lead on and planned a follow-up.
        self.assertEqual(self.lead_preview.stage_id, self.env.ref("crm.stage_lead2"))
        self.assertTrue(
            self.lead_preview.activity_ids.filtered(
                lambda a: (
                    a.activity_type_id == self.env.ref("mail.mail_activity_data_call")
                    and a.user_id == self.salesman_anna
                )
            )
        )
        self.assertTrue(
            any("Interested" in str(body) for body in self.lead_preview.message_ids.mapped("body"))
        )
        # Progressive: "Not interested" (clicked) lost the lead with its reason.
        self.assertFalse(self.lead_progressive.active)
        self.assertEqual(self.lead_progressive.lost_reason_id, self.env.ref("crm.lost_reason_1"))
        for campaign, disposition in (
            (self.preview_campaign, self.disposition_interested),
            (self.progressive_campaign, self.disposition_lost),
        ):
            line = campaign.line_ids
            self.assertRecordValues(
                line, [{"state": "done", "disposition_id": disposition.id, "attempt_count": 1}]
            )
            self.assertRecordValues(
                line.attempt_ids,
                [
                    {
                        "outcome": "answered",
                        "user_id": self.salesman_anna.id,
                        "disposition_id": disposition.id,
                    }
                ],
            )
            self.assertEqual(line.call_id.state, "done")
            self.assertEqual(line.call_id.user_id, self.salesman_anna)
