import json
import logging
from datetime import datetime, timezone

from odoo import fields, http
from odoo.http import request

from odoo.addons.crm_voip import providers

from ..routing import engine
from ..tools.router import CallRouter

_logger = logging.getLogger(__name__)

MAX_NUMBER_LENGTH = 64
MAX_BODY_BYTES = 64 * 1024
MAX_RECORD_ID = 2**31 - 1
# How far from now ``at`` may be: a schedule is tried for a moment of these years, and
# the routing's date arithmetic stays far from Python's years 1 and 9999.
MAX_LOOKUP_YEARS = 10


class LookupError_(Exception):
    """A refused lookup: HTTP ``status`` and a short reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class CrmVoipRoutingController(http.Controller):
    """Routing lookup for a self-hosted PBX's dialplan (Asterisk, FreeSWITCH…).

    ``GET/POST /crm_voip_routing/lookup`` with ``Authorization: Bearer <API key>`` of a
    telephony user (Odoo's own API keys, Preferences → Account Security), and the
    parameters ``number`` (required, any format), ``did`` (the dialled line), ``provider``
    (PBX account id; default the company's first), ``at`` (ISO 8601 moment; default now)
    and ``company`` (id; default the key owner's company), as query string, form or JSON
    body. Answers the decision as JSON: the same ``route`` object as the generic webhook's
    reply, plus the whole chain (``steps``) for a dialplan that plays it itself.

    The decision is the one the PBX would get from the webhook (read as the superuser),
    but the answer names the client and the lead (``partner``, ``lead``, the route's
    ``caller_name``) only when the key's owner may read them in that company: give the
    dialplan the key of a user who sees the clients it must announce. Bad input answers
    400 with the reason, never 500.
    """

    @http.route(
        "/crm_voip_routing/lookup",
        type="http",
        auth="bearer",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def crm_voip_routing_lookup(self, **params):
        try:
            provider, number, line, when = self._lookup_arguments(params)
        except LookupError_ as error:
            return self._reply(error.status, {"status": "error", "error": error.reason})
        company = provider.company_id
        number_e164 = providers.numbers.normalize(number, provider._crm_voip_region())
        # The key identifies a telephony user; the routing reads what his rights may not
        # (other people's calendars, presence, the blacklist), as the webhook does.
        Call = request.env["crm.voip.call"].sudo()
        partner, lead = Call._crm_voip_identify(number_e164, company)
        result = CallRouter(request.env).route(
            provider,
            number_e164,
            line=line,
            partner=partner,
            lead=lead,
            team=line.team_id,
            when=when,
        )
        # Computed as the superuser, told only as far as the key's owner may read.
        own_env = request.env(context=dict(request.env.context, allowed_company_ids=company.ids))
        partner = partner.with_env(own_env)._filtered_access("read").sudo()
        lead = lead.with_env(own_env)._filtered_access("read").sudo()
        caller_name = (partner.commercial_company_name or partner.name or "")[:64]
        payload = self._lookup_payload(result, number_e164 or number, caller_name)
        payload["partner"] = {"id": partner.id, "name": partner.name} if partner else None
        payload["lead"] = {"id": lead.id, "name": lead.name} if lead else None
        return self._reply(200, payload)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _lookup_arguments(self, params):
        """``(provider, raw number, line, naive UTC moment)`` from the request, or
        ``LookupError_``."""
        if request.httprequest.mimetype == "application/json":
            if (request.httprequest.content_length or 0) > MAX_BODY_BYTES:
                raise LookupError_(413, "body too large")
            try:
                body = json.loads(request.httprequest.get_data() or b"{}")
            except (ValueError, RecursionError):
                raise LookupError_(400, "body is not valid JSON") from None
            if not isinstance(body, dict):
                raise LookupError_(400, "body must be a JSON object")
            params = {**params, **body}
        params = {
            name: self._text(name, params.get(name))
            for name in ("number", "did", "provider", "at", "company")
        }
        user = request.env.user
        if not user.has_group("crm_voip.crm_voip_group_user"):
            raise LookupError_(403, "not a telephony user")
        number = params["number"]
        if not number or len(number) > MAX_NUMBER_LENGTH:
            raise LookupError_(400, "number: required, at most 64 characters")
        company = user.company_id
        if params["company"]:
            company = user.company_ids.filtered(lambda c: str(c.id) == params["company"])
            if not company:
                raise LookupError_(403, "company not allowed")
        domain = [("company_id", "=", company.id)]
        if params["provider"]:
            provider_id = params["provider"]
            if not (provider_id.isascii() and provider_id.isdigit()):
                raise LookupError_(400, "provider: id expected")
            if int(provider_id) > MAX_RECORD_ID:
                raise LookupError_(404, "no PBX account")
            domain.append(("id", "=", int(provider_id)))
        provider = request.env["crm.voip.provider"].sudo().search(domain, limit=1)
        if not provider:
            raise LookupError_(404, "no PBX account")
        line = request.env["crm.voip.line"].sudo()
        did = params["did"][:MAX_NUMBER_LENGTH]
        if did:
            region = provider._crm_voip_region()
            line = provider._crm_voip_line_by_number(providers.numbers.normalize(did, region), did)
        return provider, number, line, self._lookup_moment(params["at"])

    @staticmethod
    def _text(name, value):
        """A parameter as stripped text: scalars only, nothing PostgreSQL refuses (NUL,
        lone surrogates of a JSON body)."""
        if value is None or value is False:
            return ""
        if isinstance(value, (dict, list)):
            raise LookupError_(400, f"{name}: text expected")
        text = str(value).strip()
        if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
            raise LookupError_(400, f"{name}: NUL or invalid character")
        return text

    @staticmethod
    def _lookup_moment(value):
        if not value:
            return fields.Datetime.now()
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo:
                moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise LookupError_(400, "at: ISO 8601 date and time expected") from None
        if abs(moment.year - fields.Datetime.now().year) > MAX_LOOKUP_YEARS:
            raise LookupError_(400, f"at: out of range (within {MAX_LOOKUP_YEARS} years of now)")
        return moment.replace(microsecond=0)

    @staticmethod
    def _lookup_payload(result, number, caller_name):
        decision = result.decision
        route = {"action": decision.action}
        if decision.action == engine.REDIRECT:
            route["targets"] = list(decision.targets)
            if decision.timeout is not None:
                route["timeout"] = decision.timeout
            if decision.forward_number:
                route["forward_number"] = decision.forward_number
        if caller_name:
            route["caller_name"] = caller_name
        agents = result.agents
        plan = result.plan
        return {
            "status": "ok",
            "number": number,
            "at": fields.Datetime.to_string(result.when),
            "known": result.caller.known,
            "blacklisted": result.caller.blacklisted,
            "rule": {"id": result.route.id, "name": result.route.name} if result.route else None,
            "responsible": (
                {"id": result.responsible.id, "name": result.responsible.name}
                if result.responsible
                else None
            ),
            "route": route,
            "steps": [
                {
                    "action": attempt.action,
                    "targets": list(attempt.targets),
                    "timeout": attempt.timeout,
                    "forward_number": attempt.forward_number,
                    "users": [
                        {"id": uid, "name": agents[uid].name if uid in agents else ""}
                        for uid in attempt.user_ids
                    ],
                }
                for attempt in (plan.attempts if plan else [])
            ],
        }

    @staticmethod
    def _reply(status, payload):
        return request.make_response(
            json.dumps(payload, ensure_ascii=False),
            headers=[("Content-Type", "application/json; charset=utf-8")],
            status=status,
        )
