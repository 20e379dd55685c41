import logging
from contextlib import nullcontext

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.tools import SQL

from .. import providers

_logger = logging.getLogger(__name__)

EVENT_KINDS = [
    (providers.events.CALL_STARTED, "Call started"),
    (providers.events.AGENT_RINGING, "Ringing an extension"),
    (providers.events.ANSWERED, "Answered"),
    (providers.events.ENDED, "Ended"),
    (providers.events.MISSED, "Missed"),
    (providers.events.OUTGOING_STARTED, "Outgoing call started"),
    (providers.events.RECORDING_READY, "Recording ready"),
    (providers.events.ORIGINATE_REFUSED, "Click-to-call refused"),
]
# An event that failed to apply is retried by the cron this many times, then left for
# an administrator (shown on the provider form).
MAX_APPLY_ATTEMPTS = 5


class CrmVoipEvent(models.Model):
    """Every webhook event accepted from a PBX, stored before it is applied.

    ``(provider_id, event_key)`` is unique: a repeated delivery is recognised and
    answered without being applied twice.
    """

    _name = "crm.voip.event"
    _description = "Telephony webhook event"
    _order = "id desc"
    _rec_name = "event_key"

    provider_id = fields.Many2one(
        "crm.voip.provider", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="provider_id.company_id", store=True, index=True)
    event_key = fields.Char(required=True, readonly=True)
    kind = fields.Selection(EVENT_KINDS, required=True, readonly=True)
    provider_event = fields.Char(string="PBX event", readonly=True)
    provider_call_id = fields.Char(string="PBX call id", index=True, readonly=True)
    occurred_at = fields.Datetime(readonly=True)
    payload = fields.Json(readonly=True, help="The normalized event, with the raw payload.")
    state = fields.Selection(
        [("pending", "To apply"), ("applied", "Applied"), ("error", "Failed")],
        default="pending",
        required=True,
        index=True,
        readonly=True,
    )
    error = fields.Text(readonly=True)
    attempts = fields.Integer(readonly=True)
    call_id = fields.Many2one("crm.voip.call", ondelete="set null", index=True, readonly=True)

    _sql_constraints = [
        (
            "event_key_unique",
            "UNIQUE(provider_id, event_key)",
            "This PBX event was already received.",
        ),
    ]

    # ------------------------------------------------------------------
    # Storing
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_store(self, provider, call_events, first_write=False):
        """Store the events; return ``(new, duplicate_count)``, new as ``_crm_voip_apply_stored``
        takes them.

        Written with ``INSERT … ON CONFLICT DO NOTHING`` rather than ``create()`` on
        purpose: a PBX delivers in parallel and retries, and two copies of one event
        racing each other must end as one row and a 200 for both, not as a unique
        violation. Under REPEATABLE READ a conflict with a row committed after our
        snapshot raises a serialization failure instead: for this statement it can only
        mean that a concurrent delivery of the very same event committed first (and
        applied it), so it is counted as a duplicate, without retrying the request.

        The row is written as it will end, applied and linked to its call when the
        call is already logged: ``_crm_voip_apply_stored`` follows in the same
        transaction, and writes the row again only for a failure or a new call. On
        a busy line that spares an update of a row just inserted, which PostgreSQL
        makes check every foreign key again.

        ``first_write``: nothing was written yet in this transaction (a webhook
        request), so a single event needs no savepoint: a failure may roll back all.
        """
        self.check_access("create")
        single = first_write and len(call_events) == 1
        stored = []
        for call_event in call_events:
            query = self._crm_voip_insert_query(provider, call_event, "applied")
            # Without a savepoint (two more round trips on every webhook), a failure
            # of the single event rolls back a transaction that holds nothing else.
            guard = nullcontext() if single else self.env.cr.savepoint(flush=False)
            try:
                with guard:
                    self.env.cr.execute(query, log_exceptions=False)
                    inserted = self.env.cr.fetchone()
            except pg_errors.SerializationFailure:
                if single:
                    self.env.cr.rollback()
                inserted = None  # the same event, committed by a racing delivery
            if inserted:
                event_id, call_id = inserted
                stored.append((self.browse(event_id), provider, call_event, call_id))
        return stored, len(call_events) - len(stored)

    @api.model
    def _crm_voip_insert_query(self, provider, call_event, state, error=None):
        """``INSERT`` of an event's row, linked to its call if logged; a row already
        stored for the event wins. Returns the new row's ``id, call_id``, or nothing."""
        return SQL(
            """
            INSERT INTO crm_voip_event (
                provider_id, company_id, event_key, kind, provider_event,
                provider_call_id, occurred_at, payload, state, attempts, error, call_id,
                create_uid, write_uid, create_date, write_date)
            VALUES (%(provider)s, %(company)s, %(key)s, %(kind)s, %(provider_event)s,
                    %(call)s, %(occurred_at)s, %(payload)s, %(state)s, %(attempts)s,
                    %(error)s,
                    (SELECT id FROM crm_voip_call
                      WHERE provider_id = %(provider)s AND provider_call_id = %(call)s),
                    %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC')
            ON CONFLICT (provider_id, event_key) DO NOTHING
            RETURNING id, call_id
            """,
            provider=provider.id,
            company=provider.company_id.id,
            key=call_event.event_key[:255],
            kind=call_event.kind,
            provider_event=call_event.provider_event or None,
            call=call_event.provider_call_id or None,
            occurred_at=fields.Datetime.to_string(call_event.occurred_at.replace(tzinfo=None)),
            payload=self._fields["payload"].convert_to_column(call_event.to_dict(), self),
            state=state,
            attempts=1 if error else 0,
            error=error and f"{type(error).__name__}: {error}",
            uid=self.env.uid,
        )

    # ------------------------------------------------------------------
    # Applying
    # ------------------------------------------------------------------

    def _crm_voip_call_event(self):
        self.ensure_one()
        return providers.events.CallEvent.from_dict(self.payload)

    def _crm_voip_apply(self):
        """Apply each event to its call; a failing event is marked, never lost."""
        return self._crm_voip_apply_stored(
            [(event, event.provider_id, event._crm_voip_call_event(), None) for event in self]
        )

    @api.model
    def _crm_voip_apply_stored(self, stored, alone=False):
        """Apply ``[(event record, provider, call event, call id)]``, as stored by a webhook.

        The webhook passes the events it has parsed: reading back the rows it has just
        inserted would cost a query and a JSON decoding per event. The call id is the
        one the row is already marked applied to (``_crm_voip_store``), or None.
        Returns the calls.

        ``alone``: the transaction holds nothing but this single event (a webhook
        request), so it is applied without a savepoint; should applying fail, the
        transaction is rolled back and the event stored again, as failed.
        """
        if alone and len(stored) == 1:
            return self._crm_voip_apply_alone(*stored[0])
        calls = self.env["crm.voip.call"]
        for event, provider, call_event, marked_call_id in stored:
            try:
                with self.env.cr.savepoint():
                    call = calls._crm_voip_apply_event(provider, call_event)
                    if call.id != marked_call_id:
                        event._crm_voip_mark_applied(call)
                    calls |= call
            except pg_errors.SerializationFailure:
                raise  # let Odoo retry the whole request or cron batch
            except Exception as error:  # noqa: BLE001 - any failure is recorded on the event
                _logger.exception("crm_voip: could not apply event %s", call_event.event_key)
                event.write(
                    {
                        "state": "error",
                        "attempts": event.attempts + 1,
                        "error": f"{type(error).__name__}: {error}",
                    }
                )
        return calls

    def _crm_voip_apply_alone(self, event, provider, call_event, marked_call_id):
        """One event, the transaction's only work: a savepoint would cost two round
        trips and a flush on every webhook."""
        try:
            call = self.env["crm.voip.call"]._crm_voip_apply_event(provider, call_event)
            if call.id != marked_call_id:
                event._crm_voip_mark_applied(call)
            self.env.flush_all()  # a write the database refuses is a failure to apply
            return call
        except pg_errors.SerializationFailure:
            raise  # let Odoo retry the whole request
        except Exception as error:  # noqa: BLE001 - any failure is recorded on the event
            _logger.exception("crm_voip: could not apply event %s", call_event.event_key)
            self.env.cr.rollback()
            self._crm_voip_store_failed(provider, call_event, error)
            return self.env["crm.voip.call"]

    @api.model
    def _crm_voip_store_failed(self, provider, call_event, error):
        """Store an event whose application failed, for the retry cron; a copy
        delivered meanwhile, and stored, wins."""
        self.env.cr.execute(self._crm_voip_insert_query(provider, call_event, "error", error))

    def _crm_voip_mark_applied(self, call):
        """In SQL: through ``write()``, setting ``call_id`` would first read the event's
        whole row (to keep the call's cached ``event_ids`` right), on every PBX event."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_voip_event
                   SET state = 'applied', call_id = %s, error = NULL,
                       write_uid = %s, write_date = now() at time zone 'UTC'
                 WHERE id IN %s
                """,
                call.id,
                self.env.uid,
                tuple(self.ids),
            )
        )
        self.invalidate_recordset(["state", "call_id", "error", "write_uid", "write_date"])
        call.invalidate_recordset(["event_ids"])

    def action_retry(self):
        self.check_access("write")  # events are marked applied in SQL, past the ORM's check
        self.filtered(lambda e: e.state != "applied")._crm_voip_apply()

    @api.model
    def _cron_crm_voip_retry_events(self):
        events = self.search(
            [("state", "in", ("pending", "error")), ("attempts", "<", MAX_APPLY_ATTEMPTS)],
            order="id",
            limit=500,
        )
        # Oldest first, so a call's events are re-applied in their arrival order.
        events._crm_voip_apply()
