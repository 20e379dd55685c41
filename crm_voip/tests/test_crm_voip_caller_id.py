from odoo.tests import tagged

from odoo.addons.crm_voip import providers

from .common import CrmVoipCommon


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_caller_id")
class TestCallerIdentification(CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Call = cls.env["crm.voip.call"]

    def identify(self, raw, company=None):
        """What the webhook does with an incoming number."""
        normalized = providers.numbers.normalize(raw, self.zadarma._crm_voip_region())
        return self.Call._crm_voip_identify(normalized, company or self.company)

    def test_every_incoming_form_finds_the_same_contact(self):
        for raw in (
            "8 495 765-43-21",
            "+7 (495) 765 43 21",
            "74957654321",
            "0074957654321",
            "810 7 495 765 43 21",
            "4957654321",
            "tel:+74957654321",
        ):
            with self.subTest(raw=raw):
                partner, lead = self.identify(raw)
                self.assertEqual(partner, self.client_romashka)
                self.assertEqual(lead, self.opportunity_romashka)

    def test_mobile_matches_the_person_not_only_his_company(self):
        partner, lead = self.identify("8 916 765 43 21")
        self.assertEqual(partner, self.client_ivan)
        self.assertEqual(lead, self.opportunity_romashka, "his company's open opportunity")

    def test_phone_and_mobile_are_both_indexed(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Both numbers",
                "phone": "+7 812 111-22-33",
                "mobile": "8 (921) 444-55-66",
                "company_id": self.company.id,
            }
        )
        self.assertEqual(partner.crm_voip_phone_e164, "+78121112233")
        self.assertEqual(partner.crm_voip_mobile_e164, "+79214445566")
        self.assertEqual(self.identify("78121112233")[0], partner)
        self.assertEqual(self.identify("79214445566")[0], partner)
        # Kept in sync when the number changes.
        partner.mobile = "+7 921 000 00 01"
        self.assertEqual(self.identify("79210000001")[0], partner)
        self.assertFalse(self.identify("79214445566")[0])

    def test_lead_without_contact(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Website request",
                "type": "lead",
                "mobile": "8-903-123-45-00",
                "company_id": self.company.id,
            }
        )
        partner, found = self.identify("+79031234500")
        self.assertFalse(partner)
        self.assertEqual(found, lead)

    def test_numbers_of_other_countries(self):
        partner, _lead = self.identify("00442079460958")
        self.assertEqual(partner, self.client_london)

    def test_unknown_and_extension_numbers(self):
        self.assertEqual(
            self.identify("79990000000"), (self.env["res.partner"], self.env["crm.lead"])
        )
        self.assertEqual(self.identify("101"), (self.env["res.partner"], self.env["crm.lead"]))

    def test_several_matches_are_ranked(self):
        """A shared office number: the open opportunity wins, then the latest call."""
        shared = "+7 495 222-33-44"
        values = {"phone": shared, "company_id": self.company.id, "is_company": True}
        old_client = self.env["res.partner"].create(dict(values, name="Old client"))
        active_client = self.env["res.partner"].create(dict(values, name="Active client"))
        self.env["crm.lead"].create(
            {
                "name": "Lost deal",
                "type": "opportunity",
                "partner_id": old_client.id,
                "active": False,
                "company_id": self.company.id,
            }
        )
        open_deal = self.env["crm.lead"].create(
            {
                "name": "Open deal",
                "type": "opportunity",
                "partner_id": active_client.id,
                "user_id": self.salesman_boris.id,
                "company_id": self.company.id,
            }
        )
        partner, lead = self.identify("84952223344")
        self.assertEqual(lead, open_deal)
        self.assertIn(partner, old_client | active_client)
        # Without any lead the contact with the most recent call wins.
        open_deal.active = False
        for client, day in ((old_client, "2026-01-10"), (active_client, "2026-03-01")):
            self.env["crm.voip.call"].create(
                {
                    "provider_id": self.zadarma.id,
                    "company_id": self.company.id,
                    "provider_call_id": f"history-{client.id}",
                    "partner_id": client.id,
                    "date_start": f"{day} 10:00:00",
                }
            )
        partner, lead = self.identify("84952223344")
        self.assertEqual(partner, active_client)
        self.assertFalse(lead)

    def test_other_company_records_are_not_matched(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        self.env["res.partner"].create(
            {"name": "Foreign twin", "phone": "+7 495 333-44-55", "company_id": other_company.id}
        )
        partner, _lead = self.identify("84953334455")
        self.assertFalse(partner)

    def test_webhook_user_and_salesperson_see_what_their_rights_allow(self):
        """The webhook user reads the whole company; a salesperson limited to his own
        documents is not linked to a colleague's opportunity."""
        webhook_user = self.env.ref("crm_voip.user_crm_voip_webhook")
        company = self.company
        for user in (webhook_user, self.salesman_anna):
            with self.subTest(user=user.login):
                partner, lead = self.Call.with_user(user)._crm_voip_identify(
                    "+74957654321", company.with_user(user)
                )
                self.assertEqual(partner, self.client_romashka)
                self.assertEqual(lead, self.opportunity_romashka)
        # Boris sees only his own leads: the contact, but not Anna's opportunity.
        partner, lead = self.Call.with_user(self.salesman_boris)._crm_voip_identify(
            "+74957654321", company.with_user(self.salesman_boris)
        )
        self.assertEqual(partner, self.client_romashka)
        self.assertFalse(lead)

    def test_import_normalizes_numbers(self):
        result = self.env["res.partner"].load(
            ["name", "phone", "mobile", "country_id/id"],
            [["Imported client", "8 (343) 200-10-20", "8 912 000 11 22", "base.ru"]],
        )
        self.assertFalse(result["messages"])
        partner = self.env["res.partner"].browse(result["ids"])
        self.assertEqual(partner.crm_voip_phone_e164, "+73432001020")
        self.assertEqual(partner.crm_voip_mobile_e164, "+79120001122")
