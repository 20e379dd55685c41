"""Fixtures of the website call-back tests: a source on the Zadarma account of crm_voip's
test company (played by the simulator over real HTTP), and working hours that hold now
(or never now), whatever the moment the tests run."""

import datetime as dt
import json
from unittest.mock import Mock

import odoo
from odoo.fields import Command

from odoo.addons.crm_voip.tests.common_http import CrmVoipHttpCommon

ORIGINATE_PATH = "/v1/request/callback/"  # Zadarma's click-to-call request

# Chromium drives the widget as a visitor: open it, fill it, send it, read the answer.
DRIVE_WIDGET = """
(async () => {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    async function waitFor(selector) {
        for (let i = 0; i < 200; i++) {
            const node = document.querySelector(selector);
            if (node) {
                return node;
            }
            await sleep(50);
        }
        throw new Error("not found: " + selector);
    }
    (await waitFor(".o_crm_voip_callback_button")).click();
    (await waitFor("#o_crm_voip_callback_name")).value = "Widget visitor";
    document.querySelector("#o_crm_voip_callback_number").value = "%(number)s";
    document.querySelector(".o_crm_voip_callback_submit").click();
    const status = await waitFor(".o_crm_voip_callback_status.o_crm_voip_callback_%(status)s");
    if (!status.textContent.includes("%(text)s")) {
        throw new Error("unexpected answer: " + status.textContent);
    }
    console.log("test successful");
})();
"""


class CookielessWidgetMixin:
    def check_test_cursor(self, operation):
        # The widget posts without cookies (it is the visitor's request, not an Odoo
        # session's), so without the test's cookie either: accepted for its paths only.
        request = odoo.http.request
        if (
            request
            and not isinstance(request, Mock)
            and request.httprequest.path.startswith("/crm_voip_callback/")
        ):
            return
        super().check_test_cursor(operation)


class CallbackHttpCommon(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.calendar_always = env["resource.calendar"].create(
            {
                "name": "Always open",
                "tz": "UTC",
                "company_id": cls.company.id,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 0,
                            "hour_to": 24,
                            "day_period": "morning",
                        }
                    )
                    for day in range(7)
                ],
            }
        )
        # Open only on the day after tomorrow, 9 to 18 UTC: closed now, whatever now is.
        cls.open_day = dt.datetime.utcnow().date() + dt.timedelta(days=2)
        cls.calendar_later = env["resource.calendar"].create(
            {
                "name": "Open the day after tomorrow",
                "tz": "UTC",
                "company_id": cls.company.id,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": "The day",
                            "dayofweek": str(cls.open_day.weekday()),
                            "hour_from": 9,
                            "hour_to": 18,
                            "day_period": "morning",
                        }
                    )
                ],
            }
        )
        cls.company.resource_calendar_id = cls.calendar_always
        people = cls.salesman_anna | cls.salesman_boris | cls.salesman_other | cls.sales_manager
        people.write({"tz": "UTC"})
        cls.utm_newsletter = env["utm.source"].create({"name": "Newsletter (test)"})
        cls.source = env["crm.voip.callback.source"].create(
            {
                "name": "Main website",
                "company_id": cls.company.id,
                "provider_id": cls.zadarma.id,
                "line_id": cls.line_moscow.id,
                "team_id": cls.team.id,
            }
        )

    def setUp(self):
        super().setUp()
        self._addresses = 0

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def post(self, payload, headers=None, source=None, raw=None):
        """POST a request as the widget does; ``raw`` bytes replace the JSON body."""
        source = source or self.source
        self.env.flush_all()
        body = raw if raw is not None else json.dumps(payload).encode()
        response = self.opener.post(
            f"{self.base_url()}/crm_voip_callback/{source.key}/request",
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=30,
        )
        self.env.invalidate_all()
        return response

    def originates(self):
        return [r for r in self.sim.requests if r.path == ORIGINATE_PATH]

    def calls_of(self, number_e164):
        return self.env["crm.voip.call"].search(
            [("partner_number_e164", "=", number_e164)], order="id"
        )
