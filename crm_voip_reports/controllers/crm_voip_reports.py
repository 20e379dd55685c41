import json
import os
import tempfile

import psycopg2
from werkzeug.exceptions import BadRequest
from werkzeug.wsgi import wrap_file

from odoo import fields, http
from odoo.http import content_disposition, request
from odoo.osv import expression

from ..tools.xlsx_export import XLSX_MIMETYPE, CallReportWorkbook

# Leaves of a domain sent by the web client: (field path, operator, value) or operators.
MAX_DOMAIN_LENGTH = 200
# PostgreSQL's integer: a larger id cannot name a record (and some SQL casts refuse it).
MAX_RECORD_ID = 2**31 - 1


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
        report = env["crm.voip.call.report"]
        _check_domain(report, domain)
        workbook = CallReportWorkbook(report, domain)
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
    except (ValueError, RecursionError):
        raise BadRequest("domain is not JSON")
    if not isinstance(domain, list) or len(domain) > MAX_DOMAIN_LENGTH:
        raise BadRequest("domain must be a list")
    # Conditions still expected, as Odoo counts them ("&" and "|" take two, "!" one, a
    # missing operator between two conditions is an "&"): none left over, none missing.
    expected = 1
    for element in domain:
        if expected == 0:
            expected = 1
        if isinstance(element, str):
            if element not in ("&", "|", "!"):
                raise BadRequest("bad domain operator")
            expected += 0 if element == "!" else 1
        elif isinstance(element, list) and len(element) == 3:
            expected -= 1
        else:
            raise BadRequest("bad domain leaf")
    if domain and expected:
        raise BadRequest("domain: an operator lacks its conditions")
    return [tuple(element) if isinstance(element, list) else element for element in domain]


def _parse_ids(raw):
    try:
        ids = json.loads(raw or "[]")
    except (ValueError, RecursionError):
        raise BadRequest("company_ids is not JSON")
    if not isinstance(ids, list) or not all(type(i) is int and 0 < i <= MAX_RECORD_ID for i in ids):
        raise BadRequest("company_ids must be a list of ids")
    return ids


def _check_domain(report, domain):
    """Refuse (400, with the reason) a filter the report cannot run: a field path that
    does not exist, an unknown operator, text PostgreSQL refuses, a value that does not
    fit its field. Fields the user may not read are refused by the ORM (403)."""
    for element in domain:
        if isinstance(element, str):
            continue
        path, operator, value = element
        if not isinstance(path, str) or not path:
            raise BadRequest("domain: a field name is expected on the left of each condition")
        model = report
        for name in path.split("."):
            field = model._fields.get(name) if model is not None else None
            if field is None:
                raise BadRequest(f"domain: unknown field {path[:100]!r}")
            model = model.env[field.comodel_name] if field.relational else None
        if operator not in expression.TERM_OPERATORS:
            raise BadRequest(f"domain: unknown operator {str(operator)[:20]!r}")
        _check_value(value)
        _check_value_type(field, operator, value, path)
    # Whatever the checks above do not foresee (a sub-domain of "any", an operator the
    # field does not support): the filter is tried once, cheaply, and a refusal rolled
    # back to a savepoint.
    try:
        with report.env.cr.savepoint(flush=False):
            report.search_count(domain, limit=1)
    except (ValueError, TypeError, psycopg2.DataError, psycopg2.ProgrammingError) as error:
        raise BadRequest(f"domain: a value does not fit its field ({str(error)[:200]})") from None


def _check_value_type(field, operator, value, path):
    """A value PostgreSQL would refuse for the field's column: refused here, before the
    query, so that the database logs no error for a user's typing."""
    if operator in ("any", "not any") or "like" in operator:
        return
    values = value if isinstance(value, list) else [value]
    values = [item for item in values if item is not None and item is not False]
    if field.type in ("integer", "float", "monetary"):
        if not all(isinstance(item, (int, float)) for item in values):
            raise BadRequest(f"domain: a number is expected for {path[:100]!r}")
    elif field.type in ("char", "text", "html", "selection"):
        if not all(isinstance(item, str) for item in values):
            raise BadRequest(f"domain: text is expected for {path[:100]!r}")
    elif field.type == "boolean":
        if not all(item in (True, False, 0, 1) for item in values):
            raise BadRequest(f"domain: true or false is expected for {path[:100]!r}")
    elif field.type in ("many2one", "one2many", "many2many"):
        if not all(isinstance(item, (int, str)) for item in values):
            raise BadRequest(f"domain: ids or a name are expected for {path[:100]!r}")
    elif field.type in ("date", "datetime"):
        parse = fields.Date.to_date if field.type == "date" else fields.Datetime.to_datetime
        for item in values:
            try:
                parse(item)
            except (ValueError, TypeError):
                raise BadRequest(
                    f"domain: a value does not fit its field: {path[:100]!r} expects a date"
                ) from None


def _check_value(value, depth=0):
    if depth > 3:
        raise BadRequest("domain: value nested too deeply")
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value):
            raise BadRequest("domain: text with a NUL or an invalid character")
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > 2**63 - 1:
            raise BadRequest("domain: number out of range")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise BadRequest("domain: number out of range")
    elif isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)
    elif value is not None and not isinstance(value, bool):
        raise BadRequest("domain: a value must be text, a number, a boolean or a list")
