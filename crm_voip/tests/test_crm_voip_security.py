from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from .common import CrmVoipCommon


@tagged("post_install", "-at_install", "crm_voip", "security", "multi_company")
class TestCallAccess(CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Call = cls.env["crm.voip.call"]
        base = {"provider_id": cls.zadarma.id, "company_id": cls.company.id}
        cls.call_anna = Call.create(
            dict(base, provider_call_id="a", user_id=cls.salesman_anna.id, team_id=cls.team.id)
        )
        cls.call_boris = Call.create(
            dict(base, provider_call_id="b", user_id=cls.salesman_boris.id, team_id=cls.team.id)
        )
        cls.call_other = Call.create(
            dict(
                base,
                provider_call_id="o",
                user_id=cls.salesman_other.id,
                team_id=cls.other_team.id,
            )
        )
        cls.call_unassigned = Call.create(dict(base, provider_call_id="u"))
        cls.other_company = cls.env["res.company"].create({"name": "Other telephony Co"})
        cls.other_provider = cls.env["crm.voip.provider"].create(
            {"name": "Other PBX", "code": "generic", "company_id": cls.other_company.id}
        )
        cls.call_other_company = Call.create(
            {
                "provider_id": cls.other_provider.id,
                "company_id": cls.other_company.id,
                "provider_call_id": "x",
            }
        )
        cls.all_calls = (
            cls.call_anna
            | cls.call_boris
            | cls.call_other
            | cls.call_unassigned
            | cls.call_other_company
        )

    def visible_calls(self, user):
        return self.env["crm.voip.call"].with_user(user).search([("id", "in", self.all_calls.ids)])

    def test_salesperson_sees_own_and_unassigned_calls(self):
        self.assertEqual(
            self.visible_calls(self.salesman_anna), self.call_anna | self.call_unassigned
        )
        with self.assertRaises(AccessError):
            self.call_boris.with_user(self.salesman_anna).read(["partner_number"])

    def test_team_leader_sees_his_team(self):
        leader = new_test_user(
            self.env,
            "voip_leader",
            groups="sales_team.group_sale_salesman",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        self.team.user_id = leader
        self.assertEqual(
            self.visible_calls(leader), self.call_anna | self.call_boris | self.call_unassigned
        )

    def test_manager_sees_all_calls_of_his_companies_only(self):
        self.assertEqual(
            self.visible_calls(self.sales_manager),
            self.call_anna | self.call_boris | self.call_other | self.call_unassigned,
        )
        both = new_test_user(
            self.env,
            "voip_two_companies",
            groups="sales_team.group_sale_manager",
            company_id=self.company.id,
            company_ids=[Command.set((self.company | self.other_company).ids)],
        )
        calls = (
            self.env["crm.voip.call"]
            .with_user(both)
            .with_context(allowed_company_ids=(self.company | self.other_company).ids)
            .search([("id", "in", self.all_calls.ids)])
        )
        self.assertEqual(calls, self.all_calls)

    def test_user_without_telephony_sees_nothing(self):
        employee = new_test_user(
            self.env,
            "voip_no_phone",
            groups="base.group_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        with self.assertRaises(AccessError):
            self.env["crm.voip.call"].with_user(employee).search([])

    def test_salesperson_cannot_forge_calls_or_events(self):
        with self.assertRaises(AccessError):
            self.env["crm.voip.call"].with_user(self.salesman_anna).create(
                {
                    "provider_id": self.zadarma.id,
                    "company_id": self.company.id,
                    "provider_call_id": "forged",
                }
            )
        with self.assertRaises(AccessError):
            self.env["crm.voip.event"].with_user(self.salesman_anna).search([])

    def test_webhook_user_is_low_privilege(self):
        webhook_user = self.env.ref("crm_voip.user_crm_voip_webhook")
        self.assertFalse(webhook_user.active, "it cannot log in")
        self.assertFalse(webhook_user.has_group("base.group_system"))
        self.assertFalse(webhook_user.has_group("sales_team.group_sale_manager"))
        self.assertIn(self.company, webhook_user.company_ids, "every company, for its PBX")
        with self.assertRaises(AccessError):
            self.zadarma.with_user(webhook_user).read(["secret_settings"])
        with self.assertRaises(AccessError):
            self.env["res.users"].with_user(webhook_user).create({"name": "x", "login": "x"})
