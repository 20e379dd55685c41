"""Shared fixtures of the telephony tests, layered like crm's ``TestCrmCommon``.

``CrmVoipCommon`` builds a company with a Zadarma and a generic PBX account, lines,
salespeople with extensions and clients whose numbers are typed in mixed formats.
Downstream modules reuse it: ``from odoo.addons.crm_voip.tests.common import …``.

    Company "VoIP Test Co" (RU)
    ├── team "Moscow desk", leader: sales_manager
    │   ├── salesman_anna   ext 101 (zadarma), 201 (generic)
    │   └── salesman_boris  ext 102 (zadarma)
    └── salesman_other (another team, ext 103): sees only his own calls
"""

from odoo.fields import Command
from odoo.tests import TransactionCase, new_test_user

ZADARMA_KEY = "test-key"
ZADARMA_SECRET = "test-secret"
GENERIC_SECRET = "generic-secret"
GENERIC_API_KEY = "generic-api-key"


def user_of_company(env, company, login, groups="sales_team.group_sale_salesman"):
    """A user of ``company`` alone (a salesperson by default) who logs in with his login
    as his password: the attacker of the access tests."""
    user = new_test_user(
        env,
        login,
        groups=groups,
        company_id=company.id,
        company_ids=[Command.set(company.ids)],
    )
    user.password = login
    return user


class CrmVoipCommon(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(
            context=dict(cls.env.context, tracking_disable=True, mail_create_nolog=True)
        )
        cls.company = cls.env["res.company"].create(
            {"name": "VoIP Test Co", "country_id": cls.env.ref("base.ru").id}
        )
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        groups = "sales_team.group_sale_salesman"
        user_values = {"company_id": cls.company.id, "company_ids": [Command.set(cls.company.ids)]}
        cls.sales_manager = new_test_user(
            cls.env, "voip_manager", groups="sales_team.group_sale_manager", **user_values
        )
        cls.salesman_anna = new_test_user(cls.env, "voip_anna", groups=groups, **user_values)
        cls.salesman_boris = new_test_user(cls.env, "voip_boris", groups=groups, **user_values)
        cls.salesman_other = new_test_user(cls.env, "voip_other", groups=groups, **user_values)
        cls.team = cls.env["crm.team"].create(
            {
                "name": "Moscow desk",
                "company_id": cls.company.id,
                "user_id": cls.sales_manager.id,
                "member_ids": [Command.set((cls.salesman_anna | cls.salesman_boris).ids)],
            }
        )
        cls.other_team = cls.env["crm.team"].create(
            {
                "name": "Regions desk",
                "company_id": cls.company.id,
                "member_ids": [Command.set(cls.salesman_other.ids)],
            }
        )
        cls.source_direct = cls.env["utm.source"].create({"name": "Yandex.Direct (test)"})
        cls.zadarma = cls.env["crm.voip.provider"].create(
            {
                "name": "Novofon test",
                "code": "zadarma",
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "timezone": "Europe/Moscow",
                "secret_settings": {"api_key": ZADARMA_KEY, "api_secret": ZADARMA_SECRET},
                "unknown_caller_policy": "lead",
                "line_ids": [
                    Command.create(
                        {
                            "name": "Moscow sales 495",
                            "number": "74951204567",
                            "source_id": cls.source_direct.id,
                            "team_id": cls.team.id,
                        }
                    )
                ],
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_anna.id, "extension": "101"}),
                    Command.create({"user_id": cls.salesman_boris.id, "extension": "102"}),
                    Command.create({"user_id": cls.salesman_other.id, "extension": "103"}),
                ],
            }
        )
        cls.generic = cls.env["crm.voip.provider"].create(
            {
                "name": "Generic test",
                "code": "generic",
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "secret_settings": {"webhook_secret": GENERIC_SECRET, "api_key": GENERIC_API_KEY},
                "unknown_caller_policy": "contact",
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_anna.id, "extension": "201"}),
                ],
            }
        )
        cls.line_moscow = cls.zadarma.line_ids
        Partner = cls.env["res.partner"]
        cls.client_romashka = Partner.create(
            {
                "name": "Romashka LLC",
                "is_company": True,
                "phone": "8 (495) 765-43-21",
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "user_id": cls.salesman_anna.id,
            }
        )
        cls.client_ivan = Partner.create(
            {
                "name": "Ivan Petrov",
                "parent_id": cls.client_romashka.id,
                "mobile": "+7 916 765-43-21",
                "company_id": cls.company.id,
            }
        )
        cls.client_london = Partner.create(
            {
                "name": "Thames Trading",
                "is_company": True,
                "phone": "+44 20 7946 0958",
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.uk").id,
            }
        )
        cls.opportunity_romashka = cls.env["crm.lead"].create(
            {
                "name": "Romashka: equipment",
                "type": "opportunity",
                "expected_revenue": 450000,
                "partner_id": cls.client_romashka.id,
                "user_id": cls.salesman_anna.id,
                "team_id": cls.team.id,
                "company_id": cls.company.id,
            }
        )

    @classmethod
    def _create_pbx_account(
        cls, code, name, line, secret_settings, extensions=("11", "12"), **values
    ):
        """A PBX account of the test company, line ``line`` ("<label>", "<number>"), where
        Anna and Boris answer at ``extensions``."""
        return cls.env["crm.voip.provider"].create(
            {
                "name": name,
                "code": code,
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "secret_settings": secret_settings,
                "unknown_caller_policy": "lead",
                "line_ids": [Command.create({"name": line[0], "number": line[1]})],
                "extension_ids": [
                    Command.create({"user_id": user.id, "extension": extension})
                    for user, extension in zip(
                        cls.salesman_anna | cls.salesman_boris, extensions, strict=True
                    )
                ],
                **values,
            }
        )

    def _zadarma_adapter(self):
        return self.zadarma._get_crm_voip_adapter()
