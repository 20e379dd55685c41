import base64
import csv
import io

import pytz

from odoo import fields, models
from odoo.exceptions import UserError

NAME_COLUMNS = ("name", "contact", "имя", "контакт")
PHONE_COLUMNS = ("phone", "number", "mobile", "телефон", "номер")
TZ_COLUMNS = ("tz", "timezone")


class CrmVoipDialerImport(models.TransientModel):
    """Contacts for a campaign from a CSV or XLSX file: a name and a phone column."""

    _name = "crm.voip.dialer.import"
    _description = "Import campaign contacts"

    campaign_id = fields.Many2one("crm.voip.dialer.campaign", required=True)
    file = fields.Binary(required=True)
    filename = fields.Char()
    result = fields.Text(readonly=True)

    def _read_rows(self):
        data = base64.b64decode(self.file or b"")
        if (self.filename or "").lower().endswith(".xlsx"):
            try:
                import openpyxl  # noqa: PLC0415 - optional, only for XLSX files
            except ImportError:
                raise UserError(self.env._("Reading XLSX files needs openpyxl.")) from None
            sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
            rows = [
                ["" if cell is None else str(cell) for cell in row]
                for row in sheet.iter_rows(values_only=True)
            ]
        else:
            text = data.decode("utf-8-sig", errors="replace")
            dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t") if text else csv.excel
            rows = list(csv.reader(io.StringIO(text), dialect))
        if not rows:
            raise UserError(self.env._("The file is empty."))
        return rows

    @staticmethod
    def _column(header, names):
        for index, title in enumerate(header):
            if title.strip().lower() in names:
                return index
        return None

    def action_import(self):
        """Adds the valid rows; the result says which rows were refused, and why."""
        self.ensure_one()
        self.campaign_id.check_access("write")
        rows = self._read_rows()
        header = rows[0]
        phone_col = self._column(header, PHONE_COLUMNS)
        name_col = self._column(header, NAME_COLUMNS)
        tz_col = self._column(header, TZ_COLUMNS)
        if phone_col is None:
            raise UserError(self.env._("The first row must name the columns, one of them 'phone'."))
        values_list, row_numbers, errors = [], [], []
        for number, row in enumerate(rows[1:], start=2):
            phone = row[phone_col].strip() if phone_col < len(row) else ""
            name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
            if not phone:
                errors.append(self.env._("Row %(row)s: no phone number.", row=number))
                continue
            values = {"phone": phone, "name": name or phone}
            tz = row[tz_col].strip() if tz_col is not None and tz_col < len(row) else ""
            if tz and tz not in pytz.all_timezones_set:
                errors.append(
                    self.env._(
                        "Row %(row)s: %(tz)s is not a timezone (e.g. Europe/Moscow).",
                        row=number,
                        tz=tz,
                    )
                )
                continue
            if tz:
                values["tz"] = tz
            values_list.append(values)
            row_numbers.append(number)
        lines = self.campaign_id._dialer_add_targets(self.env["res.partner"], values_list)
        reasons = dict(lines._fields["exclusion_reason"]._description_selection(self.env))
        # The lines are created in the order of the rows.
        for line, number in zip(lines, row_numbers, strict=True):
            if line.state == "excluded":
                errors.append(
                    self.env._(
                        "Row %(row)s: %(name)s (%(phone)s): %(reason)s",
                        row=number,
                        name=line.name,
                        phone=line.phone or "",
                        reason=reasons[line.exclusion_reason],
                    )
                )
        added = len(lines.filtered(lambda line: line.state != "excluded"))
        summary = self.env._("%(count)s contacts added.", count=added)
        self.result = "\n".join([summary, *errors])
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
