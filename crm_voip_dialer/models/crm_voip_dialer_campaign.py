import ast
import logging
import threading

import phonenumbers
import psycopg2.errors
import pytz
from phonenumbers import timezone as phonenumbers_timezone

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from odoo.addons.base.models.res_partner import _tz_get
from odoo.addons.crm_voip import providers
from odoo.addons.crm_voip.callstate import states
from odoo.addons.crm_voip.models.phone_blacklist import blocked_number_sql

from ..dialer import pacing, region_timezones

_logger = logging.getLogger(__name__)

# A line holds its agent while in these states, and its number while dialling.
AGENT_BUSY_STATES = ("preview", "dialing", "talking", "wrapup")
NUMBER_BUSY_STATES = ("preview", "dialing", "talking")
FINAL_LINE_STATES = ("done", "exhausted", "excluded")
# A campaign call the PBX has said nothing of for this long never connected.
STALE_DIALING_MINUTES = 10
# A card reserved in preview by an agent who has left goes back to the queue after this.
STALE_PREVIEW_MINUTES = 30


class CrmVoipDialerCampaign(models.Model):
    """A list of contacts called by a group of agents, under compliance rules."""

    _name = "crm.voip.dialer.campaign"
    _description = "Dialer campaign"
    _inherit = ["mail.thread"]
    _order = "priority desc, id desc"
    _check_company_auto = True

    # Description
    name = fields.Char(required=True, translate=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    user_id = fields.Many2one(
        "res.users", string="Supervisor", default=lambda self: self.env.user, tracking=True
    )
    provider_id = fields.Many2one(
        "crm.voip.provider", string="PBX account", required=True, check_company=True
    )
    state = fields.Selection(
        [("draft", "Draft"), ("running", "Running"), ("paused", "Paused"), ("done", "Finished")],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    mode = fields.Selection(
        [("preview", "Preview"), ("progressive", "Progressive"), ("power", "Power")],
        default="progressive",
        required=True,
        help="Preview: the agent sees the card, then dials. Progressive: the next contact is "
        "dialled as soon as an agent is free, ringing the agent first. Power: several contacts "
        "per free agent are dialled at once; the PBX connects the answered ones to free agents.",
    )
    priority = fields.Integer(default=10, help="Higher priority campaigns are served first.")
    script = fields.Html(translate=True, help="What the agent says; shown in the agent panel.")

    # Targets
    target_model = fields.Selection(
        [("res.partner", "Contacts"), ("crm.lead", "Leads/Opportunities")],
        default="res.partner",
        required=True,
    )
    target_domain = fields.Char(string="Target filter", default="[]")
    exclusion_numbers = fields.Text(
        string="Exclusion list",
        help="Numbers this campaign never dials, one per line (the company-wide phone "
        "blacklist always applies as well).",
    )

    # Agents
    agent_user_ids = fields.Many2many("res.users", string="Agents", domain=[("share", "=", False)])
    team_id = fields.Many2one(
        "crm.team", string="Sales team", check_company=True, help="Its members are agents too."
    )
    agent_ids = fields.One2many("crm.voip.dialer.agent", "campaign_id", string="Agent sessions")

    # Pacing
    power_ratio = fields.Float(
        string="Calls per free agent", default=2.0, help="Power mode: dialled at once."
    )
    abandon_cap = fields.Float(
        string="Abandoned calls cap (%)",
        default=3.0,
        help="Power mode: answered calls left with no free agent, in percent of answered "
        "calls. At the cap the dialer places no more calls than there are free agents.",
    )
    power_extension = fields.Char(
        string="PBX queue extension",
        help="Power mode: the PBX extension (queue or ring group) that connects answered "
        "calls to the agents.",
    )

    # Compliance
    window_start = fields.Float(string="Call from", default=9.0, help="Contact's local time.")
    window_end = fields.Float(string="Call until", default=20.0, help="Contact's local time.")
    call_weekends = fields.Boolean(string="Call on weekends")
    tz = fields.Selection(
        _tz_get,
        string="Contacts' timezone",
        help="Force this timezone for every contact; empty: each contact's own (his "
        "timezone, else his number's or country's region).",
    )
    default_tz = fields.Selection(
        _tz_get,
        string="Fallback timezone",
        default=lambda self: self.env.user.tz or "Europe/Moscow",
        required=True,
        help="For contacts whose timezone cannot be told.",
    )
    max_attempts = fields.Integer(default=3)
    retry_no_answer = fields.Integer(string="Retry after no answer (min)", default=120)
    retry_busy = fields.Integer(string="Retry after busy (min)", default=15)
    retry_failed = fields.Integer(string="Retry after failure (min)", default=60)
    disposition_ids = fields.Many2many(
        "crm.voip.dialer.disposition",
        string="Dispositions",
        default=lambda self: self.env["crm.voip.dialer.disposition"].search([]),
    )

    # Lines and figures
    line_ids = fields.One2many("crm.voip.dialer.line", "campaign_id", string="Contacts")
    line_count = fields.Integer(compute="_compute_line_counts", string="Contacts count")
    pending_count = fields.Integer(compute="_compute_line_counts", string="To call")
    in_progress_count = fields.Integer(compute="_compute_line_counts", string="In progress")
    done_count = fields.Integer(compute="_compute_line_counts", string="Finished")
    progress = fields.Float(compute="_compute_line_counts")

    _sql_constraints = [
        ("max_attempts_positive", "CHECK(max_attempts > 0)", "At least one attempt per contact."),
        ("power_ratio_min", "CHECK(power_ratio >= 1)", "At least one call per free agent."),
    ]

    def _compute_line_counts(self):
        counts = {campaign.id: {} for campaign in self}
        if self.ids:
            groups = self.env["crm.voip.dialer.line"]._read_group(
                [("campaign_id", "in", self.ids)], ["campaign_id", "state"], ["__count"]
            )
            for campaign, state, count in groups:
                counts[campaign.id][state] = count
        for campaign in self:
            by_state = counts.get(campaign.id, {})
            total = sum(by_state.values())
            finished = sum(by_state.get(state, 0) for state in FINAL_LINE_STATES)
            campaign.line_count = total
            campaign.pending_count = by_state.get("pending", 0)
            campaign.in_progress_count = sum(by_state.get(state, 0) for state in AGENT_BUSY_STATES)
            campaign.done_count = finished
            campaign.progress = 100.0 * finished / total if total else 0.0

    @api.constrains("window_start", "window_end")
    def _check_window(self):
        for campaign in self:
            for hour in (campaign.window_start, campaign.window_end):
                if not 0 <= hour <= 24:
                    raise ValidationError(self.env._("Calling hours are between 0:00 and 24:00."))

    @api.constrains("mode", "power_extension")
    def _check_power_extension(self):
        for campaign in self:
            if campaign.mode == "power" and not campaign.power_extension:
                raise ValidationError(
                    self.env._("Power mode needs the PBX queue extension of the agents.")
                )

    @api.constrains("target_domain")
    def _check_target_domain(self):
        for campaign in self:
            campaign._dialer_target_domain()

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------

    def write(self, vals):
        result = super().write(vals)
        if "exclusion_numbers" in vals:
            self._dialer_apply_exclusions()
        return result

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_start(self):
        # The supervisor's and managers' (write access): checked before anything is done.
        self.check_access("write")
        for campaign in self:
            if not campaign.line_ids:
                raise UserError(self.env._("Add contacts to the campaign first."))
        self.write({"state": "running"})
        self.env.ref("crm_voip_dialer.ir_cron_dialer_tick")._trigger()
        self._dialer_notify()

    def action_pause(self):
        self.check_access("write")
        self.filtered(lambda c: c.state == "running").write({"state": "paused"})
        self._dialer_notify()

    def action_stop(self):
        self.check_access("write")
        self.write({"state": "done"})
        self._dialer_notify()

    def action_reset_draft(self):
        self.write({"state": "draft"})

    def action_generate_lines(self):
        """Add the records of the target filter that are not in the campaign yet."""
        self.ensure_one()
        self.check_access("write")
        records = self.env[self.target_model].search(self._dialer_target_domain())
        created = self._dialer_add_targets(records)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("%(count)s contacts added.", count=len(created)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_view_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_voip_dialer.crm_voip_dialer_line_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"default_campaign_id": self.id}
        return action

    def action_open_dashboard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "crm_voip_dialer.dashboard",
            "name": self.env._("Campaign %(name)s", name=self.name),
            "params": {"campaign_id": self.id},
        }

    def action_open_agent_panel(self):
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "crm_voip_dialer.agent_panel",
            "name": self.env._("Agent panel"),
            "params": {"campaign_id": self.id},
        }

    # ------------------------------------------------------------------
    # Targets and compliance
    # ------------------------------------------------------------------

    def _dialer_target_domain(self):
        self.ensure_one()
        try:
            domain = ast.literal_eval(self.target_domain or "[]")
        except (ValueError, SyntaxError):
            raise ValidationError(self.env._("The target filter is not a valid domain.")) from None
        if not isinstance(domain, list):
            raise ValidationError(self.env._("The target filter is not a valid domain."))
        return domain

    def _dialer_excluded_set(self):
        self.ensure_one()
        region = self.provider_id._crm_voip_region()
        numbers = set()
        for raw in (self.exclusion_numbers or "").replace(",", "\n").splitlines():
            number = providers.numbers.normalize(raw.strip(), region) if raw.strip() else None
            if number:
                numbers.add(number)
        return numbers

    def _dialer_apply_exclusions(self):
        for campaign in self:
            excluded = campaign._dialer_excluded_set()
            if not excluded:
                continue
            campaign.line_ids.filtered(
                lambda line, ex=excluded: line.state == "pending" and line.phone_e164 in ex
            ).write({"state": "excluded", "exclusion_reason": "exclusion"})

    def _dialer_contact_tz(self, partner, number_e164, address=None):
        """The contact's timezone: the campaign's, his own, his address's state's (where
        a country spans several zones), his number's area, his country's (when it has one
        zone), else the campaign's fallback. ``address`` (a partner or lead with
        ``state_id``/``country_id``) defaults to ``partner``."""
        self.ensure_one()
        if self.tz:
            return self.tz
        if partner and partner.tz:
            return partner.tz
        address = address or partner or self.env["res.partner"]
        state = address.state_id
        country = state.country_id or address.country_id
        zone = region_timezones.timezone_of_state(country.code, state.code)
        if zone:
            return zone
        if number_e164:
            try:
                zones = phonenumbers_timezone.time_zones_for_number(phonenumbers.parse(number_e164))
            except phonenumbers.NumberParseException:
                zones = ()
            if len(zones) == 1 and zones[0] != "Etc/Unknown":
                return zones[0]
        if country.code:
            zones = pytz.country_timezones.get(country.code.lower(), [])
            if len(zones) == 1:
                return zones[0]
        return self.default_tz

    def _dialer_add_targets(self, records, values_list=None):
        """Lines for ``records`` (partners or leads); compliance is decided here once:
        an invalid number, a blacklisted or excluded one, and a number already in the
        campaign are kept as excluded lines, with the reason."""
        self.ensure_one()
        Line = self.env["crm.voip.dialer.line"]
        known = set(Line.search([("campaign_id", "=", self.id)]).mapped("phone_e164"))
        existing_targets = set(
            Line.search([("campaign_id", "=", self.id)]).mapped(
                lambda line: (line.partner_id.id, line.lead_id.id)
            )
        )
        excluded = self._dialer_excluded_set()
        to_create = []
        for record in records:
            if record._name == "crm.lead":
                partner, lead = record.partner_id, record
                raw = record.phone or record.mobile or partner.phone or partner.mobile
                name = record.partner_name or record.contact_name or record.name
            else:
                partner, lead = record, self.env["crm.lead"]
                raw = record.phone or record.mobile
                name = record.name
            if (partner.id, lead.id) in existing_targets:
                continue
            to_create.append(self._dialer_line_values(raw, name=name, partner=partner, lead=lead))
        for values in values_list or ():
            to_create.append(self._dialer_line_values(values.pop("phone", ""), **values))
        blacklisted = self.env["phone.blacklist"]._crm_voip_blocked(
            values["phone_e164"] for values in to_create
        )
        for values in to_create:
            number = values["phone_e164"]
            if values.get("exclusion_reason"):
                pass
            elif number in blacklisted:
                values["exclusion_reason"] = "blacklist"
            elif number in excluded:
                values["exclusion_reason"] = "exclusion"
            elif number in known:
                values["exclusion_reason"] = "duplicate"
            if values.get("exclusion_reason"):
                values["state"] = "excluded"
            else:
                known.add(number)
        return Line.create(to_create)

    def _dialer_line_values(self, raw, name=False, partner=None, lead=None, tz=False):
        self.ensure_one()
        partner = partner or self.env["res.partner"]
        lead = lead or self.env["crm.lead"]
        values = {
            "campaign_id": self.id,
            "partner_id": partner.id,
            "lead_id": lead.id,
            "name": name or partner.name or lead.name or raw,
            "phone": raw or False,
            "phone_e164": False,
            "priority": int(lead.priority or 0) if lead else 0,
        }
        if not raw:
            values["exclusion_reason"] = "no_number"
        else:
            try:
                _dialled, number = self.provider_id._crm_voip_dial_number(raw)
            except UserError:
                number = False
            if number:
                values["phone_e164"] = number
            else:
                values["exclusion_reason"] = "invalid"
        values["tz"] = tz or self._dialer_contact_tz(
            partner, values["phone_e164"], address=partner or lead
        )
        return values

    def _dialer_agent_users(self):
        self.ensure_one()
        return self.agent_user_ids | self.team_id.member_ids | self.team_id.user_id

    # ------------------------------------------------------------------
    # Scheduler
    # ------------------------------------------------------------------

    @api.model
    def _cron_dialer_tick(self):
        """Claim lines and commit, then ask the PBX, then record what it said.

        Several workers may run this at once: agents and lines are claimed with
        ``FOR UPDATE SKIP LOCKED`` and the partial unique indexes forbid a number or an
        agent in two calls; a worker that meets a row another one just claimed gives up
        this campaign until the next tick.
        """
        testing = getattr(threading.current_thread(), "testing", False)
        try:
            with self.env.cr.savepoint():
                self._dialer_recover_stale_lines()
        except Exception:  # noqa: BLE001 - housekeeping must not stop the dialling
            if testing:
                raise
            _logger.exception("Dialer: could not free the stale campaign lines")
        campaigns = self.search(
            [("state", "=", "running"), ("mode", "!=", "preview")], order="priority desc, id"
        )
        for campaign in campaigns:
            try:
                with self.env.cr.savepoint():
                    claims = campaign._dialer_claim()
            except (
                psycopg2.errors.SerializationFailure,
                psycopg2.errors.UniqueViolation,
                psycopg2.errors.LockNotAvailable,
            ) as error:
                if testing:
                    raise
                _logger.info(
                    "Dialer: campaign %s claimed by another worker (%s)", campaign.id, error
                )
                self.env.cr.rollback()
                continue
            if not claims:
                try:
                    with self.env.cr.savepoint():
                        campaign._dialer_check_finished()
                except psycopg2.errors.SerializationFailure:
                    if testing:
                        raise
                    # Another worker is closing the same campaign.
                    self.env.cr.rollback()
                continue
            adapter = campaign.provider_id._get_crm_voip_adapter()
            if not testing:
                # Claims are committed before the PBX is asked: no transaction waits on it.
                self.env.cr.commit()
            errors = campaign._dialer_originate(adapter, claims)
            campaign._dialer_record_originate(claims, errors)
            if not testing:
                self.env.cr.commit()

    @api.model
    def _dialer_recover_stale_lines(self, now=None):
        """Free the lines a lost PBX event would otherwise hold for ever (and with them
        their agent and number): a call that ended without its line hearing of it, a call
        the PBX never reported on, a preview card whose agent has left."""
        now = now or fields.Datetime.now()
        Line = self.env["crm.voip.dialer.line"].sudo()
        in_call = Line.search(
            [("state", "in", ("dialing", "talking")), ("campaign_id.state", "!=", "draft")]
        )
        for line in in_call:
            call = line.call_id
            if call.state in states.FINAL:
                line._dialer_on_call_end(call)
            elif (
                line.state == "dialing"
                and call.state == "ringing"
                and call.date_start
                and call.date_start < fields.Datetime.subtract(now, minutes=STALE_DIALING_MINUTES)
            ):
                call._crm_voip_mark_click_to_call_failed(
                    self.env._(
                        "The PBX reported nothing of this call for %(minutes)s minutes.",
                        minutes=STALE_DIALING_MINUTES,
                    )
                )
        stale_previews = Line.search(
            [
                ("state", "=", "preview"),
                ("write_date", "<", fields.Datetime.subtract(now, minutes=STALE_PREVIEW_MINUTES)),
            ]
        ).filtered(
            lambda line: (
                not line.campaign_id.agent_ids.filtered(
                    lambda a: a.user_id == line.user_id and a.state != "offline"
                )
            )
        )
        stale_previews.write({"state": "pending", "user_id": False})
        return len(in_call), len(stale_previews)

    def _dialer_originate(self, adapter, claims):
        """The PBX requests, outside any transaction: ``{line_id: error message}``."""
        self.ensure_one()
        Call = self.env["crm.voip.call"]
        errors = {}
        try:
            for claim in claims:
                error = Call._crm_voip_request_pbx_call(
                    adapter,
                    claim["extension"],
                    claim["dialled"],
                    claim["call_ref"],
                    provider=self.provider_id,
                )
                if error:
                    errors[claim["line_id"]] = error
        finally:
            adapter.close()
        return errors

    def _dialer_record_originate(self, claims, errors):
        self.ensure_one()
        Line = self.env["crm.voip.dialer.line"]
        for claim in claims:
            error = errors.get(claim["line_id"])
            if error:
                line = Line.browse(claim["line_id"])
                line.call_id._crm_voip_mark_click_to_call_failed(error)
        self._dialer_notify()

    def _dialer_timezones(self):
        """Distinct timezones of the pending lines, by an index skip-scan (cheap on any size)."""
        self.ensure_one()
        self.env["crm.voip.dialer.line"].flush_model(["campaign_id", "state", "tz"])
        self.env.cr.execute(
            SQL(
                """
                WITH RECURSIVE zones(tz) AS (
                    (SELECT tz FROM crm_voip_dialer_line
                      WHERE campaign_id = %(campaign)s AND state = 'pending'
                      ORDER BY tz LIMIT 1)
                    UNION ALL
                    SELECT (SELECT tz FROM crm_voip_dialer_line
                             WHERE campaign_id = %(campaign)s AND state = 'pending'
                               AND tz > zones.tz
                             ORDER BY tz LIMIT 1)
                      FROM zones WHERE zones.tz IS NOT NULL
                )
                SELECT tz FROM zones WHERE tz IS NOT NULL
                """,
                campaign=self.id,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _dialer_allowed_timezones(self, now):
        self.ensure_one()
        weekdays = None if self.call_weekends else {1, 2, 3, 4, 5}
        return pacing.allowed_timezones(
            self._dialer_timezones(), now, self.window_start, self.window_end, weekdays
        )

    def _dialer_pick(self, limit, now=None):
        """Lock and return up to ``limit`` lines to dial now (another worker's are skipped)."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        zones = self._dialer_allowed_timezones(now)
        if not zones or limit <= 0:
            return self.env["crm.voip.dialer.line"]
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env.cr.execute(pick_lines_sql(self.id, zones, now, limit))
        return self.env["crm.voip.dialer.line"].browse(row[0] for row in self.env.cr.fetchall())

    def _dialer_pick_explain_sql(self, now, limit=20):
        """The picking query as the tick runs it (for benchmarks and EXPLAIN)."""
        self.ensure_one()
        return pick_lines_sql(self.id, self._dialer_allowed_timezones(now), now, limit)

    def _dialer_free_agents(self, lock=True):
        """Agents ready in this campaign with no line of their own, locked for this worker."""
        self.ensure_one()
        Agent = self.env["crm.voip.dialer.agent"]
        Agent.flush_model()
        self.env["crm.voip.dialer.line"].flush_model(["user_id", "state"])
        dnd = SQL("")
        if "crm_voip_dnd" in self.env["res.users"]._fields:
            # crm_voip_routing installed: "do not disturb" agents get no calls.
            dnd = SQL(
                "AND NOT EXISTS (SELECT 1 FROM res_users u WHERE u.id = a.user_id"
                " AND u.crm_voip_dnd)"
            )
        self.env.cr.execute(
            SQL(
                """
                SELECT a.id FROM crm_voip_dialer_agent a
                 WHERE a.campaign_id = %(campaign)s AND a.state = 'ready'
                   AND NOT EXISTS (
                        SELECT 1 FROM crm_voip_dialer_line l
                         WHERE l.user_id = a.user_id AND l.state IN %(busy)s)
                   AND NOT EXISTS (
                        SELECT 1 FROM crm_voip_call c
                         WHERE c.user_id = a.user_id AND c.state IN %(live)s
                           AND c.date_start > (now() at time zone 'UTC') - interval '2 hours')
                   %(dnd)s
                 ORDER BY a.date_ready, a.id
                 %(lock)s
                """,
                campaign=self.id,
                busy=AGENT_BUSY_STATES,
                live=states.LIVE,
                dnd=dnd,
                lock=SQL("FOR UPDATE OF a SKIP LOCKED") if lock else SQL(""),
            )
        )
        return Agent.browse(row[0] for row in self.env.cr.fetchall())

    def _dialer_power_stats(self):
        """``(answered, abandoned, finished attempts, calls ringing with no agent)``."""
        self.ensure_one()
        self.env["crm.voip.dialer.attempt"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*) FILTER (WHERE outcome IN ('answered', 'abandoned')),
                       count(*) FILTER (WHERE outcome = 'abandoned'),
                       count(*) FILTER (WHERE outcome IS NOT NULL),
                       count(*) FILTER (WHERE outcome IS NULL AND user_id IS NULL)
                  FROM crm_voip_dialer_attempt WHERE campaign_id = %s
                """,
                self.id,
            )
        )
        return self.env.cr.fetchone()

    def _dialer_claim(self, now=None):
        """Pick and lock the lines to dial for the free agents, and log their calls.

        Returns the PBX requests to make: ``[{line_id, extension, dialled}]``.
        """
        self.ensure_one()
        now = now or fields.Datetime.now()
        agents = self._dialer_free_agents()
        if not agents:
            return []
        if self.mode == "power":
            answered, abandoned, finished, in_flight = self._dialer_power_stats()
            count = pacing.calls_to_place(
                "power",
                len(agents),
                in_flight=in_flight,
                ratio=self.power_ratio,
                answered=answered,
                abandoned=abandoned,
                finished=finished,
                abandon_cap=self.abandon_cap / 100.0,
            )
        else:
            count = pacing.calls_to_place(self.mode, len(agents))
        lines = self._dialer_pick(count, now)
        claims = []
        agents = list(agents)
        power = self.mode == "power"
        for line in lines:
            if not power and not agents:
                break
            user = self.env["res.users"] if power else agents[0].user_id
            claim = line._dialer_start_call(user)
            if claim:
                # The scheduler asks the PBX for it: never the agent again, through
                # /crm_voip/originate.
                call = self.env["crm.voip.call"].browse(claim["call_id"]).sudo()
                call._crm_voip_claim_originate()
                claims.append(claim)
                if not power:
                    agents.pop(0)
        return claims

    def _dialer_check_finished(self):
        """A campaign with nothing left to call is finished."""
        self.ensure_one()
        Line = self.env["crm.voip.dialer.line"]
        if Line.search_count(
            [("campaign_id", "=", self.id), ("state", "not in", FINAL_LINE_STATES)], limit=1
        ):
            # Pending numbers blacklisted since the lines were made never become dialable.
            Line.flush_model(["campaign_id", "state", "phone_e164"])
            self.env.cr.execute(
                SQL(
                    """
                    SELECT l.id FROM crm_voip_dialer_line l
                     WHERE l.campaign_id = %s AND l.state = 'pending' AND %s
                    """,
                    self.id,
                    self.env["phone.blacklist"]._crm_voip_blocked_sql(SQL("l.phone_e164")),
                )
            )
            blacklisted = Line.browse(row[0] for row in self.env.cr.fetchall())
            blacklisted.write({"state": "excluded", "exclusion_reason": "blacklist"})
            return False
        self.state = "done"
        self._dialer_notify()
        return True

    # ------------------------------------------------------------------
    # Live figures
    # ------------------------------------------------------------------

    def _dialer_notify(self, users=None):
        """Ask the agents' panels and the supervisor's dashboard to refresh."""
        for campaign in self:
            targets = (
                campaign.user_id | campaign.agent_ids.user_id | (users or self.env["res.users"])
            )
            for user in targets:
                user._bus_send("crm_voip_dialer/update", {"campaign_id": campaign.id})

    def dialer_dashboard_data(self):
        """Figures of the supervisor dashboard: its supervisor's and the managers'."""
        self.ensure_one()
        self.check_access("read")
        if self.user_id != self.env.user and not self.env.user.has_group(
            "crm_voip.crm_voip_group_manager"
        ):
            raise AccessError(
                self.env._("Only the campaign's supervisor and telephony managers see its figures.")
            )
        Line = self.env["crm.voip.dialer.line"]
        Attempt = self.env["crm.voip.dialer.attempt"]
        self._compute_line_counts()
        attempted = Line.search_count([("campaign_id", "=", self.id), ("attempt_count", ">", 0)])
        reached = Line.search_count(
            [("campaign_id", "=", self.id), ("disposition_id.is_contact", "=", True)]
        )
        answered = Attempt.search_count(
            [("campaign_id", "=", self.id), ("outcome", "=", "answered")]
        )
        abandoned = Attempt.search_count(
            [("campaign_id", "=", self.id), ("outcome", "=", "abandoned")]
        )
        by_disposition = Line._read_group(
            [("campaign_id", "=", self.id), ("disposition_id", "!=", False)],
            ["disposition_id"],
            ["__count"],
        )
        dispositioned = sum(count for _d, count in by_disposition) or 1
        talk = dict(
            Attempt._read_group(
                [("campaign_id", "=", self.id), ("user_id", "!=", False)],
                ["user_id"],
                ["talk_seconds:sum"],
            )
        )
        calls = dict(
            Attempt._read_group(
                [("campaign_id", "=", self.id), ("user_id", "!=", False)],
                ["user_id"],
                ["__count"],
            )
        )
        agents = []
        for agent in self.agent_ids:
            agents.append(
                {
                    "id": agent.id,
                    "name": agent.user_id.name,
                    "state": agent.status,
                    "status_label": dict(agent._fields["status"]._description_selection(self.env))[
                        agent.status
                    ],
                    "contact": agent.line_id.name or "",
                    "talk_seconds": talk.get(agent.user_id, 0),
                    "calls": calls.get(agent.user_id, 0),
                }
            )
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "mode": self.mode,
            "total": self.line_count,
            "done": self.done_count,
            "pending": self.pending_count,
            "in_progress": self.in_progress_count,
            "progress": round(self.progress, 1),
            "contact_rate": round(100.0 * reached / attempted, 1) if attempted else 0.0,
            "answered": answered,
            "abandoned": abandoned,
            "abandon_rate": round(100.0 * abandoned / answered, 1) if answered else 0.0,
            "dispositions": [
                {
                    "name": disposition.name,
                    "count": count,
                    "percent": round(100.0 * count / dispositioned, 1),
                    "is_success": disposition.is_success,
                }
                for disposition, count in by_disposition
            ],
            "conversion": round(
                100.0 * sum(count for d, count in by_disposition if d.is_success) / attempted,
                1,
            )
            if attempted
            else 0.0,
            "agents": agents,
        }


def pick_lines_sql(campaign_id, zones, now, limit):
    """The claiming query: the next pending lines of a campaign that may be dialled now.

    - in an allowed timezone and due (``next_call_at``), best priority first;
    - never a number of the phone blacklist, nor one being dialled by any campaign;
    - ``FOR UPDATE SKIP LOCKED``: a second worker skips what the first one holds.
    """
    return SQL(
        """
        SELECT l.id FROM crm_voip_dialer_line l
         WHERE l.campaign_id = %(campaign)s AND l.state = 'pending'
           AND l.next_call_at <= %(now)s AND l.tz = ANY(%(zones)s)
           AND NOT %(blocked)s
           AND NOT EXISTS (
                SELECT 1 FROM crm_voip_dialer_line busy
                 WHERE busy.phone_e164 = l.phone_e164 AND busy.state IN %(busy)s)
         ORDER BY l.priority DESC, l.next_call_at, l.id
         LIMIT %(limit)s
         FOR UPDATE OF l SKIP LOCKED
        """,
        campaign=campaign_id,
        now=now,
        zones=list(zones),
        blocked=blocked_number_sql(SQL("l.phone_e164")),
        busy=NUMBER_BUSY_STATES,
        limit=limit,
    )
