"""The call scenarios every PBX must pass, played by the VATS simulator over real HTTP.

A PBX joins by subclassing ``CallScenarioSuite`` in its own test module with its code, its
credentials and its simulator account; the same scenarios then assert the same records,
field by field. What a PBX cannot do is declared in ``UNSUPPORTED`` (feature: why): the
scenario then checks that the adapter indeed says so, instead of being skipped silently.
"""

from odoo.fields import Command
from odoo.tests import HttpCase
from odoo.tools import mute_logger

from ..models.crm_voip_recording import FETCH_DELAY_PARAM
from ..providers.base import ProviderAdapter
from .common import CrmVoipCommon
from .common_http import deliver_bus_notifications, import_simulator

WEBHOOK_LOGGER = "odoo.addons.crm_voip.controllers.crm_voip"
ROMASHKA = "74957654321"  # typed "8 (495) 765-43-21" on the card
LINE = "74951204567"
# Features a PBX may lack (``UNSUPPORTED`` keys).
RECORDINGS = "recordings"
CLICK_TO_CALL = "click_to_call"
# The PBX cannot be told where to route a starting call (crm_voip_routing's scenarios).
ROUTING = "routing"


class ScenarioAccountCase(HttpCase, CrmVoipCommon):
    """One PBX account of the PBX under test, played by its own simulator: the fixture of
    the scenario suites (crm_voip's, and those of the modules that extend the call).
    A PBX gives its code, credentials and simulator account in a mixin of its test module
    (``sim_account``), which each suite's class for that PBX combines with the suite."""

    provider_code = None
    #: The account's secret settings and other settings, as the adapter declares them.
    SECRET_SETTINGS = {}
    SETTINGS = {}
    #: ``{feature: why this PBX lacks it}``.
    UNSUPPORTED = {}
    # Odoo's loader runs only the methods a class defines itself, unless told otherwise.
    allow_inherited_tests_method = True

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        """The simulator's account of this PBX, posting to ``webhook_url``."""
        raise NotImplementedError

    def refuse_next_click_to_call(self):
        """Make the PBX refuse the next click-to-call (as a PBX does: an error answer, or a
        refusal reported later)."""
        self.sim.fail_next(1, 400)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The account under test is the only one: the salespeople's extensions are its own.
        (cls.zadarma | cls.generic).active = False
        cls.account = cls.env["crm.voip.provider"].create(
            {
                # The browser scenario finds it by this name.
                "name": "Scenarios under test",
                "code": cls.provider_code,
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "timezone": "Europe/Moscow",
                "settings": cls.SETTINGS,
                "secret_settings": cls.SECRET_SETTINGS,
                "unknown_caller_policy": "lead",
                "line_ids": [
                    Command.create(
                        {
                            "name": "Moscow sales 495",
                            "number": LINE,
                            "source_id": cls.source_direct.id,
                            "team_id": cls.team.id,
                        }
                    )
                ],
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_anna.id, "extension": "101"}),
                    Command.create({"user_id": cls.salesman_boris.id, "extension": "102"}),
                    Command.create({"user_id": cls.salesman_other.id, "extension": "103"}),
                ],
            }
        )
        simulator = import_simulator()
        cls.pbx = simulator.pbx.get(cls.provider_code)
        webhook_url = f"{cls.base_url()}/crm_voip/webhook/{cls.account.sudo().webhook_token}"
        cls.sim = simulator.Simulator(
            **{cls.provider_code: cls.sim_account(simulator, webhook_url)},
            auto_play_originate=True,
            originate_delay=0.05,
        ).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.account.write({"base_url": cls.sim.api_url(cls.provider_code), "use_simulator": True})
        cls.env["ir.config_parameter"].sudo().set_param(FETCH_DELAY_PARAM, "0")
        cls.salesman_anna.password = cls.salesman_anna.login

    def setUp(self):
        super().setUp()
        self.sim.clear()

    # ------------------------------------------------------------------

    def supported(self, feature):
        return feature not in self.UNSUPPORTED

    def play_call(self, scenario, direction="inbound", expect=200, **params):
        """Play ``scenario`` for a new call; the call Odoo logged for it."""
        call_id = self.pbx.new_call_id(direction)
        self.env.flush_all()
        deliveries = self.sim.play(self.provider_code, scenario, call_id=call_id, **params)
        self.sim.wait_background()
        self.env.invalidate_all()
        for delivery in deliveries:
            self.assertEqual(delivery.status, expect, delivery.text)
        return self.env["crm.voip.call"].search(
            [("provider_id", "=", self.account.id), ("provider_call_id", "=", call_id)]
        )

    def fetch_recordings(self):
        self.env.flush_all()
        done = self.env["crm.voip.recording"].sudo()._cron_crm_voip_fetch_recordings()
        self.env.invalidate_all()
        return done

    def assert_summary_once(self, record, text):
        lines = record.message_ids.filtered(lambda message: text in (message.body or ""))
        self.assertEqual(len(lines), 1, f"one call summary on {record.display_name}")


class CallScenarioSuite(ScenarioAccountCase):
    """The call scenarios, the same records asserted for every PBX."""

    # ------------------------------------------------------------------
    # Scenarios
    # ------------------------------------------------------------------

    def test_scenario_incoming_answered_with_recording(self):
        record = self.supported(RECORDINGS)
        call = self.play_call(
            "answered", caller=ROMASHKA, did=LINE, answered_by="101", talk_seconds=42, record=record
        )
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "inbound",
                    "state": "done",
                    "disposition": "answered",
                    "partner_number_e164": "+74957654321",
                    "line_id": self.account.line_ids.id,
                    "source_id": self.source_direct.id,
                    "partner_id": self.client_romashka.id,
                    "lead_id": self.opportunity_romashka.id,
                    "user_id": self.salesman_anna.id,
                    "team_id": self.team.id,
                    "extension": "101",
                    "talk_seconds": 42,
                    "company_id": self.company.id,
                    "partner_created": False,
                    "lead_created": False,
                }
            ],
        )
        self.assertTrue(call.date_start <= call.date_answer <= call.date_end)
        self.assert_summary_once(self.client_romashka, "Incoming call from")
        self.assert_summary_once(self.opportunity_romashka, "Incoming call from")
        if not record:
            adapter_class = self.account._crm_voip_adapter_class()
            self.assertIs(adapter_class.recording_link, ProviderAdapter.recording_link)
            return
        self.assertEqual(len(call.recording_ids), 1, "reported twice, queued once")
        self.assertEqual(self.fetch_recordings(), 1)
        recording = call.recording_ids
        self.assertRecordValues(
            recording,
            [{"state": "done", "attempts": 1, "partner_id": self.client_romashka.id}],
        )
        self.assertEqual(
            recording.attachment_id.raw, self.sim.recording_bytes(recording.recording_ref)
        )

    def test_scenario_popup_in_the_browser_of_the_rung_salesperson(self):
        """Anna's browser, in headless Chromium, shows the popup of the call that rings her
        extension, as the PBX reports it."""
        deliver_bus_notifications(self)
        # Webhooks played during a tour must carry the tour's test cookie.
        self.sim.webhook_headers = {"Cookie": f"test_request_key={self.canonical_tag}_browser_js"}
        self.addCleanup(setattr, self.sim, "webhook_headers", {})
        self.start_tour("/odoo", "crm_voip_scenario_popup", login=self.salesman_anna.login)
        self.sim.wait_background()
        self.env.invalidate_all()
        call = self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)])
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "user_id": self.salesman_anna.id,
                    "partner_id": self.client_romashka.id,
                }
            ],
        )

    def test_scenario_missed_in_a_ring_group(self):
        call = self.play_call("missed", caller=ROMASHKA, did=LINE, extensions=["101", "102"])
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "inbound",
                    "state": "missed",
                    "date_answer": False,
                    "talk_seconds": 0,
                    "partner_id": self.client_romashka.id,
                    "line_id": self.account.line_ids.id,
                    "user_id": False,
                }
            ],
        )
        self.assertEqual(call.rang_user_ids, self.salesman_anna | self.salesman_boris)
        self.assertTrue(call.date_end)

    def test_scenario_busy(self):
        call = self.play_call("busy", caller=ROMASHKA, extensions=["102"])
        self.assertRecordValues(call, [{"state": "busy", "disposition": "busy"}])

    def test_scenario_transferred_to_a_colleague(self):
        call = self.play_call(
            "transferred", caller=ROMASHKA, extensions=["101", "102"], answered_by="102"
        )
        self.assertRecordValues(
            call,
            [{"state": "done", "user_id": self.salesman_boris.id, "extension": "102"}],
        )

    def test_scenario_outgoing_from_a_desk_phone(self):
        call = self.play_call(
            "outgoing",
            direction="outbound",
            extension="101",
            number="442079460958",
            talk_seconds=30,
        )
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "outbound",
                    "origin": "pbx",
                    "state": "done",
                    "user_id": self.salesman_anna.id,
                    "partner_id": self.client_london.id,
                    "partner_number_e164": "+442079460958",
                    "talk_seconds": 30,
                }
            ],
        )

    def click_to_call(self):
        payload = (
            self.env["crm.voip.call"]
            .with_user(self.salesman_anna)
            .crm_voip_dial_prepare("8 (495) 765-43-21")
        )
        call = self.env["crm.voip.call"].browse(payload["call_id"])
        self.env.flush_all()
        self.authenticate(self.salesman_anna.login, self.salesman_anna.login)
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": call.id})
        if reply["error"]:  # what the browser does with a refusal
            call.with_user(self.salesman_anna).crm_voip_originate_failed(reply["error"])
        self.sim.wait_background()
        self.env.invalidate_all()
        return call

    def assert_no_click_to_call(self):
        adapter_class = self.account._crm_voip_adapter_class()
        self.assertIs(adapter_class.originate, ProviderAdapter.originate)

    def test_scenario_click_to_call_answered(self):
        if not self.supported(CLICK_TO_CALL):
            return self.assert_no_click_to_call()
        call = self.click_to_call()
        self.assertRecordValues(
            call,
            [
                {
                    "origin": "click_to_call",
                    "direction": "outbound",
                    "state": "done",
                    "user_id": self.salesman_anna.id,
                    "partner_id": self.client_romashka.id,
                    "partner_number_e164": "+74957654321",
                }
            ],
        )
        self.assertFalse(call.provider_call_id.startswith("c2c-"), "the PBX's own id")
        self.assertEqual(
            self.env["crm.voip.call"].search_count([("user_id", "=", self.salesman_anna.id)]), 1
        )

    def test_scenario_click_to_call_refused(self):
        if not self.supported(CLICK_TO_CALL):
            return self.assert_no_click_to_call()
        self.refuse_next_click_to_call()
        with mute_logger(WEBHOOK_LOGGER):
            call = self.click_to_call()
        self.assertRecordValues(
            call, [{"origin": "click_to_call", "state": "failed", "disposition": "failed"}]
        )
        self.assertIn("The PBX could not place the call", call.message_ids[:1].body)

    def test_scenario_duplicated_event(self):
        call_id = self.pbx.new_call_id("inbound")
        self.env.flush_all()
        deliveries = self.sim.play(
            self.provider_code, "duplicates", call_id=call_id, caller=ROMASHKA
        )
        self.env.invalidate_all()
        self.assertEqual({d.status for d in deliveries}, {200})
        calls = self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)])
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls.state, "done")
        self.assert_summary_once(self.client_romashka, "Incoming call from")

    def test_scenario_events_out_of_order(self):
        call = self.play_call("out_of_order", caller=ROMASHKA, answered_by="101")
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "partner_id": self.client_romashka.id,
                    "user_id": self.salesman_anna.id,
                    "talk_seconds": 42,
                }
            ],
        )
        self.assertTrue(call.date_answer and call.date_end)

    @mute_logger(WEBHOOK_LOGGER)
    def test_scenario_unsigned_or_tampered_request(self):
        Event = self.env["crm.voip.event"]
        before = Event.search_count([])
        for scenario in ("bad_signature", "unsigned"):
            self.env.flush_all()
            deliveries = self.sim.play(self.provider_code, scenario, caller=ROMASHKA)
            self.assertEqual({d.status for d in deliveries}, {403}, scenario)
        self.assertEqual(Event.search_count([]), before)
        self.assertFalse(self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)]))

    def test_scenario_unknown_caller_becomes_a_lead_with_the_line_source(self):
        call = self.play_call("answered", caller="79990001122", did=LINE, answered_by="101")
        lead = call.lead_id
        self.assertRecordValues(
            call, [{"lead_created": True, "partner_created": False, "partner_id": False}]
        )
        self.assertRecordValues(
            lead,
            [
                {
                    "source_id": self.source_direct.id,
                    "team_id": self.team.id,
                    "phone": "+79990001122",
                    "user_id": self.salesman_anna.id,
                }
            ],
        )
        second = self.play_call("missed", caller="8 999 000-11-22", did=LINE)
        self.assertEqual(second.lead_id, lead, "the next call finds the lead")
