"""A "new" caller for the routing is one whose contact or lead the call itself created:
crm_voip's ``partner_created``/``lead_created``, the fields the reports read too."""

from odoo.tests import tagged

from .common import MONDAY_10, ROMASHKA_CALLER, CrmVoipRoutingHttpCommon, msk

UNKNOWN = "79990003344"


@tagged("post_install", "-at_install", "crm_voip_routing")
class TestRoutingNewCaller(CrmVoipRoutingHttpCommon):
    def answered(self, caller):
        call, _deliveries = self.play_call(
            "zadarma", "answered", caller=caller, answered_by="101", call_start=msk(*MONDAY_10)
        )
        return call

    def test_every_way_a_call_creates_its_client_makes_him_new(self):
        self.zadarma.unknown_caller_policy = "lead"
        by_lead = self.answered(UNKNOWN)
        self.assertTrue(by_lead.lead_created and by_lead._crm_voip_caller_is_new())
        self.zadarma.unknown_caller_policy = "contact"
        by_contact = self.answered("79990003355")
        self.assertTrue(by_contact.partner_created and not by_contact.lead_created)
        self.assertTrue(by_contact._crm_voip_caller_is_new())
        self.zadarma.unknown_caller_policy = "nothing"
        by_hand = self.answered("79990003366")
        self.assertFalse(by_hand._crm_voip_caller_is_new())
        by_hand.with_user(self.salesman_anna).crm_voip_create_contact("Walk-in")
        self.assertTrue(by_hand.partner_created and by_hand._crm_voip_caller_is_new())

    def test_a_known_caller_is_not_new(self):
        call = self.answered(ROMASHKA_CALLER)
        self.assertTrue(call.partner_id and call.lead_id)
        self.assertFalse(call.partner_created or call.lead_created)
        self.assertFalse(call._crm_voip_caller_is_new())
