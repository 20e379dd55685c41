"""UIS / CoMagic through the real webhook endpoint: the notification templates the account
shows, pasted into (simulated) UIS and rendered by it, hold the account's secret; bodies
UIS renders loosely still read; a wrong secret or an unreadable body stores nothing. Its
employees are imported from the Data API, and a refused token turns the account red."""

from odoo.fields import Command
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.crm_voip.providers import uis
from odoo.addons.crm_voip.providers.uis import UisAdapter

from .common import CrmVoipCommon
from .common_http import CrmVoipHttpCommon
from .common_scenarios import ROUTING, CallScenarioSuite

SECRET = "uis-notification-secret"
LOGIN, PASSWORD = "api-user", "api-password"
CLIENT = "74957654321"  # Romashka's phone
LINE = "74951204568"
WEBHOOK_LOGGER = "odoo.addons.crm_voip.controllers.crm_voip"


def shipped_templates(webhook_url, secret=SECRET):
    """The bodies an administrator copies from the account's form into UIS's web account."""
    adapter = UisAdapter({"notification_secret": secret})
    return {item.key: item.body for item in adapter.notification_templates(webhook_url)}


class UisCase(CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        uis.forget_tokens()
        cls.uis = cls._create_pbx_account(
            "uis",
            "UIS test",
            ("UIS 495", LINE),
            {"password": PASSWORD, "notification_secret": SECRET},
            timezone="Europe/Moscow",
            settings={"platform": "uiscom.ru", "login": LOGIN, "virtual_number": LINE},
        )


@tagged("post_install", "-at_install", "crm_voip")
class TestUisWebhook(UisCase, CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        simulator = cls.simulator_module
        webhook_url = cls._webhook_url(cls.uis)
        cls.uis_sim = simulator.Simulator(
            uis=simulator.UisAccount(
                webhook_url,
                SECRET,
                login=LOGIN,
                password=PASSWORD,
                templates=shipped_templates(webhook_url),
                emails={"11": "anna@example.com", "15": "boris@example.com"},
            ),
            extensions={"11": "Anna", "15": "Boris", "16": "Carl", "17": "Nobody"},
            auto_play_originate=False,
        ).start()
        cls.addClassCleanup(cls.uis_sim.stop)
        cls.uis.write({"base_url": cls.uis_sim.api_url("uis"), "use_simulator": True})

    def setUp(self):
        super().setUp()
        uis.forget_tokens()
        self.uis_sim.clear()

    def post(self, body):
        self.env.flush_all()
        response = self.url_open(
            self._webhook_url(self.uis),
            data=body.encode() if isinstance(body, str) else body,
            headers={"Content-Type": "application/json"},
            timeout=20,
        )
        self.env.invalidate_all()
        return response

    def play(self, scenario, **params):
        self.env.flush_all()
        deliveries = self.uis_sim.play("uis", scenario, **params)
        self.env.invalidate_all()
        return deliveries

    def test_templates_shown_on_the_account_hold_its_secret(self):
        self.assertTrue(self.uis.shows_notification_templates)
        templates = self.uis.notification_templates
        self.assertEqual(
            [item["key"] for item in templates],
            [
                "call_started",
                "agent_ringing",
                "answered",
                "ended",
                "missed",
                "outgoing_started",
                "recording_ready",
            ],
        )
        for item in templates:
            self.assertEqual((item["method"], item["url"]), ("POST", self.uis.webhook_url))
            self.assertIn(f'"secret":"{SECRET}"', item["body"])
            self.assertIn("{{call_session_id}}", item["body"])
        self.assertEqual(templates[0]["title"], "Inbound call on a virtual number")

    def test_a_new_account_gets_its_own_secret(self):
        account = self.env["crm.voip.provider"].create(
            {"name": "UIS 2", "code": "uis", "company_id": self.company.id}
        )
        secret = account.sudo().secret_settings.get("notification_secret")
        self.assertTrue(secret and secret != SECRET and len(secret) >= 24)
        self.assertIn(secret, account.notification_templates[3]["body"])

    def test_answered_call_in_every_rendering(self):
        for rendering in ("raw", "json", "bare"):
            deliveries = self.play(
                "answered",
                caller=CLIENT,
                did=LINE,
                extensions=["12"],
                answered_by="12",
                talk_seconds=30,
                rendering=rendering,
                unfilled=("external_id",) if rendering == "bare" else (),
            )
            self.assertEqual({d.status for d in deliveries}, {200}, rendering)
            call_id = deliveries[0].event["values"]["call_session_id"]
            call = self.call_of(self.uis, str(call_id))
            self.assertRecordValues(
                call,
                [
                    {
                        "direction": "inbound",
                        "state": "done",
                        "disposition": "answered",
                        "user_id": self.salesman_boris.id,
                        "partner_id": self.client_romashka.id,
                        "line_id": self.uis.line_ids.id,
                        "talk_seconds": 30,
                    }
                ],
            )

    def test_lost_call_with_a_busy_employee(self):
        deliveries = self.play("busy", caller=CLIENT, did=LINE, extensions=["11"])
        self.assertEqual({d.status for d in deliveries}, {200})
        call_id = deliveries[0].event["values"]["call_session_id"]
        call = self.call_of(self.uis, str(call_id))
        self.assertRecordValues(call, [{"state": "busy", "disposition": "busy"}])
        self.assertEqual(call.rang_user_ids, self.salesman_anna)

    def test_bad_notifications_are_refused_and_nothing_is_stored(self):
        Event = self.env["crm.voip.event"]
        before = Event.search_count([("provider_id", "=", self.uis.id)])
        good = (
            '{"event":"call_started","call_session_id":"555","virtual_phone_number":"%s",'
            '"contact_phone_number":"%s","notification_time":"","secret":"%s"}'
        )
        cases = [
            (good % (LINE, CLIENT, "someone-else"), 403),
            (good.replace(',"secret":"%s"', "") % (LINE, CLIENT), 403),
            (b'{"event":"ended","call_session_id":"\xff', 400),
            ("<html>hello</html>", 400),
            (good.replace("call_started", "weather") % (LINE, CLIENT, SECRET), 400),
            (good.replace('"555"', '""') % (LINE, CLIENT, SECRET), 400),
            (good.replace("555", "{{call_session_id}}") % (LINE, CLIENT, SECRET), 400),
        ]
        with mute_logger(WEBHOOK_LOGGER):
            for body, status in cases:
                self.assertEqual(self.post(body).status_code, status, body)
        self.assertEqual(Event.search_count([("provider_id", "=", self.uis.id)]), before)
        self.assertFalse(self.call_of(self.uis, "555"))
        # The same notification with the secret is taken.
        self.assertEqual(self.post(good % (LINE, CLIENT, SECRET)).status_code, 200)
        self.assertEqual(self.call_of(self.uis, "555").state, "ringing")

    def test_a_name_with_quotes_and_bare_numbers_still_read(self):
        body = (
            '{"event":"ended","call_session_id":777,"employee_id":12,"direction":in,'
            f'"virtual_phone_number":{LINE},"contact_phone_number":{CLIENT},"external_id":,'
            '"talk_time_duration":25,"total_time_duration":"31","wait_time_duration":,'
            '"finish_reason":"subscriber_disconnects","notification_time":"2026-11-02 10:00:00.25",'
            f'"employee_full_name":"Boris "the best" Ivanov","secret":"{SECRET}"}}'
        )
        self.assertEqual(self.post(body).status_code, 200)
        call = self.call_of(self.uis, "777")
        self.assertRecordValues(
            call,
            [{"state": "done", "talk_seconds": 25, "user_id": self.salesman_boris.id}],
        )
        # UIS wrote Moscow time.
        self.assertEqual(str(call.date_end), "2026-11-02 07:00:00")

    def test_extension_import_preview_then_write(self):
        self.salesman_anna.email = "anna@example.com"
        self.salesman_boris.email = "boris@example.com"
        carl = new_test_user(
            self.env,
            "voip_uis_carl",
            groups="sales_team.group_sale_salesman",
            email="carl@example.com",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        self.assertTrue(self.uis.lists_extensions)
        count = self.env["crm.voip.extension"].search_count([])
        action = self.uis.with_user(self.sales_manager).action_crm_voip_import_extensions()
        self.assertEqual(self.env["crm.voip.extension"].search_count([]), count, "a preview")
        wizard = (
            self.env["crm.voip.extension.import"]
            .with_user(self.sales_manager)
            .with_context(action["context"])
            .create({})
        )
        self.assertRecordValues(
            wizard.line_ids,
            [
                {"extension": "11", "user_id": self.salesman_anna.id, "status": "linked"},
                {"extension": "15", "user_id": self.salesman_boris.id, "status": "moved"},
                {"extension": "16", "user_id": carl.id, "status": "new"},
                {"extension": "17", "user_id": False, "status": "unmatched"},
            ],
        )
        wizard.action_import()
        self.assertEqual(
            {(ext.extension, ext.user_id) for ext in self.uis.extension_ids},
            {("11", self.salesman_anna), ("15", self.salesman_boris), ("16", carl)},
        )

    def test_refused_credentials_turn_the_account_red(self):
        account = self.uis_sim.account("uis")
        # A login that UIS no longer accepts: the expired token cannot be renewed.
        self.uis.secret_settings = {"password": "changed", "notification_secret": SECRET}
        action = self.uis.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.env.cr.postcommit.run()
        self.uis.invalidate_recordset()
        self.assertEqual(self.uis.health, "api_error")
        self.assertIn("auth_error", self.uis.api_error)
        # The IP allow-list of UIS's account: the administrator is told where to look.
        self.uis.secret_settings = {"password": PASSWORD, "notification_secret": SECRET}
        account.api_error = uis.IP_NOT_WHITELISTED
        self.addCleanup(setattr, account, "api_error", None)
        action = self.uis.action_test_connection()
        self.assertIn("Rules and security settings > API", action["params"]["message"])
        self.env.cr.postcommit.run()
        self.uis.invalidate_recordset()
        self.assertIn("ip_not_whitelisted", self.uis.api_error)
        account.api_error = None
        action = self.uis.action_test_connection()
        self.assertEqual(action["params"]["type"], "success", action["params"])
        self.env.cr.postcommit.run()
        self.uis.invalidate_recordset()
        self.assertFalse(self.uis.api_error)

    def test_an_expired_token_is_renewed(self):
        self.assertEqual(self.uis.action_test_connection()["params"]["type"], "success")
        self.uis_sim.account("uis").expire_tokens()
        self.assertEqual(self.uis.action_test_connection()["params"]["type"], "success")
        logins = [r for r in self.uis_sim.requests if (r.json or {}).get("method") == "login.user"]
        self.assertEqual(len(logins), 2)


class UisScenarioAccount:
    """UIS / CoMagic in the scenario suites."""

    provider_code = "uis"
    SETTINGS = {"platform": "uiscom.ru", "login": LOGIN, "virtual_number": "74951204567"}
    SECRET_SETTINGS = {"password": PASSWORD, "notification_secret": SECRET}
    UNSUPPORTED = {
        ROUTING: "UIS routes by its own scenario; its interactive call processing is not "
        "used by this suite yet",
    }

    @classmethod
    def setUpClass(cls):
        uis.forget_tokens()
        super().setUpClass()

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        return simulator.UisAccount(
            webhook_url,
            SECRET,
            login=LOGIN,
            password=PASSWORD,
            templates=shipped_templates(webhook_url),
        )


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestUisScenarios(UisScenarioAccount, CallScenarioSuite):
    pass
