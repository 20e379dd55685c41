"""The website call-back over real HTTP: the right person rung, then the visitor, through
the simulated PBX; and every abuse refused before any call."""

import json
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from .common import CallbackHttpCommon

ROMASHKA = "+74957654321"  # Romashka's number: a client of Anna


@tagged("post_install", "-at_install", "crm_voip_callback")
class TestCallbackRequest(CallbackHttpCommon):
    # ------------------------------------------------------------------
    # Calls
    # ------------------------------------------------------------------

    def test_known_number_rings_the_clients_manager_then_the_visitor(self):
        response = self.post(
            {
                "number": "8 (495) 765-43-21",
                "url": "https://www.example.com/prices?utm_source=newsletter",
                "utm_source": "Newsletter (test)",
                "utm_medium": "Email (callback test)",
                "utm_campaign": "Spring sale (callback test)",
            }
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["status"], "calling")
        originates = self.originates()
        self.assertEqual(len(originates), 1)
        self.assertEqual(originates[0].params["from"], "101")
        self.assertEqual(originates[0].params["to"], "74957654321")
        call = self.calls_of(ROMASHKA)
        self.assertRecordValues(
            call,
            [
                {
                    "origin": "website_callback",
                    "direction": "outbound",
                    "state": "ringing",
                    "user_id": self.salesman_anna.id,
                    "extension": "101",
                    "partner_id": self.client_romashka.id,
                    "crm_voip_callback_source_id": self.source.id,
                    "crm_voip_callback_url": "https://www.example.com/prices?utm_source=newsletter",
                    "source_id": self.utm_newsletter.id,
                    "crm_voip_routed_user_id": self.salesman_anna.id,
                }
            ],
        )
        self.assertTrue(call.originate_date)
        # A known number: no new lead.
        self.assertFalse(call.lead_created)
        self.assertEqual(call.medium_id.name, "Email (callback test)")
        self.assertEqual(call.campaign_id.name, "Spring sale (callback test)")

    def test_unknown_number_gets_a_lead_and_the_team_in_turn(self):
        response = self.post(
            {"number": "+7 495 111-22-33", "name": "Olga", "url": "https://x.test/"}
        )
        self.assertEqual(response.json()["status"], "calling", response.text)
        call = self.calls_of("+74951112233")
        self.assertEqual(len(call), 1)
        self.assertIn(call.user_id, self.salesman_anna | self.salesman_boris)
        self.assertTrue(call.lead_id)
        self.assertRecordValues(
            call.lead_id,
            [
                {
                    "phone": "+74951112233",
                    "contact_name": "Olga",
                    "user_id": call.user_id.id,
                    "team_id": self.team.id,
                    # No campaign in the visit: the line's.
                    "source_id": self.line_moscow.source_id.id,
                }
            ],
        )
        self.assertEqual(len(self.originates()), 1)
        # The next visitor gets the other one: the first is busy with the call.
        self.post({"number": "+7 495 111-22-44"})
        second = self.calls_of("+74951112244")
        self.assertEqual((call | second).user_id, self.salesman_anna | self.salesman_boris)

    def test_routing_rules_decide_who_calls(self):
        self.env["crm.voip.route"].create(
            {
                "name": "Unknown numbers to the regions",
                "company_id": self.company.id,
                "caller_type": "unknown",
                "step_ids": [Command.create({"action": "team", "team_id": self.other_team.id})],
            }
        )
        self.post({"number": "+7 495 111-22-55"})
        call = self.calls_of("+74951112255")
        self.assertEqual(call.user_id, self.salesman_other)
        self.assertEqual(self.originates()[0].params["from"], "103")
        self.assertTrue(call.crm_voip_route_id)

    def test_out_of_hours_tells_when_and_leaves_a_task(self):
        self.company.resource_calendar_id = self.calendar_later
        response = self.post({"number": "8 (495) 765-43-21"})
        self.assertEqual(response.status_code, 200, response.text)
        answer = response.json()
        self.assertEqual(answer["status"], "scheduled")
        self.assertFalse(self.originates())
        call = self.calls_of(ROMASHKA)
        missed = call.crm_voip_missed_call_id
        self.assertTrue(missed)
        # The client's own manager, due 15 working minutes after the opening.
        self.assertEqual(missed.user_id, self.salesman_anna)
        self.assertEqual(str(missed.deadline.date()), str(self.open_day))
        self.assertEqual((missed.deadline.hour, missed.deadline.minute), (9, 15))
        self.assertTrue(answer["call_at"].startswith(f"{self.open_day}T09:15:00"))
        self.assertIn("09:15", answer["message"])
        self.assertTrue(missed.activity_id)
        self.assertEqual(call.origin, "website_callback")

    def test_refused_by_the_pbx_becomes_a_task(self):
        self.sim.fail_next(1, 400)
        with mute_logger("odoo.addons.crm_voip_callback.controllers.main"):
            response = self.post({"number": "8 (495) 765-43-21"})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["status"], "scheduled")
        call = self.calls_of(ROMASHKA)
        self.assertEqual(call.state, "failed")
        self.assertEqual(call.crm_voip_missed_call_id.user_id, self.salesman_anna)

    # ------------------------------------------------------------------
    # Abuse
    # ------------------------------------------------------------------

    def test_honeypot_pretends_and_calls_nobody(self):
        response = self.post({"number": "+7 495 111-22-66", "hp": "http://spam.example"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "calling")
        self.assertFalse(self.calls_of("+74951112266"))
        self.assertFalse(self.originates())

    def test_blocked_number_refused_without_saying_why(self):
        self.env["phone.blacklist"].sudo()._add(["+74951112277"])
        response = self.post({"number": "+7 495 111-22-77"})
        self.assertEqual(response.status_code, 422)
        answer = response.json()
        self.assertEqual(answer["status"], "refused")
        self.assertNotIn("block", answer["message"].lower())
        self.assertNotIn("list", answer["message"].lower())
        self.assertFalse(self.calls_of("+74951112277"))
        self.assertFalse(self.env["crm.lead"].search([("phone", "=", "+74951112277")]))
        self.assertFalse(self.originates())

    def test_invalid_and_foreign_numbers(self):
        for number in ("123", "not a number", "", "+7 495"):
            response = self.post({"number": number})
            self.assertEqual(response.status_code, 400, number)
            self.assertEqual(response.json()["message"], "Please enter a valid phone number.")
        response = self.post({"number": "+44 20 7946 0958"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("Russia", response.json()["message"])
        self.source.allow_international = True
        response = self.post({"number": "+44 20 7946 0958"})
        self.assertEqual(response.json()["status"], "calling", response.text)
        self.assertEqual(len(self.calls_of("+442079460958")), 1)
        self.assertEqual(len(self.originates()), 1)

    def test_shared_token(self):
        self.source.token = "s3cret-token"
        self.assertEqual(self.post({"number": "+7 495 111-22-88"}).status_code, 403)
        wrong = self.post({"number": "+7 495 111-22-88"}, headers={"X-Callback-Token": "nope"})
        self.assertEqual(wrong.status_code, 403)
        self.assertFalse(self.calls_of("+74951112288"))
        right = self.post(
            {"number": "+7 495 111-22-88"}, headers={"X-Callback-Token": "s3cret-token"}
        )
        self.assertEqual(right.status_code, 200, right.text)
        self.assertEqual(len(self.calls_of("+74951112288")), 1)

    def test_origins_and_preflight(self):
        self.source.allowed_origins = "https://www.example.com\nhttp://shop.example.com:8080/"
        url = f"{self.base_url()}/crm_voip_callback/{self.source.key}/request"
        self.env.flush_all()
        preflight = self.opener.options(
            url,
            headers={
                "Origin": "https://www.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        self.assertEqual(preflight.status_code, 204)
        self.assertEqual(
            preflight.headers["Access-Control-Allow-Origin"], "https://www.example.com"
        )
        evil = self.post({"number": "+7 495 111-22-99"}, headers={"Origin": "https://evil.test"})
        self.assertEqual(evil.status_code, 403)
        self.assertNotIn("Access-Control-Allow-Origin", evil.headers)
        good = self.post(
            {"number": "+7 495 111-22-99"}, headers={"Origin": "http://shop.example.com:8080"}
        )
        self.assertEqual(good.status_code, 200, good.text)
        self.assertEqual(
            good.headers["Access-Control-Allow-Origin"], "http://shop.example.com:8080"
        )

    def test_body_limits_and_garbage(self):
        big = json.dumps({"number": "+74951112200", "name": "x" * 5000}).encode()
        self.assertEqual(self.post(None, raw=big).status_code, 413)
        self.assertEqual(self.post(None, raw=b"{not json").status_code, 400)
        self.assertEqual(self.post(None, raw=b"[1, 2]").status_code, 400)
        self.assertEqual(self.post({"number": ["+74951112200"]}).status_code, 400)
        self.assertEqual(self.post({"number": "+7495111\x002200"}).status_code, 400)
        self.assertFalse(self.originates())
        self.source.enabled = False
        self.assertEqual(self.post({"number": "+74951112200"}).status_code, 404)
        self.assertFalse(self.calls_of("+74951112200"))

    def test_salespeople_see_sources_but_not_their_token(self):
        self.source.token = "s3cret-token"
        source = self.source.with_user(self.salesman_anna)
        self.assertEqual(source.name, "Main website")
        with self.assertRaises(AccessError):
            source.read(["token"])
        with self.assertRaises(AccessError):
            source.write({"enabled": False})

    # ------------------------------------------------------------------
    # Floods
    # ------------------------------------------------------------------

    def test_flood_from_one_address_many_numbers(self):
        self.source.write({"address_limit": 4, "number_limit": 3})
        answers = [
            self.post(
                {"number": f"+7 495 200-00-{index:02d}"},
                headers={"X-Forwarded-For": f"198.51.100.{index}"},
            )
            for index in range(20)
        ]
        statuses = [answer.status_code for answer in answers]
        self.assertEqual(statuses.count(200), 4, statuses)
        self.assertEqual(statuses.count(429), 16, statuses)
        self.assertIn("try", answers[-1].json()["message"].lower())
        calls = self.env["crm.voip.call"].search(
            [("crm_voip_callback_source_id", "=", self.source.id)]
        )
        self.assertEqual(len(calls), 4)
        calling = [answer for answer in answers if answer.json()["status"] == "calling"]
        self.assertEqual(len(self.originates()), len(calling))
        self.assertEqual(len(calls.filtered("originate_date")), len(calling))

    def test_flood_of_one_number_from_many_addresses(self):
        self.source.write({"address_limit": 100, "number_limit": 3})
        with patch.dict(config.options, {"proxy_mode": True}):
            answers = [
                self.post(
                    {"number": "+7 495 300-00-01"},
                    headers={
                        "X-Forwarded-For": f"203.0.113.{index}",
                        "X-Forwarded-Host": "127.0.0.1",
                    },
                )
                for index in range(15)
            ]
        statuses = [answer.status_code for answer in answers]
        self.assertEqual(statuses.count(200), 3, statuses)
        self.assertEqual(statuses.count(429), 12, statuses)
        self.assertEqual(len(self.calls_of("+74953000001")), 3)
        calling = [answer for answer in answers if answer.json()["status"] == "calling"]
        self.assertEqual(len(self.originates()), len(calling))
        # Behind a proxy each address has its own counter.
        counters = self.env["crm.voip.callback.throttle"].search([("key", "like", "a:203.0.113.%")])
        self.assertEqual(len(counters), 15)
