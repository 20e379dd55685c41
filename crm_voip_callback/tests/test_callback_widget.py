"""The widget in Chromium, on a plain HTML page of another website (another port on
loopback, so the browser applies CORS for real): fill, submit, see the answer."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests import tagged

from .common import DRIVE_WIDGET, CallbackHttpCommon, CookielessWidgetMixin

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Garden tools</title></head>
<body><h1>Garden tools</h1><p>Any website: no Odoo here.</p>
<script src="{odoo}/crm_voip_callback/widget.js" data-key="{key}" defer></script>
</body></html>"""


class PlainPage(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install", "crm_voip_callback")
class TestCallbackWidget(CookielessWidgetMixin, CallbackHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.site = ThreadingHTTPServer(("127.0.0.1", 0), PlainPage)
        threading.Thread(target=cls.site.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.site.server_close)
        cls.addClassCleanup(cls.site.shutdown)
        cls.site_origin = f"http://127.0.0.1:{cls.site.server_address[1]}"
        PlainPage.html = PAGE.format(odoo=cls.base_url(), key=cls.source.key).encode()
        cls.source.allowed_origins = cls.site_origin

    def drive(self, query, number, status, text):
        code = DRIVE_WIDGET % {"number": number, "status": status, "text": text}
        self.browser_js(f"{self.site_origin}/landing{query}", code, timeout=60)

    def test_widget_on_another_website_calls_the_visitor(self):
        self.drive(
            "?utm_source=Newsletter%20(test)&utm_campaign=Widget%20tour",
            "8 (495) 765-43-21",
            "calling",
            "We are calling you now",
        )
        call = self.calls_of("+74957654321")
        self.assertRecordValues(
            call,
            [
                {
                    "origin": "website_callback",
                    "user_id": self.salesman_anna.id,
                    "source_id": self.utm_newsletter.id,
                    "crm_voip_callback_source_id": self.source.id,
                }
            ],
        )
        self.assertEqual(call.campaign_id.name, "Widget tour")
        self.assertTrue(call.crm_voip_callback_url.startswith(f"{self.site_origin}/landing?"))
        self.assertEqual(len(self.originates()), 1)

    def test_widget_shows_the_limit(self):
        self.source.number_limit = 1
        self.drive("", "+7 495 111-33-44", "calling", "We are calling you now")
        self.drive("", "+7 495 111-33-44", "limited", "Please wait a while")
        self.assertEqual(len(self.originates()), 1)

    def test_widget_refused_on_a_site_not_allowed(self):
        self.source.allowed_origins = "https://www.example.com"
        # The browser blocks the answer (no CORS header): the widget says so in its words.
        self.drive("", "+7 495 111-33-55", "error", "Something went wrong")
        self.assertFalse(self.calls_of("+74951113355"))
