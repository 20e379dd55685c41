import datetime as dt

from odoo import fields
from odoo.tests import tagged

from .common import NUMBER_A, ROMASHKA, SLA_MINUTES, CrmVoipReportsCommon

MEASURES = [
    "call_count",
    "inbound_count",
    "outbound_count",
    "answered_count",
    "missed_count",
    "answer_rate",
    "missed_rate",
    "talk_hours",
    "avg_talk_minutes",
    "avg_wait_minutes",
    "called_back_count",
    "callback_sla_rate",
    "callback_median_minutes",
    "clients_reached",
    "opportunities_created",
    "opportunities_won",
    "calls_per_won",
]
DAILY_MEASURES = MEASURES[:12]
DIMENSIONS = [
    "user_id",
    "team_id",
    "company_id",
    "direction",
    "outcome",
    "line_id",
    "source_id",
    "partner_id",
    "commercial_partner_id",
    "country_id",
    "call_date:day",
    "call_date:month",
    "weekday",
    "hour",
]
DAILY_DIMENSIONS = [
    "user_id",
    "team_id",
    "company_id",
    "direction",
    "outcome",
    "line_id",
    "source_id",
    "call_date:day",
    "call_date:month",
    "weekday",
]


@tagged("post_install", "-at_install", "crm_voip_reports")
class TestReportMeasures(CrmVoipReportsCommon):
    """Every measure, per every dimension, against the ledger of the played traffic."""

    def setUp(self):
        super().setUp()
        self.Report = self.env["crm.voip.call.report"].with_user(self.sales_manager)
        self.domain = [("call_id.provider_id", "=", self.generic.id)]

    def read(self, groupby, measures=MEASURES, domain=None, per_call=True, report=None):
        report = report or self.Report
        if per_call:
            report = report.with_context(crm_voip_report_per_call=True)
        specs = [f"{name}:{report._fields[name].aggregator}" for name in measures]
        rows = report._read_group(self.domain if domain is None else domain, groupby, specs)
        return {
            tuple(self.group_key(value) for value in row[: len(groupby)]): dict(
                zip(measures, row[len(groupby) :], strict=True)
            )
            for row in rows
        }

    def assertGroups(self, dimension, measures=MEASURES, per_call=True, ledger=None):
        actual = self.read([dimension], measures, per_call=per_call)
        expected = self.expected_by(dimension, ledger)
        self.assertEqual({key[0] for key in actual}, set(expected), f"groups of {dimension}")
        for (key,), values in actual.items():
            self.assertMeasures(values, expected[key], f"{dimension}={key}")

    def freeze(self):
        """Sum up every day before today (PBX time), as the nightly job does."""
        Daily = self.env["crm.voip.call.report.daily"].sudo()
        today = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
        return Daily._cron_crm_voip_report_freeze(today=today)

    # ------------------------------------------------------------------

    def test_ledger_is_what_odoo_logged(self):
        """The scenario's view of each call is Odoo's (else nothing below would mean much)."""
        for played in self.ledger:
            call = self.env["crm.voip.call"].browse(played.call_id)
            with self.subTest(call=played.key):
                self.assertEqual(call.direction, played.direction)
                self.assertEqual(call.user_id.id, played.user_id)
                self.assertEqual(call.date_start, played.start)
                self.assertEqual(call.partner_number_e164, played.number)

    def test_numbers_read_as_in_the_call_log(self):
        """The list shows, searches and sorts numbers as the call log does."""
        romashka = self.Report.search(
            self.domain + [("partner_number_display", "ilike", "+7 495 765-43-21")]
        )
        expected = [c.call_id for c in self.ledger if c.number == ROMASHKA]
        self.assertEqual(sorted(romashka.call_id.ids), sorted(expected))
        self.assertEqual(set(romashka.mapped("partner_number_display")), {"+7 495 765-43-21"})
        rows = self.Report.search(self.domain, order="partner_number_display desc, id")
        self.assertEqual(rows.mapped("partner_number"), sorted(rows.mapped("partner_number"))[::-1])

    def test_totals(self):
        actual = self.read([])[()]
        expected = self.expected(self.ledger)
        self.assertMeasures(actual, expected, "totals")
        # The figures the scenario was written for, spelled out once.
        self.assertEqual(actual["call_count"], 18)
        self.assertEqual(actual["missed_count"], 7)
        self.assertEqual(actual["called_back_count"], 4)
        self.assertAlmostEqual(actual["callback_sla_rate"], 100.0 * 3 / 7)
        self.assertAlmostEqual(actual["callback_median_minutes"], 10.0)
        self.assertEqual(actual["opportunities_won"], 2)
        self.assertAlmostEqual(actual["calls_per_won"], 9.0)

    def test_every_dimension(self):
        for dimension in DIMENSIONS:
            with self.subTest(dimension=dimension):
                self.assertGroups(dimension)

    def test_two_dimensions(self):
        """A pivot cell (salesperson x day) and its margins are each right."""
        actual = self.read(["user_id", "call_date:day"])
        for (user, day), values in actual.items():
            calls = [
                c
                for c in self.ledger
                if c.dimension("user_id") == user and c.dimension("call_date:day") == day
            ]
            self.assertMeasures(values, self.expected(calls), f"{user} {day}")

    def test_pivot_read_group(self):
        """What the pivot view asks: the public read_group, count included."""
        rows = self.Report.with_context(crm_voip_report_per_call=True).read_group(
            self.domain,
            ["call_count", "answered_count", "answer_rate", "callback_median_minutes"],
            ["user_id"],
            lazy=False,
        )
        expected = self.expected_by("user_id")
        for row in rows:
            key = row["user_id"][0] if row["user_id"] else False
            self.assertEqual(row["__count"], expected[key]["call_count"])
            self.assertMeasures(row, expected[key], f"user {key}")

    def test_rate_of_a_group_is_not_the_mean_of_its_rows_groups(self):
        """Answer rate per team is answered/calls of the team, not an average of the
        rates of its rows (Regions desk: none of its 1 call; Moscow: 10 out of 17)."""
        rates = {key[0]: values["answer_rate"] for key, values in self.read(["team_id"]).items()}
        self.assertAlmostEqual(rates[self.other_team.id], 0.0)
        self.assertAlmostEqual(rates[self.team.id], 100.0 * 10 / 17)
        totals = self.read([], ["answer_rate"])[()]
        self.assertAlmostEqual(totals["answer_rate"], 100.0 * 10 / 18)

    def test_filtered(self):
        """A filter narrows every measure (incoming calls of the past three days)."""
        domain = self.domain + [
            ("direction", "=", "inbound"),
            ("call_date", "<", str(self.day_d + dt.timedelta(days=3))),
        ]
        actual = self.read([], domain=domain)[()]
        calls = [
            c
            for c in self.ledger
            if c.direction == "inbound" and c.local.date() < self.day_d + dt.timedelta(days=3)
        ]
        self.assertMeasures(actual, self.expected(calls), "filtered")

    def test_callbacks_linked(self):
        links = self.env["crm.voip.call.callback"].search([])
        actual = {link.call_id.id: link.callback_call_id.id for link in links}
        expected = {}
        for call in self.ledger:
            callback = self.callback_of(call) if call.missed else None
            if callback:
                expected[call.call_id] = callback.call_id
        self.assertEqual(actual, expected)

    def test_callback_deleted_finds_the_next_one(self):
        """The call-back of A's missed call is deleted: A's next answered call takes over."""
        missed = next(c for c in self.ledger if c.key == "c02")
        callback = next(c for c in self.ledger if c.key == "c03")
        self.env["crm.voip.call"].browse(callback.call_id).unlink()
        link = self.env["crm.voip.call.callback"].search([("call_id", "=", missed.call_id)])
        next_one = next(c for c in self.ledger if c.key == "c13")
        self.assertEqual(link.callback_call_id.id, next_one.call_id)
        self.assertEqual(next_one.number, NUMBER_A)

    def test_own_deadline_without_a_stored_one(self):
        """A missed call without a stored deadline (none of the installed modules gives
        one: the base hook's answer) is measured by the report's own minutes, on the wall
        clock: with 5 minutes only Romashka's 5-minute call-back is in time."""
        self.env["crm.voip.call"].browse([c.call_id for c in self.ledger]).write(
            {"callback_deadline": False}
        )
        self.company.crm_voip_callback_sla_minutes = SLA_MINUTES
        actual = self.read([], ["callback_sla_rate", "called_back_count"])[()]
        self.assertAlmostEqual(actual["callback_sla_rate"], 100.0 * 3 / 7)
        self.company.crm_voip_callback_sla_minutes = 5
        for per_call in (True, False):
            with self.subTest(per_call=per_call):
                if not per_call:
                    self.freeze()
                domain = self.domain if per_call else self.domain_daily
                actual = self.read(
                    [], ["callback_sla_rate", "called_back_count"], domain, per_call
                )[()]
                self.assertAlmostEqual(actual["callback_sla_rate"], 100.0 / 7)
                self.assertEqual(actual["called_back_count"], 4)

    def test_stored_deadline_wins_over_the_own_minutes(self):
        """A deadline stored on the missed call (the routing module's) is the one: the
        report's own minutes do not change the verdict on it."""
        romashka = next(c for c in self.ledger if c.key == "c14")  # called back after 5'
        number_a = next(c for c in self.ledger if c.key == "c02")  # called back after 10'
        calls = self.env["crm.voip.call"]
        calls.browse(romashka.call_id).sudo().write(
            {"callback_deadline": romashka.start + dt.timedelta(minutes=4)}
        )
        calls.browse(number_a.call_id).sudo().write(
            {"callback_deadline": number_a.start + dt.timedelta(hours=2)}
        )
        for minutes in (SLA_MINUTES, 5):
            self.company.crm_voip_callback_sla_minutes = minutes
            rows = self.Report.with_context(crm_voip_report_per_call=True).search_read(
                [("call_id", "in", [romashka.call_id, number_a.call_id])],
                ["call_id", "callback_sla_rate"],
            )
            verdicts = {row["call_id"][0]: row["callback_sla_rate"] for row in rows}
            self.assertEqual(verdicts, {romashka.call_id: 0.0, number_a.call_id: 100.0})

    def test_wrapup_opportunity_counts_as_created(self):
        call = self.env["crm.voip.call"].search([("provider_call_id", "=", "c09")])
        self.assertTrue(call.lead_created)
        self.assertEqual(call.lead_id.type, "opportunity")

    # ------------------------------------------------------------------
    # The daily totals
    # ------------------------------------------------------------------

    def test_daily_totals_give_the_same_figures(self):
        until = self.freeze()
        self.assertGreater(until, self.day_d + dt.timedelta(days=2))
        self.env.cr.execute("SELECT count(*) FROM crm_voip_call_report_day")
        self.assertTrue(self.env.cr.fetchone()[0])
        for dimension in DAILY_DIMENSIONS:
            with self.subTest(dimension=dimension):
                daily = self.Report._crm_voip_daily_for(
                    self.domain_daily, [dimension], ["call_count:sum"], ()
                )
                self.assertIsNotNone(daily, "served from the daily totals")
                actual = self.read(
                    [dimension], DAILY_MEASURES, domain=self.domain_daily, per_call=False
                )
                expected = self.expected_by(dimension)
                self.assertEqual({key[0] for key in actual}, set(expected))
                for (key,), values in actual.items():
                    self.assertMeasures(values, expected[key], f"{dimension}={key}")

    @property
    def domain_daily(self):
        # The daily totals know the company, not the PBX account.
        return [("company_id", "=", self.company.id)]

    def test_daily_totals_follow_late_changes(self):
        """A call of a summed-up day changes (reassigned to Anna): the figures follow at
        once, and the job sums the day up again."""
        self.freeze()
        call = self.ledger[4]  # c05, Ivan -> Boris on day D
        self.env["crm.voip.call"].browse(call.call_id).user_id = self.salesman_anna
        call.user_id = self.salesman_anna.id
        try:
            self.env.cr.execute("SELECT day FROM crm_voip_call_report_dirty_day")
            self.assertEqual([row[0] for row in self.env.cr.fetchall()], [self.day_d])
            for _run in range(2):
                actual = self.read(
                    ["user_id"], DAILY_MEASURES, domain=self.domain_daily, per_call=False
                )
                expected = self.expected_by("user_id")
                for (key,), values in actual.items():
                    self.assertMeasures(values, expected[key], f"user {key}")
                self.freeze()
            self.env.cr.execute("SELECT count(*) FROM crm_voip_call_report_dirty_day")
            self.assertEqual(self.env.cr.fetchone()[0], 0)
        finally:
            call.user_id = self.salesman_boris.id

    def test_monthly_totals_give_the_same_figures(self):
        """Once whole months are summed up, groups per month or coarser read the monthly
        totals, with the call log's figures, a late change included; a day, a weekday
        or a date in mid-month reads the daily ones."""
        Daily = self.env["crm.voip.call.report.daily"].sudo()
        today = dt.datetime.now(dt.timezone.utc).date()
        Daily._cron_crm_voip_report_freeze(today=today + dt.timedelta(days=70))
        self.env.cr.execute("SELECT count(*), sum(call_count) FROM crm_voip_call_report_month")
        rows, calls = self.env.cr.fetchone()
        self.assertTrue(rows)
        self.assertEqual(calls, len(self.ledger))
        first = self.day_d.replace(day=1)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        base = self.domain_daily
        cases = [
            (["user_id", "call_date:month"], base, True),
            (["call_date:quarter", "direction"], [*base, ("call_date", ">=", first)], True),
            (["user_id"], [*base, ("call_date", "<", after)], True),
            (["call_date:year"], [*base, ("call_date", "<=", after - dt.timedelta(days=1))], True),
            (["call_date:day"], base, False),
            (["weekday"], base, False),
            (["user_id"], [*base, ("call_date", ">=", first.replace(day=15))], False),
        ]

        def check(label):
            for groupby, domain, monthly in cases:
                with self.subTest(label=label, groupby=groupby, domain=domain):
                    daily = self.Report._crm_voip_daily_for(domain, groupby, ["call_count:sum"], ())
                    self.assertEqual(
                        bool(daily.env.context.get("crm_voip_report_monthly")), monthly
                    )
                    actual = self.read(groupby, DAILY_MEASURES, domain=domain, per_call=False)
                    expected = self.read(groupby, DAILY_MEASURES, domain=domain)
                    self.assertEqual(set(actual), set(expected))
                    for key, values in actual.items():
                        self.assertMeasures(values, expected[key], f"{groupby} {key}")
            actual = self.read(["user_id"], DAILY_MEASURES, domain=base, per_call=False)
            for (key,), values in actual.items():
                self.assertMeasures(values, self.expected_by("user_id")[key], f"{label} {key}")

        check("summed up")
        call = self.ledger[4]  # c05, Ivan -> Boris on day D: its month is read again
        self.env["crm.voip.call"].browse(call.call_id).user_id = self.salesman_anna
        call.user_id = self.salesman_anna.id
        try:
            check("changed after")
            Daily._cron_crm_voip_report_freeze(today=today + dt.timedelta(days=70))
            self.env.cr.execute("SELECT count(*) FROM crm_voip_call_report_dirty_day")
            self.assertEqual(self.env.cr.fetchone()[0], 0)
            check("summed up again")
        finally:
            call.user_id = self.salesman_boris.id

    def test_measures_the_daily_totals_cannot_give(self):
        """Distinct clients and medians read the calls even when days are summed up."""
        self.freeze()
        self.assertIsNone(
            self.Report._crm_voip_daily_for(
                self.domain_daily, ["user_id"], ["clients_reached:sum"], ()
            )
        )
        self.assertIsNone(
            self.Report._crm_voip_daily_for(self.domain_daily, ["hour"], ["call_count:sum"], ())
        )
        self.assertIsNone(
            self.Report._crm_voip_daily_for(self.domain, ["user_id"], ["call_count:sum"], ())
        )
        actual = self.read(["user_id"], MEASURES, domain=self.domain_daily, per_call=False)
        expected = self.expected_by("user_id")
        for (key,), values in actual.items():
            self.assertMeasures(values, expected[key], f"user {key}")

    def test_deadline_change_forgets_the_sums(self):
        self.freeze()
        self.company.crm_voip_callback_sla_minutes = 5
        self.assertIsNone(self.env["crm.voip.call.report.daily"]._crm_voip_frozen_until())

    # ------------------------------------------------------------------
    # Dashboard
    # ------------------------------------------------------------------

    def test_dashboard_reads_the_routing_call_back_tasks(self):
        """With crm_voip_routing installed (not a dependency), the dashboard counts its
        call-back tasks as the user may see them; without it, it shows none."""
        if "crm.voip.missed.call" not in self.env:
            self.assertFalse(self.Report.crm_voip_dashboard_data()["callback_tasks"])
            return
        Task = self.env["crm.voip.missed.call"].with_user(self.sales_manager)
        tasks = Task.search([("state", "=", "open")])
        self.assertTrue(tasks, "the played traffic left missed calls to call back")
        tasks[:1].sudo().write({"deadline": "2000-01-01 00:00:00", "escalated": True})
        tasks[1:2].sudo().write({"user_id": self.sales_manager.id})
        self.env.flush_all()
        data = self.Report.crm_voip_dashboard_data()["callback_tasks"]
        now = fields.Datetime.now()
        self.assertEqual(
            data,
            {
                "open": len(tasks),
                "overdue": len(tasks.filtered(lambda t: t.deadline and t.deadline < now)),
                "escalated": len(tasks.filtered("escalated")),
                "mine": len(tasks.filtered(lambda t: t.user_id == self.sales_manager)),
            },
        )
        self.assertGreaterEqual(data["overdue"], 1)
        # A salesperson counts the tasks his access rules show him, not the company's.
        anna_tasks = Task.with_user(self.salesman_anna).search_count([("state", "=", "open")])
        anna_data = self.Report.with_user(self.salesman_anna).crm_voip_dashboard_data()
        self.assertEqual(anna_data["callback_tasks"]["open"], anna_tasks)

    def test_dashboard(self):
        data = self.Report.crm_voip_dashboard_data(period="last_30_days", sort_by="call_count")
        for card in data["cards"]:
            start = dt.date.fromisoformat(card["date_from"])
            end = dt.date.fromisoformat(card["date_to"])
            calls = [c for c in self.ledger if start <= c.local.date() <= end]
            self.assertMeasures(card["values"], self.expected(calls), card["key"])
        start = dt.date.fromisoformat(data["period"]["date_from"])
        end = dt.date.fromisoformat(data["period"]["date_to"])
        calls = [c for c in self.ledger if start <= c.local.date() <= end]
        # Heatmap: incoming calls and missed ones per weekday and hour.
        for row in data["heatmap"]["rows"]:
            for cell in row["cells"]:
                here = [
                    c
                    for c in calls
                    if c.direction == "inbound"
                    and c.dimension("weekday") == row["weekday"]
                    and c.dimension("hour") == cell["hour"]
                ]
                self.assertEqual(cell["calls"], len(here))
                self.assertEqual(cell["missed"], len([c for c in here if c.missed]))
        # Salespeople, the busiest first.
        expected = self.expected_by("user_id", calls)
        counts = [person["call_count"] for person in data["salespeople"]]
        self.assertEqual(counts, sorted(counts, reverse=True))
        for person in data["salespeople"]:
            self.assertMeasures(person, expected[person["user_id"]], person["name"])
        self.assertEqual(
            data["domain"],
            [
                ("call_date", ">=", data["period"]["date_from"]),
                ("call_date", "<=", data["period"]["date_to"]),
            ],
        )

    def test_dashboard_sorting(self):
        ascending = self.Report.crm_voip_dashboard_data(
            period="last_30_days", sort_by="answer_rate", descending=False
        )["salespeople"]
        rates = [p["answer_rate"] for p in ascending if p["answer_rate"] is not False]
        self.assertEqual(rates, sorted(rates))
        # An unknown period or KPI falls back to the defaults.
        data = self.Report.crm_voip_dashboard_data(period="decade", sort_by="id")
        self.assertEqual((data["period"]["key"], data["sort_by"]), ("month", "answer_rate"))
