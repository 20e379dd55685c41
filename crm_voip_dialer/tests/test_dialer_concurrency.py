"""Two workers claim lines of the same committed campaign at once: never the same line.

TransactionCase cannot commit, so this test writes its rows with its own cursors,
commits them, runs the claiming query in two threads with two real connections, and
deletes its rows at the end.
"""

import threading
from datetime import datetime

import psycopg2.errors

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL, mute_logger

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
