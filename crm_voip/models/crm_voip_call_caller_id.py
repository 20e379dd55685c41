"""Caller identification: which contact and lead a call's number belongs to."""

from odoo import api, models
from odoo.tools import SQL


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    # ------------------------------------------------------------------
    # Caller identification
    # ------------------------------------------------------------------

    def _crm_voip_link_crm_records(self, apply_policy=True):
        self.ensure_one()
        # The PBX's view: every record of the call's company, as the webhook user sees.
        partner, lead = self.sudo()._crm_voip_identify(self.partner_number_e164, self.company_id)
        partner, lead = partner.sudo(False), lead.sudo(False)
        if not partner and not lead and apply_policy:
            partner, lead = self._crm_voip_apply_unknown_caller_policy()
        values = {}
        if partner:
            values["partner_id"] = partner.id
        if lead:
            values["lead_id"] = lead.id
        if values:
            # What the write's company check reads, rather than the whole rows.
            partner.sudo().fetch(["company_id"])
            lead.sudo().fetch(["company_id"])
            self.company_id.sudo().fetch(["parent_path"])
            self.sudo().write(values)

    @api.model
    def _crm_voip_identify(self, number_e164, company):
        """The contact and lead a number belongs to; ``(partner, lead)``, each maybe empty.

        Several may match: an open opportunity beats a closed one, a recent interaction
        beats an old one, a record with a responsible salesperson beats one without
        (``crm_voip_identify()`` in ``models/sql`` ranks them, in one round trip: this
        is on the path of every call). The search covers the active records of the
        company and shared ones, which is all the webhook user may read; any other user
        (a salesperson's click-to-call) gets only what his record rules show him.
        """
        Partner = self.env["res.partner"]
        Lead = self.env["crm.lead"]
        if not number_e164:
            return Partner, Lead
        # The function reads these columns: pending writes must be in the database.
        numbers = ["crm_voip_phone_e164", "crm_voip_mobile_e164"]
        Partner.flush_model(
            ["active", "company_id", "user_id", "parent_id", "commercial_partner_id", *numbers]
        )
        Lead.flush_model(
            ["active", "company_id", "partner_id", "stage_id", "probability", "type", "user_id"]
            + numbers
        )
        self.env["crm.stage"].flush_model(["is_won"])
        self.flush_model(["partner_id", "date_start"])
        [(partner_ids, lead_ids, lead_partner_ids)] = self.env.execute_query(
            SQL("SELECT * FROM crm_voip_identify(%s, %s)", number_e164, company.id)
        )
        partners = Partner.browse(partner_ids or ())
        leads = Lead.browse(lead_ids or ())
        if self.env.su or self.env.user.has_group("crm_voip.crm_voip_group_webhook"):
            lead = leads[:1]
            lead_partner = Partner.browse(
                lead_partner_ids[0] if lead and lead_partner_ids[0] else ()
            )
        else:
            partners = partners._filtered_access("read")
            lead = leads._filtered_access("read")[:1]
            lead_partner = lead.partner_id
        # The person whose number it is beats the company of his opportunity.
        return partners[:1] or lead_partner, lead

    def _crm_voip_apply_unknown_caller_policy(self):
        """The contact or lead the PBX account's policy creates for an unknown caller;
        ``(partner, lead)``, each maybe empty. What it creates is flagged on the call
        (``partner_created``, ``lead_created``)."""
        self.ensure_one()
        Partner = self.env["res.partner"]
        Lead = self.env["crm.lead"]
        policy = self.provider_id.unknown_caller_policy
        if policy == "nothing" or self.direction != "inbound" or not self.partner_number_e164:
            return Partner, Lead
        formatted = self._crm_voip_format_number(self.partner_number_e164)
        if policy == "contact":
            partner = Partner.create(
                {"name": formatted, "phone": self.partner_number_e164, "company_id": False}
            )
            self.sudo().partner_created = True
            return partner, Lead
        line = self.line_id
        lead = Lead.create(
            {
                "name": self.env._("Call from %(number)s", number=formatted),
                "type": "lead" if self.env.user.has_group("crm.group_use_lead") else "opportunity",
                "phone": self.partner_number_e164,
                "user_id": False,
                "team_id": (line.team_id or self.team_id).id,
                "company_id": self.company_id.id,
                "source_id": line.source_id.id,
                "medium_id": line.medium_id.id,
                "campaign_id": line.campaign_id.id,
            }
        )
        self.sudo().lead_created = True
        return Partner, lead
