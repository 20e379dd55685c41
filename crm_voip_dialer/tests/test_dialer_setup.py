from odoo.tests import tagged

from odoo.addons.crm_voip.tests.common_setup import CrmVoipSetupCase

ROLES = ("employee", "salesperson", "manager")
# Agents (salespeople) read their campaigns and contacts and act through the agent panel's
# methods; supervisors (managers) run the campaigns.
RIGHTS = {
    "crm.voip.dialer.campaign": ("----", "r---", "rwcu"),
    "crm.voip.dialer.line": ("----", "r---", "rwcu"),
    "crm.voip.dialer.attempt": ("----", "r---", "rwcu"),
    "crm.voip.dialer.disposition": ("----", "r---", "rwcu"),
    "crm.voip.dialer.agent": ("----", "r---", "rwcu"),
    "crm.voip.dialer.import": ("----", "----", "rwcu"),
}
MANAGERS = ("manager",)
SALESPEOPLE = ("salesperson", "manager")
# Keys the agent panel reads a disposition from (see the field's help).
SHORTCUT_KEYS = "123456789abcdefghijklmnopqrstuvwxyz"


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestDialerSetup(CrmVoipSetupCase):
    MODULE = "crm_voip_dialer"

    def test_rights_per_role(self):
        self.assertAccessRights(ROLES, RIGHTS)

    def test_company_models_keep_to_the_user_companies(self):
        self.assertCompanyRules()

    def test_menus_per_role(self):
        self.assertMenusVisibleTo(
            {
                "crm_voip_dialer.crm_voip_dialer_menu": SALESPEOPLE,
                "crm_voip_dialer.crm_voip_dialer_campaign_menu": SALESPEOPLE,
                "crm_voip_dialer.crm_voip_dialer_agent_panel_menu": SALESPEOPLE,
                "crm_voip_dialer.crm_voip_dialer_disposition_menu": MANAGERS,
            }
        )

    def test_window_actions_open_for_their_roles(self):
        self.assertWindowActionsOpen(
            {
                "crm_voip_dialer.crm_voip_dialer_campaign_action": SALESPEOPLE,
                "crm_voip_dialer.crm_voip_dialer_line_action": SALESPEOPLE,
                "crm_voip_dialer.crm_voip_dialer_disposition_action": MANAGERS,
                "crm_voip_dialer.crm_voip_dialer_import_action": MANAGERS,
            }
        )

    def test_scheduled_jobs_call_their_model(self):
        self.assertCronsCallTheirModel(
            {"crm_voip_dialer.ir_cron_dialer_tick": "crm.voip.dialer.campaign"}
        )

    def test_default_dispositions_are_consistent(self):
        dispositions = self.module_records("crm.voip.dialer.disposition")
        self.assertEqual(len(dispositions), 5)
        shortcuts = []
        for xmlid, disposition in dispositions.items():
            with self.subTest(disposition=xmlid):
                self.assertTrue(disposition.active)
                self.assertFalse(disposition.company_id, "shared by every company")
                self.assertIn(disposition.shortcut, list(SHORTCUT_KEYS))
                shortcuts.append(disposition.shortcut)
                if disposition.mark_lost:
                    self.assertTrue(disposition.lost_reason_id)
                if disposition.retry:
                    self.assertGreater(disposition.retry_minutes, 0)
        self.assertEqual(len(set(shortcuts)), len(shortcuts), "one key picks one disposition")
        kinds = {
            "conversion": any(d.is_success for d in dispositions.values()),
            "contact not reached": any(not d.is_contact for d in dispositions.values()),
            "call again": any(d.retry for d in dispositions.values()),
            "do not call": any(d.add_to_blacklist for d in dispositions.values()),
        }
        self.assertEqual([kind for kind, present in kinds.items() if not present], [])

    def test_new_campaign_offers_the_default_dispositions(self):
        Campaign = self.env["crm.voip.dialer.campaign"].with_user(self.roles["manager"])
        campaign = Campaign.new(Campaign.default_get(["disposition_ids"]))
        defaults = self.module_records("crm.voip.dialer.disposition").values()
        self.assertLessEqual({d.id for d in defaults}, set(campaign.disposition_ids._origin.ids))
