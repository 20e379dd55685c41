"""The HOOT unit tests of the telephony components, run in headless Chromium."""

from odoo.tests import HttpCase, tagged

from odoo.addons.web.tests import test_js


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_ui")
class TestCrmVoipUnitJs(HttpCase):
    def test_hoot_crm_voip(self):
        self.env.ref("base.user_admin").password = "admin"
        suite = test_js.HOOTCommon._generate_hash(None, "@crm_voip")
        self.browser_js(
            f"/web/tests?headless&loglevel=2&preset=desktop&timeout=15000&suite={suite}",
            "",
            "",
            login="admin",
            timeout=900,
            success_signal="[HOOT] test suite succeeded",
            error_checker=test_js.unit_test_error_checker,
        )
