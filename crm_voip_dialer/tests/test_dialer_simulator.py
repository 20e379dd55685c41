"""A progressive campaign played end to end by the VATS simulator over real HTTP."""

from collections import Counter, defaultdict

from odoo.tests import tagged

from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

from .common import DialerMixin

CALLBACK_PATH = "/v1/request/callback/"


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestDialerSimulator(DialerMixin, CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._dialer_setup()

    def _new_originates(self, seen):
        requests = [r for r in self.sim.requests if r.path.startswith(CALLBACK_PATH)]
        fresh = requests[seen:]
        return fresh, len(requests)

    def test_progressive_campaign_200_contacts_3_agents(self):
        partners = self._partners(200)
        campaign = self._campaign(partners, max_attempts=2)
        campaign.action_start()
        self._ready(campaign)
        Line = self.env["crm.voip.dialer.line"]
        seen = 0
        attempts_by_number = Counter()
        for _round in range(400):
            campaign._cron_dialer_tick()
            fresh, seen = self._new_originates(seen)
            if not fresh:
                self.assertEqual(campaign.state, "done")
                break
            numbers = [request.params["to"] for request in fresh]
            self.assertEqual(len(numbers), len(set(numbers)), "one call per number at a time")
            self.assertLessEqual(len(fresh), 3, "one call per free agent")
            for request in fresh:
                number = request.params["to"]
                attempts_by_number[number] += 1
                index = int(number[-4:])
                first = attempts_by_number[number] == 1
                outcome = {}
                if first and index % 10 == 1:
                    outcome = {"answered": False, "disposition": "no_answer"}
                elif first and index % 10 == 2:
                    outcome = {"answered": False, "disposition": "busy"}
                elif index % 50 == 3:
                    outcome = {"answered": False, "disposition": "failed"}
                deliveries = self.play(
                    "zadarma",
                    "outgoing",
                    extension=request.params["from"],
                    number=number,
                    **outcome,
                )
                self.assertTrue(all(d.ok for d in deliveries))
            for line in Line.search([("campaign_id", "=", campaign.id), ("state", "=", "wrapup")]):
                line.with_user(line.user_id).action_dialer_dispose(
                    self.disposition_interested.id if line.id % 2 else self.disposition_lost.id
                )
        lines = campaign.line_ids
        self.assertEqual(len(lines), 200)
        self.assertEqual(set(lines.mapped("state")), {"done", "exhausted"})
        self.assertEqual(campaign.state, "done")
        self.assertEqual(len(lines.filtered(lambda line: line.state == "exhausted")), 4)
        # Per-line history: as many attempts as PBX requests, one after the other.
        by_number = defaultdict(list)
        for attempt in lines.attempt_ids:
            by_number[attempt.number].append(attempt)
        for line in lines:
            attempts = sorted(by_number[line.phone_e164], key=lambda a: a.id)
            self.assertEqual(len(attempts), attempts_by_number[line.phone_e164.lstrip("+")])
            self.assertTrue(all(a.outcome for a in attempts))
            for earlier, later in zip(attempts, attempts[1:], strict=False):
                self.assertLessEqual(earlier.date_end, later.date_start)
        self.assertEqual(sum(attempts_by_number.values()), 200 + 20 + 20 + 4)
        self.assertEqual(
            set(lines.attempt_ids.user_id), set(self.agents), "the three agents took calls"
        )
        data = campaign.dialer_dashboard_data()
        self.assertEqual(data["done"], 200)
        self.assertGreater(data["contact_rate"], 90)
