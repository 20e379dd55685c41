"""Hidden client numbers: a salesperson outside "Sees client phone numbers" reads them
masked everywhere telephony shows them, cannot get or search them through RPC, and still
calls them back (the server dials the number of the record)."""

import json

from odoo.tests import tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from . import test_crm_voip_ui
from .common_http import CrmVoipHttpCommon

UNKNOWN_CALLER = "74991112233"  # nobody's: no contact, no lead
UNKNOWN_DIGITS = "4991112233"  # what must not reach a masked user, in any spelling
UNKNOWN_MASKED = "+7 499 ***-**-33"
MOSCOW = "74951204567"


def hide_numbers(env, hidden=True):
    env["res.config.settings"].create({"crm_voip_hide_numbers": hidden}).execute()


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_masking")
class TestHiddenNumbers(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Nothing is created for an unknown caller: his number is on the call alone.
        cls.zadarma.unknown_caller_policy = "nothing"
        hide_numbers(cls.env)
        cls.see_numbers = cls.env.ref("crm_voip.group_crm_voip_see_numbers")
        # Boris is trusted with them.
        cls.salesman_boris.groups_id += cls.see_numbers
        # Anna may export (what she exports is what she reads).
        cls.salesman_anna.groups_id += cls.env.ref("base.group_allow_export")

    def play_unknown_call(self, answered_by="101"):
        self.play("zadarma", "answered", caller=UNKNOWN_CALLER, did=MOSCOW, answered_by=answered_by)
        return self.env["crm.voip.call"].search(
            [("partner_number_e164", "=", "+" + UNKNOWN_CALLER)]
        )

    def assertNoDigits(self, response):
        self.assertNotIn(UNKNOWN_DIGITS, json.dumps(response, default=str))

    def assertRefused(self, login, model, method, args, **kwargs):
        with (
            mute_logger("odoo.http", "odoo.models"),
            self.assertRaises(JsonRpcException, msg=f"{login}: {model}.{method}") as caught,
        ):
            self.rpc(login, model, method, args, **kwargs)
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")

    def test_the_setting_takes_the_group_from_salespeople_only(self):
        self.assertFalse(self.salesman_anna._crm_voip_sees_numbers())
        self.assertTrue(self.salesman_boris._crm_voip_sees_numbers())
        self.assertTrue(self.sales_manager._crm_voip_sees_numbers(), "managers always do")
        self.assertTrue(self.env["res.config.settings"].create({}).crm_voip_hide_numbers)
        hide_numbers(self.env, hidden=False)
        self.assertTrue(self.salesman_anna._crm_voip_sees_numbers())
        self.assertFalse(self.env["res.config.settings"].create({}).crm_voip_hide_numbers)

    def test_masked_salesperson_reads_masked_numbers_only(self):
        call = self.play_unknown_call()
        self.assertTrue(call)
        fields = ["partner_number_display", "display_name", "state"]
        rows = self.rpc("voip_anna", "crm.voip.call", "search_read", [[]], fields=fields)
        self.assertEqual(
            [(row["id"], row["partner_number_display"]) for row in rows],
            [(call.id, UNKNOWN_MASKED)],
        )
        self.assertIn(UNKNOWN_MASKED, rows[0]["display_name"])
        self.assertNoDigits(rows)
        # What the form reads, and what it offers to export.
        form = self.rpc(
            "voip_anna", "crm.voip.call", "web_read", [call.ids], specification={"display_name": {}}
        )
        self.assertNoDigits(form)
        field_names = self.rpc("voip_anna", "crm.voip.call", "fields_get", [], attributes=["type"])
        self.assertNotIn("partner_number_e164", field_names)
        self.assertNotIn("from_number", field_names)
        exported = self.rpc(
            "voip_anna", "crm.voip.call", "export_data", [call.ids, ["partner_number_display"]]
        )
        self.assertEqual(exported["datas"], [[UNKNOWN_MASKED]])
        # The raw numbers are refused, however asked for.
        for field in ("partner_number", "partner_number_e164", "from_number", "from_e164"):
            self.assertRefused("voip_anna", "crm.voip.call", "read", [call.ids, [field]])
            self.assertRefused("voip_anna", "crm.voip.call", "export_data", [call.ids, [field]])
            self.assertRefused(
                "voip_anna", "crm.voip.call", "search_read", [[(field, "like", UNKNOWN_DIGITS)]]
            )
        self.assertRefused(
            "voip_anna",
            "crm.voip.call",
            "read_group",
            [[], ["partner_number_e164"], ["partner_number_e164"]],
        )
        self.assertRefused(
            "voip_anna",
            "crm.voip.call",
            "search_read",
            [[("to_e164", "!=", False)]],
        )

    def test_search_by_number_finds_only_clients_he_may_read(self):
        unknown = self.play_unknown_call()
        self.play("zadarma", "answered", caller="74957654321", did=MOSCOW, answered_by="101")
        romashka = self.env["crm.voip.call"].search([("partner_id", "=", self.client_romashka.id)])
        self.assertTrue(romashka)
        for login, expected in (("voip_anna", []), ("voip_manager", unknown.ids)):
            for value in ("+7 499 111-22-33", UNKNOWN_CALLER, "1112233"):
                found = self.rpc(
                    login,
                    "crm.voip.call",
                    "search",
                    [[("partner_number_display", "ilike", value)]],
                )
                self.assertEqual(found, expected, f"{login} searching {value}")
        # Romashka's number is on his card, which Anna reads: the search finds his call.
        found = self.rpc(
            "voip_anna",
            "crm.voip.call",
            "search",
            [[("partner_number_display", "ilike", "7654321")]],
        )
        self.assertEqual(found, romashka.ids)
        # Sorting by the number works for her too.
        self.rpc("voip_anna", "crm.voip.call", "search", [[]], order="partner_number_display")

    def test_recordings_show_the_masked_number(self):
        call = self.play_unknown_call()
        recording = (
            self.env["crm.voip.recording"]
            .sudo()
            .create({"call_id": call.id, "recording_ref": "masked-test"})
        )
        rows = self.rpc(
            "voip_anna",
            "crm.voip.recording",
            "search_read",
            [[("id", "=", recording.id)]],
            fields=["partner_number"],
        )
        self.assertEqual(rows[0]["partner_number"], UNKNOWN_MASKED)
        self.assertRefused(
            "voip_anna",
            "crm.voip.recording",
            "export_data",
            [recording.ids, ["call_id/partner_number_e164"]],
        )
        self.assertRefused(
            "voip_anna",
            "crm.voip.recording",
            "search_read",
            [[("call_id.partner_number_e164", "=", "+" + UNKNOWN_CALLER)]],
        )
        self.assertEqual(
            self.rpc(
                "voip_anna",
                "crm.voip.recording",
                "search",
                [[("partner_number", "ilike", UNKNOWN_CALLER)]],
            ),
            [],
        )

    def test_popup_and_pushes_are_masked_per_recipient(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.play_unknown_call()
        messages = self.env["bus.bus"].sudo().search([], order="id")
        anna = self.salesman_anna.partner_id.id
        seen = 0
        for message in messages:
            content = json.loads(message.message)
            if not content["type"].startswith("crm_voip/"):
                continue
            if json.loads(message.channel)[2] == anna:
                seen += 1
                self.assertNoDigits(content["payload"])
                self.assertEqual(content["payload"]["number"], UNKNOWN_MASKED)
        self.assertGreaterEqual(seen, 3, "the popup, then each change of the call")
        # Boris sees the number whole in his popup.
        call = self.env["crm.voip.call"].search([], limit=1)
        payload = call.sudo()._crm_voip_popup_payload(self.salesman_boris)
        self.assertEqual(payload["number"], "+7 499 111-22-33")

    def test_masked_salesperson_calls_back_from_the_call(self):
        call = self.play_unknown_call()
        self.sim.clear()
        payload = self.rpc(
            "voip_anna",
            "crm.voip.call",
            "crm_voip_dial_prepare",
            [UNKNOWN_MASKED],
            res_model="crm.voip.call",
            res_id=call.id,
            field_name="partner_number_display",
        )
        self.assertEqual(payload["number"], UNKNOWN_MASKED)
        self.assertNoDigits(payload)
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": payload["call_id"]})
        self.assertEqual(reply, {"error": False})
        [callback] = [r for r in self.sim.requests if r.path == "/v1/request/callback/"]
        self.assertEqual((callback.params["from"], callback.params["to"]), ("101", UNKNOWN_CALLER))
        # A masked number without its record cannot be dialled.
        with mute_logger("odoo.http"), self.assertRaises(JsonRpcException) as caught:
            self.rpc("voip_anna", "crm.voip.call", "crm_voip_dial_prepare", [UNKNOWN_MASKED])
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.UserError")
        # Nor a call he may not read (Anna's, for the other team's salesperson).
        self.salesman_other.password = "voip_other"
        self.assertRefused(
            "voip_other",
            "crm.voip.call",
            "crm_voip_dial_prepare",
            [UNKNOWN_MASKED],
            res_model="crm.voip.call",
            res_id=call.id,
        )

    def test_click_to_call_from_a_contact_still_works(self):
        self.sim.clear()
        payload = self.rpc(
            "voip_anna",
            "crm.voip.call",
            "crm_voip_dial_prepare",
            ["+7 916 765-43-21"],
            res_model="res.partner",
            res_id=self.client_ivan.id,
            field_name="mobile",
        )
        self.assertEqual(payload["number"], "+7 916 ***-**-21")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_ui", "crm_voip_masking")
class TestHiddenNumbersUi(test_crm_voip_ui.TestCrmVoipUi):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zadarma.unknown_caller_policy = "nothing"
        hide_numbers(cls.env)

    def test_masked_salesperson_works_through_the_ui(self):
        self.start_tour("/odoo", "crm_voip_masked_numbers", login="voip_anna")
        self.sim.wait_background()
        callbacks = [r for r in self.sim.requests if r.path == "/v1/request/callback/"]
        self.assertEqual(
            [(r.params["from"], r.params["to"]) for r in callbacks], [("101", UNKNOWN_CALLER)]
        )
