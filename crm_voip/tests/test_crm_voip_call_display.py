"""How the call log shows a client number: the popup's spelling, whatever the PBX sent."""

from odoo.tests import tagged

from .common import CrmVoipCommon


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_call_display")
class TestCallNumberDisplay(CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Call = cls.env["crm.voip.call"]
        values = {"provider_id": cls.zadarma.id, "company_id": cls.company.id}
        cls.call_moscow = Call.create(
            {
                **values,
                "provider_call_id": "display-moscow",
                "partner_number": "84951234567",
                "partner_number_e164": "+74951234567",
            }
        )
        cls.call_london = Call.create(
            {
                **values,
                "provider_call_id": "display-london",
                "partner_number": "442079460958",
                "partner_number_e164": "+442079460958",
            }
        )
        # What the PBX sent could not be read as a phone number: shown as it came.
        cls.call_unreadable = Call.create(
            {**values, "provider_call_id": "display-raw", "partner_number": "anonymous"}
        )
        cls.call_without_number = Call.create({**values, "provider_call_id": "display-none"})
        cls.calls = cls.call_moscow | cls.call_london | cls.call_unreadable
        cls.calls |= cls.call_without_number

    def test_number_is_shown_as_in_the_popup(self):
        self.assertEqual(self.call_moscow.partner_number_display, "+7 495 123-45-67")
        self.assertEqual(self.call_london.partner_number_display, "+44 20 7946 0958")
        self.assertEqual(
            self.call_moscow.partner_number_display,
            self.call_moscow._crm_voip_format_number(self.call_moscow.partner_number_e164),
        )

    def test_raw_number_when_there_is_no_e164_form(self):
        self.assertEqual(self.call_unreadable.partner_number_display, "anonymous")

    def test_empty_without_a_number(self):
        self.assertFalse(self.call_without_number.partner_number_display)

    def test_follows_the_stored_numbers(self):
        self.call_unreadable.partner_number_e164 = "+74957654321"
        self.assertEqual(self.call_unreadable.partner_number_display, "+7 495 765-43-21")
        self.assertEqual(self.call_unreadable.display_name, "Call from +7 495 765-43-21")

    def test_searched_as_shown_or_as_stored(self):
        Call = self.env["crm.voip.call"]
        for typed in ("+7 495 123-45-67", "495 123-45", "84951234567"):
            with self.subTest(typed=typed):
                found = Call.search([("partner_number_display", "ilike", typed)])
                self.assertEqual(found & self.calls, self.call_moscow)
        found = Call.search([("partner_number_display", "ilike", "anonym")])
        self.assertEqual(found & self.calls, self.call_unreadable)

    def test_sorted_by_the_stored_numbers(self):
        Call = self.env["crm.voip.call"]
        domain = [("id", "in", self.calls.ids)]
        ascending = Call.search(domain, order="partner_number_display, id")
        self.assertEqual(
            ascending.mapped("provider_call_id"),
            ["display-london", "display-moscow", "display-raw", "display-none"],
        )
        # So the list lets people sort the column.
        description = Call.fields_get(["partner_number_display"], ["sortable"])
        self.assertTrue(description["partner_number_display"]["sortable"])
