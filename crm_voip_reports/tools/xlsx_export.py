"""The call analysis as an Excel workbook: a summary, the salespeople, the calls.

Plain class holding the report model (``sms_api``-style), written with xlsxwriter in
``constant_memory`` mode: rows go to disk as they are written and the calls are read
through a server-side cursor, so the memory used does not grow with the export.
"""

import datetime
import re

import pytz
import xlsxwriter

from odoo import fields
from odoo.osv import expression
from odoo.tools import SQL

# Excel's last row is 1,048,576; the header takes one.
MAX_CALL_ROWS = 1_000_000
FETCH_SIZE = 2000
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SECONDS_PER_DAY = 86400.0
# 1970-01-01 in Excel's 1900 date system (day 0 is 1899-12-30).
EXCEL_EPOCH_DAYS = 25569
MINUTES_PER_DAY = 1440.0

# (field, kind): how a measure is written. Kinds: count, rate (percent 0-100 in the
# report, a fraction with a % format in Excel), hours, minutes (durations), ratio.
SUMMARY_MEASURES = [
    ("call_count", "count"),
    ("inbound_count", "count"),
    ("outbound_count", "count"),
    ("answered_count", "count"),
    ("missed_count", "count"),
    ("answer_rate", "rate"),
    ("missed_rate", "rate"),
    ("talk_hours", "hours"),
    ("avg_talk_minutes", "minutes"),
    ("avg_wait_minutes", "minutes"),
    ("called_back_count", "count"),
    ("callback_sla_rate", "rate"),
    ("callback_median_minutes", "minutes"),
    ("clients_reached", "count"),
    ("opportunities_created", "count"),
    ("opportunities_won", "count"),
    ("calls_per_won", "ratio"),
]
DAY_MEASURES = ["call_count", "answered_count", "missed_count", "answer_rate"]


class CallReportWorkbook:
    """``CallReportWorkbook(env['crm.voip.call.report'], domain).write(path)``."""

    def __init__(self, report, domain):
        self.report = report
        self.env = report.env
        self.domain = list(domain or [])
        self.tz_name = self.env.context.get("tz") or self.env.user.tz or "UTC"
        if self.tz_name not in pytz.all_timezones_set:
            self.tz_name = "UTC"
        self.call_rows = 0
        self.truncated = False

    # ------------------------------------------------------------------
    # Public
    # ------------------------------------------------------------------

    def write(self, path):
        """Write the workbook to ``path``; returns the number of call rows."""
        _ = self.env._
        workbook = xlsxwriter.Workbook(
            path,
            {"constant_memory": True, "strings_to_numbers": False, "strings_to_urls": False},
        )
        workbook.set_properties(
            {
                "title": _("Call statistics"),
                "company": self.env.company.name,
                "comments": _("Exported from Odoo"),
            }
        )
        self.formats = self._formats(workbook)
        summary = workbook.add_worksheet(_("Summary"))
        people = workbook.add_worksheet(_("Salespeople"))
        calls = workbook.add_worksheet(_("Calls"))
        self._write_summary(workbook, summary)
        self._write_salespeople(workbook, people)
        self._write_calls(calls)
        workbook.close()
        return self.call_rows

    def filename(self):
        today = fields.Date.context_today(self.report)
        return self.env._("Call statistics %(date)s.xlsx", date=fields.Date.to_string(today))

    # ------------------------------------------------------------------
    # Sheets
    # ------------------------------------------------------------------

    def _write_summary(self, workbook, sheet):
        _ = self.env._
        f = self.formats
        sheet.set_column(0, 0, 34)
        sheet.set_column(1, 1, 16)
        sheet.set_column(2, 5, 13)
        self._print_setup(sheet)
        sheet.write(0, 0, _("Call statistics"), f["title"])
        sheet.write(1, 0, _("Filter"), f["bold"])
        sheet.write(1, 1, self._describe_domain())
        sheet.write(2, 0, _("Exported on"), f["bold"])
        sheet.write_datetime(2, 1, self._local_now(), f["datetime"])
        sheet.write(3, 0, _("Times in"), f["bold"])
        sheet.write(3, 1, self.tz_name)
        row = 5
        sheet.write_row(row, 0, [_("Measure"), _("Value")], f["header"])
        totals = self._read_group(
            [], [f"{name}:{self._aggregator(name)}" for name, _k in SUMMARY_MEASURES]
        )
        values = totals[0] if totals else [False] * len(SUMMARY_MEASURES)
        for (name, kind), value in zip(SUMMARY_MEASURES, values, strict=True):
            row += 1
            sheet.write(row, 0, self._label(name))
            self._write_measure(sheet, row, 1, kind, value)
        # Calls per day, and its chart.
        row += 2
        sheet.write(row, 0, _("Calls per day"), f["bold"])
        row += 1
        header_row = row
        sheet.write_row(
            row, 0, [_("Day")] + [self._label(name) for name in DAY_MEASURES], f["header"]
        )
        days = self._read_group(
            ["call_date:day"],
            [f"{name}:{self._aggregator(name)}" for name in DAY_MEASURES],
            order="call_date:day",
        )
        for day, *measures in days:
            row += 1
            if day:
                sheet.write_datetime(row, 0, _as_datetime(day), f["date"])
            for column, (name, value) in enumerate(zip(DAY_MEASURES, measures, strict=True), 1):
                self._write_measure(sheet, row, column, self._kind(name), value)
        if days:
            first, last = header_row + 1, row
            # Columns for a few weeks, a line beyond.
            chart = workbook.add_chart({"type": "column" if len(days) <= 31 else "line"})
            for column, color in ((1, "#4472C4"), (2, "#70AD47"), (3, "#ED7D31")):
                chart.add_series(
                    {
                        "name": [sheet.name, header_row, column],
                        "categories": [sheet.name, first, 0, last, 0],
                        "values": [sheet.name, first, column, last, column],
                        "fill": {"color": color},
                        "line": {"color": color},
                    }
                )
            chart.set_title({"name": _("Calls per day")})
            chart.set_x_axis(
                {
                    "date_axis": True,
                    "base_unit": "days",
                    "num_format": "yyyy-mm-dd",
                    "num_font": {"rotation": -45},
                }
            )
            chart.set_y_axis({"name": _("Calls"), "num_format": "#,##0"})
            chart.set_legend({"position": "bottom"})
            chart.set_size({"width": 720, "height": 360})
            sheet.insert_chart(5, 3, chart)

    def _write_salespeople(self, workbook, sheet):
        _ = self.env._
        f = self.formats
        sheet.set_column(0, 0, 28)
        sheet.set_column(1, len(SUMMARY_MEASURES), 14)
        sheet.freeze_panes(1, 1)
        self._print_setup(sheet, repeat_columns=True)
        sheet.write_row(
            0,
            0,
            [_("Salesperson")] + [self._label(name) for name, _k in SUMMARY_MEASURES],
            f["header_wrap"],
        )
        groups = self._read_group(
            ["user_id"],
            [f"{name}:{self._aggregator(name)}" for name, _k in SUMMARY_MEASURES],
            order="call_count:sum desc",
        )
        row = 0
        for user, *values in groups:
            row += 1
            sheet.write(row, 0, user.sudo().display_name if user else _("Unassigned"))
            for column, ((__, kind), value) in enumerate(
                zip(SUMMARY_MEASURES, values, strict=True), 1
            ):
                self._write_measure(sheet, row, column, kind, value)
        if row:
            rate_column = 1 + [name for name, _k in SUMMARY_MEASURES].index("answer_rate")
            chart = workbook.add_chart({"type": "bar"})
            chart.add_series(
                {
                    "name": [sheet.name, 0, rate_column],
                    "categories": [sheet.name, 1, 0, row, 0],
                    "values": [sheet.name, 1, rate_column, row, rate_column],
                    "fill": {"color": "#4472C4"},
                    "data_labels": {"value": True, "num_format": "0%"},
                }
            )
            chart.set_title({"name": _("Answer rate per salesperson")})
            chart.set_x_axis({"min": 0, "max": 1, "num_format": "0%"})
            chart.set_y_axis({"reverse": True})
            chart.set_legend({"none": True})
            chart.set_size({"width": 640, "height": max(240, 40 + 28 * row)})
            sheet.insert_chart(row + 2, 0, chart)
        sheet.autofilter(0, 0, max(row, 1), len(SUMMARY_MEASURES))

    def _write_calls(self, sheet):
        _ = self.env._
        f = self.formats
        columns = [
            (_("Started"), 19),
            (_("Date (PBX)"), 12),
            (_("Direction"), 11),
            (_("Outcome"), 13),
            (_("Salesperson"), 22),
            (_("Sales team"), 18),
            (_("Client"), 26),
            (_("Client number"), 16),
            (_("Client country"), 14),
            (_("Dialled line"), 20),
            (_("Source"), 16),
            (_("Lead/Opportunity"), 24),
            (_("Wait/ring time"), 11),
            (_("Talk time"), 11),
            (_("Called back at"), 19),
            (_("Time to call back"), 12),
            (_("Wrap-up outcome"), 16),
            (_("Company"), 18),
        ]
        for index, (__, width) in enumerate(columns):
            sheet.set_column(index, index, width)
        sheet.freeze_panes(1, 0)
        self._print_setup(sheet)
        sheet.write_row(0, 0, [title for title, __ in columns], f["header"])
        directions = dict(self._selection("direction"))
        outcomes = dict(self._selection("outcome"))
        row = 0
        # Masked for a user outside "Sees client phone numbers", as on every screen.
        visible_number = self.env.user._crm_voip_visible_number
        for record in self._iter_calls():
            if row >= MAX_CALL_ROWS:
                self.truncated = True
                break
            row += 1
            (
                started,
                day,
                direction,
                outcome,
                user,
                team,
                client,
                number,
                country,
                line,
                source,
                lead,
                ring,
                talk,
                callback_at,
                callback_minutes,
                wrapup,
                company,
            ) = record
            sheet.write_number(row, 0, started, f["datetime"])
            if day is not None:
                sheet.write_number(row, 1, day, f["date"])
            sheet.write_string(row, 2, directions.get(direction, direction or ""))
            sheet.write_string(row, 3, outcomes.get(outcome, outcome or ""))
            for column, text in (
                (4, user),
                (5, team),
                (6, client),
                (7, visible_number(number)),
                (8, country),
                (9, line),
                (10, source),
                (11, lead),
            ):
                if text:
                    sheet.write_string(row, column, text)
            if ring is not None:
                sheet.write_number(row, 12, ring / SECONDS_PER_DAY, f["duration"])
            if talk:
                sheet.write_number(row, 13, talk / SECONDS_PER_DAY, f["duration"])
            if callback_at is not None:
                sheet.write_number(row, 14, callback_at, f["datetime"])
            if callback_minutes is not None:
                sheet.write_number(row, 15, callback_minutes / MINUTES_PER_DAY, f["duration"])
            if wrapup:
                sheet.write_string(row, 16, wrapup)
            if company:
                sheet.write_string(row, 17, company)
        self.call_rows = row
        sheet.autofilter(0, 0, max(row, 1), len(columns) - 1)

    # ------------------------------------------------------------------
    # Data
    # ------------------------------------------------------------------

    def _read_group(self, groupby, aggregates, order=None):
        return self.report._read_group(self.domain, groupby, aggregates, order=order)

    def _iter_calls(self):
        """The calls of the filter, oldest first, through a server-side cursor."""
        report = self.report
        table = report._table
        query = report._search(self.domain, order="date_start, id")

        def name_of(fname, comodel_name, name_field="name"):
            comodel = self.env[comodel_name]
            alias = query.make_alias(table, fname)
            query.add_join(
                "LEFT JOIN",
                alias,
                comodel._table,
                SQL("%s = %s", SQL.identifier(table, fname), SQL.identifier(alias, "id")),
            )
            return comodel.sudo()._field_to_sql(alias, name_field, query)

        column = lambda name: SQL.identifier(table, name)  # noqa: E731

        def excel_time(utc):
            """Excel's serial number of a UTC time shown in the user's timezone: the cell
            is a number with a date format, which xlsxwriter need not convert row by row."""
            local = SQL("timezone(%s, timezone('UTC', %s))", self.tz_name, utc)
            return SQL("(EXTRACT(EPOCH FROM %s) / 86400.0 + %s)::float8", local, EXCEL_EPOCH_DAYS)

        select = query.select(
            excel_time(column("date_start")),
            SQL("(%s - DATE '1899-12-30')", column("call_date")),
            column("direction"),
            column("outcome"),
            name_of("user_id", "res.users"),
            name_of("team_id", "crm.team"),
            name_of("commercial_partner_id", "res.partner", "complete_name"),
            column("partner_number"),
            name_of("country_id", "res.country"),
            name_of("line_id", "crm.voip.line"),
            name_of("source_id", "utm.source"),
            name_of("lead_id", "crm.lead"),
            SQL(
                "CASE WHEN %s = 'inbound' THEN %s END", column("direction"), column("ring_seconds")
            ),
            SQL("CASE WHEN %s = 'answered' THEN %s END", column("outcome"), column("talk_seconds")),
            excel_time(column("callback_date")),
            column("callback_minutes"),
            name_of("wrapup_outcome_id", "crm.voip.call.outcome"),
            name_of("company_id", "res.company"),
        )
        cr = self.env.cr
        cr.execute(SQL("DECLARE crm_voip_report_export NO SCROLL CURSOR FOR %s", select))
        try:
            while True:
                cr.execute(SQL("FETCH %s FROM crm_voip_report_export", FETCH_SIZE))
                rows = cr.fetchall()
                if not rows:
                    break
                yield from rows
        finally:
            cr.execute(SQL("CLOSE crm_voip_report_export"))

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _formats(self, workbook):
        base = {"font_name": "Calibri", "font_size": 10}

        def fmt(**values):
            return workbook.add_format({**base, **values})

        return {
            "title": fmt(bold=True, font_size=14),
            "bold": fmt(bold=True),
            "header": fmt(bold=True, bg_color="#DDEBF7", bottom=1),
            "header_wrap": fmt(bold=True, bg_color="#DDEBF7", bottom=1, text_wrap=True),
            "count": fmt(num_format="#,##0"),
            "rate": fmt(num_format="0.0%"),
            "ratio": fmt(num_format="0.0"),
            "duration": fmt(num_format="[h]:mm:ss"),
            "date": fmt(num_format="yyyy-mm-dd"),
            "datetime": fmt(num_format="yyyy-mm-dd hh:mm:ss"),
        }

    def _print_setup(self, sheet, repeat_columns=False):
        """Landscape, one page wide, the header row on every page."""
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(0)
        if repeat_columns:
            sheet.repeat_columns(0)

    def _write_measure(self, sheet, row, column, kind, value):
        if value is False or value is None:
            return
        f = self.formats
        if kind == "count":
            sheet.write_number(row, column, value, f["count"])
        elif kind == "rate":
            sheet.write_number(row, column, value / 100.0, f["rate"])
        elif kind == "hours":
            sheet.write_number(row, column, value / 24.0, f["duration"])
        elif kind == "minutes":
            sheet.write_number(row, column, value / MINUTES_PER_DAY, f["duration"])
        else:
            sheet.write_number(row, column, value, f["ratio"])

    def _aggregator(self, name):
        return self.report._fields[name].aggregator

    def _kind(self, name):
        return dict(SUMMARY_MEASURES)[name]

    def _label(self, name):
        # The views' unit hints, "(h:mm)" or "(%)", are the cells' number formats here.
        label = self.report._fields[name]._description_string(self.env)
        return re.sub(r"\s*\([^)]*\)$", "", label)

    def _selection(self, name):
        return self.report._fields[name]._description_selection(self.env)

    def _local_now(self):
        now = datetime.datetime.now(pytz.utc).astimezone(pytz.timezone(self.tz_name))
        return now.replace(tzinfo=None, microsecond=0)

    def _describe_domain(self):
        """The filter in words: "Date ≥ 2025-06-01, Direction = Incoming"."""
        parts = []
        for element in expression.normalize_domain(self.domain):
            if not expression.is_leaf(element):
                if element in ("|", "!"):
                    parts.append(self.env._("or") if element == "|" else self.env._("not"))
                continue
            left, operator, value = element
            if not isinstance(left, str):
                continue
            field = self.report._fields.get(left.split(".", 1)[0])
            label = field._description_string(self.env) if field else left
            if field and field.type == "selection":
                labels = dict(field._description_selection(self.env))
                value = (
                    [labels.get(item, item) for item in value]
                    if isinstance(value, (list, tuple))
                    else labels.get(value, value)
                )
            elif field and field.type == "many2one" and "." not in left and value:
                ids = value if isinstance(value, (list, tuple)) else [value]
                if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                    value = self._names_of(field.comodel_name, ids)
            if isinstance(value, (list, tuple)):
                value = ", ".join(str(item) for item in value)
            parts.append(f"{label} {operator} {value}")
        return "; ".join(parts) or self.env._("All calls")

    def _names_of(self, model_name, ids):
        """The names of the records ``ids`` the user may read, the others only counted by
        model: the cell names nothing beyond his rights, nor tells whether an id exists."""
        records = self.env[model_name].browse(dict.fromkeys(ids))
        readable = records.exists()._filtered_access("read")
        # As Odoo shows a many-to-one the user may read: its name as the superuser reads it.
        names = readable.sudo().mapped("display_name")
        hidden = len(records) - len(readable)
        if hidden:
            model = self.env["ir.model"].sudo()._get(model_name).name
            names.append(
                self.env._("a record of %(model)s you cannot see", model=model)
                if hidden == 1
                else self.env._(
                    "%(count)s records of %(model)s you cannot see", count=hidden, model=model
                )
            )
        return ", ".join(names)


def _as_datetime(value):
    if isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.combine(value, datetime.time.min)
