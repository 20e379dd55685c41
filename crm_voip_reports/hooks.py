import logging

from odoo.tools import SQL

from .report.crm_voip_call_report_daily import TABLES

_logger = logging.getLogger(__name__)


def post_init_hook(env):
    """On a database that already has calls: link the missed calls to their call-backs
    and sum the past days up, so that the first reports are already fast."""
    linked = env["crm.voip.call.callback"].sudo()._crm_voip_rebuild_all()
    until = env["crm.voip.call.report.daily"].sudo()._cron_crm_voip_report_freeze()
    _logger.info("Call analysis: %s call-backs found; days before %s summed up", linked, until)


def uninstall_hook(env):
    for table in TABLES:
        env.cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(table)))
