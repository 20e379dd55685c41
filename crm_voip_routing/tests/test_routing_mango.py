"""Mango routes by command, not in its webhook reply: the known client's call is sent to
his manager by ``commands/route`` once its start is stored; a PBX that does not take the
command in time keeps its own scenario, and the routing log says so."""

from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.crm_voip.tests.common_http import run_commit_hooks

from .common import MONDAY_10, ROMASHKA_CALLER, CrmVoipRoutingHttpCommon, msk

KEY, SALT = "mango-key", "mango-salt"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingMango(CrmVoipRoutingHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.zadarma | cls.generic).active = False
        cls.mango = cls.env["crm.voip.provider"].create(
            {
                "name": "Mango routing",
                "code": "mango",
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "secret_settings": {"api_key": KEY, "api_salt": SALT},
                # The calls are played at a fixed Monday 10:00 (working hours), long ago.
                "settings": {"route_timeout": 1, "max_event_age": 10**9},
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_anna.id, "extension": "101"}),
                    Command.create({"user_id": cls.salesman_boris.id, "extension": "102"}),
                ],
            }
        )
        simulator = cls.simulator_module
        cls.mango_sim = simulator.Simulator(
            mango=simulator.MangoAccount(cls._webhook_url(cls.mango), KEY, SALT)
        ).start()
        cls.addClassCleanup(cls.mango_sim.stop)
        cls.mango.base_url = cls.mango_sim.api_url("mango")

    def setUp(self):
        super().setUp()
        # The route command goes out after the commit: let the test server's commits run
        # their post-commit hooks, as a real server does.
        run_commit_hooks(self)
        self.account = self.mango_sim.account("mango")
        self.account.routes.clear()

    def start(self):
        """The call's first event only: it enters the voice menu."""
        events = self.mango_sim.scenario_events(
            "mango", "answered", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        self.env.flush_all()
        deliveries = self.mango_sim.send("mango", events[:1])
        self.mango_sim.wait_background(timeout=10)
        self.env.invalidate_all()
        self.assertEqual({d.status for d in deliveries}, {200})
        return self.env["crm.voip.call"].search([("provider_id", "=", self.mango.id)])

    def test_known_client_is_routed_to_his_manager_by_command(self):
        call = self.start()
        self.assertRecordValues(
            call,
            [
                {
                    "crm_voip_routing_action": "redirect",
                    "crm_voip_routed_user_id": self.salesman_anna.id,
                }
            ],
        )
        (route,) = self.account.routes
        self.assertEqual(route["to_number"], "101")

    def test_route_not_taken_keeps_the_pbx_scenario_and_says_so(self):
        """Refused or not answered in time (Odoo's test mode stretches every timeout to
        10 s, so the refusal stands for both: the same error path)."""
        self.mango_sim.fail_next(1, 503)
        with self.assertLogs("odoo.addons.crm_voip.models.crm_voip_call", "WARNING"):
            call = self.start()
        self.assertEqual(call.crm_voip_routing_action, "default")
        last = call.crm_voip_routing_log_ids.sorted("sequence")[-1:]
        self.assertEqual(last.reason, "undelivered")
        self.assertIn("limit", last.detail)
        self.assertFalse(self.account.routes)
