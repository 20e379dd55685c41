"""A missed call whose webhooks never arrived, recovered from the PBX's history by the
reconciliation cron, gets its call-back task as if its webhooks had come."""

import datetime as dt

from odoo.tests import tagged

from .common import IVAN_CALLER, CrmVoipRoutingHttpCommon


@tagged("post_install", "-at_install", "crm_voip_routing", "crm_voip_reconcile")
class TestRoutingReconcile(CrmVoipRoutingHttpCommon):
    def test_recovered_missed_call_gets_its_call_back_task(self):
        with self.sim._lock:
            self.sim._calls.clear()  # the simulator's history outlives each test
        Provider = self.env["crm.voip.provider"]
        (Provider.search([]) - self.zadarma).reconcile_window_hours = 0
        start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)
        (missed,) = self.sim.add_history(
            "zadarma", "missed", caller=IVAN_CALLER, did="74951204567", call_start=start
        )
        self.env.flush_all()
        Provider._cron_crm_voip_reconcile()
        self.env.invalidate_all()
        call = self.env["crm.voip.call"].search(
            [("provider_id", "=", self.zadarma.id), ("provider_call_id", "=", missed.call_id)]
        )
        self.assertRecordValues(
            call, [{"state": "missed", "recovered": True, "partner_id": self.client_ivan.id}]
        )
        task = call.crm_voip_missed_call_id
        self.assertTrue(task)
        self.assertEqual(task.user_id, self.salesman_anna)  # the client's own salesperson
        self.assertTrue(task.activity_id)
        self.assertTrue(call.callback_deadline)
        # A second run adds nothing.
        Provider._cron_crm_voip_reconcile()
        self.assertEqual(task.missed_count, 1)
