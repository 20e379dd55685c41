from markupsafe import Markup, escape

from odoo import api, fields, models

from odoo.addons.crm_voip import providers

from ..models.crm_voip_call import RESPONSIBLE_SOURCES
from ..routing import engine
from ..tools.router import CallRouter


class CrmVoipRoutingTest(models.TransientModel):
    """ "Test a number": the decision the PBX would get for a number at a moment, and
    every reason behind it, without any call."""

    _name = "crm.voip.routing.test"
    _description = "Test the routing of a number"

    provider_id = fields.Many2one(
        "crm.voip.provider",
        string="PBX account",
        required=True,
        default=lambda self: self.env["crm.voip.provider"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        ),
    )
    company_id = fields.Many2one(related="provider_id.company_id")
    number = fields.Char(help="Any format: 8 (495) 123-45-67, +7 495 1234567, 74951234567.")
    line_id = fields.Many2one(
        "crm.voip.line",
        string="Dialled line",
        domain="[('provider_id', '=', provider_id)]",
    )
    moment = fields.Datetime(string="At", required=True, default=fields.Datetime.now)

    number_e164 = fields.Char(string="Number (E.164)", compute="_compute_result")
    partner_id = fields.Many2one("res.partner", string="Contact", compute="_compute_result")
    lead_id = fields.Many2one("crm.lead", string="Lead/Opportunity", compute="_compute_result")
    known = fields.Boolean(string="Known caller", compute="_compute_result")
    blacklisted = fields.Boolean(string="Blocked number", compute="_compute_result")
    route_id = fields.Many2one("crm.voip.route", string="Rule", compute="_compute_result")
    responsible_user_id = fields.Many2one(
        "res.users", string="Client's manager", compute="_compute_result"
    )
    responsible_source = fields.Selection(
        RESPONSIBLE_SOURCES, string="Found as", compute="_compute_result"
    )
    action = fields.Selection(
        [
            (engine.REDIRECT, "Redirect"),
            (engine.REJECT, "Reject"),
            (engine.DEFAULT, "PBX's own route"),
        ],
        string="Decision",
        compute="_compute_result",
    )
    targets = fields.Char(string="Rings", compute="_compute_result")
    timeout = fields.Integer(string="For (s)", compute="_compute_result")
    forward_number = fields.Char(string="Forwarded to", compute="_compute_result")
    pbx_reply = fields.Text(string="PBX reply", compute="_compute_result")
    result_html = fields.Html(string="Why", compute="_compute_result", sanitize=False)

    @api.depends("provider_id", "number", "line_id", "moment")
    def _compute_result(self):
        for wizard in self:
            wizard._crm_voip_compute_result()

    def _crm_voip_compute_result(self):
        self.ensure_one()
        empty = {
            "number_e164": False,
            "partner_id": False,
            "lead_id": False,
            "known": False,
            "blacklisted": False,
            "route_id": False,
            "responsible_user_id": False,
            "responsible_source": False,
            "action": False,
            "targets": False,
            "timeout": 0,
            "forward_number": False,
            "pbx_reply": False,
            "result_html": False,
        }
        provider = self.provider_id
        if not provider or not self.number:
            self.update(empty)
            return
        number_e164 = providers.numbers.normalize(self.number, provider._crm_voip_region())
        if not number_e164:
            empty["result_html"] = Markup("<p class='text-danger'>%s</p>") % self.env._(
                "This is not a phone number."
            )
            self.update(empty)
            return
        Call = self.env["crm.voip.call"]
        partner, lead = Call.sudo()._crm_voip_identify(number_e164, provider.company_id)
        result = CallRouter(self.env).route(
            provider,
            number_e164,
            line=self.line_id,
            partner=partner,
            lead=lead,
            team=self.line_id.team_id,
            when=self.moment or fields.Datetime.now(),
        )
        decision = result.decision
        caller_name = (partner.sudo().commercial_company_name or partner.sudo().name or "")[:64]
        reply = provider._get_crm_voip_adapter().routing_reply(
            Call._crm_voip_pbx_decision(decision, caller_name)
        )
        self.update(
            {
                "number_e164": number_e164,
                "partner_id": partner.id,
                "lead_id": lead.id,
                "known": result.caller.known,
                "blacklisted": result.caller.blacklisted,
                "route_id": result.route.id,
                "responsible_user_id": result.responsible.id,
                "responsible_source": result.responsible_source or False,
                "action": decision.action,
                "targets": ", ".join(decision.targets),
                "timeout": decision.timeout or 0,
                "forward_number": decision.forward_number,
                "pbx_reply": reply.body.decode() if reply.body else "",
                "result_html": self._crm_voip_trace_html(result),
            }
        )

    def _crm_voip_trace_html(self, result):
        """The full trace (every rule examined, every step) as a table."""
        Log = self.env["crm.voip.routing.log"]
        kinds = dict(Log._fields["kind"]._description_selection(self.env))
        reasons = dict(Log._fields["reason"]._description_selection(self.env))
        lines = self.env["crm.voip.call"]._crm_voip_routing_trace(result)
        routes = self.env["crm.voip.route"].sudo()
        steps = self.env["crm.voip.route.step"].sudo()
        users = self.env["res.users"].sudo()
        headers = [
            self.env._("What"),
            self.env._("Rule"),
            self.env._("Step"),
            self.env._("Person"),
            self.env._("Rings"),
            self.env._("Outcome"),
        ]
        rows = []
        for line in lines:
            timeout = line.get("timeout")
            targets = ", ".join(line.get("targets", []))
            cells = [
                kinds.get(line["kind"], line["kind"]),
                routes.browse(line["rule_id"]).name if line.get("rule_id") else "",
                steps.browse(line["step_id"]).display_name if line.get("step_id") else "",
                users.browse(line["user_id"]).name if line.get("user_id") else "",
                f"{targets} ({timeout} s)" if targets and timeout else targets,
                reasons.get(line["reason"], line["reason"]),
            ]
            css = ""
            if line["reason"] in (engine.MATCHED, engine.ROUTED):
                css = " class='table-success'"
            rows.append(
                Markup("<tr%s>%s</tr>")
                % (Markup(css), Markup("").join(Markup("<td>%s</td>") % c for c in cells))
            )
        head = Markup("").join(Markup("<th>%s</th>") % escape(h) for h in headers)
        return Markup(
            "<table class='table table-sm o_crm_voip_routing_trace'><thead><tr>%s</tr></thead>"
            "<tbody>%s</tbody></table>"
        ) % (head, Markup("").join(rows))

    @api.model
    def action_open(self, provider=None, number=None, line=None, moment=None):
        context = {}
        if provider:
            context["default_provider_id"] = provider.id
        if number:
            context["default_number"] = number
        if line:
            context["default_line_id"] = line.id
        if moment:
            context["default_moment"] = fields.Datetime.to_string(moment)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Test a number"),
            "res_model": "crm.voip.routing.test",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": context,
        }
