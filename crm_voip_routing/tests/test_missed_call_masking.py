"""Hidden client numbers on the call-back tasks: a salesperson outside "Sees client phone
numbers" reads the task's number masked (list, form, its title, the activity he gets) and
cannot read, search or confirm the raw one; one in the group sees it whole."""

import json

from odoo.tests import tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .common import IVAN_CALLER, MONDAY_10, CrmVoipRoutingHttpCommon, msk

HIDDEN_DIGITS = IVAN_CALLER[-7:-2]  # what the mask hides: "+7 916 ***-**-21"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestMissedCallMasking(CrmVoipRoutingHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.config.settings"].create({"crm_voip_hide_numbers": True}).execute()
        cls.salesman_boris.groups_id += cls.env.ref("crm_voip.group_crm_voip_see_numbers")
        for user in cls.salesman_anna | cls.salesman_boris:
            user.password = user.login

    def _task(self):
        call, _deliveries = self.play_call(
            "zadarma", "missed", caller=IVAN_CALLER, call_start=msk(*MONDAY_10), extensions=["101"]
        )
        missed = call.crm_voip_missed_call_id
        self.assertEqual(missed.user_id, self.salesman_anna)
        return missed

    def test_masked_salesperson_reads_the_task_masked(self):
        missed = self._task()
        rows = self.rpc(
            "voip_anna",
            "crm.voip.missed.call",
            "web_search_read",
            [[("id", "=", missed.id)]],
            specification={"number_display": {}, "display_name": {}},
        )
        self.assertEqual(rows["records"][0]["number_display"], "+7 916 ***-**-21")
        self.assertNotIn(HIDDEN_DIGITS, json.dumps(rows))
        self.assertNotIn(HIDDEN_DIGITS, missed.activity_id.summary + str(missed.activity_id.note))
        with mute_logger("odoo.http", "odoo.models"), self.assertRaises(JsonRpcException):
            self.rpc("voip_anna", "crm.voip.missed.call", "read", [missed.ids, ["number_e164"]])
        with mute_logger("odoo.http", "odoo.models"), self.assertRaises(JsonRpcException):
            self.rpc(
                "voip_anna",
                "crm.voip.missed.call",
                "search",
                [[("number_e164", "=", "+" + IVAN_CALLER)]],
            )

    def test_number_search_finds_only_clients_he_may_read(self):
        missed = self._task()
        found = self.rpc(
            "voip_anna",
            "crm.voip.missed.call",
            "search",
            [[("number_display", "ilike", IVAN_CALLER)]],
        )
        self.assertEqual(found, missed.ids, "Ivan is his client: the number is already his")
        missed.sudo().write({"partner_id": False, "lead_id": False})
        found = self.rpc(
            "voip_anna",
            "crm.voip.missed.call",
            "search",
            [[("number_display", "ilike", IVAN_CALLER)]],
        )
        self.assertEqual(found, [], "an unknown caller's number is not confirmed")

    def test_salesperson_in_the_group_sees_the_number_whole(self):
        missed = self._task()
        shown = missed.with_user(self.salesman_boris).sudo().number_display
        self.assertEqual("".join(ch for ch in shown if ch.isdigit()), IVAN_CALLER)
        shown = missed.with_user(self.salesman_anna).sudo().number_display
        self.assertNotIn(HIDDEN_DIGITS, shown)
