"""The widget on an Odoo Website page, in Chromium: the website's own pages post to the
same server (no CORS), in the page's language."""

from odoo.tests import tagged

from odoo.addons.crm_voip_callback.tests.common import (
    DRIVE_WIDGET,
    CallbackHttpCommon,
    CookielessWidgetMixin,
)


@tagged("post_install", "-at_install", "crm_voip_callback", "crm_voip_callback_website")
class TestWebsiteCallback(CookielessWidgetMixin, CallbackHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The website the test server serves (the first one, for any domain).
        cls.website = cls.env["website"].search([], order="sequence, id", limit=1)
        cls.website.crm_voip_callback_source_id = cls.source

    def test_widget_on_a_website_page(self):
        self.env.flush_all()
        page = self.url_open("/")
        self.assertIn(f'data-key="{self.source.key}"', page.text)
        code = DRIVE_WIDGET % {
            "number": "8 (495) 765-43-21",
            "status": "calling",
            "text": "We are calling you now",
        }
        self.browser_js("/?utm_campaign=Website%20tour", code, timeout=60)
        call = self.calls_of("+74957654321")
        self.assertEqual(call.origin, "website_callback")
        self.assertEqual(call.user_id, self.salesman_anna)
        self.assertEqual(call.campaign_id.name, "Website tour")
        self.assertIn("/?utm_campaign=", call.crm_voip_callback_url)
        self.assertEqual(len(self.originates()), 1)

    def test_no_widget_without_a_source(self):
        self.website.crm_voip_callback_source_id = False
        self.env.flush_all()
        page = self.url_open("/")
        self.assertNotIn("/crm_voip_callback/widget.js", page.text)
