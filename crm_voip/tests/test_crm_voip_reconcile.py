"""Reconciliation with the PBX's call history, over real HTTP: the simulator keeps the
history of calls whose webhooks it never posted, the real cron method reads it."""

import http.server
import threading
from datetime import datetime, timedelta, timezone

from odoo import Command, fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..providers import mango as mango_module
from ..providers import zadarma as zadarma_module
from .common_http import CrmVoipHttpCommon
from .common_scenarios import LINE, ROMASHKA, ScenarioAccountCase
from .test_crm_voip_mango import MangoScenarioAccount
from .test_crm_voip_telfin import TelfinScenarioAccount
from .test_crm_voip_uis import UisScenarioAccount

ROMASHKA_CALLER = "74957654321"
UNKNOWN_CALLER = "79031112233"
RECONCILE_LOGGER = "odoo.addons.crm_voip.models.crm_voip_provider_reconcile"


class _Garbage(http.server.BaseHTTPRequestHandler):
    """A PBX API gone wrong: 200 with an HTML page."""

    def do_GET(self):
        body = b"<html><body>Maintenance</body></html>"
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up

    def log_message(self, *args):
        pass


class ReconcileCommon(CrmVoipHttpCommon):
    def setUp(self):
        super().setUp()
        # The simulator's history outlives each test's rollback: start each test empty.
        with self.sim._lock:
            self.sim._calls.clear()
        zadarma_module._stats_requests.clear()
        self.Provider = self.env["crm.voip.provider"]

    def ago(self, minutes):
        return datetime.now(timezone.utc) - timedelta(minutes=minutes)

    def reconcile(self):
        self.env.flush_all()
        done = self.Provider._cron_crm_voip_reconcile()
        self.env.invalidate_all()
        return done

    def calls_of(self, provider, call_id):
        return self.env["crm.voip.call"].search(
            [("provider_id", "=", provider.id), ("provider_call_id", "=", call_id)]
        )

    def only_accounts(self, *providers):
        """Turn reconciliation off on the other accounts of the database."""
        (self.Provider.search([]) - self.Provider.concat(*providers)).reconcile_window_hours = 0


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_reconcile")
class TestReconcileGeneric(ReconcileCommon):
    def setUp(self):
        super().setUp()
        self.only_accounts(self.generic)

    def test_missed_webhooks_are_recovered_once(self):
        (answered,) = self.sim.add_history(
            "generic",
            "answered",
            caller=ROMASHKA_CALLER,
            answered_by="201",
            talk_seconds=65,
            record=True,
            call_start=self.ago(40),
        )
        (missed,) = self.sim.add_history(
            "generic", "missed", caller=UNKNOWN_CALLER, call_start=self.ago(30)
        )
        arrived_start = self.ago(20)
        deliveries = self.play("generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
                               call_start=arrived_start)  # fmt: skip
        arrived_id = deliveries[0].event["call_id"]
        self.assertEqual(self.reconcile(), 1)

        call = self.calls_of(self.generic, answered.call_id)
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "disposition": "answered",
                    "recovered": True,
                    "user_id": self.salesman_anna.id,
                    "extension": "201",
                    "partner_id": self.client_romashka.id,
                    "talk_seconds": 65,
                    "date_start": answered.start.astimezone(timezone.utc).replace(
                        tzinfo=None, microsecond=0
                    ),
                }
            ],
        )
        self.assertEqual(call.recording_ids.recording_ref, answered.recording_id)
        self.assertEqual(call.event_ids.mapped("event_key"), [f"history:{answered.call_id}:ended"])
        self.assertIn("Recovered from the PBX history", call.message_ids[0].body)

        missed_call = self.calls_of(self.generic, missed.call_id)
        self.assertRecordValues(missed_call, [{"state": "missed", "recovered": True}])
        # The unknown caller went through the account's policy, as with its webhooks.
        self.assertTrue(missed_call.partner_id)
        self.assertTrue(missed_call.partner_created)

        arrived = self.calls_of(self.generic, arrived_id)
        self.assertEqual(len(arrived), 1)
        self.assertFalse(arrived.recovered)
        self.assertFalse(arrived.event_ids.filtered(lambda e: e.event_key.startswith("history:")))

        provider = self.generic
        self.assertEqual(provider.reconcile_recovered_count, 2)
        self.assertFalse(provider.reconcile_error)
        self.assertFalse(provider.reconcile_unmatched)
        self.assertIn("2 recovered", provider.reconcile_last_result)
        self.assertIn("1 already logged", provider.reconcile_last_result)

        # A second run changes nothing.
        counts = (
            self.env["crm.voip.call"].search_count([]),
            self.env["crm.voip.event"].search_count([]),
            self.env["mail.message"].search_count([("model", "=", "crm.voip.call")]),
        )
        self.assertEqual(self.reconcile(), 1)
        self.assertEqual(
            counts,
            (
                self.env["crm.voip.call"].search_count([]),
                self.env["crm.voip.event"].search_count([]),
                self.env["mail.message"].search_count([("model", "=", "crm.voip.call")]),
            ),
        )
        self.assertEqual(provider.reconcile_recovered_count, 0)
        self.assertIn("3 already logged", provider.reconcile_last_result)

    def test_a_call_whose_end_never_arrived_is_completed(self):
        start = self.ago(30)
        events = self.sim.scenario_events(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201", call_start=start
        )
        self.send("generic", events[:1])  # only "call started" arrives
        call_id = events[0]["call_id"]
        self.sim.add_history(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
            call_start=start, call_id=call_id, talk_seconds=30,
        )  # fmt: skip
        self.assertEqual(self.calls_of(self.generic, call_id).state, "ringing")
        self.reconcile()
        call = self.calls_of(self.generic, call_id)
        self.assertRecordValues(
            call,
            [{"state": "done", "recovered": True, "talk_seconds": 30,
              "user_id": self.salesman_anna.id}],
        )  # fmt: skip
        self.assertIn("Completed from the PBX history", call.message_ids[0].body)
        self.assertIn("1 completed", self.generic.reconcile_last_result)

    def test_history_contradicting_a_completed_call_is_logged_once(self):
        start = self.ago(30)
        deliveries = self.play(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
            talk_seconds=40, call_start=start,
        )  # fmt: skip
        call_id = deliveries[0].event["call_id"]
        call = self.calls_of(self.generic, call_id)
        self.assertEqual((call.state, call.talk_seconds), ("done", 40))
        # The PBX's own record says the talk lasted 95 s.
        self.sim.add_history(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
            talk_seconds=95, call_start=start, call_id=call_id,
        )  # fmt: skip
        messages = len(call.message_ids)
        self.reconcile()
        self.assertRecordValues(call, [{"state": "done", "talk_seconds": 95, "recovered": False}])
        self.assertIn("Talk time: 40 s here, 95 s in the PBX history", call.history_difference)
        self.assertEqual(len(call.message_ids), messages + 1)
        self.assertIn("contradicts", call.message_ids[0].body)
        self.assertIn("1 corrected", self.generic.reconcile_last_result)
        self.reconcile()
        self.assertEqual(len(call.message_ids), messages + 1)

    def test_history_gives_the_start_the_lost_first_webhook_had(self):
        """The call's first webhook never came (its events start 6 s late): the history's
        start is the call's, and the ring time follows."""
        start = self.ago(30).replace(microsecond=0)
        deliveries = self.play(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
            talk_seconds=40, call_start=start + timedelta(seconds=6),
        )  # fmt: skip
        call_id = deliveries[0].event["call_id"]
        call = self.calls_of(self.generic, call_id)
        ring_from_webhooks = call.ring_seconds
        self.sim.add_history(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
            talk_seconds=40, call_start=start, call_id=call_id,
        )  # fmt: skip
        self.reconcile()
        self.assertEqual(call.date_start, start.replace(tzinfo=None))
        self.assertEqual(call.ring_seconds, ring_from_webhooks + 6)
        self.assertIn("the earliest start", call.history_difference)

    def test_history_names_who_talked_last(self):
        """A transfer whose second answer the webhooks missed: the PBX's history says
        Boris talked last, and the call becomes his (logged)."""
        self.generic.extension_ids = [
            Command.create({"user_id": self.salesman_boris.id, "extension": "202"})
        ]
        start = self.ago(30)
        deliveries = self.play(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="201",
            talk_seconds=40, call_start=start,
        )  # fmt: skip
        call_id = deliveries[0].event["call_id"]
        call = self.calls_of(self.generic, call_id)
        self.assertEqual(call.user_id, self.salesman_anna)
        self.sim.add_history(
            "generic", "answered", caller=ROMASHKA_CALLER, answered_by="202",
            talk_seconds=40, call_start=start, call_id=call_id,
        )  # fmt: skip
        self.reconcile()
        self.assertRecordValues(
            call, [{"state": "done", "user_id": self.salesman_boris.id, "extension": "202"}]
        )
        self.assertIn("(corrected: the last to talk)", call.history_difference)

    @mute_logger(RECONCILE_LOGGER)
    def test_failures_are_reported_with_backoff(self):
        self.sim.add_history("generic", "missed", caller=UNKNOWN_CALLER, call_start=self.ago(30))
        provider = self.generic
        # 1. The PBX fails (HTTP 500): reported, retried later, the cron goes on.
        self.sim.fail_next(1, status=500)
        before = fields.Datetime.now()
        self.assertEqual(self.reconcile(), 1)
        self.assertIn("500", provider.reconcile_error)
        self.assertEqual(provider.reconcile_failures, 1)
        self.assertGreaterEqual(provider.reconcile_next_try, before + timedelta(minutes=15))
        self.assertFalse(self.env["crm.voip.call"].search([("recovered", "=", True)]))
        # Not due yet: the next run does not ask the PBX.
        self.sim.clear()
        self.assertEqual(self.reconcile(), 0)
        self.assertFalse(self.sim.requests)
        # 2. Rate-limited (HTTP 429, Retry-After 2 h): waits at least what the PBX asked.
        provider.reconcile_next_try = before - timedelta(minutes=1)
        self.sim.rate_limit_next(1, retry_after=7200)
        self.reconcile()
        self.assertEqual(provider.reconcile_failures, 2)
        self.assertGreaterEqual(provider.reconcile_next_try, before + timedelta(hours=2))
        # 3. Recovered: the error is gone, the call logged.
        provider.reconcile_next_try = before - timedelta(minutes=1)
        self.reconcile()
        self.assertFalse(provider.reconcile_error)
        self.assertEqual(provider.reconcile_failures, 0)
        self.assertFalse(provider.reconcile_next_try)
        self.assertEqual(provider.reconcile_recovered_count, 1)

    @mute_logger(RECONCILE_LOGGER)
    def test_wrong_credentials_garbage_and_timeout_are_reported(self):
        provider = self.generic
        provider.secret_settings = {**provider.secret_settings, "api_key": "wrong"}
        self.reconcile()
        self.assertIn("401", provider.reconcile_error)
        self.assertTrue(provider.reconcile_next_try)
        provider.secret_settings = {**provider.secret_settings, "api_key": "generic-api-key"}

        # An answer that is no JSON, then no server at all (the port closed again); a
        # timeout is the same retryable failure (the test server stretches timeouts to
        # 10 s: the pure tests time it out).
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        closed_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            provider.write({"base_url": closed_url, "reconcile_next_try": False})
            self.assertEqual(self.reconcile(), 1)
        finally:
            server.shutdown()
            server.server_close()
        self.assertIn("no JSON object", provider.reconcile_error)
        self.assertEqual(provider.reconcile_failures, 2)
        provider.reconcile_next_try = False
        self.assertEqual(self.reconcile(), 1)
        self.assertIn("connection failed", provider.reconcile_error)
        self.assertEqual(provider.reconcile_failures, 3)
        self.assertTrue(provider.reconcile_next_try)

    def test_on_demand_range(self):
        (old,) = self.sim.add_history(
            "generic", "missed", caller=UNKNOWN_CALLER, call_start=self.ago(60 * 24)
        )
        self.reconcile()  # the scheduled window does not reach a day back
        self.assertFalse(self.calls_of(self.generic, old.call_id))
        action = self.generic.action_crm_voip_reconcile()
        wizard = (
            self.env["crm.voip.reconcile.wizard"]
            .with_context(action["context"])
            .create({"date_from": fields.Datetime.now() - timedelta(days=2)})
        )
        result = wizard.action_reconcile()
        self.assertEqual(result["params"]["type"], "success")
        self.assertTrue(self.calls_of(self.generic, old.call_id).recovered)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_reconcile")
class TestReconcileZadarma(ReconcileCommon):
    def setUp(self):
        super().setUp()
        self.only_accounts(self.zadarma)

    def test_statistics_recover_calls_within_the_rate_limit(self):
        (answered,) = self.sim.add_history(
            "zadarma", "answered", caller=ROMASHKA_CALLER, did="74951204567",
            answered_by="102", talk_seconds=33, call_start=self.ago(50),
        )  # fmt: skip
        (missed,) = self.sim.add_history(
            "zadarma", "missed", caller="79167654321", did="74951204567", call_start=self.ago(45)
        )
        deliveries = self.play("zadarma", "answered", caller=ROMASHKA_CALLER, answered_by="101",
                               call_start=self.ago(10))  # fmt: skip
        arrived_id = deliveries[0].event["pbx_call_id"]
        self.reconcile()
        call = self.calls_of(self.zadarma, answered.call_id)
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "recovered": True,
                    "user_id": self.salesman_boris.id,
                    "talk_seconds": 33,
                    "line_id": self.line_moscow.id,
                    "source_id": self.source_direct.id,
                    "partner_id": self.client_romashka.id,
                }
            ],
        )
        self.assertRecordValues(
            self.calls_of(self.zadarma, missed.call_id),
            [{"state": "missed", "recovered": True, "partner_id": self.client_ivan.id}],
        )
        self.assertEqual(len(self.calls_of(self.zadarma, arrived_id)), 1)
        self.assertFalse(self.calls_of(self.zadarma, arrived_id).recovered)
        # Zadarma allows 3 statistics requests a minute: the adapter keeps to it, and the
        # account waits instead of collecting the PBX's refusals.
        for _run in range(2):
            self.reconcile()
        self.assertFalse(self.zadarma.reconcile_error)
        statistics = [r for r in self.sim.requests if "/statistics/" in r.path]
        self.sim.clear()
        with mute_logger(RECONCILE_LOGGER):
            self.reconcile()
        self.assertIn("3 statistics requests a minute", self.zadarma.reconcile_error)
        self.assertTrue(self.zadarma.reconcile_next_try)
        # A limit kept is a wait, not a failure: no backoff, the health untouched.
        self.assertIn("Waiting for the PBX's rate limit", self.zadarma.reconcile_last_result)
        self.assertEqual(self.zadarma.reconcile_failures, 0)
        self.assertLessEqual(
            self.zadarma.reconcile_next_try, fields.Datetime.now() + timedelta(seconds=61)
        )
        self.assertFalse(self.sim.requests, "no request beyond the limit")
        self.assertEqual(len(statistics), 3)


class ReconcileScenarios:
    """The same recovery asserted for every PBX with a call history, through its own
    simulated history API: calls whose webhooks never came, beside one that came. Mixed
    into a ``ScenarioAccountCase`` with the PBX's account (a mixin: not a test by itself).
    """

    def setUp(self):
        super().setUp()
        with self.sim._lock:
            self.sim._calls.clear()
        zadarma_module._stats_requests.clear()
        # Mango prepares its statistics asynchronously: poll the simulated one quickly.
        self.patch(mango_module, "STATS_POLL_INTERVAL", 0.05)
        sim_account = self.sim.account(self.provider_code)
        if hasattr(sim_account, "stats_poll_interval"):
            self.patch(sim_account, "stats_poll_interval", 0.01)  # its minimum between polls
        Provider = self.env["crm.voip.provider"]
        (Provider.with_context(active_test=False).search([]) - self.account).write(
            {"reconcile_window_hours": 0}
        )

    def reconcile(self):
        self.env.flush_all()
        self.env["crm.voip.provider"]._cron_crm_voip_reconcile()
        self.env.invalidate_all()

    def test_calls_whose_webhooks_never_arrived_are_recovered(self):
        now = datetime.now(timezone.utc)
        (answered,) = self.sim.add_history(
            self.provider_code, "answered", caller=ROMASHKA, did=LINE,
            answered_by="101", talk_seconds=50, call_start=now - timedelta(minutes=40),
        )  # fmt: skip
        (missed,) = self.sim.add_history(
            self.provider_code, "missed", caller=ROMASHKA, did=LINE, extensions=["102"],
            call_start=now - timedelta(minutes=35),
        )  # fmt: skip
        arrived = self.play_call(
            "answered", caller=ROMASHKA, did=LINE, answered_by="102",
            call_start=now - timedelta(minutes=8),
        )  # fmt: skip
        self.assertEqual(arrived.state, "done")
        self.reconcile()
        account = self.account
        self.assertFalse(account.reconcile_error)
        Call = self.env["crm.voip.call"]

        def logged(record):
            return Call.search(
                [("provider_id", "=", account.id), ("provider_call_id", "=", record.call_id)]
            )

        self.assertRecordValues(
            logged(answered),
            [
                {
                    "state": "done",
                    "recovered": True,
                    "user_id": self.salesman_anna.id,
                    "talk_seconds": 50,
                    "partner_id": self.client_romashka.id,
                }
            ],
        )
        self.assertRecordValues(logged(missed), [{"state": "missed", "recovered": True}])
        self.assertEqual(len(Call.search([("provider_id", "=", account.id)])), 3)
        self.assertFalse(arrived.recovered, "the call that arrived is the same call")
        self.assertEqual(account.reconcile_recovered_count, 2)
        events = self.env["crm.voip.event"].search_count([])
        self.reconcile()
        self.assertEqual(self.env["crm.voip.event"].search_count([]), events)
        self.assertEqual(len(Call.search([("provider_id", "=", account.id)])), 3)
        self.assertIn("3 already logged", account.reconcile_last_result)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_reconcile")
class TestReconcileMango(MangoScenarioAccount, ReconcileScenarios, ScenarioAccountCase):
    pass


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_reconcile")
class TestReconcileUis(UisScenarioAccount, ReconcileScenarios, ScenarioAccountCase):
    pass


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_reconcile")
class TestReconcileTelfin(TelfinScenarioAccount, ReconcileScenarios, ScenarioAccountCase):
    pass
