"""Routing against a real Asterisk (``crm_voip/tests/common_asterisk_real.py``): the
dialplan of the line ``74950000004`` asks the bridge through ``CURL()``, the bridge asks
Odoo within its time budget, and the call rings whom Odoo chose."""

from odoo import Command
from odoo.tests import tagged

from odoo.addons.crm_voip.tests.common_asterisk_real import LINE_ROUTED, RealAsteriskCommon


@tagged("post_install", "-at_install", "-standard", "crm_voip_asterisk")
class TestRoutingRealAsterisk(RealAsteriskCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        people = cls.salesman_anna | cls.salesman_boris | cls.salesman_other
        people.write({"tz": "Europe/Moscow"})
        for user in people:
            user.crm_voip_calendar_id = cls.company.resource_calendar_id
        cls.env["crm.voip.route"].create(
            {
                "name": "Known clients",
                "sequence": 10,
                "company_id": cls.company.id,
                "caller_type": "known",
                "team_id": cls.team.id,
                "step_ids": [
                    Command.create({"sequence": 1, "action": "responsible", "timeout": 8})
                ],
            }
        )

    def test_the_dialplan_asks_odoo_who_answers(self):
        # Odoo routes the client to his manager, Boris (102); left alone, the dialplan
        # would ring 103, who does not answer.
        call = self.place(LINE_ROUTED, **{"101": "answer", "102": "answer"})
        self.assertRecordValues(call, [{"state": "done", "user_id": self.salesman_boris.id}])
        self.assertIn("102", " ".join(call.sudo().crm_voip_routing_log_ids.mapped("targets")))
