from odoo import api, fields, models
from odoo.tools import SQL

from ..routing import engine

LOG_KINDS = [
    (engine.KIND_RULE, "Rule"),
    (engine.KIND_STEP, "Step"),
    (engine.KIND_DECISION, "Decision"),
]
LOG_REASONS = [
    # rules
    (engine.MATCHED, "Rule applies"),
    (engine.OTHER_LINE, "Another line was dialled"),
    (engine.CALLER_IS_KNOWN, "The caller is known"),
    (engine.CALLER_IS_UNKNOWN, "The caller is unknown"),
    (engine.NO_TAG, "The contact has none of the tags"),
    (engine.OTHER_COUNTRY, "Number of another country"),
    (engine.OTHER_PREFIX, "Number outside the area codes"),
    (engine.OUTSIDE_WINDOW, "Outside the rule's hours"),
    (engine.INSIDE_WINDOW, "Within the rule's hours"),
    (engine.BLACKLISTED, "The number is blocked"),
    (engine.NOT_BLACKLISTED, "The number is not blocked"),
    (engine.NO_RULE, "No rule applies: the PBX's own route"),
    ("rules_skipped", "Rules that did not apply"),
    # steps
    (engine.ROUTED, "Rings first"),
    (engine.FALLBACK, "Rings next if unanswered"),
    (engine.NO_RESPONSIBLE, "The client has no salesperson"),
    (engine.NO_USERS, "No user set on the step"),
    (engine.NO_TEAM, "No sales team for the step"),
    (engine.NO_MEMBERS, "The team has no members"),
    (engine.DND, "Do not disturb"),
    (engine.ON_CALL, "Already on a call"),
    (engine.ON_LEAVE, "On time off"),
    (engine.OFF_HOURS, "Outside his working hours"),
    (engine.NO_EXTENSION, "No extension on this PBX"),
    (engine.NO_MOBILE, "No mobile number"),
    (engine.ALREADY_TRIED, "Already rung by an earlier step"),
    (engine.NOBODY_AVAILABLE, "Nobody available at this step"),
    (engine.NOT_REACHED, "Not reached: the chain ends before"),
    (engine.PBX_DEFAULT, "The PBX's own route"),
    # decisions
    (engine.REDIRECT, "Redirect"),
    (engine.REJECT, "Reject"),
    (engine.DEFAULT, "The PBX's own route"),
    (engine.NO_ATTEMPT, "Nobody to ring: the PBX's own route"),
    ("error", "Routing failed: the PBX's own route"),
    ("timeout", "Routing too slow: the PBX's own route"),
    ("undelivered", "The PBX did not take the routing: its own route"),
]


class CrmVoipRoutingLog(models.Model):
    """Why a call went where it went: the rule that applied, who was tried in which order
    and why each skipped step or person was skipped.

    A read-only view over ``crm.voip.call.crm_voip_routing_trace``: the routing writes its
    reasons with the call, in the same statement, and this model reads them as lines that
    can be listed, filtered and grouped ("how often was Anna skipped for time off?").
    """

    _name = "crm.voip.routing.log"
    _description = "Call routing log line"
    _auto = False
    _order = "call_id, sequence"

    call_id = fields.Many2one("crm.voip.call", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date = fields.Datetime(string="Call started", readonly=True)
    sequence = fields.Integer(readonly=True)
    kind = fields.Selection(LOG_KINDS, readonly=True)
    reason = fields.Selection(LOG_REASONS, string="Outcome", readonly=True)
    route_id = fields.Many2one("crm.voip.route", string="Rule", readonly=True)
    step_id = fields.Many2one("crm.voip.route.step", string="Step", readonly=True)
    user_id = fields.Many2one("res.users", string="Person", readonly=True)
    targets = fields.Char(string="Rings", readonly=True)
    timeout = fields.Integer(string="Ring time (s)", readonly=True)
    detail = fields.Char(readonly=True)

    @property
    def _table_query(self):
        # Ids of rules, steps and people that were deleted since read as empty.
        return SQL(
            """
            SELECT c.id::bigint * 1000 + e.position AS id,
                   c.id AS call_id,
                   c.company_id AS company_id,
                   c.date_start AS date,
                   e.position::int AS sequence,
                   e.item->>'kind' AS kind,
                   e.item->>'reason' AS reason,
                   r.id AS route_id,
                   s.id AS step_id,
                   u.id AS user_id,
                   array_to_string(ARRAY(SELECT jsonb_array_elements_text(
                       COALESCE(e.item->'targets', '[]'::jsonb))), ', ') AS targets,
                   (e.item->>'timeout')::int AS timeout,
                   e.item->>'detail' AS detail
              FROM crm_voip_call c
             CROSS JOIN LATERAL jsonb_array_elements(c.crm_voip_routing_trace)
                   WITH ORDINALITY AS e(item, position)
              LEFT JOIN crm_voip_route r ON r.id = (e.item->>'rule_id')::int
              LEFT JOIN crm_voip_route_step s ON s.id = (e.item->>'step_id')::int
              LEFT JOIN res_users u ON u.id = (e.item->>'user_id')::int
             WHERE jsonb_typeof(c.crm_voip_routing_trace) = 'array'
            """
        )

    @api.depends("kind", "reason", "user_id", "step_id")
    def _compute_display_name(self):
        reasons = dict(self._fields["reason"]._description_selection(self.env))
        for line in self:
            parts = [line.step_id.display_name or "", line.user_id.name or "", reasons[line.reason]]
            line.display_name = " · ".join(part for part in parts if part)
