"""What a salesperson may change of routing's records, through real RPC: not the routing
fields of a call (the reply a repeated "call starting" is answered with), not the
blacklist, and of a call-back task only who calls back, for which contact."""

from odoo import fields
from odoo.tests import tagged

from odoo.addons.crm_voip.tests.test_crm_voip_access import CrmVoipAccessCommon


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_access")
class TestRoutingAccess(CrmVoipAccessCommon):
    def test_routing_fields_of_a_call_are_the_servers(self):
        call = self.anna_call
        attacks = [
            {"crm_voip_routing_reply": {"action": "redirect", "extension": "102"}},
            {"crm_voip_routing_action": "reject"},
            {"crm_voip_routed_user_id": self.salesman_anna.id},
            {"crm_voip_blocked": True},
        ]
        for login in ("voip_anna", "voip_other", "voip_leader", "voip_stranger_co2"):
            for values in attacks:
                with self.subTest(login=login, values=values):
                    self.assertRefused(login, "crm.voip.call", "write", [call.ids, values])
        self.assertFalse(call.crm_voip_routing_reply or call.crm_voip_routing_action)

    def test_blocking_numbers_is_the_managers(self):
        for login in ("voip_anna", "voip_other", "voip_stranger_co2"):
            for model, method, record in (
                ("crm.voip.call", "action_crm_voip_block_number", self.anna_call),
                ("crm.voip.call", "action_crm_voip_unblock_number", self.anna_call),
                ("res.partner", "action_crm_voip_block_numbers", self.client_romashka),
                ("res.partner", "action_crm_voip_unblock_numbers", self.client_romashka),
            ):
                with self.subTest(login=login, method=method):
                    self.assertRefused(login, model, method, [record.ids])
        self.assertFalse(self.env["phone.blacklist"].search([("number", "=", "+74957654321")]))

    def test_call_back_task_fields(self):
        missed = self.env["crm.voip.missed.call"].create(
            {
                "company_id": self.company.id,
                "number_e164": "+74957654321",
                "user_id": self.salesman_anna.id,
                "team_id": self.team.id,
                "deadline": fields.Datetime.now(),
            }
        )
        for login, values in (
            ("voip_anna", {"state": "done"}),
            ("voip_anna", {"deadline": "2099-01-01 00:00:00"}),
            ("voip_anna", {"done_reason": "callback", "done_at": "2020-01-01 00:00:00"}),
            ("voip_other", {"user_id": self.salesman_other.id}),
            ("voip_stranger_co2", {"user_id": self.stranger.id}),
        ):
            with self.subTest(login=login, values=values):
                self.assertRefused(login, "crm.voip.missed.call", "write", [missed.ids, values])
        self.assertRecordValues(missed, [{"state": "open", "user_id": self.salesman_anna.id}])
        # What the form lets her change: who calls back.
        self.rpc(
            "voip_anna",
            "crm.voip.missed.call",
            "write",
            [missed.ids, {"user_id": self.salesman_boris.id}],
        )
        self.assertEqual(missed.user_id, self.salesman_boris)

    def test_do_not_disturb_is_ones_own(self):
        before = self.salesman_anna.crm_voip_dnd
        self.rpc("voip_other", "res.users", "crm_voip_routing_toggle_dnd", [])
        self.assertEqual(self.salesman_anna.crm_voip_dnd, before)
        self.assertTrue(self.salesman_other.crm_voip_dnd)
        self.assertRefused(
            "voip_other", "res.users", "write", [self.salesman_anna.ids, {"crm_voip_dnd": True}]
        )

    def test_routing_test_wizard_is_the_managers(self):
        for login in ("voip_anna", "voip_stranger_co2"):
            with self.subTest(login=login):
                self.assertRefused(
                    login, "crm.voip.routing.test", "create", [{"number": "84957654321"}]
                )
