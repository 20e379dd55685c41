"""Hidden client numbers in the dialer: an agent outside "Sees client phone numbers" reads
his card's number masked and still calls it (the server dials the line's number)."""

import json

from odoo.fields import Command
from odoo.tests import tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

from .common import DialerMixin

DIGITS = "4953000060"


@tagged("post_install", "-at_install", "crm_voip_dialer", "crm_voip_masking")
class TestDialerMaskedNumbers(DialerMixin, CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._dialer_setup()
        cls.env["res.config.settings"].create({"crm_voip_hide_numbers": True}).execute()
        cls.campaign = cls._campaign(
            cls._partners(1, start=60),
            name="Masked preview",
            mode="preview",
            agent_user_ids=[Command.set(cls.salesman_anna.ids)],
        )
        cls.campaign.action_start()

    def test_agent_reads_the_card_masked_and_calls_it(self):
        agent = self.rpc("voip_anna", "crm.voip.dialer.agent", "dialer_join", [self.campaign.id])
        panel = self.rpc(
            "voip_anna", "crm.voip.dialer.agent", "action_ready", [[agent["agent_id"]]]
        )
        card = panel["card"]
        self.assertEqual(card["phone"], "+7 495 ***-**-60")
        self.assertNotIn(DIGITS, json.dumps(panel))
        line_id = card["line_id"]
        rows = self.rpc("voip_anna", "crm.voip.dialer.line", "read", [[line_id], ["display_name"]])
        self.assertNotIn(DIGITS, json.dumps(rows))
        for field in ("phone", "phone_e164"):
            with (
                mute_logger("odoo.http", "odoo.models"),
                self.assertRaises(JsonRpcException) as caught,
            ):
                self.rpc("voip_anna", "crm.voip.dialer.line", "read", [[line_id], [field]])
            self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        # Dialled from the card: the browser sends the masked number, the PBX gets the line's.
        payload = self.rpc(
            "voip_anna",
            "crm.voip.call",
            "crm_voip_dial_prepare",
            [card["phone"]],
            res_model="crm.voip.dialer.line",
            res_id=line_id,
            field_name="phone",
        )
        self.assertNotIn(DIGITS, json.dumps(payload))
        line = self.env["crm.voip.dialer.line"].browse(line_id)
        self.assertEqual(line.call_id.id, payload["call_id"])
        self.assertEqual(line.call_id.partner_number_e164, "+7" + DIGITS)
