"""Rule conditions, chains and availability at the model level, at any moment (no call)."""

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Command
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.crm_voip_routing.tools.router import CallRouter

from .common import (
    MONDAY_10,
    ROMASHKA_CALLER,
    SATURDAY_23,
    CrmVoipRoutingCommon,
    msk,
    utc_naive,
)

ROMASHKA_E164 = "+74957654321"
LONDON_E164 = "+442079460958"
UNKNOWN_E164 = "+79990001122"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingRules(CrmVoipRoutingCommon):
    def _rule(self, sequence=5, steps=None, **values):
        return self.env["crm.voip.route"].create(
            {
                "name": values.pop("name", "Test rule"),
                "sequence": sequence,
                "company_id": self.company.id,
                "step_ids": [Command.create(step) for step in steps]
                if steps
                else [Command.create({"action": "users", "user_id": self.salesman_other.id})],
                **values,
            }
        )

    def test_known_client_plan(self):
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10))
        self.assertEqual(result.route, self.route_known)
        self.assertTrue(result.caller.known)
        self.assertEqual(result.caller.country, "RU")
        self.assertEqual(result.responsible, self.salesman_anna)
        self.assertEqual(
            [(a.action, a.targets, a.timeout) for a in result.plan.attempts],
            [
                ("responsible", ("101",), 20),
                ("responsible_mobile", ("101",), 15),
                ("team", ("102",), 20),
                ("voicemail", ("0-2",), None),
            ],
        )
        self.assertEqual(result.plan.attempts[1].forward_number, "+79165550101")

    def test_line_condition(self):
        rule = self._rule(line_ids=[Command.set(self.line_moscow.ids)])
        self.assertEqual(self.route(ROMASHKA_E164, msk(*MONDAY_10)).route, self.route_known)
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10), line=self.line_moscow)
        self.assertEqual(result.route, rule)
        self.assertEqual(result.decision.targets, ("103",))

    def test_tag_country_and_prefix_conditions(self):
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        tag_rule = self._rule(sequence=2, category_ids=[Command.set(vip.ids)])
        uk_rule = self._rule(sequence=3, country_ids=[Command.set(self.env.ref("base.uk").ids)])
        prefix_rule = self._rule(sequence=4, number_prefixes="+7 999, +7 812")
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10))
        self.assertEqual(result.route, self.route_known)
        trace = {entry.rule_id: entry.reason for entry in result.rule_trace}
        self.assertEqual(trace[tag_rule.id], "no_tag")
        self.assertEqual(trace[uk_rule.id], "other_country")
        self.assertEqual(trace[prefix_rule.id], "other_prefix")
        # The tag of the company counts for its employees too.
        self.client_romashka.category_id = vip
        self.assertEqual(self.route("+79167654321", msk(*MONDAY_10)).route, tag_rule)
        self.assertEqual(self.route(LONDON_E164, msk(*MONDAY_10)).route, uk_rule)
        self.assertEqual(self.route(UNKNOWN_E164, msk(*MONDAY_10)).route, prefix_rule)

    def test_time_window_rules(self):
        after_hours = self._rule(
            sequence=2,
            name="After hours",
            time_mode="outside",
            calendar_id=self.calendar.id,
            steps=[{"action": "users", "user_id": self.sales_manager.id, "ignore_hours": True}],
        )
        self.env["crm.voip.extension"].create(
            {"provider_id": self.zadarma.id, "user_id": self.sales_manager.id, "extension": "110"}
        )
        self.assertEqual(self.route(ROMASHKA_E164, msk(*MONDAY_10)).route, self.route_known)
        night = self.route(ROMASHKA_E164, msk(*SATURDAY_23))
        self.assertEqual(night.route, after_hours)
        self.assertEqual(night.decision.targets, ("110",), "rung although outside his hours")
        # Friday 17:59 is inside, 18:00 outside (Moscow time, whatever the server's zone).
        self.assertEqual(
            self.route(ROMASHKA_E164, msk(2024, 1, 19, 17, 59)).route, self.route_known
        )
        self.assertEqual(self.route(ROMASHKA_E164, msk(2024, 1, 19, 18, 0)).route, after_hours)
        # A public holiday of the calendar is outside the hours.
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Holiday",
                "calendar_id": self.calendar.id,
                "date_from": utc_naive(msk(2024, 1, 15, 0, 0)),
                "date_to": utc_naive(msk(2024, 1, 15, 23, 59)),
            }
        )
        self.assertEqual(self.route(ROMASHKA_E164, msk(*MONDAY_10)).route, after_hours)
        with self.assertRaises(ValidationError):
            self._rule(time_mode="inside")

    def test_users_steps(self):
        rule = self._rule(
            sequence=2,
            steps=[
                {
                    "sequence": 1,
                    "action": "users",
                    "user_id": self.salesman_boris.id,
                    "timeout": 10,
                },
                {"sequence": 2, "action": "users", "user_id": self.salesman_anna.id, "timeout": 12},
                {
                    "sequence": 3,
                    "action": "users_all",
                    "user_ids": [Command.set((self.salesman_anna | self.salesman_other).ids)],
                    "timeout": 30,
                },
            ],
        )
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10))
        self.assertEqual(result.route, rule)
        self.assertEqual(
            [(a.targets, a.timeout) for a in result.plan.attempts],
            [(("102",), 10), (("101",), 12), (("103",), 30)],
        )
        self.assertIn("already_tried", [e.reason for e in result.plan.log])
        with self.assertRaises(ValidationError):
            self._rule(steps=[{"action": "users_all"}])

    def test_responsible_falls_back_to_opportunity_then_team_leader(self):
        self.client_romashka.user_id = False
        self.client_ivan.user_id = False
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10))
        self.assertEqual(
            (result.responsible, result.responsible_source), (self.salesman_anna, "opportunity")
        )
        self.opportunity_romashka.user_id = self.salesman_boris
        self.assertEqual(
            self.route(ROMASHKA_E164, msk(*MONDAY_10)).responsible, self.salesman_boris
        )
        self.opportunity_romashka.action_set_lost()
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10))
        self.assertEqual(
            (result.responsible, result.responsible_source), (self.sales_manager, "team_leader")
        )

    def test_unknown_caller_and_caller_is_new(self):
        result = self.route(UNKNOWN_E164, msk(*MONDAY_10))
        self.assertFalse(result.caller.known)
        self.assertEqual(result.route, self.route_unknown)
        self.assertEqual(result.decision.targets, ("101",))
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10), caller_is_new=True)
        self.assertEqual(result.route, self.route_unknown)

    def test_blacklist_mode_exclude(self):
        rule = self._rule(sequence=2, blacklist_mode="exclude")
        self.route_blocked.active = False
        self.assertEqual(self.route(ROMASHKA_E164, msk(*MONDAY_10)).route, rule)
        self.block(ROMASHKA_E164)
        result = self.route(ROMASHKA_E164, msk(*MONDAY_10))
        self.assertTrue(result.caller.blacklisted)
        self.assertEqual(result.route, self.route_known)

    def test_nobody_available_without_voicemail_is_the_pbx_route(self):
        self.route_known.step_ids.filtered(lambda s: s.action == "voicemail").unlink()
        result = self.route(ROMASHKA_E164, msk(*SATURDAY_23))
        self.assertEqual(result.decision.action, "default")
        self.assertEqual(result.plan.log[-1].reason, "no_attempt")

    def test_user_without_resource_uses_the_company_hours(self):
        self.salesman_boris.resource_ids.unlink()
        self.assertFalse(self.salesman_boris.crm_voip_calendar_id)
        self.env.flush_all()
        agents = CallRouter(self.env).agents(
            self.zadarma, [self.salesman_boris.id], utc_naive(msk(*SATURDAY_23))
        )
        self.assertFalse(agents[self.salesman_boris.id].working)
        agents = CallRouter(self.env).agents(
            self.zadarma, [self.salesman_boris.id], utc_naive(msk(*MONDAY_10))
        )
        self.assertTrue(agents[self.salesman_boris.id].working)

    def test_missed_deadline_in_working_minutes(self):
        deadline = self.company._crm_voip_missed_deadline
        # Friday 17:50 + 15 working minutes: Monday 09:05.
        self.assertEqual(
            deadline(utc_naive(msk(2024, 1, 19, 17, 50))), utc_naive(msk(2024, 1, 22, 9, 5))
        )
        self.company.crm_voip_missed_sla_minutes = 60
        self.assertEqual(deadline(utc_naive(msk(*MONDAY_10))), utc_naive(msk(2024, 1, 15, 11, 0)))

    def test_wizard_shows_the_decision_and_why(self):
        wizard = self.env["crm.voip.routing.test"].create(
            {
                "provider_id": self.zadarma.id,
                "number": "8 (495) 765-43-21",
                "moment": utc_naive(msk(*SATURDAY_23)),
            }
        )
        self.assertRecordValues(
            wizard,
            [
                {
                    "number_e164": ROMASHKA_E164,
                    "partner_id": self.client_romashka.id,
                    "known": True,
                    "route_id": self.route_known.id,
                    "responsible_user_id": self.salesman_anna.id,
                    "action": "redirect",
                    "targets": "0-2",
                }
            ],
        )
        self.assertEqual(wizard.pbx_reply, '{"redirect":"0-2","caller_name":"Romashka LLC"}')
        self.assertIn("Outside his working hours", wizard.result_html)
        self.assertIn("Blocked numbers", wizard.result_html)
        wizard.moment = utc_naive(msk(*MONDAY_10))
        self.assertEqual(wizard.targets, "101")
        wizard.number = "not a number"
        self.assertFalse(wizard.action)

    def test_block_number_from_call_and_contact(self):
        call = self.env["crm.voip.call"].create(
            {
                "provider_id": self.zadarma.id,
                "company_id": self.company.id,
                "provider_call_id": "test-block",
                "partner_number": ROMASHKA_CALLER,
                "partner_number_e164": ROMASHKA_E164,
            }
        )
        with self.assertRaises(AccessError):
            call.with_user(self.salesman_anna).action_crm_voip_block_number()
        call.with_user(self.sales_manager).action_crm_voip_block_number()
        self.assertTrue(CallRouter(self.env).is_blacklisted(ROMASHKA_E164))
        self.assertTrue(call.crm_voip_number_blocked)
        self.assertTrue(self.client_romashka.crm_voip_number_blocked)
        self.client_romashka.with_user(self.sales_manager).action_crm_voip_unblock_numbers()
        self.assertFalse(CallRouter(self.env).is_blacklisted(ROMASHKA_E164))
        self.client_ivan.with_user(self.sales_manager).action_crm_voip_block_numbers()
        self.assertTrue(CallRouter(self.env).is_blacklisted("+79167654321"))

    def test_working_hours_of_a_user(self):
        with self.assertRaises(AccessError):
            self.salesman_anna.with_user(self.salesman_anna).crm_voip_calendar_id = False
        self.salesman_anna.crm_voip_calendar_id = False
        self.assertFalse(self.salesman_anna._crm_voip_resource().calendar_id)
        self.salesman_anna.resource_ids.unlink()
        self.salesman_anna.crm_voip_calendar_id = self.calendar
        self.assertEqual(self.salesman_anna._crm_voip_resource().calendar_id, self.calendar)
        self.assertEqual(self.salesman_anna._crm_voip_resource().tz, "Europe/Moscow")

    def test_dnd_toggle_and_session(self):
        Users = self.env["res.users"].with_user(self.salesman_boris)
        self.assertTrue(Users.crm_voip_routing_toggle_dnd())
        self.assertTrue(self.salesman_boris.crm_voip_dnd)
        self.assertFalse(Users.crm_voip_routing_toggle_dnd())


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingSecurity(CrmVoipRoutingCommon):
    @users("voip_anna")
    def test_salesperson_reads_rules_but_cannot_change_them(self):
        route = self.route_known.with_env(self.env)
        self.assertEqual(route.name, "Known clients")
        self.assertTrue(route.step_ids)
        with self.assertRaises(AccessError):
            route.name = "Mine"
        with self.assertRaises(AccessError):
            self.env["crm.voip.route"].create({"name": "Mine"})
        with self.assertRaises(AccessError):
            self.env["crm.voip.routing.test"].create({"number": ROMASHKA_CALLER})

    @users("voip_manager")
    def test_manager_configures_rules_and_tests_numbers(self):
        route = self.env["crm.voip.route"].create(
            {"name": "Manager's rule", "step_ids": [Command.create({"action": "team"})]}
        )
        route.step_ids.timeout = 30
        self.assertEqual(route.company_id, self.company)
        wizard = self.env["crm.voip.routing.test"].create(
            {"provider_id": self.zadarma.id, "number": ROMASHKA_CALLER}
        )
        self.assertTrue(wizard.action)

    def test_other_company_rules_are_invisible(self):
        other = self.env["res.company"].create({"name": "Other VoIP Co"})
        foreign = self.env["crm.voip.route"].create({"name": "Foreign", "company_id": other.id})
        visible = self.env["crm.voip.route"].with_user(self.sales_manager).search([])
        self.assertNotIn(foreign, visible)
        self.assertIn(self.route_known, visible)

    def test_missed_call_visibility(self):
        MissedCall = self.env["crm.voip.missed.call"]
        mine = MissedCall.create(
            {
                "company_id": self.company.id,
                "number_e164": "+79990000001",
                "user_id": self.salesman_anna.id,
                "team_id": self.other_team.id,
            }
        )
        other = MissedCall.create(
            {
                "company_id": self.company.id,
                "number_e164": "+79990000002",
                "user_id": self.salesman_other.id,
                "team_id": self.other_team.id,
            }
        )
        seen = MissedCall.with_user(self.salesman_anna).search([])
        self.assertIn(mine, seen)
        self.assertNotIn(other, seen)
        self.assertIn(other, MissedCall.with_user(self.sales_manager).search([]))
        with self.assertRaises(AccessError):
            MissedCall.with_user(self.salesman_anna).create(
                {"company_id": self.company.id, "number_e164": "+79990000003"}
            )

    def test_unique_open_task_per_number(self):
        MissedCall = self.env["crm.voip.missed.call"]
        values = {"company_id": self.company.id, "number_e164": "+79990000009"}
        first = MissedCall.create(values)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                MissedCall.create(values)
        first.write({"state": "done"})
        self.env.flush_all()
        self.assertTrue(MissedCall.create(values))

    def test_routing_log_visibility_follows_calls(self):
        call = self.env["crm.voip.call"].create(
            {
                "provider_id": self.zadarma.id,
                "company_id": self.company.id,
                "provider_call_id": "test-log",
                "user_id": self.salesman_other.id,
                "crm_voip_routing_trace": [{"kind": "decision", "reason": "default"}],
            }
        )
        Log = self.env["crm.voip.routing.log"]
        self.assertFalse(Log.with_user(self.salesman_anna).search([("call_id", "=", call.id)]))
        self.assertTrue(Log.with_user(self.sales_manager).search([("call_id", "=", call.id)]))
