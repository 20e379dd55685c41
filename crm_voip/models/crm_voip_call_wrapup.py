"""Wrap-up: what the salesperson says of a call, and the follow-ups he asks for."""

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import AccessError


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    # ------------------------------------------------------------------
    # Wrap-up
    # ------------------------------------------------------------------

    def crm_voip_wrapup(self, values):
        """Save what the salesperson says of the call, and do the follow-ups he asked.

        ``values``: outcome_id, note, next_call_date, next_call_summary,
        create_opportunity, opportunity_name, task_summary, task_date.
        """
        self.ensure_one()
        self._crm_voip_check_own_call()
        call = self.sudo()
        note = (values.get("note") or "").strip()
        # Through the user's rights: an outcome he may not read is refused.
        outcome = self.env["crm.voip.call.outcome"].browse(values.get("outcome_id") or []).exists()
        outcome.check_access("read")
        write = {"wrapup_done": True}
        if outcome:
            write["outcome_id"] = outcome.id
        if note:
            write["note"] = Markup("<p>%s</p>") % note
        call.write(write)
        target = self.lead_id or self.partner_id
        if values.get("create_opportunity") and not (
            self.lead_id and self.lead_id.type == "opportunity"
        ):
            target = self._crm_voip_create_opportunity(values.get("opportunity_name"))
        if note or outcome:
            # What the salesperson says first: the popup's history shows its beginning.
            body = Markup("<p>📞 %s</p>") % " · ".join(
                part for part in (outcome.name, note, self._crm_voip_summary_text()) if part
            )
            for record in (self.partner_id, self.lead_id):
                if record:
                    record.message_post(
                        body=body, message_type="comment", subtype_xmlid="mail.mt_note"
                    )
        if values.get("next_call_date") and target:
            target.activity_schedule(
                "mail.mail_activity_data_call",
                date_deadline=fields.Date.to_date(values["next_call_date"]),
                summary=values.get("next_call_summary") or self.env._("Call back"),
                user_id=self.env.user.id,
            )
        if values.get("task_summary") and target:
            target.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=fields.Date.to_date(values.get("task_date"))
                or fields.Date.context_today(self),
                summary=values["task_summary"],
                user_id=self.env.user.id,
            )
        self.env.user._bus_send("crm_voip/wrapup_done", {"call_id": self.id})
        return {"lead_id": self.lead_id.id, "partner_id": self.partner_id.id}

    def crm_voip_create_contact(self, name=False, with_opportunity=False):
        """Unknown caller: a contact (and an opportunity) from the number in one step."""
        self.ensure_one()
        self._crm_voip_check_own_call()
        if not self.partner_id:
            partner = self.env["res.partner"].create(
                {
                    "name": name or self._crm_voip_format_number(self.partner_number_e164),
                    "phone": self.partner_number_e164 or self.partner_number,
                    "company_id": False,
                }
            )
            self.sudo().write({"partner_id": partner.id, "partner_created": True})
            if self.lead_id and not self.lead_id.partner_id:
                self.lead_id.partner_id = partner
        if with_opportunity:
            self._crm_voip_create_opportunity()
        return {"partner_id": self.partner_id.id, "lead_id": self.lead_id.id}

    def crm_voip_add_note(self, note):
        self.ensure_one()
        self._crm_voip_check_own_call(allow_rang=True)
        note = (note or "").strip()
        if not note:
            return False
        body = Markup("<p>%s</p>") % note
        self.sudo().write({"note": (self.note or Markup()) + body})
        for record in (self.partner_id, self.lead_id):
            if record:
                record.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_note")
        return True

    def _crm_voip_create_opportunity(self, name=False):
        self.ensure_one()
        if self.lead_id and self.lead_id.type == "opportunity":
            return self.lead_id
        if self.lead_id:
            # A lead created from the call becomes the opportunity.
            self.lead_id.convert_opportunity(self.partner_id)
            return self.lead_id
        who = self.partner_id.commercial_partner_id.name or self._crm_voip_format_number(
            self.partner_number_e164
        )
        lead = self.env["crm.lead"].create(
            {
                "name": name or self.env._("Opportunity from the call with %(who)s", who=who),
                "type": "opportunity",
                "partner_id": self.partner_id.id,
                "phone": self.partner_number_e164 if not self.partner_id else False,
                "user_id": self.env.user.id,
                "team_id": self.team_id.id or self.env.user.sale_team_id.id,
                "company_id": self.company_id.id,
                "source_id": self.source_id.id,
            }
        )
        self.sudo().write({"lead_id": lead.id, "lead_created": True})
        return lead

    def _crm_voip_check_own_call(self, allow_rang=False):
        """Wrap-up actions are the call's salesperson's (or a manager's)."""
        user = self.env.user
        if self.env.su:
            return
        # The record rules first: a manager wraps up the calls of his companies only.
        self.check_access("read")
        if user.has_group("crm_voip.crm_voip_group_manager"):
            return
        if self.user_id == user or (allow_rang and user in self.rang_user_ids):
            return
        raise AccessError(self.env._("Only the salesperson who had this call can wrap it up."))
