"""Fixtures of the routing tests, on top of crm_voip's (see its ``tests/common.py``).

    Company "VoIP Test Co", calendar "Moscow office" Mon-Fri 09:00-18:00 Europe/Moscow
    team "Moscow desk" (leader sales_manager): anna (ext 101, mobile +7 916 555-01-01,
        generic ext 201), boris (ext 102, no mobile); same hours, Moscow time
    Rules: 1 "Blocked numbers" -> reject
           2 "Known clients" -> responsible 20 s -> his mobile 15 s -> team 20 s -> voicemail 0-2
           3 "Unknown numbers" -> team 20 s -> voicemail 0-2
    Romashka (8 495 765-43-21) and Ivan (+7 916 765-43-21, of Romashka) belong to anna.

Calls are played at fixed moments (``msk()``): the Zadarma account accepts old
``call_start`` values (``max_event_age`` raised), the generic protocol signs with the real
clock and carries the call's time in its events, and the routing decides for the call's
start time. No clock is frozen: the test HTTP server runs in another thread.
"""

import datetime as dt

import pytz

from odoo.fields import Command

from odoo.addons.crm_voip.tests.common import CrmVoipCommon
from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon
from odoo.addons.crm_voip_routing.tools.router import CallRouter

MSK = pytz.timezone("Europe/Moscow")
ROMASHKA_CALLER = "74957654321"  # typed "8 (495) 765-43-21" on Romashka's card
IVAN_CALLER = "79167654321"  # Ivan Petrov's mobile
ANNA_MOBILE_E164 = "+79165550101"
VOICEMAIL = "0-2"
MONDAY_10 = (2024, 1, 15, 10, 0)  # a working Monday morning
SATURDAY_23 = (2024, 1, 13, 23, 0)  # a Saturday night


def msk(year, month, day, hour, minute=0, second=0):
    """An aware moment, Moscow time."""
    return MSK.localize(dt.datetime(year, month, day, hour, minute, second))


def utc_naive(moment):
    return moment.astimezone(pytz.utc).replace(tzinfo=None)


class RoutingFixtures:
    """Calendar, working hours, mobile and the three rules; shared by the unit and HTTP
    layers."""

    @classmethod
    def _setup_routing(cls):
        env = cls.env
        cls.calendar = env["resource.calendar"].create(
            {
                "name": "Moscow office 9-18",
                "tz": "Europe/Moscow",
                "company_id": cls.company.id,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 9,
                            "hour_to": 18,
                            "day_period": "morning",
                        }
                    )
                    for day in range(5)
                ],
            }
        )
        cls.company.resource_calendar_id = cls.calendar
        people = cls.salesman_anna | cls.salesman_boris | cls.salesman_other | cls.sales_manager
        people.write({"tz": "Europe/Moscow"})
        for user in people:
            user.crm_voip_calendar_id = cls.calendar
        # Calls are played at fixed past moments.
        cls.zadarma.settings = {**(cls.zadarma.settings or {}), "max_event_age": 20 * 365 * 86400}
        cls.zadarma.extension_ids.filtered(
            lambda e: e.user_id == cls.salesman_anna
        ).mobile = "+7 916 555-01-01"
        Route = env["crm.voip.route"]
        cls.route_blocked = Route.create(
            {
                "name": "Blocked numbers",
                "sequence": 1,
                "company_id": cls.company.id,
                "blacklist_mode": "only",
                "step_ids": [Command.create({"action": "reject"})],
            }
        )
        cls.route_known = Route.create(
            {
                "name": "Known clients",
                "sequence": 10,
                "company_id": cls.company.id,
                "caller_type": "known",
                "team_id": cls.team.id,
                "step_ids": [
                    Command.create({"sequence": 1, "action": "responsible", "timeout": 20}),
                    Command.create({"sequence": 2, "action": "responsible_mobile", "timeout": 15}),
                    Command.create({"sequence": 3, "action": "team", "timeout": 20}),
                    Command.create({"sequence": 4, "action": "voicemail", "pbx_target": VOICEMAIL}),
                ],
            }
        )
        cls.route_unknown = Route.create(
            {
                "name": "Unknown numbers",
                "sequence": 20,
                "company_id": cls.company.id,
                "caller_type": "unknown",
                "team_id": cls.team.id,
                "step_ids": [
                    Command.create({"sequence": 1, "action": "team", "timeout": 20}),
                    Command.create({"sequence": 2, "action": "voicemail", "pbx_target": VOICEMAIL}),
                ],
            }
        )
        cls.step_responsible, cls.step_mobile, cls.step_team, cls.step_voicemail = (
            cls.route_known.step_ids.sorted("sequence")
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def leave(self, user, start, end, name="Vacation"):
        resource = user._crm_voip_resource()
        return self.env["resource.calendar.leaves"].create(
            {
                "name": name,
                "resource_id": resource.id,
                "calendar_id": resource.calendar_id.id,
                "date_from": utc_naive(start),
                "date_to": utc_naive(end),
            }
        )

    def block(self, number):
        return self.env["phone.blacklist"].sudo()._add([number])

    def log_of(self, call):
        """``[(reason, user login or '', step action or '')]`` in log order."""
        return [
            (line.reason, line.user_id.login or "", line.step_id.action or "")
            for line in call.crm_voip_routing_log_ids.sorted("sequence")
        ]


class CrmVoipRoutingCommon(RoutingFixtures, CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_routing()

    def route(self, number_e164, moment, provider=None, line=None, **kwargs):
        """The routing of a number at an aware moment, as the webhook would compute it."""
        provider = provider or self.zadarma
        partner, lead = self.env["crm.voip.call"]._crm_voip_identify(number_e164, self.company)
        return CallRouter(self.env).route(
            provider,
            number_e164,
            line=line,
            partner=partner,
            lead=lead,
            team=(line.team_id if line else self.env["crm.team"]),
            when=utc_naive(moment),
            **kwargs,
        )


class CrmVoipRoutingHttpCommon(RoutingFixtures, CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_routing()

    def play_call(self, provider, scenario, **params):
        deliveries = self.play(provider, scenario, **params)
        for delivery in deliveries:
            self.assertEqual(delivery.status, 200, delivery.text)
        event = deliveries[0].event
        call = self.call_of(
            self.zadarma if provider == "zadarma" else self.generic,
            event.get("pbx_call_id") or event.get("call_id"),
        )
        self.assertEqual(len(call), 1)
        return call, deliveries

    def start_call(self, provider, moment, caller, **params):
        """Only the call-start event of an incoming call: the call keeps ringing."""
        events = self.sim.scenario_events(
            provider, "answered", caller=caller, call_start=moment, **params
        )
        deliveries = self.send(provider, events[:1])
        event = deliveries[0].event
        call = self.call_of(
            self.zadarma if provider == "zadarma" else self.generic,
            event.get("pbx_call_id") or event.get("call_id"),
        )
        return call, deliveries[0]
