"""The call analysis and the dashboard in headless Chromium, with the played traffic.

``CRM_VOIP_DOC_SCREENSHOTS=1`` saves the tour's screenshots to
``__manifest_docs__/screenshots/`` with crm_voip's own mechanism (reused, not copied)."""

from odoo.tests import tagged

from odoo.addons.crm_voip.tests import test_crm_voip_ui as crm_voip_ui

from .common import CrmVoipReportsCommon


@tagged("post_install", "-at_install", "crm_voip_reports", "crm_voip_ui")
class TestCrmVoipReportsUi(CrmVoipReportsCommon):
    _write_screenshot = staticmethod(crm_voip_ui.TestCrmVoipUi._write_screenshot)

    def setUp(self):
        super().setUp()
        if crm_voip_ui.SCREENSHOT_DIR:
            crm_voip_ui.TestCrmVoipUi._capture_screenshots_for_docs(self)

    def test_pivot_and_dashboard(self):
        self.start_tour("/odoo", "crm_voip_reports_tour", login="voip_manager", timeout=120)
