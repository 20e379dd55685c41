from odoo import models
from odoo.http import request

from ..callstate import states

WEBHOOK_PATH_PREFIX = "/crm_voip/webhook/"


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        # Keep the webhook's raw body before Odoo parses it as a form: signatures are
        # computed over the exact bytes, and some PBXs send multipart bodies with a
        # boundary bug that makes the standard form parser drop every field.
        if request.httprequest.path.startswith(WEBHOOK_PATH_PREFIX):
            request.httprequest.get_data(cache=True, parse_form_data=False)
        return super()._pre_dispatch(rule, args)

    def session_info(self):
        result = super().session_info()
        if self.env.user._is_internal():
            # The browser reasons with the same state groups as the server.
            result["crm_voip"] = {"state_groups": states.groups()}
        return result
