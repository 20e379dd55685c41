"""The incoming-call popup shows the rung salesperson what he may read, and nothing else;
what people wrote about the client (wrap-up notes too) is in its history."""

import json
from datetime import date, timedelta

from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from .common_http import CrmVoipHttpCommon
from .test_crm_voip_webhook import ROMASHKA_CALLER

MOSCOW = "74951204567"


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_popup")
class TestPopup(CrmVoipHttpCommon):
    def popups(self):
        """``{user partner id: payload}`` of the popups pushed since the last call."""
        popups = {}
        for message in self.env["bus.bus"].sudo().search([], order="id"):
            content = json.loads(message.message)
            if content["type"] == "crm_voip/incoming_call":
                popups[json.loads(message.channel)[2]] = content["payload"]
        return popups

    def ring(self, *extensions):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.play(
            "zadarma", "missed", caller=ROMASHKA_CALLER, did=MOSCOW, extensions=list(extensions)
        )
        return self.popups()

    def records_shown(self, payload):
        """The records a popup names, by model."""
        leads = [item["id"] for item in payload["opportunities"]]
        if payload["lead"]:
            leads.append(payload["lead"]["id"])
        return {
            "res.partner": [payload["partner"]["id"]] if payload["partner"] else [],
            "crm.lead": leads,
            "mail.activity": [item["id"] for item in payload["overdue_activities"]],
        }

    def assertShowsOnlyReadable(self, payload, user):
        for model, ids in self.records_shown(payload).items():
            records = self.env[model].browse(ids)
            readable = records.with_user(user)._filtered_access("read")
            self.assertEqual(readable.ids, records.ids, f"{user.login} cannot read {model} {ids}")

    def test_popup_of_another_team_shows_only_what_he_may_read(self):
        # Anna's client: her opportunity, her call, a note and an overdue task on it.
        self.play("zadarma", "answered", caller=ROMASHKA_CALLER, did=MOSCOW, answered_by="101")
        self.opportunity_romashka.message_post(
            body="Discount agreed", message_type="comment", subtype_xmlid="mail.mt_note"
        )
        self.opportunity_romashka.activity_schedule(
            "mail.mail_activity_data_call",
            date_deadline=date.today() - timedelta(days=2),
            summary="Send the contract",
            user_id=self.salesman_anna.id,
        )
        popups = self.ring("101", "103")
        anna = popups[self.salesman_anna.partner_id.id]
        other = popups[self.salesman_other.partner_id.id]
        # Anna sees it all: the test can tell a filtered popup from an empty one.
        self.assertEqual(anna["opportunities"][0]["name"], "Romashka: equipment")
        self.assertTrue([i for i in anna["interactions"] if i["kind"] == "call"])
        self.assertEqual(anna["overdue_activities"][0]["summary"], "Send the contract")
        self.assertShowsOnlyReadable(anna, self.salesman_anna)
        # The salesperson of another team sees the client, not Anna's deal.
        self.assertEqual(other["partner"]["name"], "Romashka LLC")
        self.assertFalse(other["opportunities"])
        self.assertFalse(other["lead"])
        self.assertFalse(other["overdue_activities"])
        self.assertFalse([i for i in other["interactions"] if i["kind"] == "call"])
        self.assertNotIn(
            "Discount agreed", json.dumps(other["interactions"]), "a note on Anna's deal"
        )
        self.assertShowsOnlyReadable(other, self.salesman_other)

    def test_popup_follows_a_change_of_rights(self):
        """What a recipient may read is kept between popups (turning his rules into SQL is
        most of a popup's cost), and forgotten as soon as his rights change."""
        self.play("zadarma", "answered", caller=ROMASHKA_CALLER, did=MOSCOW, answered_by="101")
        other = self.ring("103")[self.salesman_other.partner_id.id]
        self.assertFalse(other["opportunities"])
        self.salesman_other.groups_id = [
            Command.link(self.env.ref("sales_team.group_sale_salesman_all_leads").id)
        ]
        other = self.ring("103")[self.salesman_other.partner_id.id]
        self.assertEqual(other["opportunities"][0]["name"], "Romashka: equipment")
        self.assertShowsOnlyReadable(other, self.salesman_other)

    def test_popup_of_a_user_of_another_company_names_no_record(self):
        company_2 = self.env["res.company"].create({"name": "VoIP Popup Co 2"})
        stranger = new_test_user(
            self.env,
            "voip_stranger",
            groups="sales_team.group_sale_salesman_all_leads",
            company_id=company_2.id,
            company_ids=[Command.set(company_2.ids)],
        )
        deliveries = self.play(
            "zadarma", "answered", caller=ROMASHKA_CALLER, did=MOSCOW, answered_by="101"
        )
        call = self.call_of(self.zadarma, deliveries[0].event["pbx_call_id"])
        payload = call.sudo()._crm_voip_popup_payload(stranger)
        self.assertFalse(payload["partner"] or payload["lead"] or payload["opportunities"])
        self.assertFalse(payload["interactions"] or payload["overdue_activities"])
        self.assertEqual(payload["number"], "+7 495 765-43-21", "he still sees who calls")

    def test_wrapup_note_reaches_the_next_popup(self):
        deliveries = self.play(
            "zadarma", "answered", caller=ROMASHKA_CALLER, did=MOSCOW, answered_by="101"
        )
        call = self.call_of(self.zadarma, deliveries[0].event["pbx_call_id"])
        call.with_user(self.salesman_anna).crm_voip_wrapup({"note": "Wants 40 units in March"})
        anna = self.ring("101")[self.salesman_anna.partner_id.id]
        messages = [i["summary"] for i in anna["interactions"] if i["kind"] == "message"]
        self.assertEqual(len(messages), 1, "the hang-up line is a notification, not repeated")
        self.assertIn("Wants 40 units in March", messages[0])
        calls = [i for i in anna["interactions"] if i["kind"] == "call"]
        self.assertEqual(len(calls), 1, "the earlier call itself")
        logged = self.client_romashka.message_ids.filtered(lambda m: "data-oe-model" in m.body)
        self.assertEqual(set(logged.mapped("message_type")), {"notification"})
