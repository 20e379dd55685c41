"""One website call-back request, from the checks to the call (or the call-back task)."""

import logging
import time
import uuid
from dataclasses import dataclass, field

import phonenumbers
import pytz

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_datetime

from odoo.addons.crm_voip import providers
from odoo.addons.crm_voip.callstate import states
from odoo.addons.crm_voip.providers.validation import text_problem
from odoo.addons.crm_voip_routing.routing import engine
from odoo.addons.crm_voip_routing.tools.router import CallRouter

from .crm_voip_call import WEBSITE_CALLBACK

_logger = logging.getLogger(__name__)

# What a visitor may send, longest.
FIELD_LIMITS = {
    "number": 40,
    "name": 100,
    "url": 1000,
    "utm_source": 100,
    "utm_medium": 100,
    "utm_campaign": 100,
    "token": 200,
    "lang": 16,
    "hp": 200,
}
# The honeypot: a field people never see, so never fill; robots filling every field do.
HONEYPOT_FIELD = "hp"
# Steps that ring a person's extension: the only ones a two-leg call can start with.
RINGING_ACTIONS = (engine.RESPONSIBLE, engine.TEAM, engine.USERS, engine.USERS_ALL)
WEB_CALL_ID_PREFIX = "web-"


@dataclass
class CallbackAnswer:
    """What the visitor is answered, and the call to place once it is committed."""

    http_status: int
    status: str
    message: str
    call: object = None  # crm.voip.call to originate after the commit
    extra: dict = field(default_factory=dict)

    def body(self):
        return {"status": self.status, "message": self.message, **self.extra}


class CrmVoipCallbackSource(models.Model):
    _inherit = "crm.voip.callback.source"

    # ------------------------------------------------------------------
    # Answers (every one translatable, in the visitor's language)
    # ------------------------------------------------------------------

    def _crm_voip_answer_invalid(self, message=None):
        return CallbackAnswer(
            400, "invalid", message or self.env._("Please enter a valid phone number.")
        )

    def _crm_voip_answer_refused(self):
        # The same words whatever the reason (blocked number, rejecting rule): nothing
        # tells a caller which list his number is on.
        return CallbackAnswer(
            422,
            "refused",
            self.env._("Sorry, we cannot take this request. Please call us instead."),
        )

    def _crm_voip_answer_limited(self):
        return CallbackAnswer(
            429,
            "limited",
            self.env._(
                "You have already asked us to call you several times. "
                "Please wait a while before trying again."
            ),
        )

    def _crm_voip_answer_calling(self):
        return CallbackAnswer(
            200, "calling", self.env._("We are calling you now: please keep your phone at hand.")
        )

    def _crm_voip_answer_scheduled(self, moment):
        company = self.company_id.sudo()
        tz = company.resource_calendar_id.tz or company.partner_id.tz or "UTC"
        when = format_datetime(self.env, moment, tz=tz, dt_format="EEEE d MMMM, HH:mm")
        return CallbackAnswer(
            200,
            "scheduled",
            self.env._("We will call you back by %(time)s.", time=when),
            extra={"call_at": pytz.utc.localize(moment).isoformat()},
        )

    # ------------------------------------------------------------------
    # The request
    # ------------------------------------------------------------------

    def _crm_voip_callback_request(self, data, remote_addr):
        """Check and serve the request ``data`` (the posted JSON object) from the Internet
        address ``remote_addr``: a ``CallbackAnswer``.

        Runs as superuser on the source (the caller found it by its key and checked its
        origin and token). Refusals are answered before anything is created; the call it
        returns is logged and ringing, and is placed by the caller after the commit.
        """
        self.ensure_one()
        source = self.sudo()
        values, problem = self._crm_voip_read_request(data)
        if problem:
            return self._crm_voip_answer_invalid(problem)
        Throttle = source.env["crm.voip.callback.throttle"]
        window = source.limit_window_minutes
        if not Throttle._crm_voip_hit(source, f"a:{remote_addr}", source.address_limit, window):
            return self._crm_voip_answer_limited()
        if values[HONEYPOT_FIELD]:
            _logger.info("crm_voip_callback: honeypot filled from %s (%s)", remote_addr, self.id)
            return self._crm_voip_answer_calling()
        provider = source.provider_id
        region = provider._crm_voip_region()
        number_e164 = providers.numbers.normalize(values["number"], region)
        if not number_e164:
            return self._crm_voip_answer_invalid()
        if not source.allow_international:
            country_code = phonenumbers.country_code_for_region(region)
            if phonenumbers.parse(number_e164).country_code != country_code:
                country = provider.country_id or source.company_id.country_id
                return self._crm_voip_answer_invalid(
                    self.env._(
                        "Please enter a phone number of %(country)s.",
                        country=country.name or region,
                    )
                )
        if not Throttle._crm_voip_hit(source, f"n:{number_e164}", source.number_limit, window):
            return self._crm_voip_answer_limited()
        if CallRouter(source.env).is_blacklisted(number_e164):
            _logger.info("crm_voip_callback: blocked %s refused (%s)", number_e164, self.id)
            return self._crm_voip_answer_refused()
        # Created in the public user's name: he follows nothing.
        source = source.with_context(mail_create_nosubscribe=True)
        return source._crm_voip_serve(values, number_e164)

    def _crm_voip_read_request(self, data):
        """``(values, problem)``: the posted fields as bounded text, or why not."""
        if not isinstance(data, dict):
            return {}, self.env._("The request is not understood.")
        values = {}
        for name, limit in FIELD_LIMITS.items():
            value = data.get(name)
            if value is None:
                value = ""
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if text_problem(value):
                return {}, self.env._("The request is not understood.")
            values[name] = value.strip()[:limit]
        return values, None

    def _crm_voip_serve(self, values, number_e164):
        """The checks passed: who calls, now or later (in sudo)."""
        started = time.perf_counter()
        env = self.env
        Call = env["crm.voip.call"]
        provider = self.provider_id
        company = self.company_id
        partner, lead = Call.with_company(company)._crm_voip_identify(number_e164, company)
        caller_is_new = not partner and not lead
        team = self.team_id or self.line_id.team_id
        result = CallRouter(env).route(
            provider,
            number_e164,
            line=self.line_id,
            partner=partner,
            lead=lead,
            caller_is_new=caller_is_new,
            team=team,
        )
        if result.decision.action == engine.REJECT:
            return self._crm_voip_answer_refused()
        if not result.route:
            self._crm_voip_default_plan(result, partner, lead, team)
        user, extension = self._crm_voip_first_person(result)
        dialled = ""
        if user:
            try:
                dialled, _e164 = provider.with_user(user)._crm_voip_dial_number(number_e164)
            except UserError:
                return self._crm_voip_answer_invalid()
        utm = self._crm_voip_utm(values)
        if caller_is_new:
            lead = self._crm_voip_callback_lead(values, number_e164, utm, result.team or team)
        call_values = {
            "partner_id": partner.id,
            "lead_id": lead.id,
            "lead_created": caller_is_new,
            "line_id": self.line_id.id,
            "team_id": (result.team or team or user.sale_team_id).id,
            "crm_voip_callback_source_id": self.id,
            "crm_voip_callback_url": values["url"] or False,
            **utm,
        }
        if user:
            call_values["origin"] = WEBSITE_CALLBACK
            call = Call._crm_voip_create_click_to_call(
                provider, user, extension, number_e164, dialled, number_e164, **call_values
            )
            call._crm_voip_routing_store(result, (time.perf_counter() - started) * 1000)
            call.crm_voip_routed_user_id = user
            if lead and not lead.user_id:
                lead.user_id = user
            answer = self._crm_voip_answer_calling()
            answer.call = call
            return answer
        call = self._crm_voip_request_logged(number_e164, result, call_values, started)
        return self._crm_voip_schedule(call)

    def _crm_voip_default_plan(self, result, partner, lead, team):
        """No routing rule applies: the client's own manager, else the team in turn
        (the routing's own steps, planned by its engine on the same facts)."""
        router = CallRouter(self.env)
        rule = engine.Rule(
            id=0,
            name=self.env._("Website call-back default"),
            steps=(
                engine.Step(id=0, action=engine.RESPONSIBLE),
                engine.Step(id=0, action=engine.TEAM),
            ),
        )
        result.responsible, result.responsible_source = router.responsible(partner, lead, team)
        result.team = (
            team or router.partner_team(partner) or lead.team_id or result.responsible.sale_team_id
        )
        members = router.team_members(engine.needed_teams(rule, result.team.id))
        user_ids = engine.needed_users(rule, result.responsible.id, members)
        result.agents = router.agents(
            self.provider_id,
            user_ids,
            result.when,
            rotating_ids={uid for ids in members.values() for uid in ids},
        )
        result.plan = engine.plan_chain(
            rule,
            result.agents,
            responsible_id=result.responsible.id,
            team_members=members,
            default_team_id=result.team.id,
        )

    def _crm_voip_first_person(self, result):
        """``(user, extension)``: the first person the routing would ring on his
        extension now, or empty. A mobile forward or a voicemail cannot start a two-leg
        call: the salesperson is rung first, on the PBX."""
        Users = self.env["res.users"]
        if not result.plan:
            return Users, ""
        for attempt in result.plan.attempts:
            if attempt.action not in RINGING_ACTIONS or attempt.forward_number:
                continue
            for user_id in attempt.user_ids:
                agent = result.agents.get(user_id)
                if agent and agent.extension:
                    return Users.browse(user_id), agent.extension
        return Users, ""

    def _crm_voip_request_logged(self, number_e164, result, call_values, started):
        """Nobody can take it now: the request is logged as an unanswered incoming call
        (what it is: the client asked, nobody answered yet), routed as such."""
        call = self.env["crm.voip.call"].create(
            {
                "provider_id": self.provider_id.id,
                "company_id": self.company_id.id,
                "provider_call_id": f"{WEB_CALL_ID_PREFIX}{uuid.uuid4().hex}",
                "direction": "inbound",
                "state": states.MISSED,
                "disposition": "no_answer",
                "origin": WEBSITE_CALLBACK,
                "from_number": number_e164,
                "partner_number": number_e164,
                "partner_number_e164": number_e164,
                "date_start": result.when or fields.Datetime.now(),
                "date_end": result.when or fields.Datetime.now(),
                **call_values,
            }
        )
        call._crm_voip_routing_store(result, (time.perf_counter() - started) * 1000)
        return call

    def _crm_voip_schedule(self, call, hung_up=False):
        """The call-back task of the routing module (its person, its deadline in working
        time), and the visitor told by when. ``hung_up``: the call already went through
        the hang-up hook (a call the PBX refused), which makes no task of a call Odoo
        placed: it is registered here."""
        if not hung_up:
            call._crm_voip_on_hangup()
        if not call.crm_voip_missed_call_id:
            self.env["crm.voip.missed.call"]._crm_voip_register(call)
        missed = call.crm_voip_missed_call_id
        if missed.user_id and call.lead_id and not call.lead_id.user_id:
            call.lead_id.user_id = missed.user_id
        deadline = missed.deadline or call.company_id._crm_voip_missed_deadline(call.date_start)
        return self._crm_voip_answer_scheduled(deadline)

    def _crm_voip_placing_failed(self, call):
        """The PBX did not take the call (it is logged failed): a call-back task instead."""
        self.ensure_one()
        return self.sudo()._crm_voip_schedule(call.sudo(), hung_up=True)

    # ------------------------------------------------------------------
    # Lead and campaign
    # ------------------------------------------------------------------

    def _crm_voip_utm(self, values):
        """The visit's source, medium and campaign (found, or created once a request
        passed every check), else the source's."""
        utm = {}
        for key, model, default in (
            ("utm_source", "utm.source", self.source_id or self.line_id.source_id),
            ("utm_medium", "utm.medium", self.medium_id or self.line_id.medium_id),
            ("utm_campaign", "utm.campaign", self.campaign_id or self.line_id.campaign_id),
        ):
            record = default
            if values.get(key):
                record = self.env["utm.mixin"]._find_or_create_record(model, values[key])
            utm[model.replace("utm.", "") + "_id"] = record.id
        return utm

    def _crm_voip_callback_lead(self, values, number_e164, utm, team):
        """A lead for a number nobody knows: the visitor asked to be called, a prospect."""
        formatted = providers.numbers.format_international(number_e164)
        uses_leads = self.env.ref("crm.group_use_lead") in (
            self.env.ref("base.group_user").trans_implied_ids
        )
        name = values["name"]
        description = values["url"] and self.env._("Asked from %(url)s", url=values["url"])
        return self.env["crm.lead"].create(
            {
                "name": self.env._("Call-back request from %(who)s", who=name or formatted),
                "type": "lead" if uses_leads else "opportunity",
                "contact_name": name or False,
                "phone": number_e164,
                "user_id": False,
                "team_id": team.id,
                "company_id": self.company_id.id,
                "description": description or False,
                **utm,
            }
        )
