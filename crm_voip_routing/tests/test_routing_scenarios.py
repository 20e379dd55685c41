"""The routing scenarios for every PBX (``common_scenarios.RoutingScenarioSuite``)."""

from odoo.tests import tagged

from odoo.addons.crm_voip.tests.test_crm_voip_mango import MangoScenarioAccount
from odoo.addons.crm_voip.tests.test_crm_voip_telfin import TelfinScenarioAccount
from odoo.addons.crm_voip.tests.test_crm_voip_uis import UisScenarioAccount
from odoo.addons.crm_voip.tests.test_crm_voip_webhook import (
    GenericScenarioAccount,
    ZadarmaScenarioAccount,
)

from .common import MONDAY_10, ROMASHKA_CALLER, msk
from .common_scenarios import RoutingScenarioSuite


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_scenarios")
class TestZadarmaRoutingScenarios(ZadarmaScenarioAccount, RoutingScenarioSuite):
    def routed_extension(self, deliveries):
        """Zadarma waits on the reply to its call start."""
        return deliveries[0].json()["redirect"]


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_scenarios")
class TestGenericRoutingScenarios(GenericScenarioAccount, RoutingScenarioSuite):
    def routed_extension(self, deliveries):
        return deliveries[0].json()["route"]["targets"][0]


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_scenarios")
class TestMangoRoutingScenarios(MangoScenarioAccount, RoutingScenarioSuite):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The scenarios play the whole call themselves.
        cls.sim.account("mango").play_routed_calls = False

    def setUp(self):
        super().setUp()
        self.sim.account("mango").routes.clear()

    def routed_extension(self, deliveries):
        """Mango is told by a command, sent once the call's start is stored."""
        (route,) = self.sim.account("mango").routes
        return route["to_number"]


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_scenarios")
class TestUisRoutingScenarios(UisScenarioAccount, RoutingScenarioSuite):
    """UIS's own scenario routes the call (ROUTING is unsupported): the suite checks so."""


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_scenarios")
class TestTelfinRoutingScenarios(TelfinScenarioAccount, RoutingScenarioSuite):
    """Telfin cannot be told where to route (``ROUTING`` in ``UNSUPPORTED``)."""

    def test_routing_scenario_known_client_goes_to_his_manager(self):
        """Telfin reports nothing when a call enters its voice menu (only its hang-up is
        subscribed): the call appears when a phone rings; it is the client's, and no
        routing is pretended."""
        events = self.sim.scenario_events(
            self.provider_code, "answered", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        self.assertEqual(events[0]["posts"], [])
        self.env.flush_all()
        deliveries = self.sim.send(self.provider_code, events[:2])
        self.env.invalidate_all()
        self.assertEqual({d.status for d in deliveries}, {200})
        call = self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)])
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
