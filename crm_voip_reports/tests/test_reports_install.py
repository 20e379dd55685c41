from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install", "crm_voip_reports")
class TestReportsInstall(TransactionCase):
    def test_installed_on_top_of_crm_voip(self):
        modules = self.env["ir.module.module"].search(
            [("name", "in", ["crm_voip", "crm_voip_reports"])]
        )
        self.assertEqual(set(modules.mapped("state")), {"installed"})
        dependencies = modules.filtered(lambda m: m.name == "crm_voip_reports").dependencies_id
        self.assertIn("crm_voip", dependencies.mapped("name"))
