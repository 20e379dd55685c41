"""Hidden client numbers in the call analysis and its Excel export: a salesperson outside
"Sees client phone numbers" gets them masked, never whole."""

import io
import zipfile

from odoo.tests import tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from . import test_xlsx
from .common import IVAN, LONDON, ROMASHKA


@tagged("post_install", "-at_install", "crm_voip_reports", "crm_voip_masking")
class TestMaskedNumbersInReports(test_xlsx.TestXlsxExport):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.config.settings"].create({"crm_voip_hide_numbers": True}).execute()

    def all_digits(self):
        """Every client number of the played calls, as national digits."""
        numbers = {ROMASHKA, IVAN, LONDON}
        numbers |= set(self.calls.sudo().mapped("partner_number_e164")) - {False}
        return {number.lstrip("+")[-9:] for number in numbers}

    def test_export_masks_the_numbers(self):
        response = self.download("voip_boris", [])
        sheet = self.workbook(response)["Calls"]
        numbers = [row[7] for row in sheet.iter_rows(min_row=2, values_only=True) if row[7]]
        self.assertTrue(numbers)
        self.assertTrue(all("*" in number for number in numbers), numbers)
        self.assertIn("+7 495 ***-**-21", numbers)
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            text = "".join(archive.read(name).decode() for name in archive.namelist())
        for digits in self.all_digits():
            self.assertNotIn(digits, text)
        # A manager still exports them whole.
        sheet = self.workbook(self.download("voip_manager", []))["Calls"]
        numbers = {row[7] for row in sheet.iter_rows(min_row=2, values_only=True)}
        self.assertIn(ROMASHKA, numbers)

    def test_analysis_rows_are_masked(self):
        rows = self.rpc(
            "voip_boris",
            "crm.voip.call.report",
            "search_read",
            [[]],
            fields=["partner_number_display"],
        )
        self.assertTrue(rows)
        shown = [row["partner_number_display"] for row in rows if row["partner_number_display"]]
        self.assertTrue(all("*" in number for number in shown), shown)
        for field in ("partner_number",):
            with (
                mute_logger("odoo.http", "odoo.models"),
                self.assertRaises(JsonRpcException) as caught,
            ):
                self.rpc(
                    "voip_boris",
                    "crm.voip.call.report",
                    "search_read",
                    [[(field, "=", ROMASHKA)]],
                )
            self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
