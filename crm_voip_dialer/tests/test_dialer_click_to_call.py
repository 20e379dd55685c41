"""A campaign's call is a click-to-call: made, refused and failed as a salesperson's."""

from odoo.tests import tagged
from odoo.tools import html2plaintext

from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

from .common import DialerMixin

# What a call placed from Odoo is, whoever placed it.
IDENTITY_FIELDS = (
    "provider_id",
    "company_id",
    "direction",
    "state",
    "origin",
    "user_id",
    "team_id",
    "extension",
    "to_number",
    "to_e164",
    "partner_number",
    "partner_number_e164",
    "dialled_number",
    "partner_id",
    "lead_id",
)
# What a refused call becomes.
REFUSED_FIELDS = ("state", "disposition", "wrapup_done", "note", "talk_seconds")
TYPED_NUMBER = "8 (495) 300-77-11"


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestDialerClickToCall(DialerMixin, CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._dialer_setup()
        cls.client = cls.env["res.partner"].create(
            {"name": "Both ways client", "phone": TYPED_NUMBER, "company_id": cls.company.id}
        )

    def _summaries(self, call):
        """The call's summary lines in its client's chatter."""
        marker = f'data-oe-id="{call.id}"'
        return self.client.message_ids.filtered(lambda m: marker in (m.body or ""))

    def test_campaign_and_salesperson_calls_are_made_and_refused_alike(self):
        anna = self.salesman_anna
        campaign = self._campaign(self.client, max_attempts=5)
        campaign.action_start()
        self._ready(campaign, users=anna)
        line = campaign.line_ids
        self.authenticate("voip_anna", "voip_anna")
        refusals = {
            401: "refused our credentials",
            429: "too many requests",
            400: "could not place the call",
        }
        for status, expected in refusals.items():
            with self.subTest(status=status):
                claims = campaign._dialer_claim()
                self.assertEqual([claim["line_id"] for claim in claims], line.ids)
                campaign_call = line.call_id
                payload = (
                    self.env["crm.voip.call"].with_user(anna).crm_voip_dial_prepare(TYPED_NUMBER)
                )
                own_call = self.env["crm.voip.call"].browse(payload["call_id"])
                # Made alike: the same call, but for the campaign line it belongs to.
                for field_name in IDENTITY_FIELDS:
                    self.assertEqual(campaign_call[field_name], own_call[field_name], field_name)
                for call in campaign_call | own_call:
                    self.assertRegex(call.provider_call_id, r"^c2c-[0-9a-f]{32}$")
                    self.assertTrue(call.date_start)
                self.assertEqual(own_call.partner_id, self.client)

                # Refused alike: the scheduler's PBX request, then the salesperson's.
                self.sim.fail_next(1, status)
                errors = campaign._dialer_originate(
                    campaign.provider_id._get_crm_voip_adapter(), claims
                )
                campaign._dialer_record_originate(claims, errors)
                self.sim.fail_next(1, status)
                self.env.flush_all()
                reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": own_call.id})
                own_call.with_user(anna).crm_voip_originate_failed(reply["error"])
                self.assertIn(expected, reply["error"])
                self.assertEqual(errors, {line.id: reply["error"]})

                self.env.invalidate_all()
                for field_name in REFUSED_FIELDS:
                    self.assertEqual(campaign_call[field_name], own_call[field_name], field_name)
                self.assertEqual(own_call.state, "failed")
                for call in campaign_call | own_call:
                    self.assertTrue(call.date_end)
                    reasons = [html2plaintext(body) for body in call.message_ids.mapped("body")]
                    self.assertEqual(reasons, [reply["error"]])
                    self.assertEqual(len(self._summaries(call)), 1)
                self.assertRecordValues(line, [{"state": "pending", "last_outcome": "failed"}])
