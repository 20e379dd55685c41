"""The phone blacklist blocks the same numbers wherever the suite asks it."""

import importlib

from odoo.tests import tagged

from .common import DialerCommon

# The client's number as typed on his card, and as the blacklist got it (None: not listed).
CLIENTS = {
    "+74953004101": ("8 (495) 300-41-01", "+7 (495) 300-41-01"),  # active
    "+74953004102": ("+7 495 300 41 02", "8 495 300-41-02"),  # active, typed nationally
    "+74953004103": ("8-495-300-41-03", None),  # archived since
    "+74953004104": ("+74953004104", None),  # only ever an archived entry
    "+74953004105": ("8 495 300 41 05", None),  # never listed
}
BLOCKED = {"+74953004101", "+74953004102"}


@tagged("post_install", "-at_install", "crm_voip_dialer")
class TestBlacklistRule(DialerCommon):
    def _clients(self):
        return self.env["res.partner"].create(
            [
                {"name": f"Listed? {e164}", "phone": typed, "company_id": self.company.id}
                for e164, (typed, _listed) in CLIENTS.items()
            ]
        )

    def _blocked_lines(self, campaign):
        lines = campaign.line_ids.filtered(lambda line: line.exclusion_reason == "blacklist")
        return set(lines.mapped("phone_e164"))

    def test_router_dialer_line_and_campaign_block_the_same_numbers(self):
        clients = self._clients()
        # Made before the numbers were listed: every line is pending.
        picked_campaign = self._campaign(clients)
        started_campaign = self._campaign(clients, mode="power", power_extension="300")
        self.assertEqual(set(picked_campaign.line_ids.mapped("phone_e164")), set(CLIENTS))
        self.assertEqual(set(picked_campaign.line_ids.mapped("state")), {"pending"})

        Blacklist = self.env["phone.blacklist"].sudo()
        for typed in (listed for _typed, listed in CLIENTS.values() if listed):
            Blacklist.add(typed)  # normalized by the blacklist itself, in the company's country
        Blacklist._add(["+74953004103"])
        Blacklist._remove(["+74953004103", "+74953004104"])
        entries = Blacklist.with_context(active_test=False).search(
            [("number", "in", list(CLIENTS))]
        )
        self.assertEqual(
            {entry.number: entry.active for entry in entries},
            {
                "+74953004101": True,
                "+74953004102": True,
                "+74953004103": False,
                "+74953004104": False,
            },
        )

        verdicts = {
            "crm_voip rule": Blacklist._crm_voip_blocked(CLIENTS),
            "crm_voip rule, one number at a time": {
                number for number in CLIENTS if Blacklist._crm_voip_blocked([number])
            },
        }
        # The campaign's claiming query (SQL) skips the blocked numbers...
        picked = picked_campaign._dialer_pick(len(CLIENTS))
        verdicts["campaign: claiming query"] = set(CLIENTS) - set(picked.mapped("phone_e164"))
        # ... and its end-of-campaign check (SQL) excludes them.
        picked_campaign._dialer_check_finished()
        verdicts["campaign: end check"] = self._blocked_lines(picked_campaign)
        # A line checks again when its call starts (Python).
        for line in started_campaign.line_ids:
            line._dialer_start_call(self.env["res.users"])
        verdicts["dialer line: call start"] = self._blocked_lines(started_campaign)
        # Contacts added once the numbers are listed (Python, many numbers at once).
        later_campaign = self._campaign(clients)
        verdicts["campaign: new contacts"] = self._blocked_lines(later_campaign)
        # The routing's check when a call starts (the suite's test runs install it).
        if self.env["ir.module.module"]._get("crm_voip_routing").state == "installed":
            router = importlib.import_module("odoo.addons.crm_voip_routing.tools.router")
            call_router = router.CallRouter(self.env)
            verdicts["routing"] = {n for n in CLIENTS if call_router.is_blacklisted(n)}
        for caller, blocked in verdicts.items():
            self.assertEqual(blocked, BLOCKED, caller)
        dialing = started_campaign.line_ids.filtered(lambda line: line.state == "dialing")
        self.assertEqual(set(dialing.mapped("phone_e164")), set(CLIENTS) - BLOCKED)
