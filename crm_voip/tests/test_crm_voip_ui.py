"""Browser tours in headless Chromium: the telephony UI as salespeople use it."""

import base64
import os
import pathlib

from odoo import fields
from odoo.tests import ChromeBrowser, tagged

from .common_http import CrmVoipHttpCommon, deliver_bus_notifications

# `make screenshots` sets this to refresh the pictures of the documentation.
SCREENSHOT_DIR = os.environ.get("CRM_VOIP_DOC_SCREENSHOTS")
DOCS_DIR = pathlib.Path(__file__).resolve().parents[2] / "__manifest_docs__" / "screenshots"


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_ui")
class TestCrmVoipUi(CrmVoipHttpCommon):
    def setUp(self):
        super().setUp()
        self._deliver_bus_notifications()
        # Webhooks played during a tour must carry the tour's test cookie.
        self.sim.webhook_headers = {"Cookie": f"test_request_key={self.canonical_tag}_browser_js"}
        if SCREENSHOT_DIR:
            self._capture_screenshots_for_docs()

    def _deliver_bus_notifications(self):
        deliver_bus_notifications(self)

    def _capture_screenshots_for_docs(self):
        """Save a PNG when a tour logs ``crm_voip:screenshot:<name>``."""
        original_init = ChromeBrowser.__init__

        def init(browser, *args, **kwargs):
            original_init(browser, *args, **kwargs)
            console = browser._handlers["Runtime.consoleAPICalled"]

            def on_console(type, args=None, **kw):  # noqa: A002 - CDP's parameter name
                text = str(browser._from_remoteobject(args[0])) if args else ""
                if text.startswith("crm_voip:screenshot:"):
                    name = text.split(":", 2)[2]
                    future = browser._websocket_send("Page.captureScreenshot", with_future=True)
                    future.add_done_callback(lambda f: self._write_screenshot(name, f))
                return console(type, args=args, **kw)

            browser._handlers["Runtime.consoleAPICalled"] = on_console

        self.patch(ChromeBrowser, "__init__", init)

    @staticmethod
    def _write_screenshot(name, future):
        data = future.result(timeout=0).get("data")
        if data:
            DOCS_DIR.mkdir(parents=True, exist_ok=True)
            (DOCS_DIR / f"{name}.png").write_bytes(base64.b64decode(data))

    def calls_of_anna(self):
        self.env.invalidate_all()
        return self.env["crm.voip.call"].search([("user_id", "=", self.salesman_anna.id)])

    def test_salesperson_opens_telephony(self):
        # Two answered calls of Anna's, numbers as the PBX sent them: the log shows them
        # as the popup does (+7 495 123-45-67, 1:49, 1:02:03 past an hour).
        values = {
            "provider_id": self.zadarma.id,
            "company_id": self.company.id,
            "user_id": self.salesman_anna.id,
            "state": "done",
            "date_start": fields.Datetime.now(),
        }
        self.env["crm.voip.call"].create(
            [
                {
                    **values,
                    "provider_call_id": "menu-short",
                    "partner_number": "84951234567",
                    "partner_number_e164": "+74951234567",
                    "talk_seconds": 109,
                },
                {
                    **values,
                    "provider_call_id": "menu-long",
                    "partner_number": "442079460958",
                    "partner_number_e164": "+442079460958",
                    "talk_seconds": 3723,
                },
            ]
        )
        self.start_tour("/odoo", "crm_voip_telephony_menu", login="voip_anna")

    def test_incoming_call_popup_answer_and_wrapup(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.start_tour("/odoo", "crm_voip_incoming_call", login="voip_anna")
        self.sim.wait_background()
        call = self.calls_of_anna()
        self.assertEqual(len(call), 1)
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "partner_id": self.client_romashka.id,
                    "outcome_id": self.env.ref("crm_voip.crm_voip_call_outcome_interested").id,
                    "wrapup_done": True,
                }
            ],
        )
        self.assertIn("Wants a demo next week", call.note)
        next_call = self.opportunity_romashka.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_call")
        )
        self.assertEqual(str(next_call.date_deadline), "2030-06-01")
        # Only Anna was told: the second salesperson's browser received nothing.
        targets = {
            message.channel
            for message in self.env["bus.bus"].sudo().search([])
            if "crm_voip/incoming_call" in message.message
        }
        self.assertEqual(len(targets), 1)
        self.assertIn(f'"res.partner",{self.salesman_anna.partner_id.id}]', targets.pop())

    def test_unknown_caller_becomes_an_opportunity(self):
        self.start_tour("/odoo", "crm_voip_unknown_caller", login="voip_anna")
        self.sim.wait_background()
        call = self.calls_of_anna()
        self.assertEqual(call.partner_id.phone, "+79990007788")
        self.assertEqual(call.lead_id.type, "opportunity")
        self.assertEqual(call.lead_id.partner_id, call.partner_id)

    def test_missed_call_closes_the_popup(self):
        self.start_tour("/odoo", "crm_voip_missed_call", login="voip_anna")
        self.sim.wait_background()

    def test_click_to_call_from_a_list_row(self):
        self.sim.auto_play_originate = True
        self.sim.originate_delay = 2.0
        self.start_tour(
            "/odoo/action-base.action_partner_form?view_type=list",
            "crm_voip_click_to_call",
            login="voip_anna",
        )
        self.sim.wait_background()
        callbacks = [r for r in self.sim.requests if r.path == "/v1/request/callback/"]
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(
            (callbacks[0].params["from"], callbacks[0].params["to"]), ("101", "74957654321")
        )
        call = self.calls_of_anna()
        self.assertRecordValues(
            call,
            [{"origin": "click_to_call", "partner_id": self.client_romashka.id, "state": "done"}],
        )

    def test_two_tabs_show_one_popup(self):
        # The tour opens its second tab with window.open, which headless Chrome blocks
        # unless told otherwise.
        original_spawn = ChromeBrowser._spawn_chrome

        def spawn(browser, cmd):
            return original_spawn(browser, [*cmd[:-1], "--disable-popup-blocking", cmd[-1]])

        self.patch(ChromeBrowser, "_spawn_chrome", spawn)
        self.start_tour("/odoo", "crm_voip_two_tabs", login="voip_anna", timeout=120)
        self.sim.wait_background()
