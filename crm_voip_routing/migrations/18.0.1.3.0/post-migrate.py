"""The missed calls get their call-back deadline (``crm_voip``'s ``callback_deadline``):
their task's, else this module's rule from the call's start. The call analysis reads it
instead of counting the deadline's minutes on the wall clock."""

from odoo import SUPERUSER_ID, api

from odoo.addons.crm_voip_routing.hooks import post_init_hook


def migrate(cr, version):
    if not version:
        return
    post_init_hook(api.Environment(cr, SUPERUSER_ID, {}))
