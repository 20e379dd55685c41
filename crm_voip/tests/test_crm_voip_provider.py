"""A PBX plugs in by its adapter: the account, its form and the recording pipeline read
the adapter's declarations, and nothing outside the adapter names a PBX."""

import importlib.util
import json
import pathlib

import requests

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.crm_voip import providers

from .common import ZADARMA_SECRET, CrmVoipCommon
from .common_http import run_commit_hooks

MODULE_DIR = pathlib.Path(__file__).resolve().parents[1]


@tagged("post_install", "-at_install", "crm_voip")
class TestCrmVoipProvider(CrmVoipCommon):
    def test_pbx_choice_lists_every_adapter(self):
        choices = dict(self.env["crm.voip.provider"]._selection_code())
        self.assertEqual(sorted(choices), providers.available_codes())
        for code, label in choices.items():
            self.assertEqual(label, providers.get_adapter_class(code).label)

    def test_form_offers_the_settings_the_adapter_declares(self):
        for provider in (self.zadarma, self.generic):
            adapter_class = providers.get_adapter_class(provider.code)
            schema = provider.settings_schema
            self.assertEqual(
                [item["name"] for item in schema],
                [item.name for item in adapter_class.config_fields],
            )
            self.assertEqual(
                [item["secret"] for item in schema],
                [item.secret for item in adapter_class.config_fields],
            )
            self.assertEqual(provider.routes_synchronously, adapter_class.routes_synchronously)
            self.assertEqual(provider.has_call_history, adapter_class.has_call_history)
            self.assertEqual(provider.transport, adapter_class.transport)
        # The form's widget reads them again when the PBX changes.
        for code in providers.available_codes():
            declared = providers.get_adapter_class(code).config_fields
            schema = self.env["crm.voip.provider"].new({"code": code}).settings_schema
            self.assertEqual([item["name"] for item in schema], [item.name for item in declared])

    def test_adapter_is_built_from_the_declared_settings(self):
        self.zadarma.settings = {"max_event_age": "3600", "not_declared": "x"}
        adapter = self.zadarma._get_crm_voip_adapter()
        self.assertEqual(adapter.config["api_secret"], ZADARMA_SECRET)
        self.assertEqual(adapter.config["max_event_age"], 3600)
        self.assertNotIn("not_declared", adapter.config)
        self.assertEqual(adapter.config["timezone"], "Europe/Moscow")
        # Another PBX's settings are not this one's.
        self.assertNotIn("webhook_secret", adapter.config)
        self.assertEqual(adapter._setting("recording_lifetime"), 1800)  # declared default

    def test_a_setting_of_the_wrong_kind_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "a whole number is expected"):
            self.zadarma.settings = {"max_event_age": "one day"}
            self.zadarma.flush_recordset()

    def test_the_recording_pipeline_reads_the_adapter(self):
        Recording = self.env["crm.voip.recording"]
        for provider in (self.zadarma, self.generic):
            adapter_class = providers.get_adapter_class(provider.code)
            self.assertEqual(
                Recording._crm_voip_fetch_delay(provider), adapter_class.recording_fetch_delay
            )

    def test_secrets_are_for_administrators_only(self):
        for user in (self.sales_manager, self.salesman_anna):
            provider = self.zadarma.with_user(user)
            self.assertTrue(provider.settings_schema, "the form's declarations are public")
            self.assertNotIn("secret_settings", provider.fields_get())

    def test_legacy_settings_move_to_the_declared_ones(self):
        """18.0.1.0.0 databases had a column per credential, whatever the PBX."""
        cr = self.env.cr
        for column, kind in (
            ("api_key", "varchar"),
            ("api_secret", "varchar"),
            ("webhook_secret", "varchar"),
            ("replay_window", "int4"),
            ("max_event_age", "int4"),
        ):
            cr.execute(f"ALTER TABLE crm_voip_provider ADD COLUMN {column} {kind}")
        cr.execute(
            "UPDATE crm_voip_provider SET api_key = 'old-key', api_secret = 'old-secret',"
            " webhook_secret = 'old-hook', replay_window = 120, max_event_age = 7200,"
            " settings = NULL, secret_settings = NULL WHERE id IN %s",
            [(self.zadarma.id, self.generic.id)],
        )
        path = MODULE_DIR / "migrations" / "18.0.1.1.0" / "post-migrate.py"
        spec = importlib.util.spec_from_file_location("crm_voip_migration_18_0_1_1", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertEqual(
            self.zadarma.secret_settings, {"api_key": "old-key", "api_secret": "old-secret"}
        )
        self.assertEqual(self.zadarma.settings, {"max_event_age": 7200})
        self.assertEqual(
            self.generic.secret_settings, {"webhook_secret": "old-hook", "api_key": "old-key"}
        )
        self.assertEqual(self.generic.settings, {"replay_window": 120})
        cr.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'crm_voip_provider' AND column_name = 'api_secret'"
        )
        self.assertEqual(cr.fetchone()[0], 0, "no credential is left in an unread column")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_ui")
class TestCrmVoipProviderUi(HttpCase):
    def test_settings_form_follows_the_pbx(self):
        company = self.env["res.company"].create({"name": "Settings Co"})
        new_test_user(
            self.env,
            "voip_sysadmin",
            groups="base.group_system,sales_team.group_sale_manager",
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
        )
        self.start_tour(
            "/odoo/action-crm_voip.crm_voip_provider_action/new",
            "crm_voip_provider_settings",
            login="voip_sysadmin",
        )
        provider = self.env["crm.voip.provider"].search([("name", "=", "Tour PBX")])
        self.assertEqual(provider.code, "generic")
        self.assertEqual(provider.sudo().secret_settings, {"webhook_secret": "s3cret-tour"})
        self.assertEqual(provider.settings, {"replay_window": 120})

    def test_notifications_to_set_up_are_shown_with_the_secret(self):
        """For each PBX that posts the bodies its customer writes."""
        codes = [
            code
            for code in providers.available_codes()
            if providers.get_adapter_class(code).shows_notification_templates()
        ]
        for code in codes:
            adapter_class = providers.get_adapter_class(code)
            account = self.env["crm.voip.provider"].create(
                {"name": f"Templates {code}", "code": code}
            )
            generated = [item.name for item in adapter_class.config_fields if item.generated]
            self.assertTrue(
                all(account.secret_settings.get(name) for name in generated),
                "the account's own secret is there from the start",
            )
            account.secret_settings = {
                **account.secret_settings,
                **dict.fromkeys(generated, "tour-secret-42"),
            }
            self.assertTrue(account.notification_templates)
            self.start_tour(
                f"/odoo/action-crm_voip.crm_voip_provider_action/{account.id}",
                "crm_voip_notification_templates",
                login="admin",
            )


@tagged("post_install", "-at_install", "crm_voip")
class TestCrmVoipProviderHealth(HttpCase, CrmVoipCommon):
    """A PBX that refuses our credentials turns the account red, with its words, until it
    accepts them again; the actions using the credentials are the administrators'."""

    def setUp(self):
        super().setUp()
        run_commit_hooks(self)
        self.authenticate("admin", "admin")

    def answer(self, status, payload):
        """The account's adapter answers ``payload`` with ``status`` (its one transport)."""
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        adapter_class = self.zadarma._crm_voip_adapter_class()
        self.patch(adapter_class, "_request", lambda *args, **kwargs: response)

    def press(self, method, provider=None):
        """The account's button ``method``, pressed in the browser (a read-only request)."""
        return self.make_jsonrpc_request(
            "/web/dataset/call_button/crm.voip.provider/" + method,
            {
                "model": "crm.voip.provider",
                "method": method,
                "args": [(provider or self.zadarma).ids],
                "kwargs": {},
            },
        )

    def test_refused_credentials_turn_the_account_red_until_accepted(self):
        self.assertNotEqual(self.zadarma.health, "api_error")
        self.answer(401, {"status": "error", "message": "Not authorized"})
        action = self.press("action_test_connection")
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Not authorized", action["params"]["message"])
        self.zadarma.invalidate_recordset()
        self.assertEqual(self.zadarma.health, "api_error")
        self.assertIn("Not authorized", self.zadarma.api_error)
        self.assertTrue(self.zadarma.api_error_date)

        self.answer(200, {"status": "success", "balance": 10, "currency": "RUB"})
        action = self.press("action_test_connection")
        self.assertEqual(action["params"]["type"], "success")
        self.zadarma.invalidate_recordset()
        self.assertFalse(self.zadarma.api_error)
        self.assertNotEqual(self.zadarma.health, "api_error")

    def test_other_failures_say_nothing_of_the_credentials(self):
        self.answer(503, {"status": "error", "message": "Maintenance"})
        action = self.press("action_test_connection")
        self.assertEqual(action["params"]["type"], "danger")
        self.zadarma.invalidate_recordset()
        self.assertFalse(self.zadarma.api_error)

    def test_a_click_to_call_refused_for_credentials_turns_it_red(self):
        self.answer(401, {"status": "error", "message": "Token revoked"})
        adapter = self.zadarma._get_crm_voip_adapter()
        reason = self.env["crm.voip.call"]._crm_voip_request_pbx_call(
            adapter, "101", "74957654321", provider=self.zadarma
        )
        self.assertIn("credentials", reason)
        self.env.cr.postcommit.run()
        self.zadarma.invalidate_recordset()
        self.assertEqual(self.zadarma.health, "api_error")
        self.assertIn("Token revoked", self.zadarma.api_error)

    def test_the_hint_follows_the_message(self):
        error = providers.errors.AuthError("IP refused", hint="Open the API menu.")
        self.assertEqual(self.zadarma._crm_voip_error_text(error), "IP refused Open the API menu.")

    def test_credentials_are_used_by_administrators_only(self):
        for user in (self.sales_manager, self.salesman_anna):
            provider = self.zadarma.with_user(user)
            with self.assertRaises(AccessError):
                provider.action_test_connection()
            with self.assertRaises(AccessError):
                provider.action_crm_voip_subscribe_events()

    def test_a_pbx_without_subscriptions_offers_none(self):
        self.assertFalse(self.zadarma.manages_subscriptions)
        self.assertFalse(self.zadarma.shows_notification_templates)
        self.assertFalse(self.zadarma.notification_templates)
        with self.assertRaises(UserError):
            self.zadarma.action_crm_voip_subscribe_events()
