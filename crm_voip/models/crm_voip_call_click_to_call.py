"""Click-to-call: a call placed from Odoo, in three steps around the PBX request."""

import logging
import uuid

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from .. import providers
from ..callstate import states

EV = providers.events
_logger = logging.getLogger(__name__)
# A call logged by Odoo carries this id until the PBX reports it under its own.
CLICK_TO_CALL_ID_PREFIX = "c2c-"


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    originate_date = fields.Datetime(
        string="PBX asked at",
        readonly=True,
        copy=False,
        help="When Odoo asked the PBX to place this click-to-call: it is asked once.",
    )

    # ------------------------------------------------------------------
    # Click-to-call
    # ------------------------------------------------------------------

    @api.model
    def crm_voip_dial_prepare(self, number, res_model=False, res_id=False):
        """First step of click-to-call: validate, then log the call before the PBX rings.

        The PBX request itself is the second step (``/crm_voip/originate``), made
        outside this transaction: nothing waits on the PBX while holding the database.
        """
        extension = self.env["crm.voip.extension"]._crm_voip_for_user(self.env.user)
        provider = extension.provider_id
        dialled, number_e164 = provider._crm_voip_dial_number(number or "")
        call = self._crm_voip_create_click_to_call(
            provider,
            self.env.user,
            extension.extension,
            number,
            dialled,
            number_e164,
            **self._crm_voip_links_from_record(res_model, res_id),
        )
        if not call.partner_id and not call.lead_id:
            partner, lead = self._crm_voip_identify(number_e164, provider.company_id)
            call.sudo().write({"partner_id": partner.id, "lead_id": lead.id})
        return call._crm_voip_state_payload()

    @api.model
    def _crm_voip_create_click_to_call(
        self, provider, user, extension, number_as_typed, dialled, number_e164, **links
    ):
        """Log a call placed from Odoo before the PBX rings: a salesperson's click-to-call
        and a dialer campaign's call are made here, and nowhere else.

        ``user`` talks (empty: the PBX connects the answered call to an agent),
        ``extension`` is rung first, ``number_as_typed`` is the client's number as
        written, ``dialled`` and ``number_e164`` what ``_crm_voip_dial_number`` made of
        it; ``links`` are more values (``partner_id``, ``lead_id``...). The ``c2c-`` id
        gives way to the PBX's own when it reports the call
        (``_crm_voip_adopt_click_to_call``).

        Created in sudo (salespeople may not create calls by hand; the caller has
        checked whose call it is), returned in the caller's environment.
        """
        values = {
            "provider_id": provider.id,
            "company_id": provider.company_id.id,
            "provider_call_id": f"{CLICK_TO_CALL_ID_PREFIX}{uuid.uuid4().hex}",
            "direction": "outbound",
            "state": states.RINGING,
            "origin": "click_to_call",
            "user_id": user.id,
            "team_id": user.sale_team_id.id,
            "extension": extension,
            "to_number": number_as_typed or number_e164,
            "to_e164": number_e164,
            "partner_number": number_as_typed or number_e164,
            "partner_number_e164": number_e164,
            "dialled_number": dialled,
            "date_start": fields.Datetime.now(),
        }
        values.update(links)
        return self.sudo().create(values).with_env(self.env)

    @api.model
    def _crm_voip_links_from_record(self, res_model, res_id):
        if not res_model or not res_id:
            return {}
        Model = self.env[res_model] if res_model in self.env else None
        record = Model.browse(int(res_id)).exists() if Model is not None and Model._auto else None
        if not record:
            return {}
        # The call is created in sudo: it links only what its salesperson may read.
        record.check_access("read")
        if res_model == "crm.lead":
            return {"lead_id": record.id, "partner_id": record.partner_id.id}
        if res_model == "res.partner":
            return {"partner_id": record.id}
        partner = record and "partner_id" in record._fields and record.partner_id
        return {"partner_id": partner.id} if partner else {}

    @api.model
    def _crm_voip_click_to_call_origins(self):
        """The origins of calls Odoo asks the PBX for (claimed, adopted, refused alike);
        a module placing such calls for another reason adds its origin here."""
        return ("click_to_call",)

    def _crm_voip_originate(self):
        """Ask the PBX for the two-leg call, once: the request is claimed and committed
        first, then the PBX is asked with no transaction open (nothing is read between
        the commit and its answer). Returns False when the PBX accepted, else why not.
        """
        self.ensure_one()
        provider = self.provider_id
        adapter = provider._get_crm_voip_adapter()
        extension, dialled, call_ref = self.extension, self.dialled_number, self.provider_call_id
        try:
            if not self._crm_voip_claim_originate():
                return self.env._("This call has already been placed.")
            self.env.cr.commit()
            error = self._crm_voip_request_pbx_call(
                adapter, extension, dialled, call_ref, provider=provider
            )
        finally:
            adapter.close()
        if error:
            # Refused by the PBX: the call ends failed here; its salesperson can no longer
            # end a call the PBX took (``crm_voip_originate_failed``).
            self._crm_voip_mark_click_to_call_failed(error)
        return error

    def _crm_voip_claim_originate(self):
        """Mark this ringing click-to-call as sent to the PBX, unless it already was: one
        statement, so of two concurrent requests only one claims it (the other waits on
        the row lock, then finds it claimed or fails to serialize and is retried)."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_voip_call SET originate_date = now() at time zone 'UTC'
                 WHERE id = %(id)s AND origin IN %(origins)s AND state = %(ringing)s
                   AND originate_date IS NULL
                RETURNING id
                """,
                id=self.id,
                origins=self._crm_voip_click_to_call_origins(),
                ringing=states.RINGING,
            )
        )
        claimed = bool(self.env.cr.fetchone())
        self.invalidate_recordset(["originate_date"])
        return claimed

    @api.model
    def _crm_voip_request_pbx_call(self, adapter, extension, dialled, call_ref=None, provider=None):
        """Ask the PBX behind ``adapter`` (of the account ``provider``) to ring ``extension``,
        then ``dialled``; ``call_ref`` is the logged call's ``c2c-`` id, which some PBXs echo
        in the call's events.

        Returns False when it accepted, else why not, for the user. Writes nothing: it
        runs outside any transaction. ``adapter`` stays open (the dialer places many
        calls with one), its owner closes it.
        """
        try:
            adapter.originate(extension, dialled, None, request_ref=call_ref)
        except providers.errors.AuthError as error:
            if provider:
                provider._crm_voip_api_failed(error)
            return self.env._("The PBX refused our credentials; ask your administrator.")
        except providers.errors.RateLimitError:
            return self.env._("The PBX is busy with too many requests; try again in a minute.")
        except providers.errors.ProviderError as error:
            return self.env._("The PBX could not place the call: %(error)s", error=error)
        if provider:
            provider._crm_voip_api_succeeded()
        return False

    def crm_voip_originate_failed(self, reason):
        """Third step, when the call could not be placed: the call is logged as failed,
        with why. A call the PBX was asked for is the PBX's to end (a refusal is marked
        by ``/crm_voip/originate`` itself): it is left as it is."""
        self.ensure_one()
        self.check_access("read")
        if self.origin != "click_to_call" or self.user_id != self.env.user:
            raise AccessError(self.env._("This is not your call."))
        if not self.originate_date:
            self._crm_voip_mark_click_to_call_failed(str(reason or "")[:500])
        return self._crm_voip_state_payload()

    def _crm_voip_mark_click_to_call_failed(self, reason):
        """The PBX refused to place these calls (or never reported them): each one still
        ringing ends failed, ``reason`` logged in its chatter, and goes through the
        hang-up hook as any call that ends (its summary in the client's chatter; a
        campaign's line schedules its retry). Whoever asks, the caller checked it may.
        """
        body = Markup("<p>%s</p>") % reason
        for call in self.sudo():
            if call.state != states.RINGING:
                continue
            call.write(
                {
                    "state": states.FAILED,
                    "disposition": "failed",
                    "date_end": fields.Datetime.now(),
                    "wrapup_done": True,
                }
            )
            call._message_log(body=body)
            call._crm_voip_on_hangup()

    @api.model
    def _crm_voip_click_to_call_refused(self, provider, event):
        """The PBX refused, after accepting the request, a call Odoo asked for: the call
        ends failed with the PBX's reason, and its salesperson is told at once."""
        call = self.sudo().search(
            [
                ("provider_id", "=", provider.id),
                ("provider_call_id", "=", event.origin_ref or event.provider_call_id),
                ("origin", "in", self._crm_voip_click_to_call_origins()),
            ],
            limit=1,
        )
        if not call:
            _logger.info(
                "crm_voip: provider %s refused a call Odoo does not know (%s)",
                provider.id,
                event.origin_ref or event.provider_call_id,
            )
            return self
        why = self.env._(event.reason) if event.reason else self.env._("no reason given")
        if event.reason_code:
            why = f"{why} ({event.reason_code})"
        reason = self.env._("The PBX could not place the call: %(error)s", error=why)
        was_ringing = call.state == states.RINGING
        call._crm_voip_mark_click_to_call_failed(reason)
        if was_ringing and call.user_id:
            call.user_id._bus_send(
                "simple_notification",
                {
                    "type": "warning",
                    "title": self.env._("Call not placed"),
                    "message": reason,
                    "sticky": True,
                },
            )
        return call.with_env(self.env)

    @api.model
    def _crm_voip_adopt_click_to_call(self, provider, event):
        """The PBX reports the call Odoo asked for under its own id: take it over. A PBX
        that echoes Odoo's id (``origin_ref``) names it; for the others the call is the
        latest one still ringing from that extension to that number."""
        if event.origin_ref:
            if not event.origin_ref.startswith(CLICK_TO_CALL_ID_PREFIX):
                return None
            return self._crm_voip_take_over(
                provider, event, SQL("provider_call_id = %s", event.origin_ref)
            )
        if event.kind not in (EV.OUTGOING_STARTED, EV.ENDED, EV.MISSED, EV.ANSWERED):
            return None
        number = providers.numbers.normalize(event.to_number, provider._crm_voip_region())
        if not number or not event.extension:
            return None
        candidate = SQL(
            """
            provider_call_id LIKE %(c2c_pattern)s AND state = %(ringing)s
            AND extension = %(extension)s AND partner_number_e164 = %(number)s
            AND create_date > (now() at time zone 'UTC') - interval '10 minutes'
            """,
            c2c_pattern=f"{CLICK_TO_CALL_ID_PREFIX}%",
            ringing=states.RINGING,
            extension=event.extension,
            number=number,
        )
        return self._crm_voip_take_over(provider, event, candidate)

    @api.model
    def _crm_voip_take_over(self, provider, event, candidate):
        """Give the PBX's call id to the latest click-to-call of ``provider`` matching the
        SQL condition ``candidate``, unless a call already has that id; the call or None."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_voip_call SET provider_call_id = %(pbx_id)s
                 WHERE id = (
                    SELECT id FROM crm_voip_call
                     WHERE provider_id = %(provider)s AND origin IN %(origins)s
                       AND %(candidate)s
                       AND NOT EXISTS (
                            SELECT 1 FROM crm_voip_call known
                             WHERE known.provider_id = %(provider)s
                               AND known.provider_call_id = %(pbx_id)s)
                     ORDER BY id DESC LIMIT 1
                     FOR UPDATE SKIP LOCKED)
                RETURNING id
                """,
                pbx_id=event.provider_call_id,
                provider=provider.id,
                origins=self._crm_voip_click_to_call_origins(),
                candidate=candidate,
            )
        )
        row = self.env.cr.fetchone()
        if row:
            self.invalidate_model(["provider_call_id"])
            return self.browse(row[0])
        return None
