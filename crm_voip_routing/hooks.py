import logging

from .models.crm_voip_call import NO_ROUTING_DEADLINES

_logger = logging.getLogger(__name__)


def post_init_hook(env):
    """The missed calls already logged get this module's call-back deadline, so that the
    call analysis measures the past against the same rule as the new call-back tasks."""
    changed = env["crm.voip.call"].sudo()._crm_voip_update_callback_deadlines()
    _logger.info("Call routing: call-back deadlines of %s missed calls set", len(changed))


def uninstall_hook(env):
    """Without this module the missed calls have no deadline of its own: the call
    analysis goes back to its own rule."""
    calls = env["crm.voip.call"].sudo().with_context(**{NO_ROUTING_DEADLINES: True})
    changed = calls._crm_voip_update_callback_deadlines()
    _logger.info("Call routing: call-back deadlines of %s missed calls cleared", len(changed))
