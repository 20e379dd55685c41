import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Refusals of an account are kept this long, and at most this many rows of them.
REFUSAL_KEEP = timedelta(days=7)
REFUSAL_KEEP_ROWS = 500


class CrmVoipRefusal(models.Model):
    """Webhook requests an account refused (bad signature, malformed body, ...), counted
    per account, minute and status: one row per minute and status however many requests
    came, so a flood of bad requests to a known URL cannot grow the table faster than
    the clock. Written in SQL, in a cursor of its own: the refusing request's transaction
    holds no lock for it, and nothing of the refused request is stored besides."""

    _name = "crm.voip.refusal"
    _description = "Refused webhook requests (per account and minute)"
    _order = "minute desc, id desc"
    _log_access = False

    provider_id = fields.Many2one(
        "crm.voip.provider", string="PBX account", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    minute = fields.Datetime(required=True, help="The minute the requests were refused in.")
    status = fields.Integer(string="HTTP status", required=True)
    count = fields.Integer(string="Requests", required=True, default=1)
    reason = fields.Char(string="Last reason")
    remote_addr = fields.Char(string="Last source address")
    last_date = fields.Datetime(string="Last refused")

    def init(self):
        super().init()
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS crm_voip_refusal_minute_uniq
                ON crm_voip_refusal (provider_id, minute, status)
            """
        )

    @api.model
    def _crm_voip_note(self, provider_id, status, reason, remote_addr):
        """Count one refused request of the account ``provider_id``, in a cursor of its
        own (committed at once, whatever the request does next). Never raises: counting
        must not turn a refusal into a server error."""
        now = fields.Datetime.now()
        try:
            with self.env.registry.cursor() as cr:
                cr.execute(
                    SQL(
                        """
                        INSERT INTO crm_voip_refusal
                               (provider_id, company_id, minute, status, count, reason,
                                remote_addr, last_date)
                        SELECT id, company_id, %(minute)s, %(status)s, 1, %(reason)s,
                               %(addr)s, %(now)s
                          FROM crm_voip_provider WHERE id = %(provider)s
                        ON CONFLICT (provider_id, minute, status) DO UPDATE
                           SET count = crm_voip_refusal.count + 1,
                               reason = EXCLUDED.reason,
                               remote_addr = EXCLUDED.remote_addr,
                               last_date = EXCLUDED.last_date
                        """,
                        minute=now.replace(second=0, microsecond=0),
                        status=status,
                        reason=(reason or "")[:200],
                        addr=(remote_addr or "")[:64],
                        now=now,
                        provider=provider_id,
                    )
                )
        except Exception:  # noqa: BLE001 - the refusal is answered all the same
            _logger.exception("crm_voip: could not count a refusal of provider %s", provider_id)

    @api.model
    def _crm_voip_prune(self):
        """Older than the week, or beyond the last rows of an account: deleted."""
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM crm_voip_refusal r
                 WHERE r.minute < %(cutoff)s
                    OR r.id IN (SELECT id FROM (
                           SELECT id, row_number() OVER (
                                      PARTITION BY provider_id ORDER BY minute DESC, id DESC
                                  ) AS rank
                             FROM crm_voip_refusal) ranked
                        WHERE ranked.rank > %(rows)s)
                """,
                cutoff=fields.Datetime.now() - REFUSAL_KEEP,
                rows=REFUSAL_KEEP_ROWS,
            )
        )
        if self.env.cr.rowcount:
            self.invalidate_model()
        return self.env.cr.rowcount
