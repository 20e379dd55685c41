"""A missed call's call-back is in time by the deadline stored on the call (with the
routing module: its call-back task's, in working time), no longer by the routing's
minutes on the wall clock: the sums counted the old way are done again."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["crm.voip.call.report.daily"]._crm_voip_invalidate()
