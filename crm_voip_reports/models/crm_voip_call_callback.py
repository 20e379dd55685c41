from odoo import api, fields, models
from odoo.tools import SQL

from ..report.crm_voip_call_report_mixin import ANSWERED_STATES, UNANSWERED_STATES


class CrmVoipCallCallback(models.Model):
    """Which call called a missed incoming call back, and when.

    A missed incoming call is *called back* by the first later answered call with the
    same client number in the same company: our outgoing call to it, or the client's
    next incoming call that someone answered. Kept beside the call log (one row per
    missed call that was called back) so that the reports read it with one join and the
    call table itself is never rewritten.
    """

    _name = "crm.voip.call.callback"
    _description = "Call-back of a missed call"
    _log_access = False

    call_id = fields.Many2one(
        "crm.voip.call", string="Missed call", required=True, ondelete="cascade", index=True
    )
    callback_call_id = fields.Many2one(
        "crm.voip.call", string="Called back by", required=True, ondelete="cascade", index=True
    )
    callback_date = fields.Datetime(string="Called back at", required=True)

    _sql_constraints = [
        ("call_unique", "UNIQUE(call_id)", "A missed call is called back once."),
    ]

    @api.model
    def _crm_voip_recompute(self, missed_call_ids):
        """Find (again) the call-back of these missed calls; returns the ids whose link
        changed. Set-based: one statement whatever the number of calls."""
        ids = sorted({int(i) for i in missed_call_ids if i})
        if not ids:
            return []
        Call = self.env["crm.voip.call"]
        Call.flush_model(["company_id", "partner_number_e164", "date_start", "state", "direction"])
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH found AS (
                    SELECT m.id AS call_id, cb.id AS callback_call_id,
                           cb.date_start AS callback_date
                      FROM crm_voip_call m
                     CROSS JOIN LATERAL (
                            SELECT c.id, c.date_start
                              FROM crm_voip_call c
                             WHERE c.company_id = m.company_id
                               AND c.partner_number_e164 = m.partner_number_e164
                               AND c.date_start > m.date_start
                               AND c.state IN %(answered)s
                               AND c.direction IN ('inbound', 'outbound')
                             ORDER BY c.date_start, c.id
                             LIMIT 1
                           ) cb
                     WHERE m.id = ANY(%(ids)s)
                       AND m.direction = 'inbound'
                       AND m.state IN %(unanswered)s
                       AND m.partner_number_e164 IS NOT NULL
                       AND m.date_start IS NOT NULL
                ),
                removed AS (
                    DELETE FROM crm_voip_call_callback old
                     WHERE old.call_id = ANY(%(ids)s)
                       AND NOT EXISTS (SELECT 1 FROM found WHERE found.call_id = old.call_id)
                    RETURNING old.call_id
                ),
                added AS (
                    INSERT INTO crm_voip_call_callback (call_id, callback_call_id, callback_date)
                    SELECT call_id, callback_call_id, callback_date FROM found
                    ON CONFLICT (call_id) DO UPDATE
                       SET callback_call_id = EXCLUDED.callback_call_id,
                           callback_date = EXCLUDED.callback_date
                     WHERE crm_voip_call_callback.callback_call_id
                           IS DISTINCT FROM EXCLUDED.callback_call_id
                        OR crm_voip_call_callback.callback_date
                           IS DISTINCT FROM EXCLUDED.callback_date
                    RETURNING call_id
                )
                SELECT call_id FROM removed UNION SELECT call_id FROM added
                """,
                ids=ids,
                answered=ANSWERED_STATES,
                unanswered=UNANSWERED_STATES,
            )
        )
        changed = [row[0] for row in self.env.cr.fetchall()]
        if changed:
            self.invalidate_model()
        return changed

    @api.model
    def _crm_voip_rebuild_all(self):
        """Every missed call of the log at once (install on an existing database)."""
        self.env["crm.voip.call"].flush_model()
        self.env.cr.execute(SQL("DELETE FROM crm_voip_call_callback"))
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_voip_call_callback (call_id, callback_call_id, callback_date)
                SELECT m.id, cb.id, cb.date_start
                  FROM crm_voip_call m
                 CROSS JOIN LATERAL (
                        SELECT c.id, c.date_start
                          FROM crm_voip_call c
                         WHERE c.company_id = m.company_id
                           AND c.partner_number_e164 = m.partner_number_e164
                           AND c.date_start > m.date_start
                           AND c.state IN %(answered)s
                           AND c.direction IN ('inbound', 'outbound')
                         ORDER BY c.date_start, c.id
                         LIMIT 1
                       ) cb
                 WHERE m.direction = 'inbound'
                   AND m.state IN %(unanswered)s
                   AND m.partner_number_e164 IS NOT NULL
                   AND m.date_start IS NOT NULL
                """,
                answered=ANSWERED_STATES,
                unanswered=UNANSWERED_STATES,
            )
        )
        self.invalidate_model()
        return self.env.cr.rowcount
