"""The browser's routes of the connector (click-to-call's second step, the recording
player) attacked by a salesperson of another team and of another company: nothing of a
call beyond his rights, and ids that are not ids answered like unknown ones, never 500."""

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import CrmVoipCommon, user_of_company

NOT_YOURS = "This call does not exist or is not yours."


@tagged("post_install", "-at_install", "crm_voip", "security")
class TestRoutesAccess(HttpCase, CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_2 = cls.env["res.company"].create({"name": "Routes Second Co"})
        cls.seller_2 = user_of_company(cls.env, cls.company_2, "voip_routes_seller_2")
        cls.anna_call = cls.env["crm.voip.call"].create(
            {
                "provider_id": cls.zadarma.id,
                "company_id": cls.company.id,
                "provider_call_id": "routes-anna-1",
                "origin": "click_to_call",
                "direction": "outbound",
                "user_id": cls.salesman_anna.id,
                "team_id": cls.team.id,
                "partner_id": cls.client_romashka.id,
                "partner_number_e164": "+74957654321",
            }
        )
        cls.attackers = ("voip_other", "voip_routes_seller_2")

    def originate(self, login, params):
        self.authenticate(login, login)
        self.env.flush_all()
        # Raises on a JSON-RPC error: a server error would fail the test.
        return self.make_jsonrpc_request("/crm_voip/originate", params)

    def test_originate_tells_nothing_of_another_users_call(self):
        self.assertEqual(self.anna_call.state, "ringing")
        for login in self.attackers:
            with self.subTest(login=login):
                # Anna's call and a call that does not exist: the same answer.
                self.assertEqual(
                    self.originate(login, {"call_id": self.anna_call.id}), {"error": NOT_YOURS}
                )
                self.assertEqual(
                    self.originate(login, {"call_id": 2_000_000_000}), {"error": NOT_YOURS}
                )
        self.assertEqual(self.anna_call.state, "ringing")

    def test_originate_bad_ids_answer_like_unknown_calls(self):
        for login in self.attackers:
            for params in (
                {},
                {"call_id": None},
                {"call_id": "abc"},
                {"call_id": "12abc"},
                {"call_id": [self.anna_call.id]},
                {"call_id": {"id": self.anna_call.id}},
                {"call_id": -5},
                {"call_id": 0},
                {"call_id": 2**31},
                {"call_id": 10**30},
                {"call_id": float("inf")},
                {"call_id": float("nan")},
            ):
                with self.subTest(login=login, params=params):
                    self.assertEqual(self.originate(login, params), {"error": NOT_YOURS})

    @mute_logger("odoo.http")
    def test_recording_bad_ids_are_not_found(self):
        for login in self.attackers:
            self.authenticate(login, login)
            for path in (
                "/crm_voip/recording/2147483648",
                "/crm_voip/recording/99999999999999999999999999",
                "/crm_voip/recording/0",
                "/crm_voip/recording/-1",
                "/crm_voip/recording/abc",
            ):
                with self.subTest(login=login, path=path):
                    response = self.url_open(path, allow_redirects=False)
                    self.assertEqual(response.status_code, 404, response.text[:300])
