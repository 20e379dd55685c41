"""Every public method of the dialer's models, called through real RPC by a salesperson
of another team (not an agent of the campaign) and of another company: refused. And the
"originate failed" marker (crm_voip's ``crm_voip_originate_failed``, which the dialer's
calls share) never ends someone else's call, nor a call the scheduler has sent."""

from odoo.fields import Command
from odoo.tests import tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from odoo.addons.crm_voip.tests.common import user_of_company
from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

from .common import DialerMixin

CALLBACK_PATH = "/v1/request/callback/"


@tagged("post_install", "-at_install", "crm_voip_dialer", "crm_voip_access")
class TestDialerAccess(DialerMixin, CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._dialer_setup()
        cls.company_2 = cls.env["res.company"].create({"name": "Dialer Access Co 2"})
        cls.stranger = user_of_company(cls.env, cls.company_2, "voip_dialer_stranger")
        partners = cls._partners(3)
        # Anna alone is an agent: Other (another team) is not.
        cls.campaign = cls._campaign(partners, agent_user_ids=[Command.set(cls.salesman_anna.ids)])
        cls.campaign.action_start()
        cls.disposition_2 = cls.env["crm.voip.dialer.disposition"].create(
            {"name": "Co 2 verdict", "company_id": cls.company_2.id}
        )

    def assertRefused(self, login, model, method, args, **kwargs):
        with (
            mute_logger("odoo.http"),
            self.assertRaises(JsonRpcException, msg=f"{login}: {model}.{method}") as caught,
        ):
            self.rpc(login, model, method, args, **kwargs)
        self.assertIn(
            caught.exception.args[0],
            ("odoo.exceptions.AccessError", "odoo.exceptions.UserError"),
            f"{login}: {model}.{method} refused for a good reason, not a crash",
        )

    def pbx_callbacks(self):
        return len([r for r in self.sim.requests if r.path == CALLBACK_PATH])

    def anna_in_a_call(self):
        """Anna ready; the scheduler claims a line for her: her campaign call rings."""
        self._ready(self.campaign, users=self.salesman_anna)
        claims = self.campaign._dialer_claim()
        self.assertEqual(len(claims), 1)
        line = self.env["crm.voip.dialer.line"].browse(claims[0]["line_id"])
        agent = self.campaign.agent_ids.filtered(lambda a: a.user_id == self.salesman_anna)
        return agent, line, line.call_id

    def test_agent_session_methods_are_the_agents_own(self):
        agent, line, _call = self.anna_in_a_call()
        calls = [
            ("action_ready", []),
            ("action_pause", []),
            ("action_leave", []),
            ("dialer_preview_next", []),
            ("dialer_preview_skip", []),
            ("dialer_dispose", [self.disposition_interested.id]),
            ("dialer_panel_data", []),
        ]
        for login in ("voip_other", "voip_boris", "voip_dialer_stranger"):
            for method, args in calls:
                with self.subTest(login=login, method=method):
                    self.assertRefused(login, "crm.voip.dialer.agent", method, [agent.ids, *args])
            with self.subTest(login=login, method="dialer_join"):
                self.assertRefused(
                    login, "crm.voip.dialer.agent", "dialer_join", [self.campaign.id]
                )
            with self.subTest(login=login, method="action_dialer_dispose"):
                self.assertRefused(
                    login,
                    "crm.voip.dialer.line",
                    "action_dialer_dispose",
                    [line.ids, self.disposition_interested.id],
                )
        self.assertEqual(agent.state, "ready")
        self.assertFalse(line.disposition_id)
        # Anna herself: not with another company's disposition.
        self.assertRefused(
            "voip_anna",
            "crm.voip.dialer.line",
            "action_dialer_dispose",
            [line.ids, self.disposition_2.id],
        )
        self.assertFalse(line.disposition_id)
        self.assertEqual(
            self.rpc("voip_anna", "crm.voip.dialer.agent", "dialer_panel_data", [agent.ids])[
                "card"
            ]["line_id"],
            line.id,
        )

    def test_campaign_actions_are_the_supervisors(self):
        actions = [
            ("action_pause", []),
            ("action_stop", []),
            ("action_start", []),
            ("action_reset_draft", []),
            ("action_generate_lines", []),
            ("dialer_dashboard_data", []),
            ("write", [{"state": "done"}]),
        ]
        for login in ("voip_anna", "voip_other", "voip_dialer_stranger"):
            for method, args in actions:
                with self.subTest(login=login, method=method):
                    self.assertRefused(
                        login, "crm.voip.dialer.campaign", method, [self.campaign.ids, *args]
                    )
            with self.subTest(login=login, method="import"):
                self.assertRefused(
                    login,
                    "crm.voip.dialer.import",
                    "create",
                    [{"campaign_id": self.campaign.id}],
                )
        self.assertEqual(self.campaign.state, "running")
        self.assertEqual(len(self.campaign.line_ids), 3)

    def test_the_originate_failed_marker_on_campaign_calls(self):
        """The issue's example: the marker ran in sudo on anyone's ringing call."""
        _agent, _line, call = self.anna_in_a_call()
        self.assertEqual(call.state, "ringing")
        for login in ("voip_other", "voip_boris", "voip_manager", "voip_dialer_stranger"):
            with self.subTest(login=login):
                self.assertRefused(
                    login, "crm.voip.call", "crm_voip_originate_failed", [call.ids, "spoiled"]
                )
        # The scheduler sent it to the PBX: neither its agent ends it, nor is it sent again.
        self.rpc("voip_anna", "crm.voip.call", "crm_voip_originate_failed", [call.ids, "x"])
        self.assertEqual(call.state, "ringing")
        before = self.pbx_callbacks()
        self.authenticate("voip_anna", "voip_anna")
        self.env.flush_all()
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": call.id})
        self.assertTrue(reply["error"])
        self.assertEqual(self.pbx_callbacks(), before)

    def test_preview_card_is_dialled_by_its_agent_only(self):
        preview = self._campaign(
            self._partners(1, start=50),
            name="Preview access",
            mode="preview",
            agent_user_ids=[Command.set(self.salesman_anna.ids)],
        )
        preview.action_start()
        agent = self.rpc("voip_anna", "crm.voip.dialer.agent", "dialer_join", [preview.id])
        card = self.rpc(
            "voip_anna", "crm.voip.dialer.agent", "action_ready", [[agent["agent_id"]]]
        )["card"]
        for login in ("voip_other", "voip_dialer_stranger"):
            with self.subTest(login=login):
                self.assertRefused(
                    login,
                    "crm.voip.call",
                    "crm_voip_dial_prepare",
                    ["+74953000050"],
                    res_model="crm.voip.dialer.line",
                    res_id=card["line_id"],
                )
        line = self.env["crm.voip.dialer.line"].browse(card["line_id"])
        self.assertEqual(line.state, "preview")
        self.assertFalse(line.call_id)
