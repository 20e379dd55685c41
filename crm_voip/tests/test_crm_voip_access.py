"""What a salesperson may change, attacked through real RPC: a call only through the
methods made for it (wrap-up, notes, click-to-call), each checking that the call is his;
the administrators' PBX actions refused to others; a click-to-call sent to the PBX once.

Each attack is made as the salesperson of another team and of another company (and,
for the call fields, as the owner himself and as a team leader)."""

from odoo.fields import Command
from odoo.tests import new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .common import user_of_company
from .common_http import CrmVoipHttpCommon

CALLBACK_PATH = "/v1/request/callback/"


class CrmVoipAccessCommon(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Another company, its PBX account and its salesperson.
        cls.company_2 = cls.env["res.company"].create(
            {"name": "VoIP Access Co 2", "country_id": cls.env.ref("base.ru").id}
        )
        cls.stranger = user_of_company(cls.env, cls.company_2, "voip_stranger_co2")
        cls.zadarma_2 = (
            cls.env["crm.voip.provider"]
            .with_context(allowed_company_ids=cls.company_2.ids)
            .create(
                {
                    "name": "Novofon Co 2",
                    "code": "zadarma",
                    "company_id": cls.company_2.id,
                    "country_id": cls.env.ref("base.ru").id,
                    "secret_settings": {"api_key": "key-2", "api_secret": "secret-2"},
                    "extension_ids": [
                        Command.create({"user_id": cls.stranger.id, "extension": "501"})
                    ],
                }
            )
        )
        # A team leader who is a plain salesperson, and his team's member.
        cls.leader = new_test_user(
            cls.env,
            "voip_leader",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.member = new_test_user(
            cls.env,
            "voip_member",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.leader_team = cls.env["crm.team"].create(
            {
                "name": "Leader desk",
                "company_id": cls.company.id,
                "user_id": cls.leader.id,
                "member_ids": [Command.set(cls.member.ids)],
            }
        )
        for user in (cls.stranger, cls.leader, cls.member):
            user.password = user.login
        Call = cls.env["crm.voip.call"]
        # Anna's click-to-call, still ringing: the attacks' target.
        cls.anna_call = Call._crm_voip_create_click_to_call(
            cls.zadarma, cls.salesman_anna, "101", "84957654321", "74957654321", "+74957654321"
        )
        # An unassigned incoming call, with a recording meant for managers.
        cls.unassigned_call = Call.create(
            {
                "provider_id": cls.zadarma.id,
                "company_id": cls.company.id,
                "provider_call_id": "access-unassigned",
                "direction": "inbound",
                "state": "missed",
                "partner_number": "84957654321",
                "partner_number_e164": "+74957654321",
            }
        )
        cls.recording = cls.env["crm.voip.recording"].create(
            {"call_id": cls.unassigned_call.id, "recording_ref": "rec-access"}
        )
        # A call of the leader's team member.
        cls.member_call = Call.create(
            {
                "provider_id": cls.zadarma.id,
                "company_id": cls.company.id,
                "provider_call_id": "access-member",
                "direction": "outbound",
                "state": "done",
                "user_id": cls.member.id,
                "team_id": cls.leader_team.id,
                "talk_seconds": 30,
            }
        )
        cls.outcome = cls.env["crm.voip.call.outcome"].create({"name": "Access: interested"})

    def assertRefused(self, login, model, method, args, **kwargs):
        with (
            mute_logger("odoo.http"),
            self.assertRaises(JsonRpcException, msg=f"{login}: {model}.{method}") as caught,
        ):
            self.rpc(login, model, method, args, **kwargs)
        self.assertIn(
            caught.exception.args[0],
            (
                "odoo.exceptions.AccessError",
                "odoo.exceptions.UserError",
                "odoo.exceptions.MissingError",
            ),
            f"{login}: {model}.{method} refused for a good reason, not a crash",
        )

    def pbx_callbacks(self):
        return len([r for r in self.sim.requests if r.path == CALLBACK_PATH])


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_access")
class TestCallFieldsAccess(CrmVoipAccessCommon):
    def test_no_call_field_is_writable_by_a_salesperson(self):
        """The issue's attacks, each refused, the call unchanged."""
        attacks = [
            # Another company's PBX account on his call, then originate through it.
            ("voip_anna", self.anna_call, {"provider_id": self.zadarma_2.id}),
            ("voip_anna", self.anna_call, {"company_id": self.company_2.id}),
            # The dialled number changed after the dialling rules were checked.
            ("voip_anna", self.anna_call, {"dialled_number": "88821234567"}),
            # Another user's extension rung.
            ("voip_anna", self.anna_call, {"extension": "102"}),
            # State and talk time (reports gamed).
            ("voip_anna", self.anna_call, {"state": "done", "talk_seconds": 3600}),
            ("voip_anna", self.anna_call, {"wrapup_done": True}),
            ("voip_anna", self.anna_call, {"user_id": self.salesman_boris.id}),
            # An unassigned call taken to hear its recording.
            ("voip_anna", self.unassigned_call, {"user_id": self.salesman_anna.id}),
            ("voip_other", self.unassigned_call, {"user_id": self.salesman_other.id}),
            # A team leader below the telephony manager changes his team's calls neither.
            ("voip_leader", self.member_call, {"talk_seconds": 3600}),
            ("voip_leader", self.member_call, {"user_id": self.leader.id}),
            # Another team's and another company's salespeople.
            ("voip_other", self.anna_call, {"state": "failed"}),
            ("voip_stranger_co2", self.anna_call, {"provider_id": self.zadarma_2.id}),
        ]
        for login, call, values in attacks:
            with self.subTest(login=login, call=call.provider_call_id, values=values):
                before = call.read(list(values))[0]
                self.assertRefused(login, "crm.voip.call", "write", [call.ids, values])
                self.assertEqual(call.read(list(values))[0], before)
        # Nor creates or deletes one.
        self.assertRefused(
            "voip_anna",
            "crm.voip.call",
            "create",
            [{"provider_id": self.zadarma.id, "company_id": self.company.id}],
        )
        self.assertRefused("voip_anna", "crm.voip.call", "unlink", [self.anna_call.ids])
        self.assertFalse(self.recording.with_user(self.salesman_anna).has_access("read"))

    def test_a_manager_still_edits_the_call_form(self):
        """Managers keep what the call form offers them: its links and the salesperson."""
        self.rpc(
            "voip_manager",
            "crm.voip.call",
            "write",
            [self.unassigned_call.ids, {"user_id": self.salesman_boris.id}],
        )
        self.assertEqual(self.unassigned_call.user_id, self.salesman_boris)

    def test_call_views_are_read_only_for_a_salesperson(self):
        self.authenticate("voip_anna", "voip_anna")
        views = self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.voip.call/get_views",
            {
                "model": "crm.voip.call",
                "method": "get_views",
                "args": [[[False, "form"], [False, "list"]]],
                "kwargs": {},
            },
        )
        for view_type in ("form", "list"):
            self.assertIn('edit="False"', views["views"][view_type]["arch"], view_type)

    def test_wrapup_methods_work_for_the_call_owner_only(self):
        wrapup = {"note": "Wants a quote", "outcome_id": self.outcome.id}
        for login in ("voip_boris", "voip_other", "voip_leader", "voip_stranger_co2"):
            with self.subTest(login=login):
                self.assertRefused(
                    login, "crm.voip.call", "crm_voip_wrapup", [self.anna_call.ids, wrapup]
                )
                self.assertRefused(
                    login, "crm.voip.call", "crm_voip_add_note", [self.anna_call.ids, "Hi"]
                )
                self.assertRefused(
                    login, "crm.voip.call", "crm_voip_create_contact", [self.anna_call.ids]
                )
                self.assertRefused(
                    login, "crm.voip.call", "crm_voip_originate_failed", [self.anna_call.ids, "x"]
                )
        self.assertEqual(self.anna_call.state, "ringing")
        self.assertFalse(self.anna_call.wrapup_done or self.anna_call.note)
        # The owner wraps up, notes and creates a contact through them, in sudo.
        self.rpc("voip_anna", "crm.voip.call", "crm_voip_add_note", [self.anna_call.ids, "Hi"])
        self.rpc("voip_anna", "crm.voip.call", "crm_voip_wrapup", [self.anna_call.ids, wrapup])
        self.rpc(
            "voip_anna", "crm.voip.call", "crm_voip_create_contact", [self.anna_call.ids, "Olga"]
        )
        self.assertRecordValues(
            self.anna_call, [{"wrapup_done": True, "outcome_id": self.outcome.id}]
        )
        self.assertIn("Wants a quote", self.anna_call.note)
        self.assertEqual(self.anna_call.partner_id.name, "Olga")
        # He still logs a note in the call's chatter (read access is enough).
        self.rpc(
            "voip_anna",
            "crm.voip.call",
            "message_post",
            [self.anna_call.ids],
            body="Chatter note",
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )

    def test_a_missing_outcome_is_ignored(self):
        wrapup = {"outcome_id": 999999999}
        self.rpc("voip_anna", "crm.voip.call", "crm_voip_wrapup", [self.anna_call.ids, wrapup])
        self.assertFalse(self.anna_call.outcome_id)
        self.assertTrue(self.anna_call.wrapup_done)

    def test_click_to_call_links_only_records_he_may_read(self):
        lead_2 = (
            self.env["crm.lead"]
            .with_context(allowed_company_ids=self.company_2.ids)
            .create({"name": "Co 2 deal", "company_id": self.company_2.id})
        )
        self.assertRefused(
            "voip_anna",
            "crm.voip.call",
            "crm_voip_dial_prepare",
            ["84957654321"],
            res_model="crm.lead",
            res_id=lead_2.id,
        )


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_access")
class TestOriginateOnce(CrmVoipAccessCommon):
    def originate(self, login, call):
        self.authenticate(login, login)
        self.env.flush_all()
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": call.id})
        self.env.invalidate_all()
        return reply

    def test_a_repeated_originate_never_reaches_the_pbx_again(self):
        before = self.pbx_callbacks()
        self.assertEqual(self.originate("voip_anna", self.anna_call), {"error": False})
        self.assertEqual(self.pbx_callbacks(), before + 1)
        self.assertTrue(self.anna_call.originate_date)
        for _attempt in range(2):
            self.assertTrue(self.originate("voip_anna", self.anna_call)["error"])
        self.assertEqual(self.pbx_callbacks(), before + 1, "the PBX was asked once")
        # The call the PBX took is the PBX's to end: the "failed" marker leaves it.
        self.rpc(
            "voip_anna", "crm.voip.call", "crm_voip_originate_failed", [self.anna_call.ids, "x"]
        )
        self.assertEqual(self.anna_call.state, "ringing")

    def test_others_never_originate_his_call(self):
        before = self.pbx_callbacks()
        for login in (
            "voip_boris",
            "voip_other",
            "voip_leader",
            "voip_manager",
            "voip_stranger_co2",
        ):
            with self.subTest(login=login):
                self.assertTrue(self.originate(login, self.anna_call)["error"])
        self.assertEqual(self.pbx_callbacks(), before)
        self.assertFalse(self.anna_call.originate_date)

    def test_a_refused_originate_ends_the_call_failed(self):
        self.sim.fail_next(1, 401)
        reply = self.originate("voip_anna", self.anna_call)
        self.assertIn("credentials", reply["error"])
        self.assertEqual(self.anna_call.state, "failed")
        # The browser's third step changes nothing more.
        self.rpc(
            "voip_anna", "crm.voip.call", "crm_voip_originate_failed", [self.anna_call.ids, "x"]
        )
        self.assertEqual(self.anna_call.state, "failed")

    def test_the_failed_marker_before_any_originate(self):
        """A call never sent to the PBX (the browser lost the request): its salesperson
        ends it; nobody else."""
        self.assertRefused(
            "voip_other", "crm.voip.call", "crm_voip_originate_failed", [self.anna_call.ids, "x"]
        )
        self.rpc(
            "voip_anna", "crm.voip.call", "crm_voip_originate_failed", [self.anna_call.ids, "x"]
        )
        self.assertEqual(self.anna_call.state, "failed")
        # An ended call is never sent to the PBX.
        before = self.pbx_callbacks()
        self.assertTrue(self.originate("voip_anna", self.anna_call)["error"])
        self.assertEqual(self.pbx_callbacks(), before)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_access")
class TestPublicMethodsAccess(CrmVoipAccessCommon):
    """Every public method of crm_voip's models, called by a salesperson of another team
    and of another company: refused (the call-owner cases are in ``TestCallFieldsAccess``)."""

    def test_provider_administrator_actions(self):
        for login in ("voip_anna", "voip_other", "voip_manager", "voip_stranger_co2"):
            for method in (
                "action_test_connection",
                "action_crm_voip_subscribe_events",
                "action_rotate_webhook_token",
            ):
                with self.subTest(login=login, method=method):
                    token = self.zadarma.webhook_token
                    self.assertRefused(login, "crm.voip.provider", method, [self.zadarma.ids])
                    self.assertEqual(self.zadarma.webhook_token, token)
        # Managers' actions: refused to salespeople and to another company.
        for login in ("voip_anna", "voip_other", "voip_stranger_co2"):
            for method in (
                "action_crm_voip_import_extensions",
                "action_crm_voip_open_failed_recordings",
            ):
                with self.subTest(login=login, method=method):
                    self.assertRefused(login, "crm.voip.provider", method, [self.zadarma.ids])
        # The simulator plays calls into an account of one's own companies only.
        self.assertRefused(
            "voip_stranger_co2", "crm.voip.provider", "crm_voip_simulate_call", [self.zadarma.ids]
        )
        # Another company's manager: its account is not his.
        user_of_company(
            self.env, self.company_2, "voip_manager_co2", "sales_team.group_sale_manager"
        )
        for method in (
            "action_crm_voip_import_extensions",
            "action_crm_voip_open_failed_recordings",
        ):
            with self.subTest(login="voip_manager_co2", method=method):
                self.assertRefused(
                    "voip_manager_co2", "crm.voip.provider", method, [self.zadarma.ids]
                )

    def test_events_recordings_and_erasure(self):
        event = self.env["crm.voip.event"].create(
            {
                "provider_id": self.zadarma.id,
                "event_key": "access-event",
                "kind": "ended",
                "state": "error",
            }
        )
        for login in ("voip_anna", "voip_other", "voip_stranger_co2"):
            with self.subTest(login=login):
                self.assertRefused(login, "crm.voip.event", "action_retry", [event.ids])
                for method in ("action_retry", "action_delete_file", "action_open_call"):
                    self.assertRefused(login, "crm.voip.recording", method, [self.recording.ids])
                self.assertRefused(
                    login,
                    "res.partner",
                    "action_crm_voip_erase_recordings",
                    [self.client_romashka.ids],
                )
        self.assertEqual(self.recording.state, "pending")

    def test_erasure_keeps_to_the_managers_companies(self):
        """A shared contact: another company's manager erases his own company's recordings
        of him, never this company's."""
        shared = self.env["res.partner"].create({"name": "Shared client", "company_id": False})
        self.unassigned_call.partner_id = shared
        self.recording.flush_recordset()
        user_of_company(
            self.env, self.company_2, "voip_manager_co2_erase", "sales_team.group_sale_manager"
        )
        self.rpc(
            "voip_manager_co2_erase",
            "res.partner",
            "action_crm_voip_erase_recordings",
            [shared.ids],
        )
        self.assertNotEqual(self.recording.state, "deleted")

    def test_extension_import_wizard_is_the_managers(self):
        for login in ("voip_anna", "voip_other", "voip_stranger_co2"):
            with self.subTest(login=login):
                self.assertRefused(
                    login,
                    "crm.voip.extension.import",
                    "create",
                    [{"provider_id": self.zadarma.id}],
                )


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_access")
class TestPopupUnderRecipientRights(CrmVoipAccessCommon):
    def test_popup_never_names_what_its_recipient_cannot_read(self):
        """Anna's call with her client and opportunity, as the popup of a salesperson of
        another team and of another company would show it."""
        call = self.anna_call
        call.write({"partner_id": self.client_romashka.id, "lead_id": self.opportunity_romashka.id})
        secret_partner = self.env["res.partner"].create(
            {"name": "Company-one-only client", "company_id": self.company.id}
        )
        for recipient in (self.salesman_other, self.stranger):
            for partner in (self.client_romashka, secret_partner):
                with self.subTest(recipient=recipient.login, partner=partner.name):
                    call.partner_id = partner
                    payload = call.sudo()._crm_voip_popup_payload(recipient)
                    readable_partner = (
                        partner.with_user(recipient)
                        .with_context(allowed_company_ids=recipient.company_ids.ids)
                        ._filtered_access("read")
                    )
                    shown = {payload["partner_name"], (payload["partner"] or {}).get("name")}
                    if not readable_partner:
                        self.assertNotIn(partner.name, shown)
                    names = [o["name"] for o in payload["opportunities"]]
                    if payload["lead"]:
                        names.append(payload["lead"]["name"])
                    self.assertNotIn(self.opportunity_romashka.name, names)
        # Another company's salesperson: no name at all.
        payload = call.sudo()._crm_voip_popup_payload(self.stranger)
        self.assertFalse(payload["partner_name"] or payload["partner"] or payload["lead"])
