"""The lookup a self-hosted PBX's dialplan calls, authenticated by an Odoo API key."""

import json
from urllib.parse import urlencode

from odoo.fields import Command
from odoo.tests import HttpCase, new_test_user, tagged

from .common import MONDAY_10, SATURDAY_23, CrmVoipRoutingCommon, msk

URL = "/crm_voip_routing/lookup"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingLookup(HttpCase, CrmVoipRoutingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dialplan_user = new_test_user(
            cls.env,
            "voip_dialplan",
            groups="crm_voip.crm_voip_group_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.key = (
            cls.env["res.users.apikeys"]
            .with_user(cls.dialplan_user)
            .sudo()
            ._generate(None, "Asterisk dialplan", None)
        )

    def lookup(self, key=None, method="GET", **params):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        self.env.flush_all()
        if method == "GET":
            return self.url_open(f"{URL}?{urlencode(params)}", headers=headers)
        headers["Content-Type"] = "application/json"
        return self.url_open(URL, data=json.dumps(params), headers=headers)

    def test_known_client_decision_and_chain(self):
        response = self.lookup(
            number="8 495 765-43-21", did="74951204567", at=msk(*MONDAY_10).isoformat()
        )
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["number"], "+74957654321")
        self.assertEqual(body["partner"]["id"], self.client_romashka.id)
        self.assertEqual(body["rule"], {"id": self.route_known.id, "name": "Known clients"})
        self.assertEqual(body["responsible"]["id"], self.salesman_anna.id)
        self.assertEqual(
            body["route"],
            {
                "action": "redirect",
                "targets": ["101"],
                "timeout": 20,
                "caller_name": "Romashka LLC",
            },
        )
        self.assertEqual(
            [(step["action"], step["targets"], step["timeout"]) for step in body["steps"]],
            [
                ("responsible", ["101"], 20),
                ("responsible_mobile", ["101"], 15),
                ("team", ["102"], 20),
                ("voicemail", ["0-2"], None),
            ],
        )
        self.assertEqual(body["steps"][1]["forward_number"], "+79165550101")
        self.assertEqual(body["steps"][2]["users"][0]["name"], self.salesman_boris.name)

    def test_post_json_at_night(self):
        response = self.lookup(
            method="POST", number="74957654321", at=msk(*SATURDAY_23).isoformat()
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json()["route"],
            {"action": "redirect", "targets": ["0-2"], "caller_name": "Romashka LLC"},
        )

    def test_blocked_number(self):
        self.block("+79035551234")
        response = self.lookup(number="79035551234", at=msk(*MONDAY_10).isoformat())
        self.assertEqual(response.json()["route"], {"action": "reject"})
        self.assertTrue(response.json()["blacklisted"])

    def test_refusals(self):
        response = self.lookup(key="not-a-key", number="74957654321")
        self.assertEqual(response.status_code, 401)
        response = self.url_open(f"{URL}?number=74957654321")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(self.lookup(number="").status_code, 400)
        self.assertEqual(self.lookup(number="74957654321", at="yesterday").status_code, 400)
        self.assertEqual(self.lookup(number="74957654321", provider="x").status_code, 400)
        other = self.env["res.company"].create({"name": "Not his company"})
        self.assertEqual(self.lookup(number="74957654321", company=other.id).status_code, 403)
        outsider = new_test_user(self.env, "voip_outsider", groups="base.group_user")
        outsider_key = (
            self.env["res.users.apikeys"].with_user(outsider).sudo()._generate(None, "x", None)
        )
        response = self.lookup(key=outsider_key, number="74957654321")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["error"], "not a telephony user")
