from odoo import models
from odoo.http import request

WEBHOOK_PATH_PREFIX = "/crm_voip/webhook/"


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        # Keep the webhook's raw body before Odoo parses it as a form: signatures are
        # computed over the exact bytes, and Zadarma's multipart bodies carry a boundary
        # bug that makes the standard form parser drop every field.
        if request.httprequest.path.startswith(WEBHOOK_PATH_PREFIX):
            request.httprequest.get_data(cache=True, parse_form_data=False)
        return super()._pre_dispatch(rule, args)
