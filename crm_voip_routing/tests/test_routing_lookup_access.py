"""The routing lookup attacked with the API key of a salesperson of another team and of
another company: it names only the client and lead the key's owner may read, and bad
input answers 4xx with the reason."""

import json
from urllib.parse import urlencode

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.crm_voip.tests.common import user_of_company

from .common import MONDAY_10, CrmVoipRoutingCommon, msk

URL = "/crm_voip_routing/lookup"
ROMASHKA = "74957654321"


@tagged("post_install", "-at_install", "crm_voip_routing", "security")
class TestRoutingLookupAccess(HttpCase, CrmVoipRoutingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_2 = cls.env["res.company"].create({"name": "Lookup Second Co"})
        cls.seller_2 = user_of_company(cls.env, cls.company_2, "voip_lookup_seller_2")
        cls.env["crm.voip.provider"].create(
            {
                "name": "Second PBX",
                "code": "generic",
                "company_id": cls.company_2.id,
                "secret_settings": {"webhook_secret": "second-secret"},
                "unknown_caller_policy": "nothing",
            }
        )
        Keys = cls.env["res.users.apikeys"]
        cls.keys = {
            user: Keys.with_user(user).sudo()._generate(None, "dialplan", None)
            for user in (cls.salesman_anna, cls.salesman_other, cls.seller_2)
        }

    def lookup(self, user, method="GET", body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[user]}"}
        self.env.flush_all()
        if method == "GET":
            return self.url_open(f"{URL}?{urlencode(params)}", headers=headers)
        headers["Content-Type"] = "application/json"
        return self.url_open(URL, data=body or json.dumps(params), headers=headers)

    def romashka(self, user, **params):
        response = self.lookup(
            user,
            number="8 495 765-43-21",
            did="74951204567",
            at=msk(*MONDAY_10).isoformat(),
            **params,
        )
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    # ------------------------------------------------------------------

    def test_owner_sees_his_client_and_lead(self):
        body = self.romashka(self.salesman_anna)
        self.assertEqual(body["partner"]["id"], self.client_romashka.id)
        self.assertEqual(
            body["lead"],
            {"id": self.opportunity_romashka.id, "name": self.opportunity_romashka.name},
        )

    def test_other_team_gets_the_decision_not_the_lead(self):
        body = self.romashka(self.salesman_other)
        # The routing is the PBX's: the same decision as for anyone.
        self.assertEqual(body["route"]["targets"], ["101"])
        self.assertEqual(body["responsible"]["id"], self.salesman_anna.id)
        # Anna's opportunity is hers: neither its name nor its id.
        self.assertIsNone(body["lead"])
        self.assertNotIn(self.opportunity_romashka.name, json.dumps(body))
        # The company's contacts are every salesperson's to read (Odoo's own rules).
        self.assertTrue(self.client_romashka.with_user(self.salesman_other).has_access("read"))
        self.assertEqual(body["partner"]["id"], self.client_romashka.id)

    @mute_logger("odoo.http")
    def test_other_company_reaches_nothing_of_the_first(self):
        body = self.romashka(self.seller_2)
        self.assertIsNone(body["partner"])
        self.assertIsNone(body["lead"])
        self.assertNotIn("caller_name", body["route"])
        text = json.dumps(body)
        for name in (self.client_romashka.name, self.opportunity_romashka.name):
            self.assertNotIn(name, text)
        # Not by naming the first company, nor its PBX account.
        response = self.lookup(self.seller_2, number=ROMASHKA, company=self.company.id)
        self.assertEqual(
            (response.status_code, response.json()["error"]), (403, "company not allowed")
        )
        response = self.lookup(self.seller_2, number=ROMASHKA, provider=self.zadarma.id)
        self.assertEqual((response.status_code, response.json()["error"]), (404, "no PBX account"))

    @mute_logger("odoo.http")
    def test_bad_input_answers_4xx_with_the_reason(self):
        # Deeper than Python's parser recurses, within the body size limit.
        deep = '{"number": ' + "[" * 20_000 + "]" * 20_000 + "}"
        get_cases = [
            ({"number": "7495\x00765"}, 400, "number: NUL or invalid character"),
            ({"number": ROMASHKA, "did": "7495\x00"}, 400, "did: NUL or invalid character"),
            ({"number": ROMASHKA, "company": "1\x00"}, 400, "company: NUL or invalid character"),
            ({"number": ROMASHKA, "at": "9999-12-31T23:59:59-14:00"}, 400, "at: ISO 8601"),
            ({"number": ROMASHKA, "at": "0001-01-01T00:00:00+14:00"}, 400, "at: ISO 8601"),
            ({"number": ROMASHKA, "at": "2999-01-01T00:00:00"}, 400, "at: out of range"),
            ({"number": ROMASHKA, "at": "1000-01-01"}, 400, "at: out of range"),
            ({"number": ROMASHKA, "at": "99999999999999999999"}, 400, "at: ISO 8601"),
            ({"number": ROMASHKA, "provider": "²"}, 400, "provider: id expected"),
            ({"number": ROMASHKA, "provider": "١"}, 400, "provider: id expected"),
            ({"number": ROMASHKA, "provider": "9" * 30}, 404, "no PBX account"),
            ({"number": ROMASHKA, "provider": "2147483648"}, 404, "no PBX account"),
            ({"number": "7" * 65}, 400, "number: required, at most 64 characters"),
        ]
        post_cases = [
            (deep, 400, "body is not valid JSON"),
            ('{"number": "\\ud800"}', 400, "number: NUL or invalid character"),
            ('{"number": "7495\\u0000"}', 400, "number: NUL or invalid character"),
            ('{"number": ["74957654321"]}', 400, "number: text expected"),
            ('{"number": {"a": 1}}', 400, "number: text expected"),
            ('{"number": "74957654321", "at": 1e400}', 400, "at: ISO 8601"),
            ('{"number": "74957654321", "at": NaN}', 400, "at: ISO 8601"),
            ('{"number": "74957654321", "provider": -1}', 400, "provider: id expected"),
            ("[1, 2]", 400, "body must be a JSON object"),
            ('{"number": "' + "7" * 70_000 + '"}', 413, "body too large"),
        ]
        for user in (self.salesman_other, self.seller_2):
            for params, status, reason in get_cases:
                with self.subTest(user=user.login, params=params):
                    response = self.lookup(user, **params)
                    self.assertEqual(response.status_code, status, response.text[:300])
                    self.assertTrue(response.json()["error"].startswith(reason))
            for body, status, reason in post_cases:
                with self.subTest(user=user.login, body=body[:40]):
                    response = self.lookup(user, method="POST", body=body)
                    self.assertEqual(response.status_code, status, response.text[:300])
                    self.assertTrue(response.json()["error"].startswith(reason))
