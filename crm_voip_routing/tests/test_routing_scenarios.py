"""The routing scenarios for every PBX (``common_scenarios.RoutingScenarioSuite``)."""

from odoo.tests import tagged

from odoo.addons.crm_voip.tests.test_crm_voip_mango import MangoScenarioAccount
from odoo.addons.crm_voip.tests.test_crm_voip_uis import UisScenarioAccount
from odoo.addons.crm_voip.tests.test_crm_voip_webhook import (
    GenericScenarioAccount,
    ZadarmaScenarioAccount,
)

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
