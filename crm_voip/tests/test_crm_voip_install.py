from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from .common import CrmVoipCommon


@tagged("post_install", "-at_install", "crm_voip", "security")
class TestCrmVoipInstall(CrmVoipCommon):
    def test_groups_follow_sales_groups(self):
        self.assertTrue(self.salesman_anna.has_group("crm_voip.crm_voip_group_user"))
        self.assertFalse(self.salesman_anna.has_group("crm_voip.crm_voip_group_manager"))
        self.assertTrue(self.sales_manager.has_group("crm_voip.crm_voip_group_manager"))

    def test_telephony_menu_visible_to_salespeople_only(self):
        root = self.env.ref("crm_voip.crm_voip_menu_root")
        calls = self.env.ref("crm_voip.crm_voip_call_menu")
        configuration = self.env.ref("crm_voip.crm_voip_menu_configuration")
        salesman_menus = self.env["ir.ui.menu"].with_user(self.salesman_anna)._visible_menu_ids()
        self.assertIn(root.id, salesman_menus)
        self.assertIn(calls.id, salesman_menus)
        self.assertNotIn(configuration.id, salesman_menus)
        manager_menus = self.env["ir.ui.menu"].with_user(self.sales_manager)._visible_menu_ids()
        self.assertIn(configuration.id, manager_menus)
        employee = new_test_user(
            self.env,
            "voip_employee",
            groups="base.group_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        self.assertNotIn(root.id, self.env["ir.ui.menu"].with_user(employee)._visible_menu_ids())

    def test_every_model_has_access_rules(self):
        models = self.env["ir.model"].search([("model", "=like", "crm.voip.%")])
        # Abstract models (a mixin, the live board's data) have no table to guard.
        for model in models.filtered(lambda m: not self.env[m.model]._abstract):
            self.assertTrue(
                self.env["ir.model.access"].search_count([("model_id", "=", model.id)]),
                f"{model.model} has no access rule",
            )

    def test_secrets_are_for_administrators_only(self):
        provider = self.zadarma.with_user(self.sales_manager)
        self.assertEqual(provider.name, "Novofon test")
        for secret in ("secret_settings", "base_url", "webhook_token"):
            with self.assertRaises(AccessError):
                provider.read([secret])
        administrator = new_test_user(
            self.env,
            "voip_sysadmin",
            groups="base.group_system",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        self.assertEqual(
            self.zadarma.with_user(administrator).secret_settings["api_secret"], "test-secret"
        )
