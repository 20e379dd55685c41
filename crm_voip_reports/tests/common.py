"""Telephony traffic for the report tests, and an independent ledger of it.

``CrmVoipReportsCommon`` has the VATS simulator play about twenty calls over real HTTP
into the test server (the generic signed protocol, whose events carry their own times,
so ring and talk times are exact): three past days and today, answered, missed, busy,
failed, incoming and outgoing, for three salespeople, known clients and unknown numbers.
It then wins two deals and creates one opportunity from a wrap-up.

The ledger (``cls.ledger``: one ``PlayedCall`` per call, written from the scenario, not
read back from the database) computes every measure of the call analysis in Python
(``expected()``), so the tests compare the report's SQL against an independent count.

    Day D (D = 8 days ago, PBX time Europe/Moscow)
      09:00 Romashka -> Anna, answered          09:10 +7 999 000-11-11 missed (new lead A)
      09:20 Anna -> A, answered (call-back 10')  10:05 London busy
      10:30 Ivan (Romashka) -> Boris, answered   11:00 Boris -> Romashka, answered
      14:00 +7 999 000-22-22 missed (lead B)     14:10 B again -> Other, answered (10')
    Day D+1
      09:00 Anna -> London, answered (call-back of 10:05 the day before, too late;
            her wrap-up creates an opportunity)
      16:00 +7 999 000-33-33 missed (lead C)     16:30 Other -> C, no answer
      17:00 Romashka -> Anna, answered
    Day D+2
      08:15 A -> Boris, answered                 11:00 Romashka missed
      11:05 Anna -> Romashka, answered (5')      20:00 +7 999 000-44-44 failed (lead D)
    Today: 40 and 30 minutes ago, +7 999 000-55-55 -> Anna answered, +7 999 000-66-66 missed
    Won: Romashka's opportunity (D+1 18:00 UTC), lead A (D+5), lead C (the day before D:
    before its calls, so never "won within 30 days of a call").
"""

import contextlib
import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

import pytz

from odoo.fields import Command
from odoo.modules import module as odoo_module

from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

PBX_TZ = pytz.timezone("Europe/Moscow")
SLA_MINUTES = 15
WON_WINDOW = dt.timedelta(days=30)
GENERIC_DID = "74951110000"
ROMASHKA = "+74957654321"
IVAN = "+79167654321"
LONDON = "+442079460958"
NUMBER_A = "+79990001111"
NUMBER_B = "+79990002222"
NUMBER_C = "+79990003333"
NUMBER_D = "+79990004444"
NUMBER_E = "+79990005555"
NUMBER_F = "+79990006666"
UNANSWERED = ("missed", "busy", "failed")

# (key, kind, day offset from D or None for today, local time or minutes ago, number,
#  extension, ring seconds, talk seconds)
TRAFFIC = [
    ("c01", "in_answered", 0, "09:00", ROMASHKA, "201", 8, 120),
    ("c02", "in_missed", 0, "09:10", NUMBER_A, None, 25, 0),
    ("c03", "out_answered", 0, "09:20", NUMBER_A, "201", 5, 60),
    ("c04", "in_busy", 0, "10:05", LONDON, None, 2, 0),
    ("c05", "in_answered", 0, "10:30", IVAN, "202", 12, 300),
    ("c06", "out_answered", 0, "11:00", ROMASHKA, "202", 6, 45),
    ("c07", "in_missed", 0, "14:00", NUMBER_B, None, 30, 0),
    ("c08", "in_answered", 0, "14:10", NUMBER_B, "203", 5, 30),
    ("c09", "out_answered", 1, "09:00", LONDON, "201", 4, 200),
    ("c10", "in_missed", 1, "16:00", NUMBER_C, None, 20, 0),
    ("c11", "out_noanswer", 1, "16:30", NUMBER_C, "203", 30, 0),
    ("c12", "in_answered", 1, "17:00", ROMASHKA, "201", 3, 600),
    ("c13", "in_answered", 2, "08:15", NUMBER_A, "202", 10, 90),
    ("c14", "in_missed", 2, "11:00", ROMASHKA, None, 18, 0),
    ("c15", "out_answered", 2, "11:05", ROMASHKA, "201", 7, 150),
    ("c16", "in_failed", 2, "20:00", NUMBER_D, None, 9, 0),
    ("c17", "in_answered", None, 40, NUMBER_E, "201", 9, 75),
    ("c18", "in_missed", None, 30, NUMBER_F, None, 15, 0),
]


@dataclass
class PlayedCall:
    """What the scenario says a call is, independently of what Odoo made of it."""

    key: str
    direction: str
    outcome: str
    number: str
    start: dt.datetime  # naive UTC
    ring: int
    talk: int
    user_id: int
    team_id: int
    line_id: int
    source_id: int
    partner_id: int
    commercial_partner_id: int
    country_id: int
    company_id: int
    lead_key: str = None
    created_lead: str = None
    call_id: int = 0

    @property
    def local(self):
        return pytz.utc.localize(self.start).astimezone(PBX_TZ).replace(tzinfo=None)

    @property
    def answered(self):
        return self.outcome == "answered"

    @property
    def missed(self):
        return self.direction == "inbound" and self.outcome in UNANSWERED

    def dimension(self, name):
        """The call's value for a groupby of the report (ids, or False)."""
        local = self.local
        values = {
            "user_id": self.user_id,
            "team_id": self.team_id,
            "company_id": self.company_id,
            "direction": self.direction,
            "outcome": self.outcome,
            "line_id": self.line_id,
            "source_id": self.source_id,
            "partner_id": self.partner_id,
            "commercial_partner_id": self.commercial_partner_id,
            "country_id": self.country_id,
            "call_date:day": local.date(),
            "call_date:month": local.date().replace(day=1),
            "weekday": str(local.weekday()),
            "hour": f"{local.hour:02d}",
        }
        return values[name] or False


class CrmVoipReportsCommon(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.ru")
        # Open round the clock: a call-back deadline in working time (crm_voip_routing's,
        # when installed) is then the same number of minutes on the wall clock, which the
        # ledger counts. The rules themselves are tested by test_callback_deadline.
        cls.company.resource_calendar_id = cls.env["resource.calendar"].create(
            {
                "name": "Round the clock",
                "tz": "Europe/Moscow",
                "company_id": cls.company.id,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 0,
                            "hour_to": 24,
                            "day_period": "morning",
                        }
                    )
                    for day in range(7)
                ],
            }
        )
        cls.source_site = cls.env["utm.source"].create({"name": "Website (test)"})
        cls.generic.write(
            {
                "unknown_caller_policy": "lead",
                "timezone": "Europe/Moscow",
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_boris.id, "extension": "202"}),
                    Command.create({"user_id": cls.salesman_other.id, "extension": "203"}),
                ],
                "line_ids": [
                    Command.create(
                        {
                            "name": "Website line",
                            "number": GENERIC_DID,
                            "source_id": cls.source_site.id,
                            "team_id": cls.team.id,
                        }
                    )
                ],
            }
        )
        cls.line_site = cls.generic.line_ids
        cls.users_by_extension = {
            "201": cls.salesman_anna,
            "202": cls.salesman_boris,
            "203": cls.salesman_other,
        }
        cls.team_of = {
            cls.salesman_anna.id: cls.team,
            cls.salesman_boris.id: cls.team,
            cls.salesman_other.id: cls.other_team,
        }
        cls.partner_of = {
            ROMASHKA: cls.client_romashka,
            IVAN: cls.client_ivan,
            LONDON: cls.client_london,
        }
        cls.day_d = dt.datetime.now(PBX_TZ).date() - dt.timedelta(days=8)
        cls.now = dt.datetime.now(pytz.utc).replace(microsecond=0)
        cls.ledger = []
        with cls._http_requests_in_class_setup():
            for spec in TRAFFIC:
                cls.ledger.append(cls._play(*spec))
        cls.env.invalidate_all()
        cls.calls = cls.env["crm.voip.call"].search(
            [("provider_id", "=", cls.generic.id)], order="date_start, id"
        )
        assert len(cls.calls) == len(TRAFFIC), "every scenario logged one call"
        for played in cls.ledger:
            played.call_id = cls.calls.filtered(lambda c, k=played.key: c.provider_call_id == k).id
        cls._wrap_up_and_win()

    # ------------------------------------------------------------------
    # Playing
    # ------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def _http_requests_in_class_setup(cls):
        """Let the test server serve requests while the class is set up.

        Odoo's test cursor accepts a request only while a test has an HTTP request key,
        which ``setUp`` gives it; the traffic is played once for the whole class, before
        any ``setUp``: lend the key of the test about to run (restored by its setUp)."""
        test = odoo_module.current_test
        test.http_request_key = cls.canonical_tag
        test.http_request_strict_check = False
        try:
            yield
        finally:
            del test.http_request_key
            cls.env.invalidate_all()

    @classmethod
    def _start(cls, day_offset, moment):
        if day_offset is None:
            return cls.now - dt.timedelta(minutes=moment)
        hour, minute = (int(part) for part in moment.split(":"))
        local = dt.datetime.combine(
            cls.day_d + dt.timedelta(days=day_offset), dt.time(hour, minute)
        )
        return PBX_TZ.localize(local).astimezone(pytz.utc)

    @classmethod
    def _play(cls, key, kind, day_offset, moment, number, extension, ring, talk):
        start = cls._start(day_offset, moment)
        common = {"call_id": key, "call_start": start, "ring_seconds": ring}
        if kind == "in_answered":
            params = dict(
                scenario="answered",
                caller=number,
                did=GENERIC_DID,
                extensions=[extension],
                answered_by=extension,
                talk_seconds=talk,
            )
        elif kind in ("in_missed", "in_failed"):
            params = dict(
                scenario="missed", caller=number, did=GENERIC_DID, extensions=["201", "202"]
            )
            if kind == "in_failed":
                params["disposition"] = "failed"
        elif kind == "in_busy":
            params = dict(scenario="busy", caller=number, did=GENERIC_DID, extensions=["202"])
        else:
            params = dict(
                scenario="outgoing",
                number=number,
                extension=extension,
                answered=kind == "out_answered",
                talk_seconds=talk,
            )
        scenario = params.pop("scenario")
        cls.env.flush_all()
        deliveries = cls.sim.play("generic", scenario, batch=True, **common, **params)
        assert deliveries and all(d.ok for d in deliveries), [d.status for d in deliveries]
        cls.env.invalidate_all()

        inbound = kind.startswith("in_")
        outcome = {
            "in_answered": "answered",
            "out_answered": "answered",
            "in_missed": "missed",
            "out_noanswer": "missed",
            "in_busy": "busy",
            "in_failed": "failed",
        }[kind]
        user = cls.users_by_extension[extension] if outcome == "answered" or not inbound else None
        partner = cls.partner_of.get(number)
        commercial = partner.commercial_partner_id if partner else None
        country = (partner.country_id or commercial.country_id) if partner else None
        if number in (ROMASHKA, IVAN):
            lead_key = "romashka"
        elif partner:
            lead_key = None
        else:
            lead_key = f"lead:{number}"
        first_inbound = inbound and not any(
            c.number == number and c.direction == "inbound" for c in cls.ledger
        )
        return PlayedCall(
            key=key,
            direction="inbound" if inbound else "outbound",
            outcome=outcome,
            number=number,
            start=start.astimezone(pytz.utc).replace(tzinfo=None),
            ring=ring,
            talk=talk if outcome == "answered" else 0,
            user_id=user.id if user else False,
            team_id=(cls.team.id if inbound else cls.team_of[user.id].id),
            line_id=cls.line_site.id if inbound else False,
            source_id=cls.source_site.id if inbound else False,
            partner_id=partner.id if partner else False,
            commercial_partner_id=commercial.id if commercial else False,
            country_id=country.id if country else False,
            company_id=cls.company.id,
            lead_key=lead_key,
            created_lead=lead_key if (first_inbound and lead_key and not partner) else None,
        )

    @classmethod
    def _wrap_up_and_win(cls):
        """Anna's wrap-up of her call to London creates an opportunity; two deals are won."""
        call_london = cls.calls.filtered(lambda c: c.provider_call_id == "c09")
        call_london.with_user(cls.salesman_anna).crm_voip_wrapup({"create_opportunity": True})
        played = next(p for p in cls.ledger if p.key == "c09")
        played.lead_key = played.created_lead = "opp:london"
        cls.leads = {
            "romashka": cls.opportunity_romashka,
            "opp:london": call_london.lead_id,
        }
        for number in (NUMBER_A, NUMBER_B, NUMBER_C, NUMBER_D, NUMBER_E, NUMBER_F):
            cls.leads[f"lead:{number}"] = cls.calls.filtered(
                lambda c, n=number: c.partner_number_e164 == n and c.lead_created
            ).lead_id
        cls.won_at = {
            "romashka": dt.datetime.combine(cls.day_d + dt.timedelta(days=1), dt.time(18)),
            f"lead:{NUMBER_A}": dt.datetime.combine(cls.day_d + dt.timedelta(days=5), dt.time(12)),
            f"lead:{NUMBER_C}": dt.datetime.combine(cls.day_d - dt.timedelta(days=1), dt.time(12)),
        }
        for key, closed in cls.won_at.items():
            lead = cls.leads[key]
            lead.action_set_won()
            lead.date_closed = closed
        cls.env.flush_all()

    # ------------------------------------------------------------------
    # The independent count
    # ------------------------------------------------------------------

    @classmethod
    def callback_of(cls, missed):
        """The first later answered call with the missed call's number, or None."""
        later = [
            c
            for c in cls.ledger
            if c.number == missed.number and c.answered and c.start > missed.start
        ]
        return min(later, key=lambda c: c.start) if later else None

    @classmethod
    def expected(cls, calls):
        """Every measure of the call analysis for these ledger calls."""
        calls = list(calls)
        answered = [c for c in calls if c.answered]
        inbound = [c for c in calls if c.direction == "inbound"]
        missed = [c for c in calls if c.missed]
        callback_minutes = []
        in_time = 0
        for call in missed:
            callback = cls.callback_of(call)
            if callback:
                minutes = (callback.start - call.start).total_seconds() / 60
                callback_minutes.append(minutes)
                in_time += minutes <= SLA_MINUTES
        waits = [c.ring for c in inbound]
        talk = sum(c.talk for c in answered)
        clients = {
            f"p{c.commercial_partner_id}" if c.commercial_partner_id else f"n{c.number}"
            for c in answered
        }
        won = {
            c.lead_key
            for c in calls
            if c.lead_key in cls.won_at and c.start <= cls.won_at[c.lead_key] < c.start + WON_WINDOW
        }

        def ratio(numerator, denominator, factor=1.0):
            return factor * numerator / denominator if denominator else False

        return {
            "call_count": len(calls),
            "inbound_count": len(inbound),
            "outbound_count": len(calls) - len(inbound),
            "answered_count": len(answered),
            "missed_count": len(missed),
            "answer_rate": ratio(len(answered), len(calls), 100.0),
            "missed_rate": ratio(len(missed), len(inbound), 100.0),
            "talk_hours": talk / 3600.0,
            "avg_talk_minutes": ratio(talk, len(answered), 1 / 60.0),
            "avg_wait_minutes": ratio(sum(waits), len(waits), 1 / 60.0),
            "called_back_count": len(callback_minutes),
            "callback_sla_rate": ratio(in_time, len(missed), 100.0),
            "callback_median_minutes": (
                statistics.median(callback_minutes) if callback_minutes else False
            ),
            "clients_reached": len(clients),
            "opportunities_created": len({c.created_lead for c in calls if c.created_lead}),
            "opportunities_won": len(won),
            "calls_per_won": ratio(len(calls), len(won)),
        }

    @classmethod
    def expected_by(cls, dimension, calls=None):
        groups = defaultdict(list)
        for call in cls.ledger if calls is None else calls:
            groups[call.dimension(dimension)].append(call)
        return {key: cls.expected(group) for key, group in groups.items()}

    # ------------------------------------------------------------------
    # Assertions
    # ------------------------------------------------------------------

    def assertMeasures(self, actual, expected, context=""):
        """``actual``/``expected``: {measure: value}; floats to 1e-6, False for "none"."""
        for name, value in expected.items():
            if name not in actual:
                continue
            got = actual[name]
            with self.subTest(context=context, measure=name):
                if value is False or value is None:
                    self.assertIn(got, (False, None), f"{context} {name}")
                elif isinstance(value, float):
                    self.assertAlmostEqual(got, value, places=6, msg=f"{context} {name}")
                else:
                    self.assertEqual(got, value, f"{context} {name}")

    @staticmethod
    def group_key(value):
        """A read_group value as the ledger's key: ids for records."""
        if hasattr(value, "_name"):
            return value.id or False
        return value
