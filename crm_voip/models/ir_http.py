from odoo import models
from odoo.http import request

from ..callstate import states
from ..controllers.crm_voip import admit_webhook

WEBHOOK_PATH_PREFIX = "/crm_voip/webhook/"


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        # Before Odoo parses the body as a form: the token is looked up first, the body
        # read only for a known one, bounded, and kept raw (see ``admit_webhook``).
        if request.httprequest.path.startswith(WEBHOOK_PATH_PREFIX) and "token" in args:
            admit_webhook(args["token"])
        return super()._pre_dispatch(rule, args)

    def session_info(self):
        result = super().session_info()
        if self.env.user._is_internal():
            # The browser reasons with the same state groups as the server.
            result["crm_voip"] = {"state_groups": states.groups()}
        return result
