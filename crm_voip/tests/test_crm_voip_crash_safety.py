"""Crash safety of the scheduled jobs: the real cron method stopped in the middle of a
batch, after a unit of work was committed, then run again (see ``tools/crash_points``)."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..models.crm_voip_recording import STALE_DOWNLOAD
from ..tools.crash_points import expect_crash
from .test_crm_voip_recording import CrmVoipRecordingCommon


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_crash_safety")
class TestRecordingFetchCrash(CrmVoipRecordingCommon):
    def downloads(self):
        return [r for r in self.sim.requests if r.path.startswith("/v1/pbx/record")]

    def test_worker_killed_after_a_claim_leaves_nothing_downloading(self):
        first = self.recorded_call().recording_ids
        second = self.recorded_call(caller="74957654322").recording_ids
        self.assertEqual((first | second).mapped("state"), ["pending", "pending"])
        self.env.flush_all()
        cron = self.env["crm.voip.recording"].sudo()
        crash = {"job": "fetch_recordings", "at": 2}
        expect_crash(
            self, lambda: cron.with_context(crm_voip_crash=crash)._cron_crm_voip_fetch_recordings()
        )
        self.env.invalidate_all()
        # The first recording was downloaded and committed; the second one claimed (its
        # lease committed) when the worker died, before its download.
        self.assertEqual((first.state, first.attempts), ("done", 1))
        self.assertEqual((second.state, second.attempts), ("downloading", 1))
        asked = len(self.downloads())
        # Within its lease nobody takes it again (another worker may still be on it).
        self.assertEqual(self.fetch(), 0)
        # The lease expires: the next run takes it; the first one is not fetched again.
        second.last_attempt_at = fields.Datetime.now() - STALE_DOWNLOAD - timedelta(seconds=1)
        self.assertEqual(self.fetch(), 1)
        self.assertEqual((second.state, second.attempts), ("done", 2))
        self.assertEqual((first.state, first.attempts), ("done", 1))
        self.assertGreater(len(self.downloads()), asked, "the second one asked of the PBX")
        self.assertFalse(
            self.env["crm.voip.recording"].sudo().search([("state", "=", "downloading")]),
            "nothing left in progress",
        )
