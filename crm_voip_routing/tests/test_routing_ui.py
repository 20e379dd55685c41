import json

from odoo.tests import HttpCase, new_test_user, tagged

from .common import CrmVoipRoutingCommon


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingUi(HttpCase, CrmVoipRoutingCommon):
    def _session_info(self, login):
        self.authenticate(login, login)
        response = self.url_open(
            "/web/session/get_session_info",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}),
            headers={"Content-Type": "application/json"},
        )
        return response.json()["result"]

    def test_do_not_disturb_systray(self):
        self.salesman_anna.password = "voip_anna"
        self.start_tour("/odoo", "crm_voip_routing_dnd", login="voip_anna")
        self.assertTrue(self.salesman_anna.crm_voip_dnd)

    def test_manager_edits_rules_and_tests_a_number(self):
        self.sales_manager.password = "voip_manager"
        self.env["crm.voip.provider"].search(
            [("company_id", "!=", self.company.id)]
        ).active = False  # the wizard picks the test company's PBX account
        self.start_tour(
            "/odoo/action-crm_voip_routing.crm_voip_route_action",
            "crm_voip_routing_manager",
            login="voip_manager",
        )

    def test_settings(self):
        self.start_tour("/odoo/settings#crm", "crm_voip_routing_settings", login="admin")
        settings = self.env["res.config.settings"].create(
            {"crm_voip_missed_sla_minutes": 30, "crm_voip_escalation_sms": True}
        )
        settings.execute()
        self.assertEqual(self.env.company.crm_voip_missed_sla_minutes, 30)
        self.assertTrue(self.env.company.crm_voip_escalation_sms)

    def test_session_tells_the_systray_who_takes_calls(self):
        self.salesman_anna.write({"password": "voip_anna", "crm_voip_dnd": True})
        self.assertEqual(self._session_info("voip_anna")["crm_voip_routing"], {"dnd": True})
        new_test_user(
            self.env, "voip_accountant", groups="base.group_user", password="voip_accountant"
        )
        self.assertNotIn("crm_voip_routing", self._session_info("voip_accountant"))
