from odoo.tests import HttpCase, tagged

from .common import CrmVoipCommon


@tagged("post_install", "-at_install", "crm_voip")
class TestCrmVoipUi(HttpCase, CrmVoipCommon):
    def test_salesperson_opens_telephony(self):
        self.salesman_anna.password = "voip_anna"
        self.start_tour("/odoo", "crm_voip_telephony_menu", login="voip_anna")
