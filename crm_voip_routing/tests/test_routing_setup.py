from odoo.tests import tagged

from odoo.addons.crm_voip.tests.common_setup import CrmVoipSetupCase

ROLES = ("employee", "salesperson", "manager", "webhook")
# Salespeople read the rules and work their call-backs; managers configure; the webhook
# user (the PBX asking whom to ring) reads the rules and makes the call-back tasks.
RIGHTS = {
    "crm.voip.route": ("----", "r---", "rwcu", "r---"),
    "crm.voip.route.step": ("----", "r---", "rwcu", "r---"),
    "crm.voip.routing.log": ("----", "r---", "r---", "r---"),
    "crm.voip.missed.call": ("----", "rw--", "rwcu", "rwc-"),
    "crm.voip.routing.test": ("----", "----", "rwcu", "----"),
    "phone.blacklist": ("----", "----", "rwc-", "----"),
}
MANAGERS = ("manager",)
SALESPEOPLE = ("salesperson", "manager")


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingSetup(CrmVoipSetupCase):
    MODULE = "crm_voip_routing"

    def test_rights_per_role(self):
        self.assertAccessRights(ROLES, RIGHTS)

    def test_company_models_keep_to_the_user_companies(self):
        self.assertCompanyRules()

    def test_menus_per_role(self):
        self.assertMenusVisibleTo(
            {
                "crm_voip_routing.crm_voip_missed_call_menu": SALESPEOPLE,
                # Team leaders are salespeople; the board itself shows each his scope.
                "crm_voip_routing.crm_voip_board_menu": SALESPEOPLE,
                "crm_voip_routing.crm_voip_route_menu": MANAGERS,
                "crm_voip_routing.crm_voip_routing_test_menu": MANAGERS,
                "crm_voip_routing.crm_voip_routing_log_menu": MANAGERS,
                "crm_voip_routing.crm_voip_blacklist_menu": MANAGERS,
            }
        )

    def test_window_actions_open_for_their_roles(self):
        self.assertWindowActionsOpen(
            {
                "crm_voip_routing.crm_voip_missed_call_action": SALESPEOPLE,
                "crm_voip_routing.crm_voip_route_action": MANAGERS,
                "crm_voip_routing.crm_voip_routing_log_action": MANAGERS,
                "crm_voip_routing.crm_voip_routing_test_action": MANAGERS,
            }
        )

    def test_scheduled_jobs_call_their_model(self):
        self.assertCronsCallTheirModel(
            {"crm_voip_routing.ir_cron_crm_voip_escalate_missed_calls": "crm.voip.missed.call"}
        )
