"""Who answers: every routing path played by the VATS simulator over HTTP, asserting the
reply the PBX gets to its call-start event and the routing log on the call."""

import datetime as dt
from collections import Counter
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.crm_voip_routing.tools.router import CallRouter

from .common import (
    ANNA_MOBILE_E164,
    IVAN_CALLER,
    MONDAY_10,
    ROMASHKA_CALLER,
    SATURDAY_23,
    VOICEMAIL,
    CrmVoipRoutingHttpCommon,
    msk,
)

ROUTING_LOGGER = "odoo.addons.crm_voip_routing.models.crm_voip_call"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingZadarma(CrmVoipRoutingHttpCommon):
    def test_known_client_goes_to_his_manager(self):
        call, deliveries = self.play_call(
            "zadarma",
            "answered",
            caller=ROMASHKA_CALLER,
            answered_by="101",
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(
            deliveries[0].json(),
            {"redirect": "101", "return_timeout": 20, "caller_name": "Romashka LLC"},
        )
        self.assertRecordValues(
            call,
            [
                {
                    "crm_voip_route_id": self.route_known.id,
                    "crm_voip_routing_action": "redirect",
                    "crm_voip_routed_user_id": self.salesman_anna.id,
                    "crm_voip_responsible_user_id": self.salesman_anna.id,
                    "crm_voip_responsible_source": "partner",
                    "state": "done",
                    "crm_voip_missed_call_id": False,
                }
            ],
        )
        self.assertEqual(
            self.log_of(call),
            [
                ("rules_skipped", "", ""),
                ("matched", "", ""),
                ("routed", "voip_anna", "responsible"),
                ("fallback", "voip_anna", "responsible_mobile"),
                ("already_tried", "voip_anna", "team"),
                ("fallback", "voip_boris", "team"),
                ("fallback", "", "voicemail"),
                ("redirect", "voip_anna", ""),
            ],
        )
        skipped = call.crm_voip_routing_log_ids.filtered(
            lambda line: line.reason == "rules_skipped"
        )
        self.assertIn("Blocked numbers", skipped.detail)
        self.assertGreater(call.crm_voip_routing_ms, 0)

    def test_reassigned_client_follows_his_new_manager(self):
        self.client_romashka.user_id = self.salesman_boris
        _call, deliveries = self.play_call(
            "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        self.assertEqual(deliveries[0].json()["redirect"], "102")

    def test_manager_on_leave_goes_to_his_mobile(self):
        self.leave(self.salesman_anna, msk(2024, 1, 15, 0, 0), msk(2024, 1, 19, 23, 0))
        call, deliveries = self.play_call(
            "zadarma",
            "answered",
            caller=ROMASHKA_CALLER,
            answered_by="101",
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(
            deliveries[0].json(),
            {
                "redirect": "101",
                "return_timeout": 15,
                "rewrite_forward_number": ANNA_MOBILE_E164,
                "caller_name": "Romashka LLC",
            },
        )
        log = self.log_of(call)
        self.assertEqual(log[2], ("on_leave", "voip_anna", "responsible"))
        self.assertEqual(log[3], ("routed", "voip_anna", "responsible_mobile"))
        # The team step now rings Anna's desk: she is away, so Boris.
        self.assertIn(("on_leave", "voip_anna", "team"), log)
        self.assertIn(("fallback", "voip_boris", "team"), log)
        line = call.crm_voip_routing_log_ids.filtered(lambda ln: ln.reason == "routed")
        self.assertEqual((line.targets, line.timeout), ("101", 15))

    def test_busy_manager_goes_to_a_colleague(self):
        # Anna is on another call, started a minute earlier and not over yet.
        busy_call, _delivery = self.start_call(
            "zadarma", msk(2024, 1, 15, 9, 59), "79035550000", answered_by="101"
        )
        events = self.sim.scenario_events(
            "zadarma",
            "answered",
            caller="79035550000",
            answered_by="101",
            call_id=busy_call.provider_call_id,
            call_start=msk(2024, 1, 15, 9, 59),
        )
        self.send("zadarma", [e for e in events if e["event"] == "NOTIFY_ANSWER"])
        self.assertEqual(busy_call.state, "talking")
        self.assertEqual(busy_call.user_id, self.salesman_anna)

        call, deliveries = self.play_call(
            "zadarma",
            "answered",
            caller=ROMASHKA_CALLER,
            answered_by="102",
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(
            deliveries[0].json(),
            {"redirect": "102", "return_timeout": 20, "caller_name": "Romashka LLC"},
        )
        log = self.log_of(call)
        self.assertEqual(log[2], ("on_call", "voip_anna", "responsible"))
        self.assertEqual(log[3], ("on_call", "voip_anna", "responsible_mobile"))
        # Anna had the busy call routed to her: Boris is first in turn anyway.
        self.assertEqual(log[4], ("routed", "voip_boris", "team"))
        self.assertEqual(call.crm_voip_routed_user_id, self.salesman_boris)

    def test_do_not_disturb_skips_the_manager(self):
        self.salesman_anna.with_user(self.salesman_anna).crm_voip_routing_toggle_dnd()
        self.assertTrue(self.salesman_anna.crm_voip_dnd)
        call, deliveries = self.play_call(
            "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        self.assertEqual(deliveries[0].json()["redirect"], "102")
        self.assertEqual(self.log_of(call)[2], ("dnd", "voip_anna", "responsible"))

    def test_after_hours_voicemail_and_task_next_morning(self):
        call, deliveries = self.play_call(
            "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*SATURDAY_23)
        )
        self.assertEqual(
            deliveries[0].json(), {"redirect": VOICEMAIL, "caller_name": "Romashka LLC"}
        )
        self.assertEqual(
            self.log_of(call)[2:],
            [
                ("off_hours", "voip_anna", "responsible"),
                ("off_hours", "voip_anna", "responsible_mobile"),
                ("off_hours", "voip_anna", "team"),
                ("off_hours", "voip_boris", "team"),
                ("nobody_available", "", "team"),
                ("routed", "", "voicemail"),
                ("redirect", "", ""),
            ],
        )
        missed = call.crm_voip_missed_call_id
        self.assertTrue(missed)
        # 15 working minutes from Saturday night: Monday 09:15 in Moscow (06:15 UTC).
        self.assertEqual(missed.deadline, dt.datetime(2024, 1, 15, 6, 15))
        self.assertEqual(missed.user_id, self.salesman_anna)
        activity = missed.activity_id
        self.assertRecordValues(
            activity,
            [
                {
                    "user_id": self.salesman_anna.id,
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                    "date_deadline": dt.date(2024, 1, 15),
                    "res_model": "crm.lead",
                    "res_id": self.opportunity_romashka.id,
                }
            ],
        )

    def test_unknown_numbers_take_turns_in_the_team(self):
        """100 unknown callers on a Monday: the team's two members get 50 calls each, in
        strict alternation, and the next call goes to whoever had the older one."""
        routed = []
        for index in range(100):
            moment = msk(2024, 1, 15, 10, 0) + dt.timedelta(seconds=30 * index)
            caller = f"7999{index:07d}"
            call, delivery = self.start_call("zadarma", moment, caller)
            target = delivery.json()["redirect"]
            routed.append(target)
            events = self.sim.scenario_events(
                "zadarma",
                "answered",
                caller=caller,
                answered_by=target,
                call_id=call.provider_call_id,
                call_start=moment,
            )
            self.send("zadarma", [e for e in events if e["event"] == "NOTIFY_END"])
            self.assertEqual(call.state, "done")
            self.assertEqual(call.crm_voip_route_id, self.route_unknown)
        self.assertEqual(Counter(routed), {"101": 50, "102": 50})
        self.assertTrue(all(a != b for a, b in zip(routed, routed[1:], strict=False)))

    def test_blacklisted_number_is_rejected_and_not_a_missed_call(self):
        self.block("+79035551234")
        call, deliveries = self.play_call(
            "zadarma", "missed", caller="79035551234", call_start=msk(*MONDAY_10)
        )
        self.assertEqual(deliveries[0].json(), {"redirect": "blacklist"})
        self.assertRecordValues(
            call,
            [
                {
                    "crm_voip_route_id": self.route_blocked.id,
                    "crm_voip_routing_action": "reject",
                    "crm_voip_blocked": True,
                    "crm_voip_missed_call_id": False,
                    "lead_id": False,
                    "partner_id": False,
                }
            ],
        )
        self.assertEqual(
            self.log_of(call), [("matched", "", ""), ("routed", "", "reject"), ("reject", "", "")]
        )
        self.assertFalse(
            self.env["crm.voip.missed.call"].search([("number_e164", "=", "+79035551234")])
        )

    def test_repeated_call_start_gets_the_same_answer(self):
        events = self.sim.scenario_events(
            "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        first = self.send("zadarma", events[:1])[0].json()
        second = self.send("zadarma", events[:1])[0].json()
        self.assertEqual(first, second)
        call = self.call_of(self.zadarma, events[0]["pbx_call_id"])
        self.assertEqual(call.crm_voip_routing_log_ids.mapped("reason").count("matched"), 1)

    def test_no_rule_keeps_the_pbx_route(self):
        (self.route_known | self.route_unknown | self.route_blocked).active = False
        call, deliveries = self.play_call(
            "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
        )
        self.assertEqual(deliveries[0].json(), {"caller_name": "Romashka LLC"})
        self.assertEqual(call.crm_voip_routing_action, "default")
        self.assertEqual(self.log_of(call), [("no_rule", "", "")])
        # Still a call-back task, for the client's own manager.
        self.assertEqual(call.crm_voip_missed_call_id.user_id, self.salesman_anna)

    @mute_logger(ROUTING_LOGGER)
    def test_failing_routing_falls_back_and_keeps_the_call(self):
        router = CallRouter
        with patch.object(router, "agents", side_effect=ValueError("boom")):
            call, deliveries = self.play_call(
                "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
            )
        self.assertEqual(deliveries[0].json(), {"caller_name": "Romashka LLC"})
        self.assertEqual(call.state, "missed")
        self.assertEqual(set(call.event_ids.mapped("state")), {"applied"})
        self.assertEqual(self.log_of(call), [("error", "", "")])
        self.assertIn("boom", call.crm_voip_routing_log_ids.detail)
        self.assertTrue(call.crm_voip_missed_call_id, "the missed call is not lost")

    @mute_logger(ROUTING_LOGGER, "odoo.sql_db")
    def test_slow_routing_gives_the_pbx_its_default_route(self):
        self.company.crm_voip_routing_budget_ms = 50
        router = CallRouter
        original = router.team_members

        def slow(self_, team_ids):
            self_.env.cr.execute("SELECT pg_sleep(0.2)")
            return original(self_, team_ids)

        with patch.object(router, "team_members", slow):
            call, deliveries = self.play_call(
                "zadarma", "missed", caller=ROMASHKA_CALLER, call_start=msk(*MONDAY_10)
            )
        self.assertEqual(deliveries[0].json(), {"caller_name": "Romashka LLC"})
        self.assertEqual(self.log_of(call), [("timeout", "", "")])
        self.assertEqual(call.crm_voip_routing_action, "default")
        self.assertTrue(call.crm_voip_missed_call_id)
        self.env.cr.execute("SHOW statement_timeout")
        self.assertEqual(self.env.cr.fetchone()[0], "0")


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingGeneric(CrmVoipRoutingHttpCommon):
    def test_known_client_route_in_the_generic_reply(self):
        call, deliveries = self.play_call(
            "generic",
            "answered",
            caller=ROMASHKA_CALLER,
            answered_by="201",
            call_start=msk(*MONDAY_10),
        )
        self.assertEqual(
            deliveries[0].json(),
            {
                "status": "ok",
                "route": {
                    "action": "redirect",
                    "targets": ["201"],
                    "timeout": 20,
                    "caller_name": "Romashka LLC",
                },
            },
        )
        # Boris has no extension on this PBX: the team step cannot ring him.
        self.assertIn(("no_extension", "voip_boris", "team"), self.log_of(call))

    def test_mobile_forward_in_the_generic_reply(self):
        self.generic.extension_ids.mobile = "+7 916 555-01-01"
        self.leave(self.salesman_anna, msk(2024, 1, 15, 0, 0), msk(2024, 1, 15, 23, 0))
        _call, deliveries = self.play_call(
            "generic", "missed", caller=IVAN_CALLER, call_start=msk(*MONDAY_10)
        )
        self.assertEqual(
            deliveries[0].json()["route"],
            {
                "action": "redirect",
                "targets": ["201"],
                "timeout": 15,
                "forward_number": ANNA_MOBILE_E164,
                "caller_name": "Romashka LLC",
            },
        )

    def test_blacklisted_number_rejected_in_the_generic_reply(self):
        self.block("+79035551234")
        call, deliveries = self.play_call(
            "generic", "missed", caller="79035551234", call_start=msk(*MONDAY_10)
        )
        self.assertEqual(deliveries[0].json(), {"status": "ok", "route": {"action": "reject"}})
        self.assertFalse(call.partner_id, "no contact is created for a blocked number")
        self.assertFalse(call.crm_voip_missed_call_id)

    def test_unknown_caller_is_not_known_although_a_contact_was_created(self):
        call, deliveries = self.play_call(
            "generic", "missed", caller="79990007788", call_start=msk(*MONDAY_10)
        )
        self.assertTrue(call.partner_id, "the generic account's policy creates a contact")
        self.assertEqual(call.crm_voip_route_id, self.route_unknown)
        self.assertEqual(deliveries[0].json()["route"]["targets"], ["201"])
