from odoo.fields import Command


def post_init_hook(env):
    """The webhook user acts in the company of each PBX account: give it them all."""
    webhook_user = env.ref("crm_voip.user_crm_voip_webhook")
    companies = env["res.company"].sudo().search([])
    webhook_user.sudo().write({"company_ids": [Command.link(c.id) for c in companies]})


def uninstall_hook(env):
    """The caller identification function is the module's, not a model's table."""
    env.cr.execute("DROP FUNCTION IF EXISTS crm_voip_identify(varchar, integer)")
