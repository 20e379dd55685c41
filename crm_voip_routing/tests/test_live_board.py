"""The live board: who sees which salespeople and calls (through real RPC), what the
company's board channel carries (no names, no numbers), and the tour against simulated
calls in headless Chromium."""

import json

from odoo import fields
from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.crm_voip.tests import test_crm_voip_ui as crm_voip_ui
from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon, deliver_bus_notifications
from odoo.addons.crm_voip.tests.test_crm_voip_access import CrmVoipAccessCommon
from odoo.addons.crm_voip_routing.models.crm_voip_board import BOARD_CHANNEL

BOARD = "crm.voip.board"


def always_working(env, company):
    """Members are not "away" whatever the day and hour the tests run at."""
    company.resource_calendar_id = env["resource.calendar"].create(
        {"name": "Always (board tests)", "company_id": company.id, "flexible_hours": True}
    )


def logged_in(env, *users):
    now = fields.Datetime.now()
    for user in users:
        env["bus.presence"].create({"user_id": user.id, "status": "online", "last_poll": now})


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_access")
class TestLiveBoardAccess(CrmVoipAccessCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        always_working(cls.env, cls.company)
        cls.zadarma.extension_ids = [Command.create({"user_id": cls.member.id, "extension": "105"})]
        cls.manager_2 = cls.env["res.users"].create(
            {
                "name": "Manager of company 2",
                "login": "voip_manager_co2",
                "password": "voip_manager_co2",
                "company_id": cls.company_2.id,
                "company_ids": [Command.set(cls.company_2.ids)],
                "groups_id": [Command.set([cls.env.ref("sales_team.group_sale_manager").id])],
            }
        )

    def board(self, login):
        return self.rpc(login, BOARD, "crm_voip_board_data", [])

    def test_manager_sees_every_salesperson_and_live_call_of_his_company(self):
        data = self.board("voip_manager")
        people = self.salesman_anna | self.salesman_boris | self.salesman_other | self.member
        self.assertEqual({member["id"] for member in data["members"]}, set(people.ids))
        anna = next(m for m in data["members"] if m["id"] == self.salesman_anna.id)
        self.assertEqual(anna["extensions"], ["101", "201"])
        self.assertEqual(anna["presence"], "offline")  # not logged in: "logged out"
        self.assertIn(self.team.id, anna["team_ids"])
        self.assertIn("Moscow desk", {team["name"] for team in data["teams"]})
        self.assertEqual([call["call_id"] for call in data["calls"]], [self.anna_call.id])
        self.assertEqual(data["calls"][0]["state"], "ringing")

    def test_team_leader_sees_his_team_only(self):
        data = self.board("voip_leader")
        self.assertEqual([member["id"] for member in data["members"]], self.member.ids)
        self.assertEqual([team["name"] for team in data["teams"]], ["Leader desk"])
        self.assertEqual(data["calls"], [])  # Anna's call is not his team's
        self.assertEqual(
            self.rpc("voip_leader", BOARD, "crm_voip_board_calls", [[self.anna_call.id]]), []
        )

    def test_manager_of_another_company_sees_nothing_of_this_one(self):
        data = self.board("voip_manager_co2")
        self.assertEqual([member["id"] for member in data["members"]], self.stranger.ids)
        self.assertEqual(
            self.rpc("voip_manager_co2", BOARD, "crm_voip_board_calls", [[self.anna_call.id]]), []
        )

    def test_salesperson_who_leads_no_team_is_refused(self):
        for login in ("voip_anna", "voip_stranger_co2"):
            self.assertRefused(login, BOARD, "crm_voip_board_data", [])
            self.assertRefused(login, BOARD, "crm_voip_board_calls", [[self.anna_call.id]])

    def test_numbers_are_shown_as_the_viewer_may_see_them(self):
        def masked(user, number):
            return f"{number[:3]}***{number[-2:]}" if number else ""

        self.patch(type(self.env["res.users"]), "_crm_voip_visible_number", masked)
        [call] = self.board("voip_manager")["calls"]
        self.assertEqual(call["number"], "+74***21")
        self.assertNotIn("4957654321", json.dumps(self.board("voip_manager")))

    def test_board_channel_is_for_board_viewers_only(self):
        Websocket = self.env["ir.websocket"]
        channel = (self.company, BOARD_CHANNEL)
        for user, expected in (
            (self.sales_manager, True),
            (self.leader, True),
            (self.salesman_anna, False),
            (self.stranger, False),
        ):
            channels = Websocket.with_user(user)._crm_voip_board_channels([BOARD_CHANNEL])
            self.assertEqual(channel in channels, expected, user.login)
            self.assertNotIn(BOARD_CHANNEL, channels)


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestLiveBoardPushes(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        always_working(cls.env, cls.company)

    def board_messages(self):
        return [
            json.loads(message.message)
            for message in self.env["bus.bus"].sudo().search([], order="id")
            if BOARD_CHANNEL in message.channel
        ]

    def test_every_call_event_reaches_the_board_without_names_or_numbers(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.play(
            "zadarma",
            "answered",
            caller="74957654321",
            did="74951204567",
            extensions=["101"],
            answered_by="101",
        )
        messages = [m for m in self.board_messages() if m["type"] == "crm_voip/board_call"]
        self.assertEqual(
            [m["payload"]["state"] for m in messages], ["ringing", "ringing", "talking", "done"]
        )
        ringing = messages[1]["payload"]
        self.assertEqual(ringing["rang_user_ids"], self.salesman_anna.ids)
        self.assertEqual(ringing["line_id"], self.line_moscow.id)
        self.assertEqual(messages[2]["payload"]["user_id"], self.salesman_anna.id)
        self.assertTrue(messages[2]["payload"]["date_answer"])
        text = json.dumps(messages)
        self.assertNotIn("4957654321", text)
        self.assertNotIn("Romashka", text)

    def test_do_not_disturb_reaches_the_board(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.salesman_boris.with_user(self.salesman_boris).crm_voip_routing_toggle_dnd()
        messages = [m for m in self.board_messages() if m["type"] == "crm_voip/board_member"]
        self.assertEqual(messages[-1]["payload"], {"user_id": self.salesman_boris.id, "dnd": True})

    def test_a_reload_shows_the_call_in_progress(self):
        self.send_ringing()
        data = self.env[BOARD].with_user(self.sales_manager).crm_voip_board_data()
        [call] = data["calls"]
        self.assertEqual(call["rang_user_ids"], self.salesman_anna.ids)
        self.assertEqual(call["client"]["name"], "Romashka LLC")
        self.assertEqual(call["number"], "+74957654321")

    def send_ringing(self):
        simulator = self.simulator_module
        events = simulator.scenario_events(
            "zadarma",
            "answered",
            caller="74957654321",
            did="74951204567",
            extensions=["101"],
            answered_by="101",
        )
        self.send(
            "zadarma", [e for e in events if e["event"] in ("NOTIFY_START", "NOTIFY_INTERNAL")]
        )


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_ui")
class TestLiveBoardUi(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        always_working(cls.env, cls.company)
        # The manager takes calls too: his own "do not disturb" shows on the board.
        cls.zadarma.extension_ids = [
            Command.create({"user_id": cls.sales_manager.id, "extension": "104"})
        ]
        cls.salesman_boris.crm_voip_dnd = True
        logged_in(cls.env, cls.salesman_anna, cls.salesman_boris)

    def setUp(self):
        super().setUp()
        deliver_bus_notifications(self)
        self.sim.webhook_headers = {"Cookie": f"test_request_key={self.canonical_tag}_browser_js"}
        if crm_voip_ui.SCREENSHOT_DIR:
            crm_voip_ui.TestCrmVoipUi._capture_screenshots_for_docs(self)

    _write_screenshot = staticmethod(crm_voip_ui.TestCrmVoipUi._write_screenshot)

    def test_live_board_follows_simulated_calls(self):
        self.start_tour(
            "/odoo/action-crm_voip_routing.crm_voip_board_action",
            "crm_voip_live_board",
            login="voip_manager",
            timeout=120,
        )
        self.assertTrue(self.sales_manager.crm_voip_dnd)
