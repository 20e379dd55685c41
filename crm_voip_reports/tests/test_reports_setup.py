from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.crm_voip.tests.common_setup import CrmVoipSetupCase
from odoo.addons.crm_voip_reports.report.crm_voip_call_report_daily import TABLES

ROLES = ("employee", "salesperson", "manager", "administrator")
# The statistics are read-only; the call-back links are the job's (and the
# administrator's, to repair them), managers may look at them.
RIGHTS = {
    "crm.voip.call.report": ("----", "r---", "r---", "----"),
    "crm.voip.call.report.daily": ("----", "r---", "r---", "----"),
    "crm.voip.call.callback": ("----", "----", "r---", "rwcu"),
}
SALESPEOPLE = ("salesperson", "manager")


@tagged("post_install", "-at_install", "crm_voip_reports")
class TestReportsSetup(CrmVoipSetupCase):
    MODULE = "crm_voip_reports"

    def test_rights_per_role(self):
        self.assertAccessRights(ROLES, RIGHTS)

    def test_company_models_keep_to_the_user_companies(self):
        self.assertCompanyRules()

    def test_menus_per_role(self):
        self.assertMenusVisibleTo(
            {
                "crm_voip_reports.crm_voip_reports_menu_reporting": SALESPEOPLE,
                "crm_voip_reports.crm_voip_reports_dashboard_menu": SALESPEOPLE,
                "crm_voip_reports.crm_voip_call_report_menu": SALESPEOPLE,
                "crm_voip_reports.crm_voip_call_report_menu_crm": SALESPEOPLE,
            }
        )

    def test_window_actions_open_for_their_roles(self):
        self.assertWindowActionsOpen({"crm_voip_reports.crm_voip_call_report_action": SALESPEOPLE})

    def test_scheduled_jobs_call_their_model(self):
        self.assertCronsCallTheirModel(
            {"crm_voip_reports.ir_cron_crm_voip_report_freeze": "crm.voip.call.report.daily"}
        )

    def test_own_tables_exist_and_the_uninstall_hook_drops_them_all(self):
        """The sums live in tables of the module's own (not models'): each one the module
        creates must be in TABLES, which the uninstall hook drops."""
        rows = self.env.execute_query(
            SQL(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s",
                r"crm\_voip\_call\_report%",
            )
        )
        self.assertEqual({name for (name,) in rows}, set(TABLES))

    def test_install_summed_up_the_past_days(self):
        """The post-install hook runs the summing job once, so the first reports on a
        database that already has calls are fast."""
        self.assertTrue(self.env["crm.voip.call.report.daily"]._crm_voip_frozen_until())
