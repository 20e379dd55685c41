"""The routing scenarios every PBX must pass, on top of crm_voip's call scenarios: a known
client's call goes to his manager, however the PBX takes its routing (in the webhook's
reply, or by a command sent after the event is stored), and a call nobody answered in a
ring group becomes one call-back task for a specific person.

A PBX joins with a subclass (its code, credentials, simulator account, as for
``CallScenarioSuite``) that says how it was told where the call goes
(``routed_extension``).
"""

import datetime as dt

from odoo.addons.crm_voip.tests.common_http import run_commit_hooks
from odoo.addons.crm_voip.tests.common_scenarios import ROUTING, ScenarioAccountCase

from .common import MONDAY_10, ROMASHKA_CALLER, RoutingFixtures, msk


class RoutingScenarioSuite(RoutingFixtures, ScenarioAccountCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_routing()
        # The calls are played at a fixed Monday morning (working hours), long ago.
        adapter_class = cls.account._crm_voip_adapter_class()
        if adapter_class.config_field("max_event_age"):
            cls.account.settings = {**(cls.account.settings or {}), "max_event_age": 10**9}

    def setUp(self):
        super().setUp()
        # A routing command goes out after the commit: let the test server's commits run
        # their post-commit hooks, as a real server does.
        run_commit_hooks(self)

    def routed_extension(self, deliveries):
        """The extension the PBX was told to ring first, from its answers or commands."""
        raise NotImplementedError

    def test_routing_scenario_known_client_goes_to_his_manager(self):
        events = self.sim.scenario_events(
            self.provider_code, "answered", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        self.env.flush_all()
        deliveries = self.sim.send(self.provider_code, events[:1])
        self.sim.wait_background()
        self.env.invalidate_all()
        self.assertEqual({d.status for d in deliveries}, {200})
        call = self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)])
        if not self.supported(ROUTING):
            # The PBX's own scenario routes the call: nothing can be sent, and no routing
            # is pretended; the call is still the client's.
            adapter_class = self.account._crm_voip_adapter_class()
            self.assertFalse(adapter_class.routes_synchronously or adapter_class.routes_by_command)
            self.assertRecordValues(
                call,
                [
                    {
                        "partner_id": self.client_romashka.id,
                        "crm_voip_route_id": False,
                        "crm_voip_routing_action": False,
                        "crm_voip_routed_user_id": False,
                    }
                ],
            )
            return
        self.assertRecordValues(
            call,
            [
                {
                    "crm_voip_route_id": self.route_known.id,
                    "crm_voip_routing_action": "redirect",
                    "crm_voip_routed_user_id": self.salesman_anna.id,
                    "crm_voip_responsible_user_id": self.salesman_anna.id,
                    "crm_voip_responsible_source": "partner",
                }
            ],
        )
        self.assertEqual(self.routed_extension(deliveries), "101")

    def test_routing_scenario_missed_in_a_ring_group_makes_one_task(self):
        call = self.play_call(
            "missed",
            caller=ROMASHKA_CALLER,
            extensions=["101", "102"],
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(call.state, "missed")
        self.assertEqual(call.rang_user_ids, self.salesman_anna | self.salesman_boris)
        self.assertRecordValues(
            call.crm_voip_missed_call_id,
            [
                {
                    "number_e164": "+74957654321",
                    "partner_id": self.client_romashka.id,
                    "missed_count": 1,
                    "state": "open",
                    "user_id": self.salesman_anna.id,
                    "owner_reason": "partner",
                    # 15 working minutes after 10:00 Moscow time.
                    "deadline": dt.datetime(2024, 1, 15, 7, 15),
                }
            ],
        )
        self.assertEqual(
            self.env["crm.voip.missed.call"].search_count([("number_e164", "=", "+74957654321")]),
            1,
        )
