import logging
import time
from collections import defaultdict

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.crm_voip import providers
from odoo.addons.crm_voip.callstate import states

from ..routing import engine
from ..tools.router import CallRouter, RoutingTimeout

_logger = logging.getLogger(__name__)

RESPONSIBLE_SOURCES = [
    (engine.SOURCE_PARTNER, "Contact's salesperson"),
    (engine.SOURCE_OPPORTUNITY, "Salesperson of his open opportunity"),
    (engine.SOURCE_LEAD, "Salesperson of his lead"),
    (engine.SOURCE_TEAM_LEADER, "Sales team leader"),
]
# Rule lines that did not apply are summed up in one log line, names up to this length.
SKIPPED_RULES_DETAIL = 250
# Entries kept per call (the log view numbers its lines call id * 1000 + position).
MAX_TRACE = 999
# Context key: the call-back deadlines as without this module (its uninstall hook).
NO_ROUTING_DEADLINES = "crm_voip_routing_no_deadlines"


class CrmVoipCall(models.Model):
    _name = "crm.voip.call"
    _inherit = ["crm.voip.call", "mail.activity.mixin"]

    crm_voip_route_id = fields.Many2one(
        "crm.voip.route", string="Routing rule", readonly=True, ondelete="set null"
    )
    crm_voip_routing_action = fields.Selection(
        [
            (engine.REDIRECT, "Redirected"),
            (engine.REJECT, "Rejected"),
            (engine.DEFAULT, "PBX's own route"),
        ],
        string="Routing",
        readonly=True,
        copy=False,
    )
    crm_voip_routed_user_id = fields.Many2one(
        "res.users",
        string="Routed to",
        readonly=True,
        help="The person the PBX was told to ring first.",
    )
    crm_voip_responsible_user_id = fields.Many2one(
        "res.users", string="Client's manager", readonly=True
    )
    crm_voip_responsible_source = fields.Selection(
        RESPONSIBLE_SOURCES, string="Manager found as", readonly=True
    )
    crm_voip_routing_reply = fields.Json(
        string="Routing decision", readonly=True, copy=False, help="What the PBX was told."
    )
    crm_voip_routing_ms = fields.Float(
        string="Routing time (ms)", readonly=True, digits=(16, 1), aggregator="avg"
    )
    crm_voip_routing_trace = fields.Json(
        string="Routing trace", readonly=True, copy=False, help="Read it as the routing log."
    )
    crm_voip_routing_log_ids = fields.One2many(
        "crm.voip.routing.log", "call_id", string="Routing log", readonly=True
    )
    crm_voip_blocked = fields.Boolean(
        string="Blocked number", readonly=True, help="Rejected: the number is blacklisted."
    )
    crm_voip_missed_call_id = fields.Many2one(
        "crm.voip.missed.call",
        string="Call-back task",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )
    crm_voip_number_blocked = fields.Boolean(
        string="Number is blocked", compute="_compute_crm_voip_number_blocked"
    )

    def init(self):
        super().init()
        # Round-robin: the last call routed to each person, one index probe per person.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_voip_call_routed_user_idx"
                " ON crm_voip_call (crm_voip_routed_user_id, id)"
                " WHERE crm_voip_routed_user_id IS NOT NULL"
            )
        )
        # Presence: the few live calls, by start time.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_voip_call_live_idx"
                " ON crm_voip_call (date_start) WHERE state IN %s",
                states.LIVE,
            )
        )

    @api.depends("partner_number_e164")
    def _compute_crm_voip_number_blocked(self):
        router = CallRouter(self.env)
        for call in self:
            call.crm_voip_number_blocked = router.is_blacklisted(call.partner_number_e164)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_crm_voip_block_number(self):
        self._crm_voip_check_blacklist_rights()
        numbers = [number for number in self.mapped("partner_number_e164") if number]
        if not numbers:
            raise UserError(self.env._("This call has no number to block."))
        message = self.env._("Blocked from the call log by %(user)s", user=self.env.user.name)
        # The blacklist is an administrators' model; telephony managers may add to it.
        self.env["phone.blacklist"].sudo()._add(numbers, message=message)
        return True

    def action_crm_voip_unblock_number(self):
        self._crm_voip_check_blacklist_rights()
        numbers = [number for number in self.mapped("partner_number_e164") if number]
        message = self.env._("Unblocked from the call log by %(user)s", user=self.env.user.name)
        self.env["phone.blacklist"].sudo()._remove(numbers, message=message)
        return True

    def action_crm_voip_open_routing_test(self):
        self.ensure_one()
        return self.env["crm.voip.routing.test"].action_open(
            provider=self.provider_id,
            number=self.partner_number_e164 or self.partner_number,
            line=self.line_id,
            moment=self.date_start,
        )

    def _crm_voip_check_blacklist_rights(self):
        if not self.env.user.has_group("crm_voip.crm_voip_group_manager"):
            raise AccessError(self.env._("Only telephony managers may block numbers."))

    # ------------------------------------------------------------------
    # Routing (hook of crm_voip's webhook, once per call start)
    # ------------------------------------------------------------------

    def _crm_voip_routing_decision(self):
        """Who answers: decided once per call, stored, logged, and never allowed to break
        the webhook. Too slow or failing, the PBX gets its own default route."""
        decision = super()._crm_voip_routing_decision()
        self.ensure_one()
        if self.direction != "inbound":
            return decision
        if self.crm_voip_routing_action:
            # The PBX repeated its call-start event: repeat the same answer.
            return self._crm_voip_pbx_decision(
                engine.Decision.from_dict(self.crm_voip_routing_reply), decision.caller_name
            )
        started = time.perf_counter()
        budget_ms = self.company_id.crm_voip_routing_budget_ms
        deadline = started + budget_ms / 1000.0 if budget_ms > 0 else None
        try:
            with self.env.cr.savepoint():
                previous = self._crm_voip_set_statement_timeout(budget_ms)
                result = CallRouter(self.env).route(
                    self.provider_id,
                    self.partner_number_e164,
                    line=self.line_id,
                    partner=self.partner_id,
                    lead=self.lead_id,
                    caller_is_new=self._crm_voip_caller_is_new(),
                    team=self.team_id,
                    when=self.date_start,
                    budget_deadline=deadline,
                    exclude_call_id=self.id,
                    flushed=True,  # by the savepoint
                )
                elapsed = (time.perf_counter() - started) * 1000
                self._crm_voip_routing_store(result, elapsed)
                if previous is not None:
                    self._crm_voip_set_statement_timeout(previous)
        except (RoutingTimeout, pg_errors.QueryCanceled):
            elapsed = (time.perf_counter() - started) * 1000
            _logger.warning(
                "crm_voip_routing: call %s routed by the PBX: deciding took over %s ms",
                self.id,
                budget_ms,
            )
            self._crm_voip_routing_store_failure("timeout", elapsed)
            return decision
        except Exception as error:  # noqa: BLE001 - the PBX must get an answer whatever happens
            elapsed = (time.perf_counter() - started) * 1000
            _logger.exception("crm_voip_routing: routing of call %s failed", self.id)
            self._crm_voip_routing_store_failure("error", elapsed, error)
            return decision
        return self._crm_voip_pbx_decision(result.decision, decision.caller_name)

    def _crm_voip_routing_undelivered(self, error):
        """The decision was sent as a command and the PBX did not take it: the log ends
        with that, the PBX's own scenario having routed the call."""
        super()._crm_voip_routing_undelivered(error)
        self.ensure_one()
        entry = {
            "kind": engine.KIND_DECISION,
            "reason": "undelivered",
            "detail": f"{type(error).__name__}: {error}"[:250],
        }
        call = self.sudo()
        call.write(
            {
                "crm_voip_routing_action": engine.DEFAULT,
                "crm_voip_routing_trace": (call.crm_voip_routing_trace or [])[: MAX_TRACE - 1]
                + [entry],
            }
        )

    def _crm_voip_caller_is_new(self):
        """Whether the call's contact or lead was created by the call itself: the number
        was unknown when it rang (``partner_created``/``lead_created``, set by crm_voip)."""
        self.ensure_one()
        return self.partner_created or self.lead_created

    def _crm_voip_set_statement_timeout(self, value):
        """Bound every query of the routing by the budget; returns the previous setting.

        ``set_config(…, true)`` is local to the transaction and undone with the savepoint
        when the routing fails, so only a successful routing restores it by hand.
        """
        if isinstance(value, int):
            if value <= 0:
                return None
            value = f"{value}ms"
        self.env.cr.execute(
            SQL(
                "SELECT current_setting('statement_timeout'),"
                " set_config('statement_timeout', %s, true)",
                value,
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _crm_voip_pbx_decision(self, decision, caller_name):
        return providers.events.RoutingDecision(
            action=decision.action,
            targets=list(decision.targets),
            timeout=decision.timeout,
            caller_name=caller_name,
            forward_number=decision.forward_number,
        )

    def _crm_voip_routing_store(self, result, elapsed_ms):
        """Keep the decision and its reasons on the call: one write, no other row (the
        routing log lines are a view over ``crm_voip_routing_trace``)."""
        self.ensure_one()
        decision = result.decision
        self.write(
            {
                "crm_voip_route_id": result.route.id,
                "crm_voip_routing_action": decision.action,
                "crm_voip_routed_user_id": decision.user_ids[0] if decision.user_ids else False,
                "crm_voip_responsible_user_id": result.responsible.id,
                "crm_voip_responsible_source": result.responsible_source or False,
                "crm_voip_routing_reply": decision.to_dict(),
                "crm_voip_routing_ms": elapsed_ms,
                "crm_voip_blocked": decision.action == engine.REJECT,
                "crm_voip_routing_trace": self._crm_voip_routing_trace(result, summarize=True),
            }
        )

    def _crm_voip_routing_store_failure(self, reason, elapsed_ms, error=None):
        self.ensure_one()
        detail = f"{type(error).__name__}: {error}" if error else ""
        try:
            with self.env.cr.savepoint():
                self.write(
                    {
                        "crm_voip_routing_action": engine.DEFAULT,
                        "crm_voip_routing_reply": engine.Decision().to_dict(),
                        "crm_voip_routing_ms": elapsed_ms,
                        "crm_voip_routing_trace": [
                            {"kind": engine.KIND_DECISION, "reason": reason, "detail": detail[:250]}
                        ],
                    }
                )
        except Exception:  # noqa: BLE001 - the log is a nicety, the answer is not
            _logger.exception("crm_voip_routing: could not log the routing failure")

    @api.model
    def _crm_voip_routing_trace(self, result, summarize=False):
        """The reasons of a routing ``result`` as a list of dicts (``kind``, ``reason``,
        ``rule_id``, ``step_id``, ``user_id``, ``targets``, ``timeout``, ``detail``): the
        rules examined (those that did not apply summed up in one entry when
        ``summarize``), the steps and the decision."""
        trace = []

        def add(entry):
            item = {"kind": entry.kind, "reason": entry.reason}
            for key, value in (
                ("rule_id", entry.rule_id),
                ("step_id", entry.step_id),
                ("user_id", entry.user_id),
                ("targets", list(entry.targets)),
                ("timeout", entry.timeout),
                ("detail", entry.detail),
            ):
                if value:
                    item[key] = value
            trace.append(item)

        skipped = [
            e
            for e in result.rule_trace
            if e.kind == engine.KIND_RULE and e.rule_id and e.reason != engine.MATCHED
        ]
        if summarize and skipped:
            reasons = dict(
                self.env["crm.voip.routing.log"]._fields["reason"]._description_selection(self.env)
            )
            rule_names = {rule.id: rule.name for rule in result.rules}
            names = "; ".join(
                f"{rule_names.get(entry.rule_id, entry.rule_id)}"
                f" ({reasons.get(entry.reason, entry.reason)})"
                for entry in skipped
            )
            if len(names) > SKIPPED_RULES_DETAIL:
                names = names[: SKIPPED_RULES_DETAIL - 1] + "…"
            add(engine.LogEntry(engine.KIND_RULE, "rules_skipped", detail=names))
        for entry in result.rule_trace:
            if entry.reason == engine.MATCHED or not summarize or entry.kind != engine.KIND_RULE:
                add(entry)
        if result.plan:
            for entry in result.plan.log:
                add(entry)
        return trace[:MAX_TRACE]

    # ------------------------------------------------------------------
    # Unknown callers
    # ------------------------------------------------------------------

    def _crm_voip_apply_unknown_caller_policy(self):
        """No lead or contact for a blocked number: it is spam, not a prospect. Records
        created for an unknown number do not make its caller "known" to the routing."""
        if (
            self.direction == "inbound"
            and self.partner_number_e164
            and CallRouter(self.env).is_blacklisted(self.partner_number_e164)
        ):
            return self.env["res.partner"], self.env["crm.lead"]
        return super()._crm_voip_apply_unknown_caller_policy()

    # ------------------------------------------------------------------
    # Hang-up: missed calls become call-back tasks, call-backs close them
    # ------------------------------------------------------------------

    def _crm_voip_on_hangup(self):
        result = super()._crm_voip_on_hangup()
        self._crm_voip_missed_call_hangup()
        return result

    def _crm_voip_missed_call_hangup(self):
        self.ensure_one()
        if not self.partner_number_e164:
            return  # a hidden number cannot be called back
        MissedCall = self.env["crm.voip.missed.call"]
        if self.state == "done":
            MissedCall._crm_voip_close_for_call(self)
            return
        if self.direction != "inbound" or self.state not in states.UNANSWERED:
            return
        if self.crm_voip_blocked or self.crm_voip_routing_action == engine.REJECT:
            pass  # spam: no task
        elif CallRouter(self.env).is_blacklisted(self.partner_number_e164):
            self.crm_voip_blocked = True
        else:
            MissedCall._crm_voip_register(self)
        # Its task's deadline (or, without a task, this module's rule) is the one the
        # reports measure the call-back against; written with the task link, one UPDATE.
        self._crm_voip_store_callback_deadline()

    def _crm_voip_callback_deadlines(self):
        """The deadline of the call's call-back task; a missed call without a task (from
        before this module, a blocked number) gets the deadline such a task would have."""
        deadlines = super()._crm_voip_callback_deadlines()
        if self.env.context.get(NO_ROUTING_DEADLINES):
            return deadlines
        # Three columns in one plain query (a whole history at install), no access check
        # (at hang-up they are already read).
        self.sudo().fetch(["company_id", "date_start", "crm_voip_missed_call_id"])
        untasked = defaultdict(list)
        for call in self:
            if call.crm_voip_missed_call_id.deadline:
                deadlines[call.id] = call.crm_voip_missed_call_id.deadline
            elif call.date_start:
                untasked[call.company_id].append(call)
        for company, calls in untasked.items():
            moments = [call.date_start for call in calls]
            for call, deadline in zip(
                calls, company.sudo()._crm_voip_missed_deadlines(moments), strict=True
            ):
                deadlines[call.id] = deadline
        return deadlines

    def _crm_voip_missed_call_owner(self):
        """Who calls back: ``(user, why)``. The client's own manager, else the rule's
        missed-call user, else the team leader, else the company's escalation user, else
        a telephony manager of the company."""
        self.ensure_one()
        Users = self.env["res.users"]
        router = CallRouter(self.env)
        responsible = self.crm_voip_responsible_user_id
        source = self.crm_voip_responsible_source
        route = self.crm_voip_route_id.sudo()
        if not source:
            responsible, source = router.responsible(
                self.partner_id, self.lead_id, route.team_id or self.team_id
            )
        if responsible and source in engine.OWNER_SOURCES and responsible.active:
            return responsible, source
        if route.missed_user_id.active:
            return route.missed_user_id, "rule"
        team = (
            route.team_id
            or self.team_id
            or router.partner_team(self.partner_id)
            or self.lead_id.team_id
        )
        if team.sudo().user_id.active:
            return team.sudo().user_id, engine.SOURCE_TEAM_LEADER
        company = self.company_id.sudo()
        if company.crm_voip_escalation_user_id.active:
            return company.crm_voip_escalation_user_id, "company"
        manager = Users.sudo().search(
            [
                ("groups_id", "in", self.env.ref("crm_voip.crm_voip_group_manager").id),
                ("company_ids", "in", company.id),
                ("share", "=", False),
            ],
            order="id",
            limit=1,
        )
        return manager, "company"
