import datetime as dt

from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import CrmVoipReportsCommon


@tagged("post_install", "-at_install", "crm_voip_reports", "security")
class TestReportSecurity(CrmVoipReportsCommon):
    """The statistics show what the call log shows: a salesperson his own and the
    unassigned calls, a team leader his teams' calls, a telephony manager every call of
    the companies he works in."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.leader = new_test_user(
            cls.env,
            "voip_report_leader",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.other_team.user_id = cls.leader
        cls.employee = new_test_user(
            cls.env,
            "voip_report_employee",
            groups="base.group_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        # Another company, with one call of its own.
        cls.company_2 = cls.env["res.company"].create({"name": "VoIP Second Co"})
        provider_2 = (
            cls.env["crm.voip.provider"]
            .sudo()
            .create(
                {
                    "name": "Second PBX",
                    "code": "generic",
                    "company_id": cls.company_2.id,
                    "secret_settings": {"webhook_secret": "second-secret"},
                    "unknown_caller_policy": "nothing",
                }
            )
        )
        cls.call_2 = (
            cls.env["crm.voip.call"]
            .sudo()
            .create(
                {
                    "provider_id": provider_2.id,
                    "company_id": cls.company_2.id,
                    "provider_call_id": "second-1",
                    "direction": "inbound",
                    "state": "missed",
                    "partner_number_e164": "+79990009999",
                    "date_start": cls.ledger[0].start,
                    "ring_seconds": 10,
                }
            )
        )
        cls.manager_2 = new_test_user(
            cls.env,
            "voip_report_manager_2",
            groups="sales_team.group_sale_manager",
            company_id=cls.company.id,
            company_ids=[Command.set((cls.company | cls.company_2).ids)],
        )

    def visible(self, user):
        """The ledger calls the user may see, by the call log's rules."""
        leader_teams = {self.team.id} if user == self.sales_manager else set()
        if user == self.leader:
            leader_teams = {self.other_team.id}
        if user.has_group("crm_voip.crm_voip_group_manager"):
            return list(self.ledger)
        return [
            c for c in self.ledger if c.user_id in (user.id, False) or c.team_id in leader_teams
        ]

    def report_as(self, user, per_call=True, companies=None):
        report = self.env["crm.voip.call.report"].with_user(user)
        context = {"allowed_company_ids": companies or [self.company.id]}
        if per_call:
            context["crm_voip_report_per_call"] = True
        return report.with_context(**context)

    def count_by_user(self, report, domain=()):
        return {
            user.id or False: count
            for user, count in report._read_group(list(domain), ["user_id"], ["call_count:sum"])
        }

    def expected_count_by_user(self, calls):
        counts = {}
        for call in calls:
            counts[call.user_id] = counts.get(call.user_id, 0) + 1
        return counts

    # ------------------------------------------------------------------

    def test_rules_mirror_the_call_log(self):
        for user in (
            self.salesman_anna,
            self.salesman_boris,
            self.salesman_other,
            self.leader,
            self.sales_manager,
        ):
            with self.subTest(user=user.login):
                report = self.report_as(user)
                calls = (
                    self.env["crm.voip.call"]
                    .with_user(user)
                    .search([("provider_id", "=", self.generic.id)])
                )
                rows = report.search([("call_id.provider_id", "=", self.generic.id)])
                self.assertEqual(rows.call_id, calls, "the same calls as the call log")
                self.assertEqual(sorted(calls.ids), sorted(c.call_id for c in self.visible(user)))

    def test_salesperson_sees_his_figures(self):
        report = self.report_as(self.salesman_anna)
        visible = self.visible(self.salesman_anna)
        self.assertEqual(self.count_by_user(report), self.expected_count_by_user(visible))
        totals = report._read_group([], [], ["answer_rate:avg", "clients_reached:sum"])[0]
        expected = self.expected(visible)
        self.assertAlmostEqual(totals[0], expected["answer_rate"])
        self.assertEqual(totals[1], expected["clients_reached"])

    def test_team_leader_sees_his_team(self):
        report = self.report_as(self.leader)
        by_team = dict(report._read_group([], ["team_id"], ["call_count:sum"]))
        visible = self.visible(self.leader)
        self.assertEqual(by_team.get(self.other_team), 1)  # Other's unanswered call to C
        self.assertEqual(sum(by_team.values()), len(visible))
        self.assertIn(self.salesman_other.id, self.count_by_user(report))

    def test_manager_sees_all_of_his_companies(self):
        report = self.report_as(self.manager_2)
        self.assertEqual(report._read_group([], [], ["call_count:sum"])[0][0], len(self.ledger))
        both = self.report_as(self.manager_2, companies=[self.company.id, self.company_2.id])
        by_company = dict(both._read_group([], ["company_id"], ["call_count:sum"]))
        self.assertEqual(by_company, {self.company: len(self.ledger), self.company_2: 1})
        # The first manager does not work for the second company.
        report = self.report_as(self.sales_manager)
        self.assertFalse(report.search([("company_id", "=", self.company_2.id)]))
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            self.report_as(
                self.sales_manager, companies=[self.company.id, self.company_2.id]
            ).search([])

    def test_daily_totals_apply_the_same_rules(self):
        self.env["crm.voip.call.report.daily"].sudo()._cron_crm_voip_report_freeze(
            today=dt.date.today() + dt.timedelta(days=1)
        )
        for user in (self.salesman_anna, self.leader, self.manager_2):
            with self.subTest(user=user.login):
                report = self.report_as(user, per_call=False)
                self.assertIsNotNone(report._crm_voip_daily_for([], ["user_id"], [], ()))
                self.assertEqual(
                    self.count_by_user(report),
                    self.expected_count_by_user(self.visible(user)),
                )

    def test_dashboard_shows_only_what_the_user_may_see(self):
        data = self.report_as(self.salesman_anna).crm_voip_dashboard_data(period="last_30_days")
        self.assertEqual(
            {p["user_id"] for p in data["salespeople"]}, {self.salesman_anna.id, False}
        )

    def test_no_telephony_no_statistics(self):
        for model in ("crm.voip.call.report", "crm.voip.call.report.daily"):
            with (
                self.subTest(model=model),
                self.assertRaises(AccessError),
                mute_logger("odoo.models", "odoo.addons.base.models.ir_model"),
            ):
                self.env[model].with_user(self.employee)._read_group([], [], ["call_count:sum"])
        with self.assertRaises(AccessError), mute_logger("odoo.addons.base.models.ir_model"):
            self.env["crm.voip.call.report"].with_user(self.employee).crm_voip_dashboard_data()

    def test_read_only(self):
        row = self.report_as(self.sales_manager).search([], limit=1)
        with self.assertRaises(AccessError), mute_logger("odoo.addons.base.models.ir_model"):
            row.write({"direction": "outbound"})
