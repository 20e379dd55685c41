"""The HOOT unit tests of the telephony components, run in headless Chromium."""

import json
import pathlib
import re

from odoo.tests import HttpCase, tagged

from odoo.addons.crm_voip.callstate import states
from odoo.addons.web.tests import test_js

UNIT_TESTS = pathlib.Path(__file__).resolve().parents[1] / "static" / "tests" / "unit"


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

    def test_browser_gets_the_state_groups_of_the_server(self):
        self.env.ref("base.user_admin").password = "admin"
        self.authenticate("admin", "admin")
        info = self.url_open(
            "/web/session/get_session_info",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}),
            headers={"Content-Type": "application/json"},
        ).json()["result"]
        self.assertEqual(info["crm_voip"]["state_groups"], states.groups())
        # The unit tests play the server's part with the same groups.
        source = (UNIT_TESTS / "call_center_state.test.js").read_text()
        fixture = re.search(r"const STATE_GROUPS = (\{.*?\});", source, re.S).group(1)
        fixture = re.sub(r"(\w+):", r'"\1":', fixture.replace(",\n}", "\n}"))
        self.assertEqual(json.loads(fixture), states.groups())
