import ipaddress
import logging
import secrets
from datetime import timedelta

import phonenumbers
import requests

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.base.models.res_partner import _tz_get

from .. import providers

_logger = logging.getLogger(__name__)

# What a webhook reads of its PBX account (adapter settings, numbers, policy).
PROVIDER_FIELDS_FOR_WEBHOOKS = [
    "company_id",
    "code",
    "country_id",
    "timezone",
    "base_url",
    "settings",
    "secret_settings",
    "ip_allowlist",
    "recording_hosts",
    "unknown_caller_policy",
    "last_contact_date",
]
# What an event and its call read of the dialled line; other fields load when asked.
LINE_FIELDS_FOR_CALLS = ["name", "company_id", "team_id", "source_id", "medium_id", "campaign_id"]

# A PBX that has sent nothing for this long while calls are expected looks disconnected.
SILENCE_ALERT = timedelta(hours=24)


def _new_webhook_token():
    return secrets.token_urlsafe(32)


class CrmVoipProvider(models.Model):
    _name = "crm.voip.provider"
    _description = "Telephony provider (cloud PBX account)"
    _order = "sequence, id"
    _check_company_auto = True

    # Description
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    code = fields.Selection(
        selection="_selection_code",
        string="PBX",
        required=True,
        help="Each PBX is one adapter of crm_voip/providers: the settings below are its own.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    country_id = fields.Many2one(
        "res.country",
        string="Default country",
        help="Numbers without an international prefix are read as numbers of this country.",
        default=lambda self: self.env.company.country_id,
    )
    timezone = fields.Selection(
        _tz_get,
        string="PBX account timezone",
        default="Europe/Moscow",
        required=True,
        help="Local call times the PBX sends are read in it; reports count days in it.",
    )
    use_simulator = fields.Boolean(
        string="Simulator mode",
        help="Talk to the suite's VATS simulator instead of the real PBX (demo, tests, training).",
    )

    # The PBX's own settings, as its adapter declares them (``config_fields``): secret
    # ones (credentials) are readable by administrators only.
    settings = fields.Json(
        string="PBX settings", help="The adapter's declared settings that are not secret."
    )
    secret_settings = fields.Json(string="PBX credentials", groups="base.group_system", copy=False)
    settings_schema = fields.Json(
        compute="_compute_adapter_declarations",
        help="The adapter's declared settings, for the form.",
    )
    default_base_url = fields.Char(compute="_compute_adapter_declarations")
    routes_synchronously = fields.Boolean(
        string="Routes in the webhook reply",
        compute="_compute_adapter_declarations",
        help="The PBX asks where to send a starting call and waits for the answer.",
    )
    has_call_history = fields.Boolean(compute="_compute_adapter_declarations")
    lists_extensions = fields.Boolean(compute="_compute_adapter_declarations")
    manages_subscriptions = fields.Boolean(compute="_compute_adapter_declarations")
    shows_notification_templates = fields.Boolean(compute="_compute_adapter_declarations")
    transport = fields.Selection(
        [("webhook", "Webhooks"), ("persistent", "Persistent connection")],
        compute="_compute_adapter_declarations",
    )
    base_url = fields.Char(
        string="API base URL",
        groups="base.group_system",
        help="Leave empty for the provider's public API.",
    )
    webhook_token = fields.Char(
        groups="base.group_system",
        copy=False,
        default=lambda self: _new_webhook_token(),
        readonly=True,
    )
    webhook_url = fields.Char(compute="_compute_webhook_url", groups="base.group_system")
    # They hold the account's secret: administrators only.
    notification_templates = fields.Json(
        compute="_compute_notification_templates", groups="base.group_system"
    )

    # Webhook hardening
    ip_allowlist = fields.Text(
        string="Allowed source addresses",
        help="One IP address or network (CIDR) per line or comma-separated. Empty: any address.",
    )
    recording_hosts = fields.Text(
        string="Recording hosts",
        groups="base.group_system",
        help="Other host names the PBX may send recording links on, one per line or "
        "comma-separated. Recordings are downloaded only from the API's host, the PBX's "
        "known storage and these.",
    )
    notification_sources = fields.Char(
        string="PBX's published addresses",
        compute="_compute_adapter_declarations",
        help="Where the PBX says its webhooks come from: offered as the allow-list.",
    )

    # Behaviour
    unknown_caller_policy = fields.Selection(
        [
            ("nothing", "Only log the call"),
            ("lead", "Create a lead"),
            ("contact", "Create a contact"),
        ],
        default="lead",
        required=True,
        help="What happens when a number no contact or lead has calls in.",
    )
    # Dialling rules (click-to-call)
    dial_format = fields.Selection(
        [
            ("digits", "International digits (74951234567)"),
            ("plus", "E.164 with plus (+74951234567)"),
            ("trunk", "National trunk prefix (84951234567)"),
        ],
        string="National numbers sent as",
        default="digits",
        required=True,
        help="How the PBX wants numbers of the account's country: most cloud PBXs take "
        "international digits; some want the national 8 prefix (7 → 8 rewrite).",
    )
    dial_international_prefix = fields.Char(
        string="International prefix",
        help="Put before foreign numbers instead of '+', e.g. 810 or 00. Empty: the same "
        "format as national numbers.",
    )
    dial_city_code = fields.Char(
        string="Default city code",
        help="Added to local numbers dialled without it (7 digits in Moscow: 495).",
    )
    dial_blocked_prefixes = fields.Char(
        string="Blocked prefixes",
        help="Comma-separated E.164 prefixes never dialled (premium or satellite ranges), "
        "e.g. +882, +979.",
    )
    dial_international_group_id = fields.Many2one(
        "res.groups",
        string="May call abroad",
        help="Only members of this group may dial numbers of other countries. Empty: everyone.",
    )
    line_ids = fields.One2many("crm.voip.line", "provider_id", string="Lines")
    extension_ids = fields.One2many("crm.voip.extension", "provider_id", string="Extensions")

    # Health
    # Derived from the event log rather than written on every webhook: concurrent
    # deliveries would otherwise fight over this row.
    last_event_date = fields.Datetime(compute="_compute_event_stats")
    health = fields.Selection(
        [
            ("never", "No event yet"),
            ("ok", "Receiving events"),
            ("silent", "Silent"),
            ("api_error", "PBX refuses our credentials"),
        ],
        compute="_compute_event_stats",
    )
    # Set when the PBX refused our credentials (expired or revoked token, IP not allowed),
    # cleared when it accepts them again: written by the calls to the PBX, in a cursor of
    # their own (they run outside the request's transaction).
    api_error = fields.Char(string="PBX error", readonly=True, copy=False)
    api_error_date = fields.Datetime(string="PBX error since", readonly=True, copy=False)
    event_error_count = fields.Integer(compute="_compute_event_stats")
    recording_failed_count = fields.Integer(
        string="Recordings to check",
        compute="_compute_recording_failed_count",
        groups="crm_voip.crm_voip_group_manager",
    )

    _sql_constraints = [
        ("webhook_token_unique", "UNIQUE(webhook_token)", "The webhook token must be unique."),
    ]

    # ------------------------------------------------------------------
    # Compute
    # ------------------------------------------------------------------

    @api.model
    def _selection_code(self):
        return [
            (code, self.env._(providers.get_adapter_class(code).label))
            for code in providers.available_codes()
        ]

    @api.depends("code")
    @api.depends_context("lang")
    def _compute_adapter_declarations(self):
        for provider in self:
            adapter_class = provider._crm_voip_adapter_class()
            if adapter_class is None:
                provider.update(
                    {
                        "settings_schema": [],
                        "default_base_url": False,
                        "routes_synchronously": False,
                        "has_call_history": False,
                        "lists_extensions": False,
                        "manages_subscriptions": False,
                        "shows_notification_templates": False,
                        "transport": False,
                        "notification_sources": False,
                    }
                )
                continue
            provider.update(
                {
                    "settings_schema": [
                        provider._crm_voip_config_field_schema(item)
                        for item in adapter_class.config_fields
                    ],
                    "default_base_url": adapter_class.DEFAULT_BASE_URL or False,
                    "routes_synchronously": adapter_class.routes_synchronously,
                    "has_call_history": adapter_class.has_call_history,
                    "lists_extensions": adapter_class.lists_extensions(),
                    "notification_sources": ", ".join(adapter_class.notification_sources) or False,
                    "manages_subscriptions": adapter_class.manages_subscriptions(),
                    "shows_notification_templates": adapter_class.shows_notification_templates(),
                    "transport": adapter_class.transport,
                }
            )

    def _crm_voip_config_field_schema(self, item):
        """A declared setting as the form's widget shows it, in the user's language."""
        translate = self.env._
        return {
            "name": item.name,
            "label": translate(item.label),
            "help": translate(item.help) if item.help else "",
            "secret": item.secret,
            "kind": item.kind,
            "required": item.required,
            "default": item.default,
            "choices": [[value, translate(label)] for value, label in item.choices],
        }

    @api.depends("webhook_token")
    def _compute_webhook_url(self):
        for provider in self:
            base = provider.get_base_url()
            provider.webhook_url = f"{base}/crm_voip/webhook/{provider.webhook_token}"

    @api.depends("code", "webhook_token", "settings", "secret_settings", "base_url")
    @api.depends_context("lang")
    def _compute_notification_templates(self):
        translate = self.env._
        for provider in self:
            adapter_class = provider._crm_voip_adapter_class()
            if not (adapter_class and adapter_class.shows_notification_templates()):
                provider.notification_templates = []
                continue
            try:
                adapter = provider._get_crm_voip_adapter()
                templates = adapter.notification_templates(provider.webhook_url)
            except providers.errors.ProviderError as error:
                provider.notification_templates = [{"key": "error", "error": str(error)}]
                continue
            provider.notification_templates = [
                {
                    "key": template.key,
                    "title": translate(template.title),
                    "method": template.method,
                    "url": template.url,
                    "body": template.body,
                    "help": translate(template.help) if template.help else "",
                }
                for template in templates
            ]

    @api.depends("api_error")
    def _compute_event_stats(self):
        events = self.env["crm.voip.event"]
        last_dates = dict(
            events._read_group(
                [("provider_id", "in", self.ids)], ["provider_id"], ["create_date:max"]
            )
        )
        errors = dict(
            events._read_group(
                [("provider_id", "in", self.ids), ("state", "=", "error")],
                ["provider_id"],
                ["__count"],
            )
        )
        now = fields.Datetime.now()
        for provider in self:
            last = last_dates.get(provider)
            provider.last_event_date = last
            provider.event_error_count = errors.get(provider, 0)
            if provider.api_error:
                provider.health = "api_error"
            elif not last:
                provider.health = "never"
            elif now - last > SILENCE_ALERT:
                provider.health = "silent"
            else:
                provider.health = "ok"

    def _compute_recording_failed_count(self):
        counts = dict(
            self.env["crm.voip.recording"]._read_group(
                [("provider_id", "in", self.ids), ("state", "=", "failed")],
                ["provider_id"],
                ["__count"],
            )
        )
        for provider in self:
            provider.recording_failed_count = counts.get(provider, 0)

    @api.constrains("code", "settings", "secret_settings")
    def _check_settings(self):
        for provider in self.sudo():
            adapter_class = provider._crm_voip_adapter_class()
            if adapter_class is None:
                continue
            try:
                provider._crm_voip_declared_settings(adapter_class)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    @api.constrains("ip_allowlist")
    def _check_ip_allowlist(self):
        for provider in self:
            for entry in provider._ip_allowlist_entries():
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValidationError(
                        self.env._("%(entry)s is not an IP address or network.", entry=entry)
                    ) from None

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        providers_ = super().create(vals_list)
        providers_._crm_voip_generate_secrets()
        return providers_

    def write(self, vals):
        archived = self.env["crm.voip.provider"]
        if vals.get("active") is False:
            archived = self.filtered(lambda provider: provider.active)
        result = super().write(vals)
        if {"code", "secret_settings"} & set(vals):
            self._crm_voip_generate_secrets()
        archived._crm_voip_unsubscribe_after_commit()
        return result

    def unlink(self):
        self._crm_voip_unsubscribe_after_commit()
        return super().unlink()

    def _crm_voip_generate_secrets(self):
        """Fill the secrets of our own the adapter echoes (``ConfigField.generated``) that
        the account lacks, so the instructions shown already hold them."""
        for provider in self.sudo():
            adapter_class = provider._crm_voip_adapter_class()
            if adapter_class is None:
                continue
            stored = provider.secret_settings or {}
            missing = {
                item.name: secrets.token_urlsafe(24)
                for item in adapter_class.config_fields
                if item.generated and not stored.get(item.name)
            }
            if missing:
                provider.secret_settings = {**stored, **missing}

    def _crm_voip_unsubscribe_after_commit(self):
        """Archived or deleted accounts: remove the PBX subscriptions we made, once the
        change is committed (never hold the transaction while the PBX answers)."""
        self._crm_voip_move_subscriptions_after_commit(
            {provider.id: provider.sudo().webhook_url for provider in self}, subscribe=False
        )

    def _crm_voip_move_subscriptions_after_commit(self, old_urls, subscribe=True):
        """Once committed, remove our PBX subscriptions to ``old_urls`` (``{account id: URL}``)
        and, with ``subscribe``, subscribe the account's current URL instead."""
        jobs = []
        for provider in self.sudo():
            adapter_class = provider._crm_voip_adapter_class()
            if not (adapter_class and adapter_class.manages_subscriptions()):
                continue
            try:
                adapter = provider._get_crm_voip_adapter()
            except providers.errors.ProviderError as error:
                _logger.warning(
                    "crm_voip: account %s subscriptions not moved: %s", provider.id, error
                )
                continue
            new_url = provider.webhook_url if subscribe else None
            jobs.append((provider.id, adapter, old_urls[provider.id], new_url))
        if not jobs:
            return

        def move():
            for provider_id, adapter, old_url, new_url in jobs:
                try:
                    removed = adapter.unsubscribe_events(old_url)
                    report = adapter.subscribe_events(new_url) if new_url else None
                    _logger.info(
                        "crm_voip: account %s: %s PBX subscriptions removed, %s created",
                        provider_id,
                        removed,
                        report.created if report else 0,
                    )
                except providers.errors.ProviderError as error:
                    _logger.warning(
                        "crm_voip: account %s: PBX subscriptions not updated: %s",
                        provider_id,
                        error,
                    )
                finally:
                    adapter.close()

        self.env.cr.postcommit.add(move)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    @api.readonly
    def action_test_connection(self):
        """Ask the PBX whether our credentials work. Read-only: no transaction waits on it."""
        self.ensure_one()
        self._crm_voip_check_admin()
        message, refused = self._crm_voip_ask_pbx(
            lambda adapter: adapter.test_connection(), self.env._("The connection test failed")
        )
        if refused:
            return refused
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Connection works"),
                "message": message or self.env._("The PBX accepted the credentials."),
                "sticky": False,
            },
        }

    @api.readonly
    def action_crm_voip_import_extensions(self):
        """Read the PBX's employees and show them matched to Odoo users, before anything is
        written. Read-only: no transaction waits on the PBX."""
        self.ensure_one()
        if not self.env.user.has_group("crm_voip.crm_voip_group_manager"):
            raise AccessError(self.env._("Only telephony managers import extensions."))
        self.check_access("read")
        pbx_extensions, refused = self._crm_voip_ask_pbx(
            lambda adapter: adapter.list_extensions(),
            self.env._("The PBX did not give its extensions"),
        )
        if refused:
            return refused
        if not pbx_extensions:
            raise UserError(self.env._("The PBX has no extensions to import."))
        Import = self.env["crm.voip.extension.import"]
        return Import._crm_voip_action(self, Import._crm_voip_preview_values(self, pbx_extensions))

    @api.readonly
    def action_crm_voip_subscribe_events(self):
        """(Re)create, through the PBX's API, the subscriptions that bring its events here.
        Read-only: no transaction waits on the PBX."""
        self.ensure_one()
        self._crm_voip_check_admin()
        adapter_class = self._crm_voip_adapter_class()
        if not (adapter_class and adapter_class.manages_subscriptions()):
            raise UserError(self.env._("This PBX has no event subscriptions to manage."))
        if not self.active:
            raise UserError(self.env._("Restore the archived account first."))
        webhook_url = self.sudo().webhook_url
        report, refused = self._crm_voip_ask_pbx(
            lambda adapter: adapter.subscribe_events(webhook_url),
            self.env._("The PBX did not take the subscriptions"),
        )
        if refused:
            return refused
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning" if report.skipped else "success",
                "title": self.env._("Event subscriptions"),
                "message": self._crm_voip_subscription_summary(report),
                "sticky": True,
            },
        }

    def _crm_voip_subscription_summary(self, report):
        """The administrator's reading of a ``SubscriptionReport``."""
        lines = [
            self.env._(
                "%(extensions)s extensions: %(created)s subscriptions created, %(kept)s kept, "
                "%(removed)s stale ones removed.",
                extensions=report.extensions,
                created=report.created,
                kept=report.kept,
                removed=report.removed,
            )
        ]
        if report.limit is not None:
            lines.append(
                self.env._(
                    "The PBX allows %(limit)s subscriptions; %(used)s are in use.",
                    limit=report.limit,
                    used=report.used if report.used is not None else "?",
                )
            )
        elif report.used is not None:
            lines.append(self.env._("%(used)s subscriptions are in use.", used=report.used))
        if report.skipped:
            lines.append(
                self.env._("Not subscribed: %(skipped)s", skipped="; ".join(report.skipped))
            )
        return "\n".join(lines)

    def action_crm_voip_use_notification_sources(self):
        """Allow only the addresses the PBX publishes for its webhooks."""
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(
                self.env._("Only administrators change where webhooks may come from.")
            )
        for provider in self.filtered("notification_sources"):
            provider.ip_allowlist = "\n".join(
                provider._crm_voip_adapter_class().notification_sources
            )
        return True

    def action_rotate_webhook_token(self):
        """A new webhook URL; the PBX subscriptions we made move to it."""
        self._crm_voip_check_admin()
        self.check_access("write")
        old_urls = {provider.id: provider.sudo().webhook_url for provider in self}
        for provider in self:
            provider.webhook_token = _new_webhook_token()
        self.filtered("active")._crm_voip_move_subscriptions_after_commit(old_urls)

    def action_open_events(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Webhook events"),
            "res_model": "crm.voip.event",
            "view_mode": "list,form",
            "domain": [("provider_id", "=", self.id)],
            "context": {"search_default_filter_error": 1},
        }

    def action_crm_voip_open_failed_recordings(self):
        self.ensure_one()
        if not self.env.user.has_group("crm_voip.crm_voip_group_manager"):
            raise AccessError(self.env._("Only telephony managers see failed recordings."))
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_voip.crm_voip_recording_action_to_check"
        )
        action["domain"] = [("provider_id", "=", self.id), ("state", "=", "failed")]
        return action

    # ------------------------------------------------------------------
    # Business
    # ------------------------------------------------------------------

    def _crm_voip_check_admin(self):
        """Actions that use the account's credentials against the PBX: administrators."""
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(self.env._("Only administrators use the PBX account's credentials."))

    def _crm_voip_error_text(self, error):
        """A ``ProviderError`` for the administrator: the PBX's message, then what to do."""
        if error.hint:
            return f"{error} {self.env._(error.hint)}"
        return str(error)

    def _crm_voip_ask_pbx(self, ask, failure_title):
        """``ask(adapter)`` of this account's PBX, for an administrator's action:
        ``(its answer, None)``, or ``(None, the notification of the refusal)``."""
        adapter = self._get_crm_voip_adapter()
        try:
            answer = ask(adapter)
        except providers.errors.ProviderError as error:
            return None, self._crm_voip_pbx_refused(failure_title, error)
        finally:
            adapter.close()
        self._crm_voip_api_succeeded()
        return answer, None

    def _crm_voip_pbx_refused(self, title, error):
        """What an administrator's action shows when the PBX refused it (``error``): its
        words and what to do, then the form again (its health may have turned red). Not
        an exception: the request must commit for the health to be written."""
        self._crm_voip_api_failed(error)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "danger",
                "title": title,
                "message": self._crm_voip_error_text(error),
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _crm_voip_api_failed(self, error):
        """The PBX refused our credentials (``AuthError``): the account's health turns red
        with the PBX's words. Other errors (network, limits) say nothing of the account."""
        if not isinstance(error, providers.errors.AuthError):
            return
        self._crm_voip_set_api_error(self._crm_voip_error_text(error)[:500])

    def _crm_voip_api_succeeded(self):
        """The PBX accepted our credentials again: its health no longer shows the error."""
        if any(provider.sudo().api_error for provider in self):
            self._crm_voip_set_api_error(False)

    def _crm_voip_set_api_error(self, message):
        """Written once the current transaction ends, in a cursor of its own: the calls to
        the PBX run in read-only requests and post-commit hooks."""
        values = {"api_error": message, "api_error_date": message and fields.Datetime.now()}
        registry, provider_ids = self.env.registry, self.ids

        def write():
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                env["crm.voip.provider"].browse(provider_ids).exists().write(values)

        self.env.cr.postcommit.add(write)

    def _ip_allowlist_entries(self):
        self.ensure_one()
        raw = (self.ip_allowlist or "").replace(",", "\n")
        return [entry.strip() for entry in raw.splitlines() if entry.strip()]

    def _crm_voip_adapter_class(self):
        """The adapter class of this account's PBX (``None`` for an unknown code)."""
        self.ensure_one()
        if not self.code:
            return None
        try:
            return providers.get_adapter_class(self.code)
        except KeyError:
            return None

    def _crm_voip_declared_settings(self, adapter_class):
        """The values of the adapter's declared settings, cleaned; only those. Raises
        ``ValueError`` for a value of the wrong kind."""
        stored = {**(self.settings or {}), **(self.secret_settings or {})}
        values = {}
        for item in adapter_class.config_fields:
            value = item.clean(stored.get(item.name))
            if value is not None:
                values[item.name] = value
        return values

    def _get_crm_voip_adapter(self):
        """Build the provider-layer adapter; reads the secrets, hence sudo."""
        self.ensure_one()
        provider_sudo = self.sudo()
        adapter_class = provider_sudo._crm_voip_adapter_class()
        if adapter_class is None:
            raise providers.errors.PermanentError(f"Unknown PBX {provider_sudo.code!r}")
        try:
            config = provider_sudo._crm_voip_declared_settings(adapter_class)
        except ValueError as error:
            raise providers.errors.PermanentError(str(error)) from None
        config.update(
            timezone=provider_sudo.timezone or "UTC",
            ip_allowlist=provider_sudo._ip_allowlist_entries(),
            download_hosts=(provider_sudo.recording_hosts or "").replace(",", " ").split(),
        )
        if provider_sudo.base_url:
            config["base_url"] = provider_sudo.base_url.rstrip("/")
        return adapter_class(config)

    def _crm_voip_region(self):
        """ISO country code used to read national numbers."""
        self.ensure_one()
        country = self.country_id or self.company_id.country_id
        return self._crm_voip_country_code(country.id) or "RU"

    @api.model
    @tools.ormcache("country_id")
    def _crm_voip_country_code(self, country_id):
        """Asked for every PBX event; a country's code does not change."""
        return self.env["res.country"].browse(country_id).code if country_id else None

    @api.model
    def _find_by_webhook_token(self, token):
        """The provider a webhook URL token belongs to (token compared in SQL, indexed),
        read with what a webhook needs of it in the same query."""
        if not token or len(token) > 128:
            return self.browse()
        return self.search_fetch(
            [("webhook_token", "=", token)], PROVIDER_FIELDS_FOR_WEBHOOKS, limit=1
        )

    def _crm_voip_user_by_extension(self, extension):
        self.ensure_one()
        if not extension:
            return self.env["res.users"]
        return self.env["res.users"].browse(self._crm_voip_user_id_by_extension(extension))

    @tools.ormcache("self.id", "extension")
    def _crm_voip_user_id_by_extension(self, extension):
        """Asked for every PBX event: cached, cleared when an extension changes."""
        mapping = (
            self.env["crm.voip.extension"]
            .sudo()
            .search([("provider_id", "=", self.id), ("extension", "=", extension)], limit=1)
        )
        return mapping.user_id.id or None

    def _crm_voip_line_by_number(self, number_e164, raw_number):
        self.ensure_one()
        if not (number_e164 or raw_number):
            return self.env["crm.voip.line"]
        domain = [("provider_id", "=", self.id)]
        if number_e164:
            domain += ["|", ("number_e164", "=", number_e164), ("number", "=", raw_number)]
        else:
            domain += [("number", "=", raw_number)]
        return self.env["crm.voip.line"].search_fetch(domain, LINE_FIELDS_FOR_CALLS, limit=1)

    def _crm_voip_dial_number(self, raw):
        """Apply the dialling rules: ``(number for the PBX, E.164 or False)``.

        Raises a translated UserError when the number is invalid, blocked, or abroad
        while the user may only call his own country.
        """
        self.ensure_one()
        raw = (raw or "").strip()
        if providers.numbers.is_extension(raw):
            return raw, False  # an internal extension: dialled as it is
        region = self._crm_voip_region()
        digits = "".join(ch for ch in raw if ch.isdigit())
        if self.dial_city_code and not raw.startswith("+") and len(digits) in (5, 6, 7):
            raw = f"{self.dial_city_code}{digits}"
        number_e164 = providers.numbers.normalize(raw, region)
        if not number_e164:
            raise UserError(self.env._("%(number)s is not a valid phone number.", number=raw))
        for prefix in (self.dial_blocked_prefixes or "").replace(";", ",").split(","):
            prefix = prefix.strip().replace(" ", "")
            if prefix and number_e164.startswith("+" + prefix.lstrip("+")):
                raise UserError(
                    self.env._("Calls to %(prefix)s numbers are blocked.", prefix=prefix)
                )
        parsed = phonenumbers.parse(number_e164)
        national = parsed.country_code == phonenumbers.country_code_for_region(region)
        group = self.dial_international_group_id
        if not national and group and group not in self.env.user.groups_id:
            raise UserError(
                self.env._(
                    "You may only call numbers of %(country)s; ask your manager to call abroad.",
                    country=self.country_id.name or region,
                )
            )
        if not national and self.dial_international_prefix:
            return f"{self.dial_international_prefix}{number_e164[1:]}", number_e164
        if self.dial_format == "plus":
            return number_e164, number_e164
        if self.dial_format == "trunk" and national:
            trunk = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            return "".join(ch for ch in trunk if ch.isdigit()), number_e164
        return number_e164[1:], number_e164

    def crm_voip_simulate_call(self, scenario="answered", params=None):
        """Simulator mode only: have the VATS simulator play a call into this account.

        For demos, training and browser tests; the simulator answers at once and plays
        the webhooks a moment later, so this request never waits on them.
        """
        self.ensure_one()
        self.check_access("read")  # an account of his companies
        provider_sudo = self.sudo()
        if not provider_sudo.use_simulator or not provider_sudo.base_url:
            raise UserError(self.env._("Only a PBX account in simulator mode can simulate calls."))
        # The simulator answers its control requests under each PBX's API base URL.
        base = provider_sudo.base_url.rstrip("/")
        if params is None:
            # From the button: a call that rings the clicking user's own extension.
            extension = self.extension_ids.filtered(lambda e: e.user_id == self.env.user)[:1]
            params = {"event_gap": 2.0}
            if extension:
                params.update(extensions=[extension.extension], answered_by=extension.extension)
        body = {"provider": provider_sudo.code, "scenario": scenario, "params": params}
        try:
            response = requests.post(f"{base}/_simulator/play", json=body, timeout=5)
            response.raise_for_status()
        except requests.RequestException as error:
            raise UserError(
                self.env._("The simulator did not answer: %(error)s", error=error)
            ) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "title": self.env._("Simulated call on its way"),
                "message": self.env._("Call %(call)s", call=response.json().get("call_id", "")),
                "sticky": False,
            },
        }
