"""Two workers claim lines of the same committed campaign at once: never the same line,
never the same agent, never the same number.

TransactionCase cannot commit, so this test writes its rows with its own cursors,
commits them, runs the claiming query in two threads with two real connections, and
deletes its rows at the end.
"""

import threading
from datetime import datetime

import psycopg2.errors

from odoo import SUPERUSER_ID, api, sql_db
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL, mute_logger

from odoo.addons.crm_voip.tests.common_http import import_simulator
from odoo.addons.crm_voip_dialer.models.crm_voip_dialer_campaign import pick_lines_sql

LINES = 400


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestDialerConcurrency(BaseCase):
    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(get_db_name())
        with self.db.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env["res.company"].search([], limit=1, order="id")
            provider = env["crm.voip.provider"].create(
                {"name": "Concurrency test", "code": "generic", "company_id": company.id}
            )
            campaign = env["crm.voip.dialer.campaign"].create(
                {
                    "name": "Concurrency test",
                    "company_id": company.id,
                    "provider_id": provider.id,
                    "state": "running",
                    "default_tz": "UTC",
                }
            )
            env.flush_all()
            self.provider_id, self.campaign_id, company_id = provider.id, campaign.id, company.id
            cr.execute(
                """
                INSERT INTO crm_voip_dialer_line (campaign_id, company_id, name, phone_e164, tz,
                       priority, state, next_call_at, attempt_count)
                SELECT %s, %s, 'c' || n, '+7999' || lpad(n::text, 7, '0'), 'UTC', 0, 'pending',
                       '2024-01-01', 0
                  FROM generate_series(1, %s) n
                """,
                (self.campaign_id, company_id, LINES),
            )
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.db.cursor() as cr:
            cr.execute("DELETE FROM crm_voip_dialer_campaign WHERE id = %s", (self.campaign_id,))
            cr.execute("DELETE FROM crm_voip_provider WHERE id = %s", (self.provider_id,))

    def _worker(self, claimed, errors, barrier):
        now = datetime(2024, 6, 1)
        barrier.wait()
        while True:
            with self.db.cursor() as cr:
                try:
                    cr.execute(pick_lines_sql(self.campaign_id, ["UTC"], now, 7))
                    ids = [row[0] for row in cr.fetchall()]
                    if not ids:
                        return
                    # The claim: the lines leave "pending" in the same transaction.
                    cr.execute(
                        SQL(
                            "UPDATE crm_voip_dialer_line SET state = 'dialing',"
                            " attempt_count = attempt_count + 1 WHERE id IN %s",
                            tuple(ids),
                        )
                    )
                    cr.commit()
                    claimed.extend(ids)
                except psycopg2.errors.SerializationFailure:
                    cr.rollback()  # the other worker took a row after our snapshot: next tick
                    errors.append(1)

    @mute_logger("odoo.sql_db")  # the serialization failures a worker retries
    def test_two_workers_never_claim_the_same_line(self):
        claimed_a, claimed_b, errors = [], [], []
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=self._worker, args=(claimed, errors, barrier))
            for claimed in (claimed_a, claimed_b)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertTrue(claimed_a and claimed_b, "both workers claimed lines")
        self.assertFalse(set(claimed_a) & set(claimed_b), "no line claimed by both workers")
        self.assertEqual(len(claimed_a) + len(claimed_b), LINES)
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT count(*), max(attempt_count) FROM crm_voip_dialer_line"
                " WHERE campaign_id = %s AND state = 'dialing'",
                (self.campaign_id,),
            )
            self.assertEqual(cr.fetchone(), (LINES, 1), "every line dialled exactly once")


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestDialerSchedulerWorkers(BaseCase):
    """Two workers run the real scheduler tick at the same instant, round after round,
    on their own committed transactions, against the simulator's REST API: every PBX
    request is for a free agent and a number not already ringing."""

    AGENTS = 3
    LINES = 45
    MAX_ATTEMPTS = 2

    def setUp(self):
        super().setUp()
        simulator = import_simulator()
        self.sim = simulator.Simulator(
            generic=simulator.GenericAccount("http://127.0.0.1:9/unused", "secret", "api-key"),
            auto_play_originate=False,
        ).start()
        self.addCleanup(self.sim.stop)
        self.db = sql_db.db_connect(get_db_name())
        self.registry = Registry(get_db_name())
        with self.db.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env["res.company"].search([], limit=1, order="id")
            users = env["res.users"].create(
                [
                    {"name": f"Worker test agent {i}", "login": f"dialer_workers_{i}"}
                    for i in range(self.AGENTS)
                ]
            )
            provider = env["crm.voip.provider"].create(
                {
                    "name": "Workers test",
                    "code": "generic",
                    "company_id": company.id,
                    "country_id": env.ref("base.ru").id,
                    "secret_settings": {"api_key": "api-key"},
                    "base_url": self.sim.api_url("generic"),
                    "use_simulator": True,
                    "extension_ids": [
                        Command.create({"user_id": user.id, "extension": str(301 + i)})
                        for i, user in enumerate(users)
                    ],
                }
            )
            campaign = env["crm.voip.dialer.campaign"].create(
                {
                    "name": "Workers test",
                    "company_id": company.id,
                    "provider_id": provider.id,
                    "mode": "progressive",
                    "default_tz": "UTC",
                    "window_start": 0.0,
                    "window_end": 0.0,
                    "call_weekends": True,
                    "max_attempts": self.MAX_ATTEMPTS,
                    "retry_failed": 0,
                    "agent_user_ids": [Command.set(users.ids)],
                }
            )
            campaign._dialer_add_targets(
                env["res.partner"],
                values_list=[
                    {"phone": f"+7999{n:07d}", "name": f"Workers client {n}"}
                    for n in range(self.LINES)
                ],
            )
            campaign.state = "running"
            for user in users:
                env["crm.voip.dialer.agent"].create(
                    {"campaign_id": campaign.id, "user_id": user.id, "state": "ready"}
                )
            self.user_ids, self.provider_id, self.campaign_id = users.ids, provider.id, campaign.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.db.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["crm.voip.call"].search([("provider_id", "=", self.provider_id)]).unlink()
            env["crm.voip.dialer.campaign"].browse(self.campaign_id).unlink()
            env["crm.voip.provider"].browse(self.provider_id).unlink()
            env["res.users"].browse(self.user_ids).unlink()

    def _tick(self, barrier, errors):
        barrier.wait()
        try:
            self._tick_once()
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(repr(error))

    def _tick_once(self):
        with self.db.cursor() as cr:
            # The test runner holds the registry lock: hand the worker its registry, as
            # Odoo's cron worker has it, instead of looking it up.
            cr.transaction = api.Transaction(self.registry)
            api.Environment(cr, SUPERUSER_ID, {})["crm.voip.dialer.campaign"]._cron_dialer_tick()

    def _hang_up_every_call(self):
        """The PBX reports every ringing campaign call as failed (retried, then given up)."""
        with self.db.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            lines = env["crm.voip.dialer.line"].search(
                [("campaign_id", "=", self.campaign_id), ("state", "=", "dialing")]
            )
            for line in lines:
                line.call_id._crm_voip_mark_click_to_call_failed("no route")
            return len(lines)

    @mute_logger("odoo.sql_db", "odoo.addons.crm_voip_dialer.models.crm_voip_dialer_campaign")
    def test_two_workers_run_the_scheduler_without_double_dialling(self):
        seen = 0
        for _round in range(self.LINES * self.MAX_ATTEMPTS):
            barrier, errors = threading.Barrier(2), []
            workers = [
                threading.Thread(target=self._tick, args=(barrier, errors)) for _ in range(2)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(20)
            self.assertFalse(any(w.is_alive() for w in workers), "a worker is stuck")
            self.assertEqual(errors, [], "a worker's tick failed")
            requests = [r for r in self.sim.requests if r.path.endswith("/originate")]
            fresh, seen = requests[seen:], len(requests)
            self.assertLessEqual(len(fresh), self.AGENTS, "one call per free agent")
            sources = [r.json["from"] for r in fresh]
            numbers = [r.json["to"] for r in fresh]
            self.assertEqual(len(sources), len(set(sources)), "an agent is rung once at a time")
            self.assertEqual(len(numbers), len(set(numbers)), "a number is dialled once at a time")
            self.assertEqual(self._hang_up_every_call(), len(fresh))
            if not fresh:
                break
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT state, count(*), sum(attempt_count) FROM crm_voip_dialer_line"
                " WHERE campaign_id = %s GROUP BY state",
                (self.campaign_id,),
            )
            self.assertEqual(
                cr.fetchall(), [("exhausted", self.LINES, self.LINES * self.MAX_ATTEMPTS)]
            )
        self.assertEqual(seen, self.LINES * self.MAX_ATTEMPTS, "one PBX request per attempt")
