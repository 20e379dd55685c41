from odoo import api, fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    crm_voip_dnd = fields.Boolean(
        string="Do not disturb (calls)",
        help="Incoming calls skip this user, as if he were away; set from the phone icon of "
        "the top bar.",
    )
    crm_voip_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Working hours for calls",
        compute="_compute_crm_voip_calendar_id",
        inverse="_inverse_crm_voip_calendar_id",
        help="His desk phone rings within these hours (in his timezone). Empty: the company's "
        "working hours. His time off comes from the time-off entries of this calendar.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["crm_voip_dnd"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["crm_voip_dnd"]

    @api.depends("resource_ids.calendar_id")
    def _compute_crm_voip_calendar_id(self):
        for user in self:
            user.crm_voip_calendar_id = user.sudo()._crm_voip_resource().calendar_id

    def _inverse_crm_voip_calendar_id(self):
        # Only who may write users gets here. Without the HR app nobody may create
        # resources; this one only carries the user's working hours for call routing.
        for user in self.sudo():
            resource = user._crm_voip_resource()
            if resource:
                resource.calendar_id = user.crm_voip_calendar_id
            elif user.crm_voip_calendar_id:
                self.env["resource.resource"].sudo().create(
                    {
                        "name": user.name,
                        "user_id": user.id,
                        "calendar_id": user.crm_voip_calendar_id.id,
                        "company_id": user.company_id.id,
                        "tz": user.tz or user.crm_voip_calendar_id.tz or "UTC",
                    }
                )

    def _crm_voip_resource(self, company=None):
        """The user's resource (his working hours and time off), preferably in ``company``."""
        self.ensure_one()
        resources = self.resource_ids
        company = company or self.company_id
        return resources.filtered(lambda r: r.company_id == company)[:1] or resources[:1]

    @api.model
    def crm_voip_routing_toggle_dnd(self):
        """The systray switch: flip the current user's "do not disturb"; returns the new value."""
        user = self.env.user
        user.write({"crm_voip_dnd": not user.crm_voip_dnd})  # one of his self-writeable fields
        return user.crm_voip_dnd
