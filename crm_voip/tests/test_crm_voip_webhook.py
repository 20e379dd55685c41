"""Every call scenario, played by the VATS simulator over HTTP into the running Odoo."""

import json
from unittest.mock import patch

import requests

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import GENERIC_API_KEY, GENERIC_SECRET, ZADARMA_KEY, ZADARMA_SECRET
from .common_http import CrmVoipHttpCommon
from .common_scenarios import CallScenarioSuite

WEBHOOK_LOGGER = "odoo.addons.crm_voip.controllers.crm_voip"
ROMASHKA_CALLER = "74957654321"  # typed "8 (495) 765-43-21" on the card


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_webhook")
class TestZadarmaWebhook(CrmVoipHttpCommon):
    provider_code = "zadarma"

    @property
    def provider(self):
        return self.zadarma if self.provider_code == "zadarma" else self.generic

    def _play_call(self, scenario, **params):
        deliveries = self.play(self.provider_code, scenario, **params)
        for delivery in deliveries:
            self.assertEqual(delivery.status, 200, delivery.text)
        call_id = deliveries[0].event.get("pbx_call_id") or deliveries[0].event.get("call_id")
        return self.call_of(self.provider, call_id), deliveries

    def test_answered_call_is_logged_and_linked(self):
        call, _deliveries = self._play_call(
            "answered", caller=ROMASHKA_CALLER, did="74951204567", answered_by="101"
        )
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "inbound",
                    "state": "done",
                    "disposition": "answered",
                    "from_number": ROMASHKA_CALLER,
                    "partner_number_e164": "+74957654321",
                    "did_number": "74951204567",
                    "line_id": self.line_moscow.id,
                    "source_id": self.source_direct.id,
                    "partner_id": self.client_romashka.id,
                    "lead_id": self.opportunity_romashka.id,
                    "user_id": self.salesman_anna.id,
                    "team_id": self.team.id,
                    "extension": "101",
                    "talk_seconds": 42,
                    "company_id": self.company.id,
                }
            ],
        )
        self.assertTrue(call.date_start and call.date_answer and call.date_end)
        self.assertLessEqual(call.date_start, call.date_answer)
        self.assertLessEqual(call.date_answer, call.date_end)
        self.assertEqual(len(call.event_ids), 4)
        self.assertEqual(set(call.event_ids.mapped("state")), {"applied"})
        for record in (self.client_romashka, self.opportunity_romashka):
            summary = record.message_ids.filtered(lambda m: "Incoming call from" in (m.body or ""))
            self.assertEqual(len(summary), 1, f"one call summary on {record.display_name}")
            self.assertIn("+7 495 765-43-21", summary.body)

    def test_missed_call(self):
        call, _deliveries = self._play_call("missed", caller="79167654321", extensions=["101"])
        self.assertRecordValues(
            call,
            [
                {
                    "state": "missed",
                    "partner_id": self.client_ivan.id,
                    "date_answer": False,
                    "talk_seconds": 0,
                }
            ],
        )
        self.assertIn(self.salesman_anna, call.rang_user_ids)
        self.assertTrue(call.date_end)

    def test_busy_call(self):
        call, _deliveries = self._play_call("busy", caller="79167654321", extensions=["102"])
        self.assertEqual(call.state, "busy")
        self.assertEqual(call.disposition, "busy")

    def test_transferred_call_ends_with_last_agent(self):
        call, _deliveries = self._play_call(
            "transferred", caller=ROMASHKA_CALLER, extensions=["101", "102"], answered_by="102"
        )
        self.assertRecordValues(
            call, [{"state": "done", "user_id": self.salesman_boris.id, "extension": "102"}]
        )

    def test_ring_group_answered_elsewhere(self):
        call, _deliveries = self._play_call(
            "ring_group_answered_elsewhere",
            caller=ROMASHKA_CALLER,
            extensions=["101", "102", "103"],
            answered_by="102",
        )
        self.assertEqual(call.state, "done")
        self.assertEqual(call.user_id, self.salesman_boris)
        self.assertEqual(
            call.rang_user_ids, self.salesman_anna | self.salesman_boris | self.salesman_other
        )

    def test_outgoing_call_from_desk_phone(self):
        """A call placed on a desk phone, not from Odoo, is logged and linked the same."""
        call, _deliveries = self._play_call(
            "outgoing", extension="101", number="442079460958", talk_seconds=30
        )
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "outbound",
                    "state": "done",
                    "user_id": self.salesman_anna.id,
                    "partner_id": self.client_london.id,
                    "partner_number_e164": "+442079460958",
                    "talk_seconds": 30,
                }
            ],
        )

    def test_recording_ready(self):
        call, _deliveries = self._play_call("answered", caller=ROMASHKA_CALLER, record=True)
        self.assertTrue(call.recording_ref)

    def test_duplicates_are_accepted_and_ignored(self):
        deliveries = self.play(self.provider_code, "duplicates", caller=ROMASHKA_CALLER)
        self.assertEqual([d.status for d in deliveries], [200] * len(deliveries))
        call_id = deliveries[0].event.get("pbx_call_id") or deliveries[0].event.get("call_id")
        call = self.call_of(self.provider, call_id)
        self.assertEqual(len(call), 1)
        self.assertEqual(len(call.event_ids), len(deliveries) // 2)
        self.assertEqual(call.state, "done")
        summaries = self.client_romashka.message_ids.filtered(
            lambda m: "Incoming call from" in (m.body or "")
        )
        self.assertEqual(len(summaries), 1, "a repeated hang-up posts nothing twice")

    def test_out_of_order_events(self):
        """An end before the answer, and a start that never comes, still make one right call."""
        extension = "101" if self.provider_code == "zadarma" else "201"
        call, _deliveries = self._play_call(
            "out_of_order", caller=ROMASHKA_CALLER, answered_by=extension
        )
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "partner_id": self.client_romashka.id,
                    "user_id": self.salesman_anna.id,
                }
            ],
        )
        self.assertTrue(call.date_answer)
        self.assertTrue(call.date_end)
        self.assertEqual(call.talk_seconds, 42)

    def test_call_start_reply_names_the_caller(self):
        deliveries = self.play(self.provider_code, "answered", caller=ROMASHKA_CALLER)
        reply = deliveries[0].json()
        if self.provider_code == "zadarma":
            self.assertEqual(reply, {"caller_name": "Romashka LLC"})
        else:
            self.assertEqual(reply["route"]["caller_name"], "Romashka LLC")

    def test_unknown_caller_creates_a_lead_with_the_line_source(self):
        call, _deliveries = self._play_call(
            "answered", caller="79990001122", did="74951204567", answered_by="101"
        )
        lead = call.lead_id
        self.assertTrue(lead, "the lead policy created a lead")
        self.assertTrue(call.lead_created)
        self.assertEqual(lead.source_id, self.source_direct)
        self.assertEqual(lead.team_id, self.team)
        self.assertEqual(lead.phone, "+79990001122")
        self.assertEqual(lead.user_id, self.salesman_anna, "the answering salesperson owns it")
        # The second call from that number finds the lead instead of creating another.
        second, _deliveries = self._play_call("missed", caller="8 999 000-11-22")
        self.assertEqual(second.lead_id, lead)

    def test_unknown_caller_lead_is_created_after_the_routing_reply(self):
        events = self.sim.scenario_events(
            self.provider_code, "answered", caller="79990003344", answered_by="101"
        )
        [start] = self.send(self.provider_code, events[:1])
        call_id = start.event.get("pbx_call_id") or start.event.get("call_id")
        call = self.call_of(self.provider, call_id)
        # The PBX was waiting for that answer: nothing was created for the number yet.
        self.assertFalse(call.lead_id or call.partner_id)
        self.send(self.provider_code, events[1:])
        self.assertTrue(call.lead_id or call.partner_id, "the call's next event applied it")
        self.assertEqual((call.lead_id.phone or call.partner_id.phone), "+79990003344")

    @mute_logger(WEBHOOK_LOGGER)
    def test_bad_signature_is_refused_and_nothing_stored(self):
        events_before = self.env["crm.voip.event"].search_count([])
        for scenario in ("bad_signature", "unsigned"):
            deliveries = self.play(self.provider_code, scenario, caller=ROMASHKA_CALLER)
            self.assertEqual([d.status for d in deliveries], [403], scenario)
        self.assertEqual(self.env["crm.voip.event"].search_count([]), events_before)

    @mute_logger(WEBHOOK_LOGGER)
    def test_malformed_body_gets_400_with_a_reason(self):
        deliveries = self.play(self.provider_code, "malformed")
        self.assertEqual(deliveries[0].status, 400)
        self.assertTrue(deliveries[0].json()["error"])

    @mute_logger(WEBHOOK_LOGGER)
    def test_ip_allowlist(self):
        self.provider.ip_allowlist = "185.45.152.40/30"
        deliveries = self.play(self.provider_code, "answered", caller=ROMASHKA_CALLER)
        self.assertEqual({d.status for d in deliveries}, {403})
        self.provider.ip_allowlist = "127.0.0.0/8"
        deliveries = self.play(self.provider_code, "answered", caller=ROMASHKA_CALLER)
        self.assertEqual({d.status for d in deliveries}, {200})

    @mute_logger(WEBHOOK_LOGGER, "odoo.addons.crm_voip.models.crm_voip_event")
    def test_event_that_fails_to_apply_is_kept(self):
        """Stored first: a bug while applying loses nothing and is retried later."""
        call_model = type(self.env["crm.voip.call"])
        original = call_model._crm_voip_apply_event
        with patch.object(call_model, "_crm_voip_apply_event", side_effect=ValueError("boom")):
            deliveries = self.play(self.provider_code, "answered", caller=ROMASHKA_CALLER)
        self.assertEqual({d.status for d in deliveries}, {200})
        call_id = deliveries[0].event.get("pbx_call_id") or deliveries[0].event.get("call_id")
        events = self.env["crm.voip.event"].search([("provider_call_id", "=", call_id)])
        self.assertEqual(len(events), 4)
        self.assertEqual(set(events.mapped("state")), {"error"})
        self.assertIn("boom", events[0].error)
        self.assertEqual(call_model._crm_voip_apply_event, original)
        self.env["crm.voip.event"]._cron_crm_voip_retry_events()
        self.assertEqual(set(events.mapped("state")), {"applied"})
        self.assertEqual(self.call_of(self.provider, call_id).state, "done")

    def test_unknown_webhook_url(self):
        with mute_logger(WEBHOOK_LOGGER):
            response = self.url_open("/crm_voip/webhook/not-a-token", data=b"x")
        self.assertEqual(response.status_code, 404)

    def test_provider_health_and_connection(self):
        self.assertEqual(self.provider.health, "never")
        self.play(self.provider_code, "missed", caller=ROMASHKA_CALLER)
        self.provider.invalidate_recordset()
        self.assertEqual(self.provider.health, "ok")
        action = self.provider.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_webhook")
class TestGenericWebhook(TestZadarmaWebhook):
    provider_code = "generic"

    def test_recording_ready(self):
        call, _deliveries = self._play_call("answered", caller=ROMASHKA_CALLER, record=True)
        self.assertTrue(call.recording_ref)

    def test_unknown_caller_creates_a_lead_with_the_line_source(self):
        """The generic test account's policy creates a contact instead."""
        call, _deliveries = self._play_call("answered", caller="79990001133", answered_by="201")
        self.assertFalse(call.lead_id)
        self.assertEqual(call.partner_id.phone, "+79990001133")
        self.assertEqual(call.user_id, self.salesman_anna)

    def test_timing_from_event_timestamps(self):
        call, _deliveries = self._play_call(
            "answered", caller=ROMASHKA_CALLER, ring_seconds=9, talk_seconds=50, answered_by="201"
        )
        self.assertEqual(call.ring_seconds, 9)
        self.assertEqual(call.talk_seconds, 50)

    @mute_logger(WEBHOOK_LOGGER)
    def test_stale_timestamp_is_refused(self):
        deliveries = self.play("generic", "answered", caller=ROMASHKA_CALLER, timestamp_offset=-900)
        self.assertEqual({d.status for d in deliveries}, {403})

    def test_batch_of_events(self):
        deliveries = self.play("generic", "answered", caller=ROMASHKA_CALLER, batch=True)
        self.assertEqual(len(deliveries), 1)
        body = deliveries[0].json()
        self.assertEqual(body["status"], "ok")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_webhook")
class TestZadarmaHandshake(CrmVoipHttpCommon):
    def test_zd_echo(self):
        self.assertTrue(self.sim.verify_url("zadarma"))

    def test_multipart_with_boundary_bug(self):
        deliveries = self.play("zadarma", "answered", caller=ROMASHKA_CALLER, multipart=True)
        self.assertEqual({d.status for d in deliveries}, {200})
        call = self.call_of(self.zadarma, deliveries[0].event["pbx_call_id"])
        self.assertEqual(call.state, "done")

    def test_get_without_echo_is_not_allowed(self):
        url = self._webhook_url(self.zadarma)
        response = requests.get(url, timeout=10)
        self.assertEqual(response.status_code, 405)
        self.assertEqual(json.loads(response.text)["status"], "error")


class ZadarmaScenarioAccount:
    """Zadarma in the scenario suites."""

    provider_code = "zadarma"
    SECRET_SETTINGS = {"api_key": ZADARMA_KEY, "api_secret": ZADARMA_SECRET}

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        return simulator.ZadarmaAccount(webhook_url, ZADARMA_KEY, ZADARMA_SECRET, "Europe/Moscow")


class GenericScenarioAccount:
    """Our generic signed protocol in the scenario suites."""

    provider_code = "generic"
    SECRET_SETTINGS = {"webhook_secret": GENERIC_SECRET, "api_key": GENERIC_API_KEY}

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        return simulator.GenericAccount(webhook_url, GENERIC_SECRET, GENERIC_API_KEY)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestZadarmaScenarios(ZadarmaScenarioAccount, CallScenarioSuite):
    pass


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestGenericScenarios(GenericScenarioAccount, CallScenarioSuite):
    pass
