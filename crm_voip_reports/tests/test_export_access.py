"""The Excel export attacked through HTTP by a salesperson of another team and one of
another company: the file names nothing beyond his rights, bad filters answer 400."""

import datetime as dt
import io
import json

import openpyxl

from odoo import http
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.crm_voip.tests.common import CrmVoipCommon, user_of_company

URL = "/crm_voip_reports/export_xlsx"


@tagged("post_install", "-at_install", "crm_voip_reports", "security")
class TestExportAccess(HttpCase, CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_2 = cls.env["res.company"].create({"name": "VoIP Secret Second Co"})
        cls.seller_2 = user_of_company(cls.env, cls.company_2, "voip_export_seller_2")
        cls.partner_2 = cls.env["res.partner"].create(
            {"name": "Hidden Partner of Co2", "company_id": cls.company_2.id}
        )
        cls.lead_2 = cls.env["crm.lead"].create(
            {
                "name": "Hidden deal of Co2",
                "company_id": cls.company_2.id,
                "user_id": cls.seller_2.id,
                "partner_id": cls.partner_2.id,
            }
        )
        provider_2 = cls.env["crm.voip.provider"].create(
            {
                "name": "Second PBX",
                "code": "generic",
                "company_id": cls.company_2.id,
                "secret_settings": {"webhook_secret": "second-secret"},
                "unknown_caller_policy": "nothing",
            }
        )
        started = dt.datetime.now().replace(microsecond=0) - dt.timedelta(hours=1)
        Call = cls.env["crm.voip.call"]

        def call(key, provider, company, user, **values):
            return Call.create(
                {
                    "provider_id": provider.id,
                    "company_id": company.id,
                    "provider_call_id": key,
                    "direction": "inbound",
                    "state": "missed",
                    "partner_number_e164": "+79990009999",
                    "date_start": started,
                    "ring_seconds": 10,
                    "user_id": user.id,
                    **values,
                }
            )

        cls.call_anna = call(
            "anna-1",
            cls.generic,
            cls.company,
            cls.salesman_anna,
            team_id=cls.team.id,
            partner_id=cls.client_romashka.id,
            lead_id=cls.opportunity_romashka.id,
        )
        cls.call_other = call(
            "other-1",
            cls.generic,
            cls.company,
            cls.salesman_other,
            team_id=cls.other_team.id,
            partner_id=cls.client_london.id,
        )
        cls.call_2 = call(
            "second-1",
            provider_2,
            cls.company_2,
            cls.seller_2,
            partner_id=cls.partner_2.id,
            lead_id=cls.lead_2.id,
        )
        # Every record a filter may name, the attacker's own rights aside.
        cls.snooping_filter = [
            "|",
            "|",
            "|",
            ("lead_id", "in", [cls.opportunity_romashka.id, cls.lead_2.id]),
            ("commercial_partner_id", "=", cls.partner_2.id),
            ("company_id", "in", [cls.company.id, cls.company_2.id]),
            ("user_id", "=", cls.salesman_anna.id),
        ]

    def export(self, login, domain, companies, status=200):
        self.authenticate(login, login)
        self.env.flush_all()
        response = self.url_open(
            URL,
            data={
                "domain": domain if isinstance(domain, str) else json.dumps(domain),
                "company_ids": companies if isinstance(companies, str) else json.dumps(companies),
                "csrf_token": http.Request.csrf_token(self),
            },
        )
        self.assertEqual(response.status_code, status, response.text[:500])
        return response

    def book(self, response):
        return openpyxl.load_workbook(io.BytesIO(response.content))

    def assert_names_nothing_hidden(self, book, hidden):
        texts = [
            str(cell)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
            if cell is not None
        ]
        for name in hidden:
            self.assertFalse([text for text in texts if name in text], name)

    # ------------------------------------------------------------------

    def test_other_team_filter_names_only_what_he_may_read(self):
        response = self.export("voip_other", self.snooping_filter, [self.company.id])
        book = self.book(response)
        description = book["Summary"]["B2"].value
        # Anna's opportunity, the other company, its partner and its lead: not named.
        self.assert_names_nothing_hidden(
            book,
            [
                self.opportunity_romashka.name,
                self.lead_2.name,
                self.partner_2.name,
                self.company_2.name,
            ],
        )
        self.assertIn("2 records of Lead/Opportunity you cannot see", description)
        self.assertIn("a record of Contact you cannot see", description)
        self.assertIn("a record of Companies you cannot see", description)
        # What he may read is named: his company, Anna (a colleague).
        self.assertIn(self.company.name, description)
        self.assertIn(self.salesman_anna.name, description)
        # His rows only: the filter names Anna and both companies, he gets his own call.
        rows = list(book["Calls"].iter_rows(min_row=2, values_only=True))
        self.assertEqual(
            [(row[4], row[6]) for row in rows],
            [(self.salesman_other.name, self.client_london.name)],
        )
        people = [row[0] for row in book["Salespeople"].iter_rows(min_row=2, values_only=True)]
        self.assertEqual(people, [self.salesman_other.name])

    def test_other_company_filter_names_only_what_he_may_read(self):
        response = self.export("voip_export_seller_2", self.snooping_filter, [self.company_2.id])
        book = self.book(response)
        description = book["Summary"]["B2"].value
        self.assert_names_nothing_hidden(
            book,
            [
                self.opportunity_romashka.name,
                self.client_romashka.name,
                self.company.name,
                self.generic.name,
            ],
        )
        self.assertIn("a record of Lead/Opportunity you cannot see", description)
        self.assertIn("a record of Companies you cannot see", description)
        self.assertIn(self.lead_2.name, description)
        rows = list(book["Calls"].iter_rows(min_row=2, values_only=True))
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][4], self.seller_2.name)
        self.assertEqual(rows[0][17], self.company_2.name)
        # Nor may he ask for the first company's calls.
        with mute_logger("odoo.http"):
            response = self.export(
                "voip_export_seller_2", [], [self.company.id, self.company_2.id], status=403
            )
        self.assertNotIn(self.opportunity_romashka.name, response.text)

    def test_an_id_that_names_nothing_is_told_like_a_hidden_one(self):
        response = self.export("voip_other", [("lead_id", "=", 2_000_000_000)], [self.company.id])
        description = self.book(response)["Summary"]["B2"].value
        self.assertIn("a record of Lead/Opportunity you cannot see", description)

    @mute_logger("odoo.http")
    def test_bad_filters_answer_400_with_the_reason(self):
        bad = [
            ([("no_such_field", "=", 1)], "unknown field"),
            ([("user_id.no_such_field", "=", 1)], "unknown field"),
            ([("direction.name", "=", "x")], "unknown field"),
            ([(1, "=", 1)], "field name is expected"),
            ([("direction", "~=", "inbound")], "unknown operator"),
            ([("date_start", ">=", "not a date")], "does not fit its field"),
            ([("call_date", "=", "2024-13-45")], "does not fit its field"),
            ([("ring_seconds", ">", "many")], "a number is expected"),
            ([("partner_number", "=", "7495\x00")], "NUL"),
            ([("partner_number", "=", "\ud800")], "NUL or an invalid character"),
            ([("ring_seconds", ">", float("inf"))], "out of range"),
            ([("ring_seconds", ">", 10**30)], "out of range"),
            ([("direction", "=", {"a": 1})], "must be text"),
            ([("partner_number", "=", 5)], "text is expected"),
            ([("direction", "in", ["inbound", 1.5])], "text is expected"),
            ([("user_id", "in", [1.5])], "ids or a name are expected"),
            ([("lead_id.active", "=", "yes")], "true or false is expected"),
            ([("date_start", "=", 5)], "expects a date"),
            (["&", ("direction", "=", "inbound")], "lacks its conditions"),
            (["|"], "lacks its conditions"),
            ("[" * 100_000 + "]" * 100_000, "domain is not JSON"),
            ("[[" + '"x",' * 10 + "]]", "domain is not JSON"),
        ]
        for login, company in (
            ("voip_other", self.company),
            ("voip_export_seller_2", self.company_2),
        ):
            for domain, reason in bad:
                with self.subTest(login=login, domain=str(domain)[:60]):
                    response = self.export(login, domain, [company.id], status=400)
                    self.assertIn(reason, response.text)
            for companies, status in (
                ("[" * 100_000, 400),
                (json.dumps([2**40]), 400),
                (json.dumps([True]), 400),
            ):
                with self.subTest(login=login, companies=companies[:20]):
                    self.export(login, [], companies, status=status)
