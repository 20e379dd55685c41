"""Telfin through the real webhook endpoint: events are GET queries or POST forms sent to
the URLs we subscribe per extension (``/phone``, ``/ivr``, ``/queue``), unsigned; the
subscriptions are made through Telfin's API (the simulated one here), and a revoked
application turns the account red with Telfin's words."""

from urllib.parse import urlencode

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.crm_voip.providers import telfin

from .common import CrmVoipCommon
from .common_http import CrmVoipHttpCommon, import_simulator, run_commit_hooks
from .common_scenarios import ROMASHKA, ROUTING, WEBHOOK_LOGGER, CallScenarioSuite

CLIENT_ID, SECRET = "telfin-app", "telfin-secret"
CLIENT = "74957654321"  # Romashka's phone
LINE = "74951204567"
CALL = "76c8491e9d3711e7bd2379424bc8e8c8"


def phone_event(event_type, extension, status, **extra):
    return {
        "EventType": event_type,
        "CallID": CALL,
        "SubCallID": f"4691{extension}-{CALL}",
        "EventTime": "1505824724746286",
        "CallerIDNum": CLIENT,
        "CalledDID": LINE,
        "CalledExtension": f"000*{extension}@sipproxy.telphin.ru",
        "CalledNumber": f"000*{extension}",
        "CallerExtension": "000*099@sipproxy.telphin.ru",
        "CallFlow": "in",
        "CallStatus": status,
        **extra,
    }


class TelfinCase(CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        telfin._tokens.clear()
        cls.telfin = cls._create_pbx_account(
            "telfin",
            "Telfin test",
            ("Telfin 495", LINE),
            {"client_id": CLIENT_ID, "client_secret": SECRET},
            extensions=("101", "102"),
        )


@tagged("post_install", "-at_install", "crm_voip")
class TestTelfinWebhook(TelfinCase, CrmVoipHttpCommon):
    def deliver(self, fields, kind="phone", method="POST"):
        self.env.flush_all()
        url = f"{self._webhook_url(self.telfin)}/{kind}"
        if method == "GET":
            response = self.url_open(f"{url}?{urlencode(fields)}", timeout=20)
        else:
            response = self.url_open(url, data=fields, timeout=20)
        self.env.invalidate_all()
        return response

    def test_get_and_post_deliveries_make_one_answered_call(self):
        for method, kind, fields in [
            ("GET", "phone", phone_event("dial-in", "101", "CALLING")),
            ("POST", "phone", phone_event("dial-in", "102", "CALLING")),
            ("GET", "phone", phone_event("answer", "102", "ANSWER")),
            ("POST", "phone", phone_event("hangup", "101", "CANCEL")),
            ("GET", "phone", phone_event("hangup", "102", "ANSWER", Duration="31500000")),
            ("POST", "ivr", dict(phone_event("hangup", "099", "ANSWER"), Bridged="yes")),
        ]:
            self.assertEqual(self.deliver(fields, kind, method).status_code, 200, fields)
        call = self.call_of(self.telfin, CALL)
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "inbound",
                    "state": "done",
                    "disposition": "answered",
                    "user_id": self.salesman_boris.id,
                    "partner_id": self.client_romashka.id,
                    "talk_seconds": 32,
                }
            ],
        )
        self.assertEqual(call.rang_user_ids, self.salesman_anna | self.salesman_boris)
        # Redelivered: recognised, not applied twice.
        fields = phone_event("hangup", "102", "ANSWER", Duration="31500000")
        self.assertEqual(self.deliver(fields, method="GET").status_code, 200)
        self.assertEqual(len(call.event_ids.filtered(lambda e: e.kind == "ended")), 1)

    def test_missed_call_is_the_menu_hanging_up_unbridged(self):
        self.deliver(phone_event("dial-in", "101", "CALLING"))
        self.deliver(phone_event("hangup", "101", "NOANSWER"))
        call = self.call_of(self.telfin, CALL)
        self.assertEqual(call.state, "ringing", "one phone's leg is not the call")
        self.deliver(dict(phone_event("hangup", "099", "CANCEL"), Bridged="no"), "ivr")
        self.assertRecordValues(call, [{"state": "missed", "disposition": "cancel"}])

    def test_bad_deliveries_are_refused_and_nothing_is_stored(self):
        Event = self.env["crm.voip.event"]
        before = Event.search_count([("provider_id", "=", self.telfin.id)])
        no_call = phone_event("dial-in", "101", "CALLING")
        del no_call["CallID"]
        cases = [
            (no_call, "phone", 400),
            (dict(no_call, CallID=CALL, EventType="fax-in"), "phone", 400),
            (phone_event("dial-in", "101", "CALLING"), "weather", 400),
            ({"hello": "world"}, "phone", 400),
        ]
        with self.assertLogs("odoo.addons.crm_voip.controllers.crm_voip", "WARNING"):
            for fields, kind, status in cases:
                for method in ("GET", "POST"):
                    response = self.deliver(fields, kind, method)
                    self.assertEqual(response.status_code, status, (fields, kind, method))
                    self.assertIn("error", response.json())
        self.assertEqual(Event.search_count([("provider_id", "=", self.telfin.id)]), before)
        self.assertFalse(self.call_of(self.telfin, CALL))


@tagged("post_install", "-at_install", "crm_voip")
class TestTelfinAccountApi(TelfinCase, CrmVoipHttpCommon):
    """The account's buttons against the simulated Telfin: event subscriptions, the
    extension import, refused credentials."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        simulator = import_simulator()
        cls.telfin_sim = simulator.Simulator(
            telfin=simulator.TelfinAccount(
                cls._webhook_url(cls.telfin), CLIENT_ID, SECRET, auto_subscribe=False
            ),
            extensions={"101": "Anna", "102": "Boris", "103": "Gleb"},
            auto_play_originate=False,
        ).start()
        cls.addClassCleanup(cls.telfin_sim.stop)
        cls.telfin.write({"base_url": cls.telfin_sim.api_url("telfin"), "use_simulator": True})

    def setUp(self):
        super().setUp()
        telfin._tokens.clear()
        run_commit_hooks(self)
        self.authenticate("admin", "admin")
        self.account = self.telfin_sim.account("telfin")
        self.account.subscriptions.clear()
        self.account.application_revoked = False

    def press(self, method):
        return self.make_jsonrpc_request(
            "/web/dataset/call_button/crm.voip.provider/" + method,
            {
                "model": "crm.voip.provider",
                "method": method,
                "args": [self.telfin.ids],
                "kwargs": {},
            },
        )

    def ours(self):
        url = self.telfin.sudo().webhook_url
        return sorted(
            (number, item["event_type"], item["url"][len(url) :])
            for number, items in self.account.subscriptions.items()
            for item in items
            if item["url"].startswith(url)
        )

    def test_subscriptions_made_kept_cleaned_and_removed_with_the_account(self):
        self.assertTrue(self.telfin.manages_subscriptions)
        action = self.telfin.action_crm_voip_subscribe_events()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("5 extensions: 14 subscriptions created", action["params"]["message"])
        self.assertIn("allows 100 subscriptions; 14 are in use", action["params"]["message"])
        made = self.ours()
        self.assertEqual(len(made), 14)
        self.assertIn(("099", "hangup", "/ivr"), made)
        self.assertIn(("098", "hangup", "/queue"), made)
        self.assertIn(("101", "dial-in", "/phone"), made)
        url = self.telfin.sudo().webhook_url
        foreign = {
            "id": 1,
            "url": "http://127.0.0.1:9/other",
            "method": "GET",
            "event_type": "hangup",
        }
        stale = {"id": 2, "url": f"{url}/ivr", "method": "POST", "event_type": "answer"}
        self.account.subscriptions["101"].append(foreign)
        self.account.subscriptions["102"].append(stale)
        action = self.telfin.action_crm_voip_subscribe_events()
        self.assertIn("0 subscriptions created, 14 kept, 1 stale", action["params"]["message"])
        self.assertNotIn(stale, self.account.subscriptions["102"])
        # Archived: ours go once committed, the other system's stays.
        self.telfin.action_archive()
        self.env.cr.postcommit.run()
        self.assertEqual(self.ours(), [])
        self.assertIn(foreign, self.account.subscriptions["101"])
        self.telfin.action_unarchive()

    def test_revoked_application_turns_the_account_red_with_telfins_words(self):
        self.assertEqual(self.press("action_test_connection")["params"]["type"], "success")
        self.account.revoke(application=True)
        self.telfin_sim.advance_clock(7200)  # the cached token has expired at Telfin's
        action = self.press("action_test_connection")
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("invalid_client", action["params"]["message"])
        self.telfin.invalidate_recordset()
        self.assertEqual(self.telfin.health, "api_error")
        self.assertIn("Client authentication failed", self.telfin.api_error)
        self.account.application_revoked = False
        self.assertEqual(self.press("action_test_connection")["params"]["type"], "success")
        self.telfin.invalidate_recordset()
        self.assertFalse(self.telfin.api_error)

    def test_extension_import_offers_the_phones_only(self):
        self.assertTrue(self.telfin.lists_extensions)
        action = self.telfin.action_crm_voip_import_extensions()
        wizard = self.env["crm.voip.extension.import"].with_context(action["context"]).create({})
        self.assertEqual(sorted(wizard.line_ids.mapped("extension")), ["101", "102", "103"])


class TelfinScenarioAccount:
    """Telfin in the scenario suites: it sends nothing until the account is subscribed,
    which its set-up does through the adapter, as the account's button does."""

    provider_code = "telfin"
    SECRET_SETTINGS = {"client_id": CLIENT_ID, "client_secret": SECRET}
    UNSUPPORTED = {
        ROUTING: "Telfin takes no routing answer to its events and no routing command; "
        "its own scenario (voice menu, queue) routes the call",
    }

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        return simulator.TelfinAccount(webhook_url, CLIENT_ID, SECRET, auto_subscribe=False)

    @classmethod
    def setUpClass(cls):
        telfin._tokens.clear()
        super().setUpClass()
        webhook_url = f"{cls.base_url()}/crm_voip/webhook/{cls.account.sudo().webhook_token}"
        adapter = cls.account._get_crm_voip_adapter()
        try:
            report = adapter.subscribe_events(webhook_url)
        finally:
            adapter.close()
        assert report.created and not report.skipped, report


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestTelfinScenarios(TelfinScenarioAccount, CallScenarioSuite):
    @mute_logger(WEBHOOK_LOGGER)
    def test_scenario_unsigned_or_tampered_request(self):
        """Telfin signs nothing: a delivery with a forged or no URL token reaches no
        account (404), and nothing is stored."""
        Event = self.env["crm.voip.event"]
        before = Event.search_count([])
        events = self.sim.scenario_events(self.provider_code, "answered", caller=ROMASHKA)
        dial_in = events[1]["posts"][0]
        for signing in ("bad", "none"):
            self.env.flush_all()
            deliveries = self.sim.send(self.provider_code, dial_in, signing=signing)
            self.assertEqual({d.status for d in deliveries}, {404}, signing)
        self.assertEqual(Event.search_count([]), before)
        self.assertFalse(self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)]))
