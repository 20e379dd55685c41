import json
import os
import tempfile

from werkzeug.exceptions import BadRequest
from werkzeug.wsgi import wrap_file

from odoo import http
from odoo.http import content_disposition, request

from ..tools.xlsx_export import XLSX_MIMETYPE, CallReportWorkbook

# Leaves of a domain sent by the web client: (field path, operator, value) or operators.
MAX_DOMAIN_LENGTH = 200


class CrmVoipReportsController(http.Controller):
    @http.route(
        "/crm_voip_reports/export_xlsx", type="http", auth="user", methods=["POST"], readonly=True
    )
    def crm_voip_reports_export_xlsx(self, domain="[]", company_ids="[]", **kwargs):
        """The call analysis of ``domain`` (the view's current filter) as an Excel file.

        Read with the user's rights (the report's access rules apply), written to a
        temporary file in constant memory and streamed from it."""
        domain = _parse_domain(domain)
        env = request.env
        companies = _parse_ids(company_ids)
        if companies:
            # Checked by Odoo: only companies the user belongs to.
            env = env(context=dict(env.context, allowed_company_ids=companies))
            env.companies  # noqa: B018 - raises AccessError on a foreign company
        workbook = CallReportWorkbook(env["crm.voip.call.report"], domain)
        handle, path = tempfile.mkstemp(prefix="crm_voip_report_", suffix=".xlsx")
        os.close(handle)
        try:
            workbook.write(path)
            stream = open(path, "rb")  # noqa: SIM115 - closed by the response
        finally:
            os.unlink(path)  # the open file stays readable until the response closes it
        size = os.fstat(stream.fileno()).st_size
        response = request.make_response(
            wrap_file(request.httprequest.environ, stream),
            headers=[
                ("Content-Type", XLSX_MIMETYPE),
                ("Content-Length", str(size)),
                ("Content-Disposition", content_disposition(workbook.filename())),
            ],
        )
        response.direct_passthrough = True
        return response


def _parse_domain(raw):
    try:
        domain = json.loads(raw or "[]")
    except ValueError:
        raise BadRequest("domain is not JSON")
    if not isinstance(domain, list) or len(domain) > MAX_DOMAIN_LENGTH:
        raise BadRequest("domain must be a list")
    for element in domain:
        if isinstance(element, str):
            if element not in ("&", "|", "!"):
                raise BadRequest("bad domain operator")
        elif not (isinstance(element, list) and len(element) == 3):
            raise BadRequest("bad domain leaf")
    return [tuple(element) if isinstance(element, list) else element for element in domain]


def _parse_ids(raw):
    try:
        ids = json.loads(raw or "[]")
    except ValueError:
        raise BadRequest("company_ids is not JSON")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise BadRequest("company_ids must be a list of ids")
    return ids
