"""Against a real Asterisk (``common_asterisk_real.py``): the ring group, the queue, a
declined call, click-to-call, the extension list and the bridge's health, through AMI and
through ARI's event WebSocket."""

import time

from odoo.tests import tagged

from .common_asterisk_real import (
    CLIENT,
    LINE_DIRECT,
    LINE_GROUP,
    LINE_QUEUE,
    RealAsteriskCommon,
)


@tagged("post_install", "-at_install", "-standard", "crm_voip_asterisk")
class TestCrmVoipRealAsterisk(RealAsteriskCommon):
    def test_ring_group_answered_on_one_of_three_phones(self):
        call = self.place(LINE_GROUP, **{"102": "answer"})
        self.assertRecordValues(
            call,
            [{"state": "done", "direction": "inbound", "user_id": self.salesman_boris.id}],
        )
        self.assertTrue(call.line_id and call.line_id.number.endswith(LINE_GROUP[-7:]))
        self.assertIn(CLIENT[-10:], call.partner_number_e164 or "")
        self.assertGreaterEqual(call.talk_seconds, 1)
        self.assertGreaterEqual(call.ring_seconds, 1)
        self.assertEqual(call.partner_id, self.client)
        self.assertEqual(len(call.recording_ids), 1)
        done = self.env["crm.voip.recording"].sudo()._cron_crm_voip_fetch_recordings()
        self.assertEqual(done, 1)
        self.assertTrue(call.recording_ids.attachment_id.raw.startswith(b"RIFF"))

    def test_queue_nobody_took_is_one_missed_call(self):
        # The queue answers the caller itself; he waits longer than its 12 s timeout.
        call = self.place(LINE_QUEUE, caller_hold=20)
        self.assertEqual(call.state, "missed")
        self.assertFalse(call.talk_seconds)

    def test_declined_direct_call_is_busy(self):
        call = self.place(LINE_DIRECT, **{"101": "decline"})
        self.assertIn(call.state, ("busy", "missed"))
        self.assertEqual(call.state, "busy")

    def test_click_to_call_rings_the_salesperson_then_the_client(self):
        before = self.calls()
        # The salesperson waits on the line while the client's phone rings.
        self.phones.behave(hold=5, **{"101": "answer", "client": "answer"})
        payload = (
            self.env["crm.voip.call"].with_user(self.salesman_anna).crm_voip_dial_prepare(CLIENT)
        )
        call = self.env["crm.voip.call"].browse(payload["call_id"])
        self.env.flush_all()
        self.authenticate(self.salesman_anna.login, self.salesman_anna.login)
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": call.id})
        self.assertFalse(reply.get("error"), reply)
        self.wait_for(lambda: call.state == "done")
        self.assertEqual(self.calls() - before, call, "the PBX's call is the click-to-call's")
        self.assertEqual(call.user_id, self.salesman_anna)
        self.assertGreaterEqual(call.talk_seconds, 1)

    def test_ari_source_logs_the_same_call(self):
        """The bridge reading ARI's event WebSocket instead of AMI, posting to an account
        of its own: the same ring group call, one answered call there too."""
        account = self._asterisk_account("Office Asterisk (ARI)")
        bridge = self._start_bridge(account, "ari", cleanup=self.addCleanup)
        call = self.place(LINE_GROUP, **{"102": "answer"})
        calls = self.env["crm.voip.call"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.env.invalidate_all()
            calls = calls.search([("provider_id", "=", account.id)])
            if calls.filtered(lambda c: c.state == "done") and bridge.spool.depth() == 0:
                break
            time.sleep(0.25)
        self.assertEqual(len(calls), 1, "one call, whatever its channels")
        self.assertRecordValues(
            calls,
            [{"state": "done", "direction": "inbound", "user_id": self.salesman_boris.id}],
        )
        self.assertEqual(calls.partner_id, call.partner_id)

    def test_extensions_and_health_come_from_the_pbx(self):
        adapter = self.account._get_crm_voip_adapter()
        extensions = {item.extension for item in adapter.list_extensions()}
        self.assertLessEqual({"101", "102", "103"}, extensions)
        status = adapter.test_connection()
        self.assertIn("AMI", status)
