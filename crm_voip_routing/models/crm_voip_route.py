from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from ..routing import engine


class CrmVoipRoute(models.Model):
    """A routing rule: when a call matches its conditions, its steps say who rings."""

    _name = "crm.voip.route"
    _description = "Call routing rule"
    _order = "sequence, id"
    _check_company_auto = True

    # Description
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10, help="Rules are tried in this order; the first wins.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )

    # Conditions
    line_ids = fields.Many2many(
        "crm.voip.line",
        string="Dialled lines",
        check_company=True,
        help="Only calls to these company numbers. Empty: any line.",
    )
    caller_type = fields.Selection(
        [
            (engine.CALLER_ANY, "Any caller"),
            (engine.CALLER_KNOWN, "Known contacts and leads"),
            (engine.CALLER_UNKNOWN, "Unknown numbers"),
        ],
        string="Caller",
        default=engine.CALLER_ANY,
        required=True,
        help="Known: the number belongs to a contact or lead that existed before the call.",
    )
    category_ids = fields.Many2many(
        "res.partner.category",
        string="Contact tags",
        help="Only contacts (or contacts of companies) with at least one of these tags.",
    )
    country_ids = fields.Many2many(
        "res.country", string="Caller countries", help="The country of the calling number."
    )
    number_prefixes = fields.Char(
        string="Number prefixes",
        help="Area codes as E.164 prefixes, comma-separated, e.g. +7495, +7499 for Moscow.",
    )
    time_mode = fields.Selection(
        [
            (engine.TIME_ANY, "Any time"),
            (engine.TIME_INSIDE, "Within the hours"),
            (engine.TIME_OUTSIDE, "Outside the hours"),
        ],
        string="When",
        default=engine.TIME_ANY,
        required=True,
    )
    calendar_id = fields.Many2one(
        "resource.calendar",
        string="Hours",
        check_company=True,
        help="Working hours in the calendar's timezone; its public holidays count as outside.",
    )
    blacklist_mode = fields.Selection(
        [
            (engine.BLACKLIST_ANY, "Any number"),
            (engine.BLACKLIST_ONLY, "Blocked numbers only"),
            (engine.BLACKLIST_EXCLUDE, "Numbers not blocked"),
        ],
        string="Blocked numbers",
        default=engine.BLACKLIST_ANY,
        required=True,
        help="Blocked numbers are Odoo's phone blacklist (the one SMS uses too).",
    )

    # Chain
    step_ids = fields.One2many("crm.voip.route.step", "route_id", string="Steps", copy=True)
    team_id = fields.Many2one(
        "crm.team",
        string="Sales team",
        check_company=True,
        help="For team steps without a team and as leader of missed calls. Empty: the team of "
        "the dialled line, then the client's team.",
    )
    missed_user_id = fields.Many2one(
        "res.users",
        string="Missed calls go to",
        help="Who calls back a missed call of this rule when the caller has no salesperson of "
        "his own. Empty: the team leader.",
    )
    summary = fields.Char(compute="_compute_summary", string="Conditions")
    chain = fields.Char(compute="_compute_chain", string="Chain")

    @api.depends(
        "line_ids",
        "caller_type",
        "category_ids",
        "country_ids",
        "number_prefixes",
        "time_mode",
        "calendar_id",
        "blacklist_mode",
    )
    def _compute_summary(self):
        selection = {
            name: dict(self._fields[name]._description_selection(self.env))
            for name in ("caller_type", "time_mode", "blacklist_mode")
        }
        for route in self:
            parts = []
            if route.blacklist_mode != engine.BLACKLIST_ANY:
                parts.append(selection["blacklist_mode"][route.blacklist_mode])
            if route.caller_type != engine.CALLER_ANY:
                parts.append(selection["caller_type"][route.caller_type])
            if route.line_ids:
                parts.append(", ".join(route.line_ids.mapped("name")))
            if route.category_ids:
                parts.append(", ".join(route.category_ids.mapped("name")))
            if route.country_ids:
                parts.append(", ".join(route.country_ids.mapped("code")))
            if route.number_prefixes:
                parts.append(route.number_prefixes)
            if route.time_mode != engine.TIME_ANY and route.calendar_id:
                parts.append(
                    f"{selection['time_mode'][route.time_mode]} ({route.calendar_id.name})"
                )
            route.summary = " · ".join(parts) or self.env._("Every call")

    @api.depends("step_ids.action", "step_ids.timeout", "step_ids.sequence")
    def _compute_chain(self):
        for route in self:
            route.chain = " → ".join(route.step_ids.mapped("display_name"))

    @api.constrains("time_mode", "calendar_id")
    def _check_calendar(self):
        for route in self:
            if route.time_mode != engine.TIME_ANY and not route.calendar_id:
                raise ValidationError(
                    self.env._("Rule %(rule)s: choose the hours it depends on.", rule=route.name)
                )

    # ------------------------------------------------------------------
    # Business
    # ------------------------------------------------------------------

    def _crm_voip_engine_rule(self):
        """The rule as the routing engine reads it."""
        self.ensure_one()
        return engine.Rule(
            id=self.id,
            name=self.name or "",
            line_ids=frozenset(self.line_ids.ids),
            caller=self.caller_type,
            category_ids=frozenset(self.category_ids.ids),
            countries=frozenset(code for code in self.country_ids.mapped("code") if code),
            prefixes=engine.parse_prefixes(self.number_prefixes),
            calendar_id=self.calendar_id.id,
            time_mode=self.time_mode,
            blacklist=self.blacklist_mode,
            steps=tuple(step._crm_voip_engine_step() for step in self.step_ids),
            team_id=self.team_id.id,
        )

    @api.model
    @tools.ormcache("company_id", "fingerprint")
    def _crm_voip_compiled_rules(self, company_id, fingerprint):
        """The company's active rules in order, as the engine reads them (immutable).

        Cached under ``fingerprint`` (see ``CallRouter.rules_fingerprint``), which the
        router reads at every call: an edited rule makes a new key, nothing to clear.
        """
        routes = (
            self.sudo().with_context(active_test=True).search([("company_id", "=", company_id)])
        )
        return tuple(route._crm_voip_engine_rule() for route in routes)

    def action_open_routing_test(self):
        return self.env["crm.voip.routing.test"].action_open()
