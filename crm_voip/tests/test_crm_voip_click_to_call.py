"""Click-to-call, dialling rules, bus pushes and wrap-up, through the simulator."""

import json
from datetime import date, timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common_http import CrmVoipHttpCommon
from .test_crm_voip_webhook import ROMASHKA_CALLER


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_click_to_call")
class TestDiallingRules(CrmVoipHttpCommon):
    DEFAULT_RULES = {
        "dial_format": "digits",
        "dial_international_prefix": False,
        "dial_city_code": False,
        "dial_blocked_prefixes": False,
        "dial_international_group_id": False,
    }

    def dial_number(self, raw, **rules):
        self.zadarma.write(dict(self.DEFAULT_RULES, **rules))
        return self.zadarma._crm_voip_dial_number(raw)

    def test_formats(self):
        self.assertEqual(self.dial_number("8 (495) 765-43-21"), ("74957654321", "+74957654321"))
        self.assertEqual(
            self.dial_number("+7 495 765 43 21", dial_format="plus"),
            ("+74957654321", "+74957654321"),
        )
        self.assertEqual(
            self.dial_number("+7 495 765 43 21", dial_format="trunk"),
            ("84957654321", "+74957654321"),
        )
        self.assertEqual(
            self.dial_number("+44 20 7946 0958", dial_international_prefix="810"),
            ("81044207946" + "0958", "+442079460958"),
        )
        self.assertEqual(
            self.dial_number("765-43-21", dial_city_code="495"), ("74957654321", "+74957654321")
        )
        self.assertEqual(self.dial_number("102"), ("102", False), "extensions pass as they are")

    def test_refusals(self):
        with self.assertRaisesRegex(UserError, "not a valid phone number"):
            self.dial_number("+7 12")
        with self.assertRaisesRegex(UserError, "blocked"):
            self.dial_number("+882 1234 5678 90", dial_blocked_prefixes="+882, +979")
        abroad_group = self.env.ref("crm_voip.crm_voip_group_manager")
        self.zadarma.write(dict(self.DEFAULT_RULES, dial_international_group_id=abroad_group.id))
        provider = self.zadarma.with_user(self.salesman_anna)
        with self.assertRaisesRegex(UserError, "only call numbers of"):
            provider._crm_voip_dial_number("+44 20 7946 0958")
        self.assertEqual(provider._crm_voip_dial_number("84957654321")[1], "+74957654321")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_click_to_call")
class TestClickToCall(CrmVoipHttpCommon):
    def test_click_to_call_rings_the_extension_then_the_client(self):
        self.sim.auto_play_originate = True
        Call = self.env["crm.voip.call"].with_user(self.salesman_anna)
        payload = Call.crm_voip_dial_prepare(
            "8 (495) 765-43-21", res_model="crm.lead", res_id=self.opportunity_romashka.id
        )
        call = self.env["crm.voip.call"].browse(payload["call_id"])
        self.assertRecordValues(
            call,
            [
                {
                    "origin": "click_to_call",
                    "direction": "outbound",
                    "state": "ringing",
                    "user_id": self.salesman_anna.id,
                    "extension": "101",
                    "lead_id": self.opportunity_romashka.id,
                    "partner_id": self.client_romashka.id,
                    "dialled_number": "74957654321",
                }
            ],
        )
        self.env.flush_all()
        self.authenticate("voip_anna", "voip_anna")
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": call.id})
        self.assertEqual(reply, {"error": False})
        callbacks = [r for r in self.sim.requests if r.path == "/v1/request/callback/"]
        self.assertEqual(len(callbacks), 1)
        self.assertTrue(callbacks[0].auth_ok)
        self.assertEqual(callbacks[0].params["from"], "101")
        self.assertEqual(callbacks[0].params["to"], "74957654321")
        # The PBX then reports the call under its own id: it is the same call.
        self.sim.wait_background()
        self.env.invalidate_all()
        self.assertNotEqual(call.provider_call_id[:4], "c2c-")
        self.assertEqual(call.state, "done")
        self.assertEqual(
            self.env["crm.voip.call"].search_count([("user_id", "=", self.salesman_anna.id)]), 1
        )

    def test_refused_originate_is_logged_as_failed(self):
        Call = self.env["crm.voip.call"].with_user(self.salesman_anna)
        payload = Call.crm_voip_dial_prepare("+7 495 765 43 21")
        self.env.flush_all()
        self.sim.fail_next(1, 401)
        self.authenticate("voip_anna", "voip_anna")
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": payload["call_id"]})
        self.assertIn("credentials", reply["error"])
        call = Call.browse(payload["call_id"])
        call.crm_voip_originate_failed(reply["error"])
        self.assertEqual(call.state, "failed")

    def test_no_extension_is_a_clear_error(self):
        stranger = new_test_user(
            self.env,
            "voip_no_extension",
            groups="sales_team.group_sale_salesman",
            company_id=self.company.id,
            company_ids=[(6, 0, self.company.ids)],
        )
        with self.assertRaisesRegex(UserError, "no telephony extension"):
            self.env["crm.voip.call"].with_user(stranger).crm_voip_dial_prepare("84957654321")

    def test_other_users_cannot_originate_my_call(self):
        payload = (
            self.env["crm.voip.call"]
            .with_user(self.salesman_anna)
            .crm_voip_dial_prepare("84957654321")
        )
        self.env.flush_all()
        self.env.flush_all()
        self.authenticate("voip_boris", "voip_boris")
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": payload["call_id"]})
        self.assertTrue(reply["error"])
        self.assertFalse([r for r in self.sim.requests if r.path == "/v1/request/callback/"])


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_popup")
class TestPopupPushes(CrmVoipHttpCommon):
    def bus_messages(self, notification_type):
        """``(target partner id, payload)`` of each bus message of that type."""
        found = []
        for message in self.env["bus.bus"].sudo().search([], order="id"):
            content = json.loads(message.message)
            if content["type"] == notification_type:
                channel = json.loads(message.channel)
                self.assertEqual(channel[1], "res.partner", "sent to a user, never broadcast")
                found.append((channel[2], content["payload"]))
        return found

    def test_popup_goes_to_the_ringing_user_only(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.play(
            "zadarma", "answered", caller=ROMASHKA_CALLER, did="74951204567", answered_by="101"
        )
        incoming = self.bus_messages("crm_voip/incoming_call")
        self.assertEqual(
            [target for target, _payload in incoming], [self.salesman_anna.partner_id.id]
        )
        payload = incoming[0][1]
        self.assertEqual(payload["partner"]["name"], "Romashka LLC")
        self.assertEqual(payload["line"]["name"], "Moscow sales 495")
        self.assertEqual(payload["opportunities"][0]["name"], "Romashka: equipment")
        self.assertEqual(payload["responsible"], self.salesman_anna.name)
        updates = self.bus_messages("crm_voip/call_update")
        self.assertEqual([p["state"] for _t, p in updates], ["talking", "done"])
        self.assertEqual({t for t, _p in updates}, {self.salesman_anna.partner_id.id})

    def test_popup_shows_the_clients_history_and_overdue_activities(self):
        self.client_romashka.message_post(
            body="Sent the price list", message_type="comment", subtype_xmlid="mail.mt_note"
        )
        self.opportunity_romashka.activity_schedule(
            "mail.mail_activity_data_call",
            date_deadline=date.today() - timedelta(days=3),
            summary="Call back about the offer",
            user_id=self.salesman_anna.id,
        )
        moscow = "74951204567"
        self.play("zadarma", "answered", caller=ROMASHKA_CALLER, did=moscow, answered_by="101")
        self.env["bus.bus"].sudo().search([]).unlink()
        self.play("zadarma", "missed", caller=ROMASHKA_CALLER, did=moscow, extensions=["101"])
        [(_target, payload)] = self.bus_messages("crm_voip/incoming_call")
        calls = [item for item in payload["interactions"] if item["kind"] == "call"]
        self.assertEqual(len(calls), 1, "the earlier call, not the ringing one")
        self.assertEqual(
            calls[0]["summary"],
            f"Incoming call from +7 495 765-43-21 · Answered · {self.salesman_anna.name}"
            " · 0 min 42 s · Moscow sales 495",
        )
        messages = [i["summary"] for i in payload["interactions"] if i["kind"] == "message"]
        self.assertEqual(len(messages), 1, "the call summaries logged at hang-up are not repeated")
        self.assertTrue(messages[0].endswith(": Sent the price list"), messages)
        self.assertEqual(
            [(a["summary"], a["user"]) for a in payload["overdue_activities"]],
            [("Call back about the offer", self.salesman_anna.name)],
        )
        opportunity = payload["opportunities"][0]
        self.assertEqual(opportunity["stage"], self.opportunity_romashka.stage_id.name)
        self.assertIn("450", opportunity["revenue"])

    def test_ring_group_updates_everyone_rung(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.play(
            "zadarma",
            "ring_group_answered_elsewhere",
            caller=ROMASHKA_CALLER,
            extensions=["101", "102"],
            answered_by="102",
        )
        anna, boris = self.salesman_anna.partner_id.id, self.salesman_boris.partner_id.id
        incoming = self.bus_messages("crm_voip/incoming_call")
        self.assertEqual(sorted(t for t, _p in incoming), sorted([anna, boris]))
        updates = self.bus_messages("crm_voip/call_update")
        self.assertEqual({t for t, _p in updates}, {anna, boris}, "both popups learn who answered")
        answered = [p for t, p in updates if t == anna and p["state"] == "talking"]
        self.assertEqual(answered[0]["user_id"], self.salesman_boris.id)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_popup")
class TestWrapup(CrmVoipHttpCommon):
    def test_wrapup_saves_outcome_note_and_follow_ups(self):
        deliveries = self.play("zadarma", "answered", caller=ROMASHKA_CALLER, answered_by="101")
        call = self.call_of(self.zadarma, deliveries[0].event["pbx_call_id"])
        interested = self.env.ref("crm_voip.crm_voip_call_outcome_interested")
        call.with_user(self.salesman_anna).crm_voip_wrapup(
            {
                "outcome_id": interested.id,
                "note": "Wants 40 units in March",
                "next_call_date": "2030-03-01",
                "task_summary": "Send the price list",
            }
        )
        self.assertTrue(call.wrapup_done)
        self.assertEqual(call.outcome_id, interested)
        self.assertIn("Wants 40 units", call.note)
        activities = self.opportunity_romashka.activity_ids
        self.assertEqual(sorted(activities.mapped("activity_type_id.name")), ["Call", "To-Do"])
        self.assertIn(
            "Wants 40 units",
            " ".join(self.client_romashka.message_ids.mapped("body")),
        )

    def test_unknown_caller_becomes_contact_and_opportunity(self):
        deliveries = self.play("zadarma", "answered", caller="79990005566", answered_by="101")
        call = self.call_of(self.zadarma, deliveries[0].event["pbx_call_id"])
        self.assertTrue(call.lead_id, "the provider's policy created a lead")
        result = call.with_user(self.salesman_anna).crm_voip_create_contact(
            "New Client", with_opportunity=True
        )
        self.assertEqual(call.partner_id.name, "New Client")
        self.assertEqual(call.partner_id.phone, "+79990005566")
        self.assertEqual(call.lead_id.type, "opportunity")
        self.assertEqual(result["lead_id"], call.lead_id.id)

    def test_only_the_salesperson_wraps_up(self):
        deliveries = self.play("zadarma", "answered", caller=ROMASHKA_CALLER, answered_by="101")
        call = self.call_of(self.zadarma, deliveries[0].event["pbx_call_id"])
        with self.assertRaises(AccessError):
            call.with_user(self.salesman_boris).crm_voip_wrapup({"note": "not mine"})
