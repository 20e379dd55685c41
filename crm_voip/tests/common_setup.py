"""Checks of what a module of the suite sets up at install: access rights, company rules,
menus, window actions and scheduled jobs, seen by the people who use them.

A module's setup test subclasses ``CrmVoipSetupCase``, sets ``MODULE`` and states what
it expects in tables; each check also fails when the module installs something the
table does not list (a new model, menu, action or job must be thought about here).

Roles: ``employee`` (an internal user without sales rights), ``salesperson``,
``manager`` (sales administrator, hence telephony manager), ``administrator``
(settings, no sales rights) and ``webhook``, the real user the PBX webhooks run as.
"""

import ast

from lxml import etree

from odoo.tests import TransactionCase, new_test_user
from odoo.tools.safe_eval import safe_eval

PERMISSIONS = (("read", "r"), ("write", "w"), ("create", "c"), ("unlink", "u"))
# The roles of a person who logs in and browses menus.
MENU_ROLES = ("employee", "salesperson", "manager")


class CrmVoipSetupCase(TransactionCase):
    MODULE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = {
            "employee": "base.group_user",
            "salesperson": "sales_team.group_sale_salesman",
            "manager": "sales_team.group_sale_manager",
            "administrator": "base.group_system",
        }
        cls.roles = {
            role: new_test_user(cls.env, f"{cls.MODULE}_{role}", groups=group)
            for role, group in groups.items()
        }
        cls.roles["webhook"] = cls.env.ref("crm_voip.user_crm_voip_webhook")

    # ------------------------------------------------------------------

    def module_records(self, model):
        """{xml id: record} of the ``model`` records this module's data files create."""
        data = self.env["ir.model.data"].search(
            [("module", "=", self.MODULE), ("model", "=", model)]
        )
        return {f"{self.MODULE}.{line.name}": self.env[model].browse(line.res_id) for line in data}

    def module_models(self):
        """The models this module defines (not those it extends), abstract ones aside."""
        return sorted(
            name
            for name, model in self.env.registry.items()
            if model._original_module == self.MODULE and not model._abstract
        )

    def rights(self, role, model):
        """``"rwcu"``, with a ``-`` for each operation the role may not do on ``model``."""
        access = self.env["ir.model.access"].with_user(self.roles[role])
        return "".join(
            letter if access.check(model, mode, raise_exception=False) else "-"
            for mode, letter in PERMISSIONS
        )

    def assertAccessRights(self, roles, expected):
        """``expected``: {model: rights of each of ``roles``, in that order}."""
        unlisted = set(self.module_models()) - set(expected)
        self.assertFalse(unlisted, f"models of {self.MODULE} missing from the rights table")
        for model, rights in expected.items():
            actual = tuple(self.rights(role, model) for role in roles)
            self.assertEqual(actual, rights, f"rights on {model} of {', '.join(roles)}")

    def assertCompanyRules(self):
        """Every model of the module that belongs to a company keeps to the user's
        companies, through a global record rule (a wizard's records are its user's own)."""
        for model in self.module_models():
            field = self.env[model]._fields.get("company_id")
            if not field or field.type != "many2one" or self.env[model]._transient:
                continue
            rules = self.env["ir.rule"].search(
                [("model_id.model", "=", model), ("global", "=", True)]
            )
            self.assertTrue(
                any("company_ids" in (rule.domain_force or "") for rule in rules),
                f"{model} has a company but no global multi-company rule",
            )

    def assertMenusVisibleTo(self, expected):
        """``expected``: {menu xml id: roles that see it}; roles are of ``MENU_ROLES``.
        A menu is seen when it and each of its parents are visible to the user (the web
        client builds the menu tree from the top)."""
        menus = self.module_records("ir.ui.menu")
        self.assertEqual(set(menus), set(expected), f"menus of {self.MODULE}")
        visible = {
            role: set(self.env["ir.ui.menu"].with_user(self.roles[role])._visible_menu_ids())
            for role in MENU_ROLES
        }
        for xmlid, roles in expected.items():
            path = {int(menu_id) for menu_id in menus[xmlid].parent_path.split("/") if menu_id}
            seen_by = {role for role in MENU_ROLES if path <= visible[role]}
            self.assertEqual(seen_by, set(roles), f"who sees the menu {xmlid}")

    def assertWindowActionsOpen(self, expected):
        """``expected``: {window action xml id: roles that open it}. Opening is what the web
        client does: load the action's views for the user, then read the first page of
        its list with the list's own fields."""
        actions = self.module_records("ir.actions.act_window")
        self.assertEqual(set(actions), set(expected), f"window actions of {self.MODULE}")
        for xmlid, roles in expected.items():
            for role in roles:
                with self.subTest(action=xmlid, role=role):
                    self._open_window_action(actions[xmlid], self.roles[role])

    def _open_window_action(self, action, user):
        eval_context = action.with_user(user)._get_eval_context()
        context = safe_eval(action.context or "{}", eval_context)
        domain = safe_eval(action.domain or "[]", eval_context)
        model = self.env[action.res_model].with_user(user).with_context(context)
        views = [[view_id, view_type] for view_id, view_type in action.views]
        views.append([action.search_view_id.id or False, "search"])
        loaded = model.get_views(
            views, {"action_id": action.id, "load_filters": True, "toolbar": True}
        )
        self.assertEqual(set(loaded["views"]), {view_type for __, view_type in views})
        if "list" in loaded["views"]:
            arch = etree.fromstring(loaded["views"]["list"]["arch"])
            specification = {
                name: {"fields": {"display_name": {}}}
                if model._fields[name].type == "many2one"
                else {}
                for name in (node.get("name") for node in arch.findall("field"))
            }
            model.web_search_read(domain, specification, limit=80)

    def assertCronsCallTheirModel(self, expected):
        """``expected``: {cron xml id: model}. Each job is active and its code calls
        methods that exist on that model."""
        crons = self.module_records("ir.cron")
        self.assertEqual(set(crons), set(expected), f"scheduled jobs of {self.MODULE}")
        for xmlid, model in expected.items():
            cron = crons[xmlid]
            self.assertTrue(cron.active, f"{xmlid} is not active")
            self.assertEqual((cron.state, cron.model_id.model), ("code", model), xmlid)
            called = [
                node.func.attr
                for node in ast.walk(ast.parse(cron.code or ""))
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "model"
            ]
            self.assertTrue(called, f"{xmlid} calls nothing on its model")
            for method in called:
                self.assertTrue(
                    callable(getattr(self.env[model], method, None)),
                    f"{xmlid} calls {model}.{method}, which does not exist",
                )
