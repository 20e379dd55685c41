"""Click-to-call: a call placed from Odoo, in three steps around the PBX request."""

import uuid

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from .. import providers

EV = providers.events


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

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
        values = {
            "provider_id": provider.id,
            "company_id": provider.company_id.id,
            "provider_call_id": f"c2c-{uuid.uuid4().hex}",
            "direction": "outbound",
            "state": "ringing",
            "origin": "click_to_call",
            "user_id": self.env.user.id,
            "team_id": self.env.user.sale_team_id.id,
            "extension": extension.extension,
            "to_number": number,
            "to_e164": number_e164,
            "partner_number": number,
            "partner_number_e164": number_e164,
            "dialled_number": dialled,
            "date_start": fields.Datetime.now(),
        }
        values.update(self._crm_voip_links_from_record(res_model, res_id))
        # A salesperson may not create call records by hand; this one is his own call.
        call = self.sudo().create(values).sudo(False)
        if not call.partner_id and not call.lead_id:
            partner, lead = self._crm_voip_identify(number_e164, provider.company_id)
            call.sudo().write({"partner_id": partner.id, "lead_id": lead.id})
        return call._crm_voip_state_payload()

    @api.model
    def _crm_voip_links_from_record(self, res_model, res_id):
        if not res_model or not res_id:
            return {}
        if res_model == "crm.lead":
            lead = self.env["crm.lead"].browse(int(res_id)).exists()
            return {"lead_id": lead.id, "partner_id": lead.partner_id.id} if lead else {}
        if res_model == "res.partner":
            partner = self.env["res.partner"].browse(int(res_id)).exists()
            return {"partner_id": partner.id} if partner else {}
        record = self.env[res_model].browse(int(res_id)).exists() if res_model in self.env else None
        partner = record and "partner_id" in record._fields and record.partner_id
        return {"partner_id": partner.id} if partner else {}

    def _crm_voip_originate(self):
        """Ask the PBX for the two-leg call. Runs in a read-only request: no write here."""
        self.ensure_one()
        adapter = self.provider_id._get_crm_voip_adapter()
        try:
            adapter.originate(self.extension, self.dialled_number, None)
        except providers.errors.AuthError:
            return self.env._("The PBX refused our credentials; ask your administrator.")
        except providers.errors.RateLimitError:
            return self.env._("The PBX is busy with too many requests; try again in a minute.")
        except providers.errors.ProviderError as error:
            return self.env._("The PBX could not place the call: %(error)s", error=error)
        finally:
            adapter.close()
        return False

    def crm_voip_originate_failed(self, reason):
        """Third step, when the PBX refused: the call is logged as failed, with why."""
        self.ensure_one()
        if self.origin != "click_to_call" or self.user_id != self.env.user:
            raise AccessError(self.env._("This is not your call."))
        if self.state == "ringing":
            self.sudo().write(
                {
                    "state": "failed",
                    "disposition": "failed",
                    "date_end": fields.Datetime.now(),
                    "note": Markup("<p>%s</p>") % reason,
                    "wrapup_done": True,
                }
            )
        return self._crm_voip_state_payload()

    @api.model
    def _crm_voip_adopt_click_to_call(self, provider, event):
        """The PBX reports the call Odoo asked for under its own id: take it over."""
        if event.kind not in (EV.OUTGOING_STARTED, EV.ENDED, EV.MISSED, EV.ANSWERED):
            return None
        number = providers.numbers.normalize(event.to_number, provider._crm_voip_region())
        if not number or not event.extension:
            return None
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_voip_call SET provider_call_id = %(pbx_id)s
                 WHERE id = (
                    SELECT id FROM crm_voip_call
                     WHERE provider_id = %(provider)s AND origin = 'click_to_call'
                       AND provider_call_id LIKE %(c2c_pattern)s AND state = 'ringing'
                       AND extension = %(extension)s AND partner_number_e164 = %(number)s
                       AND create_date > (now() at time zone 'UTC') - interval '10 minutes'
                       AND NOT EXISTS (
                            SELECT 1 FROM crm_voip_call known
                             WHERE known.provider_id = %(provider)s
                               AND known.provider_call_id = %(pbx_id)s)
                     ORDER BY id DESC LIMIT 1
                     FOR UPDATE SKIP LOCKED)
                RETURNING id
                """,
                pbx_id=event.provider_call_id,
                c2c_pattern="c2c-%",
                provider=provider.id,
                extension=event.extension,
                number=number,
            )
        )
        row = self.env.cr.fetchone()
        if row:
            self.invalidate_model(["provider_call_id"])
            return self.browse(row[0])
        return None
