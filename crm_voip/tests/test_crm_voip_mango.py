"""Mango Office through the real webhook endpoint: Mango posts below the URL it is given,
signs the raw ``json`` form value, reports legs and ends calls with its summary; a
click-to-call it refuses later ends failed; its employees are imported by e-mail."""

import json
import time
from datetime import datetime, timezone
from unittest.mock import patch

import requests

from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.crm_voip.providers import events as ev
from odoo.addons.crm_voip.providers import mango
from odoo.addons.crm_voip.providers.mango import MangoAdapter

from .common import CrmVoipCommon
from .common_http import CrmVoipHttpCommon
from .common_scenarios import CallScenarioSuite

KEY, SALT = "mango-key", "mango-salt"
CLIENT = "74957654321"  # Romashka's phone
LINE = "74951204568"


def mango_form(payload, key=KEY, salt=SALT, sign=None):
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return {"vpbx_api_key": key, "sign": sign or mango.sign(key, text, salt), "json": text}


class MangoCase(CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mango = cls._create_pbx_account(
            "mango", "Mango test", ("Mango 495", LINE), {"api_key": KEY, "api_salt": SALT}
        )


@tagged("post_install", "-at_install", "crm_voip")
class TestMangoWebhook(MangoCase, CrmVoipHttpCommon):
    def post(self, path, payload, **form):
        self.env.flush_all()
        url = f"{self._webhook_url(self.mango)}/{path}"
        response = self.url_open(url, data=mango_form(payload, **form), timeout=20)
        self.env.invalidate_all()
        return response

    def leg(self, state, seq, location="abonent", extension=None, **extra):
        called = {"number": LINE, "line_number": LINE}
        if extension:
            called["extension"] = extension
        return {
            "entry_id": "entry-1",
            "call_id": f"leg-{extension or location}",
            "timestamp": int(time.time()),
            "seq": seq,
            "call_state": state,
            "location": location,
            "from": {"number": CLIENT},
            "to": called,
            **extra,
        }

    def summary(self, entry_result, extension="12", talk=30):
        now = int(time.time())
        return {
            "entry_id": "entry-1",
            "call_direction": 1,
            "from": {"number": CLIENT},
            "to": {"extension": extension, "number": LINE},
            "line_number": LINE,
            "create_time": now - 60,
            "forward_time": now - 55,
            "talk_time": now - talk if entry_result else 0,
            "end_time": now,
            "entry_result": entry_result,
            "disconnect_reason": 1110 if entry_result else 1111,
        }

    def test_answered_call_from_legs_and_summary(self):
        for path, payload in [
            ("events/call", self.leg("Appeared", 1, location="ivr")),
            ("events/call", self.leg("Appeared", 1, extension="11")),
            ("events/call", self.leg("Appeared", 1, extension="12")),
            ("events/call", self.leg("Connected", 2, extension="12")),
            ("events/call", self.leg("Disconnected", 2, extension="11")),
            ("events/call", self.leg("Disconnected", 3, extension="12")),
            ("events/summary", self.summary(1)),
        ]:
            self.assertEqual(self.post(path, payload).status_code, 200, path)
        call = self.call_of(self.mango, "entry-1")
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "inbound",
                    "state": "done",
                    "disposition": "answered",
                    "user_id": self.salesman_boris.id,
                    "partner_id": self.client_romashka.id,
                    "partner_number_e164": "+74957654321",
                    "talk_seconds": 30,
                }
            ],
        )
        self.assertEqual(call.rang_user_ids, self.salesman_anna | self.salesman_boris)
        # A repeated delivery is recognised, not applied twice.
        self.assertEqual(self.post("events/summary", self.summary(1)).status_code, 200)
        self.assertEqual(len(call.event_ids.filtered(lambda e: e.kind == "ended")), 1)

    def test_missed_call_ends_with_the_summary_only(self):
        self.post("events/call", self.leg("Appeared", 1, location="ivr"))
        self.post("events/call", self.leg("Appeared", 1, extension="11"))
        self.post("events/call", self.leg("Disconnected", 2, extension="11"))
        call = self.call_of(self.mango, "entry-1")
        self.assertEqual(call.state, "ringing", "a leg's end is not the call's")
        self.post("events/summary", self.summary(0))
        self.assertRecordValues(call, [{"state": "missed", "disposition": "no_answer"}])

    def test_bad_requests_are_refused_and_nothing_is_stored(self):
        summary = self.summary(1)
        Event = self.env["crm.voip.event"]
        before = Event.search_count([("provider_id", "=", self.mango.id)])
        cases = [
            ({"sign": "0" * 64}, "events/summary", summary, 403),
            ({"key": "someone-else"}, "events/summary", summary, 403),
            ({}, "events/weather", summary, 400),
            ({}, "events/call", "{not json", 400),
            ({}, "events/call", "[1]", 400),
            ({}, "events/call", {"call_state": "Appeared"}, 400),
        ]
        with self.assertLogs("odoo.addons.crm_voip.controllers.crm_voip", "WARNING"):
            for form, path, payload, status in cases:
                self.assertEqual(self.post(path, payload, **form).status_code, status, (form, path))
        self.assertEqual(Event.search_count([("provider_id", "=", self.mango.id)]), before)
        self.assertFalse(self.call_of(self.mango, "entry-1"))

    def test_ping_and_unused_results_are_acknowledged(self):
        for path in ("ping", "result/route", "events/dtmf"):
            self.assertEqual(self.post(path, {"command_id": "x", "result": 1000}).status_code, 200)

    def test_refused_click_to_call_ends_failed_with_the_reason(self):
        call = self.env["crm.voip.call"]._crm_voip_create_click_to_call(
            self.mango, self.salesman_anna, "11", "+7 495 765-43-21", CLIENT, "+74957654321"
        )
        with patch.object(type(self.salesman_anna), "_bus_send") as bus_send:
            response = self.post(
                "result/callback", {"command_id": call.provider_call_id, "result": 2100}
            )
        self.assertEqual(response.status_code, 200)
        self.assertRecordValues(call, [{"state": "failed", "disposition": "failed"}])
        last = call.message_ids[:1]
        self.assertIn("out of money", last.body)
        self.assertEqual(last.message_type, "notification")
        (notification_type, message), _kwargs = bus_send.call_args
        self.assertEqual(notification_type, "simple_notification")
        self.assertIn("2100", message["message"])
        # Accepted: the legs name the call by Odoo's id and take it over.
        accepted = self.env["crm.voip.call"]._crm_voip_create_click_to_call(
            self.mango, self.salesman_anna, "11", "+7 495 765-43-21", CLIENT, "+74957654321"
        )
        self.post("result/callback", {"command_id": accepted.provider_call_id, "result": 1000})
        leg = {
            "entry_id": "entry-out",
            "call_id": "leg-out",
            "timestamp": int(time.time()),
            "seq": 1,
            "call_state": "Appeared",
            "location": "abonent",
            "from": {"extension": "11"},
            "to": {"number": CLIENT},
            "command_id": accepted.provider_call_id,
        }
        self.post("events/call", leg)
        self.assertEqual(accepted.provider_call_id, "entry-out")
        self.assertEqual(accepted.state, "ringing")


def fake_response(status=200, payload=None):
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload).encode() if payload is not None else b""
    return response


@tagged("post_install", "-at_install", "crm_voip")
class TestMangoRoutingCommand(MangoCase):
    """The routing decision goes to the PBX as a command once the event is committed;
    the transport is the adapter's one patched method."""

    def start_call(self):
        event = ev.CallEvent(
            kind=ev.CALL_STARTED,
            provider_call_id="entry-r",
            leg_id="leg-ivr",
            event_key="call|leg-ivr|1|Appeared",
            occurred_at=datetime.now(timezone.utc),
            direction="inbound",
            from_number=CLIENT,
            to_number=LINE,
            did=LINE,
        )
        return self.env["crm.voip.call"]._crm_voip_apply_event(self.mango, event)

    def test_decision_is_sent_after_the_commit(self):
        decision = ev.RoutingDecision(action="redirect", targets=["11"])
        sent = []

        def transport(adapter, method, url, **kwargs):
            sent.append((url, json.loads(kwargs["data"]["json"]), kwargs["timeout"]))
            return fake_response(payload={"result": 1000})

        Call = type(self.env["crm.voip.call"])
        with (
            patch.object(Call, "_crm_voip_routing_decision", return_value=decision),
            patch.object(MangoAdapter, "_request", transport),
        ):
            call = self.start_call()
            self.assertFalse(sent, "nothing is sent while the transaction is open")
            self.env.cr.postcommit.run()
        (url, payload, timeout) = sent[0]
        self.assertTrue(url.endswith("/commands/route"))
        self.assertEqual(
            payload, {"command_id": f"route-{call.id}", "call_id": "leg-ivr", "to_number": "11"}
        )
        self.assertEqual(timeout, 3)

    def test_route_not_taken_is_reported(self):
        decision = ev.RoutingDecision(action="redirect", targets=["11"])
        Call = type(self.env["crm.voip.call"])
        with (
            patch.object(Call, "_crm_voip_routing_decision", return_value=decision),
            patch.object(MangoAdapter, "_request", return_value=fake_response(420, {"code": 3310})),
            patch.object(Call, "_crm_voip_routing_undelivered") as undelivered,
            self.assertLogs("odoo.addons.crm_voip.models.crm_voip_call", "WARNING"),
        ):
            self.start_call()
            self.env.cr.postcommit.run()
        ((error,), _kwargs) = undelivered.call_args
        self.assertIn("3310", str(error))

    def test_default_route_sends_nothing(self):
        Call = type(self.env["crm.voip.call"])
        with (
            patch.object(Call, "_crm_voip_routing_decision", return_value=ev.RoutingDecision()),
            patch.object(MangoAdapter, "_request") as transport,
        ):
            self.start_call()
            self.env.cr.postcommit.run()
        transport.assert_not_called()


@tagged("post_install", "-at_install", "crm_voip")
class TestExtensionImport(MangoCase):
    USERS = {
        "users": [
            {
                "general": {"name": "Anna", "email": "ANNA@example.com"},
                "telephony": {"extension": "11"},
            },
            {
                "general": {"name": "Boris", "email": "boris@example.com"},
                "telephony": {"extension": "15"},
            },
            {
                "general": {"name": "Carl", "email": "carl@example.com"},
                "telephony": {"extension": "16"},
            },
            {
                "general": {"name": "Nobody", "email": "ghost@example.com"},
                "telephony": {"extension": "17"},
            },
        ]
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman_anna.email = "anna@example.com"
        cls.salesman_boris.email = "boris@example.com"
        cls.carl = new_test_user(
            cls.env,
            "voip_carl",
            groups="sales_team.group_sale_salesman",
            email="carl@example.com",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    def preview(self, user):
        with patch.object(MangoAdapter, "_request", return_value=fake_response(payload=self.USERS)):
            return self.mango.with_user(user).action_crm_voip_import_extensions()

    def test_preview_then_import(self):
        self.assertTrue(self.mango.lists_extensions)
        count = self.env["crm.voip.extension"].search_count([])
        action = self.preview(self.sales_manager)
        self.assertEqual(self.env["crm.voip.extension"].search_count([]), count, "a preview")
        wizard = (
            self.env["crm.voip.extension.import"]
            .with_user(self.sales_manager)
            .with_context(action["context"])
            .create({})
        )
        self.assertRecordValues(
            wizard.line_ids,
            [
                {
                    "extension": "11",
                    "user_id": self.salesman_anna.id,
                    "status": "linked",
                    "selected": False,
                },
                {
                    "extension": "15",
                    "user_id": self.salesman_boris.id,
                    "status": "moved",
                    "selected": True,
                },
                {"extension": "16", "user_id": self.carl.id, "status": "new", "selected": True},
                {"extension": "17", "user_id": False, "status": "unmatched", "selected": False},
            ],
        )
        wizard.action_import()
        extensions = self.mango.extension_ids
        self.assertEqual(
            {(ext.extension, ext.user_id) for ext in extensions},
            {("11", self.salesman_anna), ("15", self.salesman_boris), ("16", self.carl)},
        )

    def test_salespeople_cannot_import(self):
        with self.assertRaises(AccessError):
            self.preview(self.salesman_anna)
        with self.assertRaises(AccessError):
            self.env["crm.voip.extension.import"].with_user(self.salesman_anna).create(
                {"provider_id": self.mango.id}
            )


class MangoScenarioAccount:
    """Mango Office in the scenario suites."""

    provider_code = "mango"
    SECRET_SETTINGS = {"api_key": KEY, "api_salt": SALT}

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        return simulator.MangoAccount(webhook_url, KEY, SALT)

    def refuse_next_click_to_call(self):
        """Mango accepts the request, then reports the refusal to ``result/callback``."""
        account = self.sim.account("mango")
        account.command_result = 2100
        self.addCleanup(setattr, account, "command_result", 1000)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestMangoScenarios(MangoScenarioAccount, CallScenarioSuite):
    pass
