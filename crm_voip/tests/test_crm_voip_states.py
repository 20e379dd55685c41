"""The call states and their groups are defined once (``crm_voip/callstate/states.py``):
the call's field, its views and the browser follow that definition."""

from lxml import etree

from odoo.tests import TransactionCase, tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.crm_voip.callstate import states


@tagged("post_install", "-at_install", "crm_voip")
class TestCrmVoipStates(TransactionCase):
    def test_the_state_field_has_the_defined_states(self):
        selection = self.env["crm.voip.call"]._fields["state"].selection
        self.assertEqual(tuple(value for value, _label in selection), states.STATES)

    def test_views_use_the_live_group(self):
        Call = self.env["crm.voip.call"]
        search = etree.fromstring(Call.get_view(view_type="search")["arch"])
        [live_filter] = search.xpath("//filter[@name='filter_live']")
        self.assertEqual(safe_eval(live_filter.get("domain")), [("state", "in", states.LIVE)])
        listing = etree.fromstring(Call.get_view(view_type="list")["arch"])
        [state] = listing.xpath("//field[@name='state']")
        self.assertEqual(
            state.get("decoration-warning"), f"state in {states.LIVE!r}".replace('"', "'")
        )
