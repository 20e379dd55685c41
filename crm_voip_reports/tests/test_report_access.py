"""The reports' one public method, through real RPC: the dashboard of a salesperson of
another team and of another company shows none of Anna's figures."""

from odoo.tests import tagged

from odoo.addons.crm_voip.tests.common import user_of_company

from .common import CrmVoipReportsCommon


@tagged("post_install", "-at_install", "crm_voip_reports", "crm_voip_access")
class TestReportDashboardAccess(CrmVoipReportsCommon):
    def dashboard(self, login):
        self.authenticate(login, login)
        self.env.flush_all()
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.voip.call.report/crm_voip_dashboard_data",
            {
                "model": "crm.voip.call.report",
                "method": "crm_voip_dashboard_data",
                "args": [],
                "kwargs": {"period": "last_30_days"},
            },
        )

    def test_dashboard_of_another_team_and_company(self):
        company_2 = self.env["res.company"].create({"name": "VoIP Report Access Co 2"})
        stranger = user_of_company(self.env, company_2, "voip_report_stranger")
        anna = {p["user_id"] for p in self.dashboard("voip_anna")["salespeople"]}
        self.assertIn(self.salesman_anna.id, anna, "the ledger has Anna's calls")
        for user in (self.salesman_other, stranger):
            with self.subTest(login=user.login):
                data = self.dashboard(user.login)
                self.assertLessEqual({p["user_id"] for p in data["salespeople"]}, {user.id, False})
        stranger_data = self.dashboard(stranger.login)
        self.assertFalse(
            [p for p in stranger_data["salespeople"] if p["user_id"]],
            "another company's salesperson sees no one of this company",
        )
