"""Rate limits of the website call-back, counted in the database so that every worker
sees the same counters."""

from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# Counters of windows older than this are deleted by the daily cron.
KEEP = timedelta(days=2)


class CrmVoipCallbackThrottle(models.Model):
    """One counter per (source, what is counted, window): ``n:+74951234567`` for a number,
    ``a:203.0.113.7`` for an address. Written only by ``_crm_voip_hit``."""

    _name = "crm.voip.callback.throttle"
    _description = "Website call-back rate limit counter"
    _log_access = False

    source_id = fields.Many2one("crm.voip.callback.source", required=True, ondelete="cascade")
    key = fields.Char(required=True)
    window_start = fields.Datetime(required=True)
    hits = fields.Integer(required=True, default=0)

    _sql_constraints = [
        (
            "window_uniq",
            "unique(source_id, key, window_start)",
            "One counter per source, key and window.",
        ),
    ]

    @api.model
    def _crm_voip_hit(self, source, key, limit, window_minutes, now=None):
        """Count one request of ``key`` for ``source``; False when ``limit`` requests
        were already counted in the current window (this one is not counted then).

        One conditional UPSERT: of two requests racing for the last place, the second
        waits for the first's row lock and then finds the counter full (or fails to
        serialize and Odoo retries it)."""
        now = now or fields.Datetime.now()
        window = timedelta(minutes=max(window_minutes, 1))
        epoch = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = epoch + window * ((now - epoch) // window)
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_voip_callback_throttle AS t (source_id, key, window_start, hits)
                VALUES (%(source)s, %(key)s, %(start)s, 1)
                ON CONFLICT (source_id, key, window_start)
                DO UPDATE SET hits = t.hits + 1 WHERE t.hits < %(limit)s
                RETURNING hits
                """,
                source=source.id,
                key=key[:200],
                start=start,
                limit=limit,
            )
        )
        return bool(self.env.cr.fetchone())

    @api.autovacuum
    def _gc_crm_voip_callback_throttle(self):
        self.env.cr.execute(
            SQL(
                "DELETE FROM crm_voip_callback_throttle WHERE window_start < %s",
                fields.Datetime.now() - KEEP,
            )
        )
