from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..routing import engine

STEP_ACTIONS = [
    (engine.RESPONSIBLE, "Client's salesperson"),
    (engine.RESPONSIBLE_MOBILE, "Client's salesperson, on his mobile"),
    (engine.TEAM, "Sales team in turn"),
    (engine.USERS, "A specific user"),
    (engine.USERS_ALL, "These users, all at once"),
    (engine.VOICEMAIL, "Message or voicemail"),
    (engine.REJECT, "Reject the call"),
]


class CrmVoipRouteStep(models.Model):
    """One link of a rule's chain: whom to ring and for how long before the next link."""

    _name = "crm.voip.route.step"
    _description = "Call routing step"
    _order = "route_id, sequence, id"
    _check_company_auto = True

    route_id = fields.Many2one("crm.voip.route", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="route_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    action = fields.Selection(STEP_ACTIONS, required=True, default=engine.RESPONSIBLE)
    timeout = fields.Integer(
        string="Ring time (s)",
        default=20,
        help="How long to ring before the next step (the PBX's own fallback for the last).",
    )
    user_id = fields.Many2one(
        "res.users",
        string="User",
        check_company=True,
        help="Several users one after the other: one step each, each with its ring time.",
    )
    user_ids = fields.Many2many(
        "res.users",
        "crm_voip_route_step_res_users_rel",
        "step_id",
        "user_id",
        string="Users",
        check_company=True,
    )
    team_id = fields.Many2one(
        "crm.team",
        string="Sales team",
        check_company=True,
        help="Empty: the rule's team, else the dialled line's, else the client's.",
    )
    pbx_target = fields.Char(
        string="PBX target",
        help="What the PBX plays: for Zadarma a scenario (0-1), a voice menu (0-main) or the "
        "voicemail's extension; for the generic webhook whatever your dialplan understands. "
        "Empty: the PBX's own default route.",
    )
    ignore_hours = fields.Boolean(
        string="Also outside working hours",
        help="Ring even outside the person's working hours (e.g. his mobile in the evening).",
    )

    @api.depends("action", "timeout", "user_id", "user_ids", "team_id", "pbx_target")
    def _compute_display_name(self):
        labels = dict(self._fields["action"]._description_selection(self.env))
        for step in self:
            label = labels.get(step.action, "")
            if step.action == engine.USERS and step.user_id:
                label = f"{label}: {step.user_id.name}"
            elif step.action == engine.USERS_ALL and step.user_ids:
                label = f"{label}: {', '.join(step.user_ids.mapped('name'))}"
            elif step.action == engine.TEAM and step.team_id:
                label = f"{label}: {step.team_id.name}"
            elif step.action == engine.VOICEMAIL and step.pbx_target:
                label = f"{label}: {step.pbx_target}"
            if step.action not in engine.TERMINAL_ACTIONS and step.timeout:
                label = self.env._("%(step)s (%(seconds)s s)", step=label, seconds=step.timeout)
            step.display_name = label

    @api.constrains("action", "user_id", "user_ids", "timeout")
    def _check_step(self):
        for step in self:
            if step.timeout < 0:
                raise ValidationError(self.env._("A ring time cannot be negative."))
            if (step.action == engine.USERS and not step.user_id) or (
                step.action == engine.USERS_ALL and not step.user_ids
            ):
                raise ValidationError(
                    self.env._(
                        "Rule %(rule)s: choose the users of step %(step)s.",
                        rule=step.route_id.name,
                        step=step.display_name,
                    )
                )

    def _crm_voip_engine_step(self):
        self.ensure_one()
        return engine.Step(
            id=self.id,
            action=self.action,
            timeout=self.timeout,
            user_ids=(
                tuple(self.user_id.ids) if self.action == engine.USERS else tuple(self.user_ids.ids)
            ),
            team_id=self.team_id.id,
            pbx_target=self.pbx_target or "",
            ignore_hours=self.ignore_hours,
        )
