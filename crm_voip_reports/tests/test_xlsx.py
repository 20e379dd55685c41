import datetime as dt
import io
import json
import pathlib
import shutil
import subprocess
import tempfile
import zipfile

import openpyxl

from odoo import http
from odoo.tests import tagged

from odoo.addons.crm_voip.tests import test_crm_voip_ui as crm_voip_ui

from ..tools.xlsx_export import XLSX_MIMETYPE
from .common import CrmVoipReportsCommon

URL = "/crm_voip_reports/export_xlsx"


@tagged("post_install", "-at_install", "crm_voip_reports")
class TestXlsxExport(CrmVoipReportsCommon):
    """The Excel export of the current filter, downloaded like the web client does."""

    def download(self, login, domain, status=200):
        self.authenticate(login, login)
        response = self.url_open(
            URL,
            data={
                "domain": json.dumps(domain),
                "company_ids": json.dumps([self.company.id]),
                "csrf_token": http.Request.csrf_token(self),
            },
        )
        self.assertEqual(response.status_code, status, response.text[:300])
        return response

    def workbook(self, response):
        return openpyxl.load_workbook(io.BytesIO(response.content))

    def test_libreoffice_opens_the_workbook_and_draws_its_charts(self):
        """The workbook as a reader gets it: LibreOffice (headless) opens it and prints it
        to PDF with both charts drawn; PNG pages of it refresh the documentation's
        pictures under ``make screenshots``."""
        missing = [tool for tool in ("soffice", "pdftotext", "pdftoppm") if not shutil.which(tool)]
        self.assertFalse(missing, "make test installs LibreOffice and poppler-utils")
        response = self.download("voip_manager", [("call_id.provider_id", "=", self.generic.id)])
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp)
            workbook = folder / "calls.xlsx"
            workbook.write_bytes(response.content)
            converted = subprocess.run(
                [
                    "soffice",
                    f"-env:UserInstallation=file://{folder / 'profile'}",
                    "--headless",
                    "--norestore",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    str(folder),
                    str(workbook),
                ],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            pdf = folder / "calls.pdf"
            self.assertTrue(pdf.exists(), converted.stdout + converted.stderr)
            text = subprocess.run(
                ["pdftotext", "-layout", str(pdf), "-"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            # The chart titles are drawn by the chart renderer: "Calls per day" also heads
            # the summary's table, so it must be there twice.
            self.assertGreaterEqual(text.count("Calls per day"), 2, "the calls-per-day chart")
            self.assertIn("Answer rate per salesperson", text)
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "60",
                    "-f",
                    "1",
                    "-l",
                    "2",
                    str(pdf),
                    str(folder / "page"),
                ],
                timeout=60,
                check=True,
            )
            pages = sorted(folder.glob("page*.png"))
            self.assertEqual(len(pages), 2)
            if crm_voip_ui.SCREENSHOT_DIR:
                crm_voip_ui.DOCS_DIR.mkdir(parents=True, exist_ok=True)
                for page, name in zip(pages, ("summary", "salespeople"), strict=True):
                    shutil.copy(page, crm_voip_ui.DOCS_DIR / f"reports_xlsx_{name}.png")

    def test_workbook(self):
        response = self.download("voip_manager", [("call_id.provider_id", "=", self.generic.id)])
        self.assertEqual(response.headers["Content-Type"], XLSX_MIMETYPE)
        self.assertIn("attachment", response.headers["Content-Disposition"])
        self.assertIn(".xlsx", response.headers["Content-Disposition"])
        self.assertEqual(int(response.headers["Content-Length"]), len(response.content))

        # Native charts: one per day on the summary, answer rate per salesperson.
        parts = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
        self.assertIn("xl/charts/chart1.xml", parts)
        self.assertIn("xl/charts/chart2.xml", parts)
        self.assertEqual(len([p for p in parts if p.startswith("xl/drawings/drawing")]), 2)

        book = self.workbook(response)
        self.assertEqual(book.sheetnames, ["Summary", "Salespeople", "Calls"])
        expected = self.expected(self.ledger)

        summary = book["Summary"]
        values = {summary.cell(row, 1).value: summary.cell(row, 2) for row in range(7, 7 + 17)}
        calls = values["Calls"]
        self.assertEqual(calls.value, expected["call_count"])
        self.assertIsInstance(calls.value, int)
        self.assertEqual(calls.number_format, "#,##0")
        rate = values["Answer rate"]
        self.assertAlmostEqual(rate.value, expected["answer_rate"] / 100)
        self.assertEqual(rate.number_format, "0.0%")
        talk = values["Talk time"]
        # A duration: openpyxl reads it back as a timedelta.
        self.assertIsInstance(talk.value, dt.timedelta)
        self.assertAlmostEqual(talk.value.total_seconds(), expected["talk_hours"] * 3600, 3)
        self.assertEqual(talk.number_format, "[h]:mm:ss")
        median = values["Median time to call back"]
        self.assertAlmostEqual(
            median.value.total_seconds() / 60, expected["callback_median_minutes"], 3
        )
        self.assertAlmostEqual(values["Calls per won opportunity"].value, 9.0)
        self.assertIsInstance(summary["B3"].value, dt.datetime)

        # Calls per day: real dates, one line per day with calls.
        days = sorted({c.local.date() for c in self.ledger})
        first_day_row = (
            next(row for row in range(1, 60) if summary.cell(row, 1).value == "Calls per day") + 2
        )
        day_cell = summary.cell(first_day_row, 1)
        self.assertIsInstance(day_cell.value, dt.datetime)
        self.assertEqual(day_cell.value.date(), days[0])
        self.assertEqual(day_cell.number_format, "yyyy-mm-dd")
        per_day = self.expected_by("call_date:day")
        self.assertEqual(summary.cell(first_day_row, 2).value, per_day[days[0]]["call_count"])

        # One line per salesperson, the busiest first.
        people = book["Salespeople"]
        header = [cell.value for cell in people[1]]
        self.assertEqual(header[:3], ["Salesperson", "Calls", "Incoming calls"])
        rows = list(people.iter_rows(min_row=2, values_only=True))
        by_user = self.expected_by("user_id")
        self.assertEqual(len(rows), len(by_user))
        counts = [row[1] for row in rows]
        self.assertEqual(counts, sorted(counts, reverse=True))
        anna_row = next(row for row in rows if row[0] == self.salesman_anna.name)
        anna = by_user[self.salesman_anna.id]
        self.assertEqual(anna_row[1], anna["call_count"])
        self.assertAlmostEqual(anna_row[header.index("Answer rate")], anna["answer_rate"] / 100)

        # The raw calls, oldest first.
        sheet = book["Calls"]
        rows = list(sheet.iter_rows(min_row=2))
        self.assertEqual(len(rows), len(self.ledger))
        first = sorted(self.ledger, key=lambda c: c.start)[0]
        started, day = rows[0][0], rows[0][1]
        self.assertIsInstance(started.value, dt.datetime)
        self.assertEqual(started.number_format, "yyyy-mm-dd hh:mm:ss")
        self.assertEqual(day.value.date(), first.local.date())
        talk_cell = rows[0][13]
        self.assertEqual(talk_cell.value, dt.timedelta(seconds=first.talk))
        self.assertEqual(talk_cell.number_format, "[h]:mm:ss")
        self.assertEqual(rows[0][2].value, "Incoming")
        self.assertEqual(rows[0][6].value, "Romashka LLC")
        self.assertEqual(sheet.freeze_panes, "A2")
        self.assertTrue(sheet.auto_filter.ref)

    def test_salesperson_exports_his_calls(self):
        response = self.download("voip_boris", [])
        sheet = self.workbook(response)["Calls"]
        people = {row[4] for row in sheet.iter_rows(min_row=2, values_only=True)}
        self.assertEqual(people, {self.salesman_boris.name, None})
        visible = [c for c in self.ledger if c.user_id in (self.salesman_boris.id, False)]
        self.assertEqual(sheet.max_row - 1, len(visible))

    def test_filter_is_applied_and_described(self):
        response = self.download("voip_manager", [("direction", "=", "outbound")])
        book = self.workbook(response)
        self.assertIn("Direction = Outgoing", book["Summary"]["B2"].value)
        directions = {row[2] for row in book["Calls"].iter_rows(min_row=2, values_only=True)}
        self.assertEqual(directions, {"Outgoing"})

    def test_bad_requests(self):
        self.authenticate("voip_manager", "voip_manager")
        token = http.Request.csrf_token(self)
        for data in (
            {"domain": "not json"},
            {"domain": json.dumps({"a": 1})},
            {"domain": json.dumps([["direction", "="]])},
            {"domain": "[]", "company_ids": json.dumps(["1"])},
        ):
            with self.subTest(data=data):
                response = self.url_open(URL, data={**data, "csrf_token": token})
                self.assertEqual(response.status_code, 400)
