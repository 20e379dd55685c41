"""Dialer fixtures on top of crm_voip's: agents with Zadarma extensions and contacts."""

from odoo import fields
from odoo.fields import Command

from odoo.addons.crm_voip.tests.common import CrmVoipCommon


class DialerMixin:
    @classmethod
    def _dialer_setup(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.agents = cls.salesman_anna | cls.salesman_boris | cls.salesman_other
        cls.agents.write(
            {"groups_id": [Command.link(cls.env.ref("crm_voip.crm_voip_group_user").id)]}
        )
        cls.disposition_interested = cls.env.ref("crm_voip_dialer.disposition_interested")
        cls.disposition_lost = cls.env.ref("crm_voip_dialer.disposition_not_interested")

    @classmethod
    def _partners(cls, count, start=0, prefix="7495300", **values):
        return cls.env["res.partner"].create(
            [
                {
                    "name": f"Dialer client {i:05d}",
                    "phone": f"+{prefix}{i:04d}",
                    "company_id": cls.company.id,
                    "tz": "Europe/Moscow",
                    **values,
                }
                for i in range(start, start + count)
            ]
        )

    @classmethod
    def _campaign(cls, partners, **values):
        campaign = cls.env["crm.voip.dialer.campaign"].create(
            {
                "name": "Spring survey",
                "company_id": cls.company.id,
                "provider_id": cls.zadarma.id,
                "mode": "progressive",
                "window_start": 0.0,
                "window_end": 0.0,  # around the clock, unless a test says otherwise
                "call_weekends": True,
                "agent_user_ids": [Command.set(cls.agents.ids)],
                "retry_no_answer": 0,
                "retry_busy": 0,
                "retry_failed": 0,
                "max_attempts": 2,
                **values,
            }
        )
        campaign._dialer_add_targets(partners)
        return campaign

    def _ready(self, campaign, users=None):
        Agent = self.env["crm.voip.dialer.agent"]
        for user in users or self.agents:
            agent = Agent.with_user(user).dialer_join(campaign.id)
            Agent.browse(agent["agent_id"]).with_user(user).action_ready()

    @staticmethod
    def _hang_up(call, state, talk=0):
        values = {"state": state, "date_end": fields.Datetime.now()}
        if state == "done":
            values.update(talk_seconds=talk, disposition="answered")
        call.sudo().write(values)
        call.sudo()._crm_voip_on_hangup()


class DialerCommon(DialerMixin, CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._dialer_setup()
