"""The public door of the website call-back: the widget's script and its requests."""

import hmac
import json
import logging

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from odoo import http
from odoo.http import request
from odoo.tools import file_open

_logger = logging.getLogger(__name__)

# A request is a phone number and a few words: anything bigger is not one.
MAX_BODY_BYTES = 4096
TOKEN_HEADER = "X-Callback-Token"
WIDGET_PATH = "crm_voip_callback/static/src/widget/widget.js"


class CrmVoipCallbackController(http.Controller):
    # ------------------------------------------------------------------
    # The widget
    # ------------------------------------------------------------------

    @http.route("/crm_voip_callback/widget.js", type="http", auth="public", methods=["GET"])
    def crm_voip_callback_widget(self, lang=None, **_kwargs):
        """The embeddable script, with its words in the page's language (``lang``, else
        the browser's): plain JavaScript, no library, included by any website."""
        env = request.env(context=dict(request.env.context, lang=self._lang(lang)))
        with file_open(WIDGET_PATH, "r") as widget:
            script = widget.read()
        labels = json.dumps(self._labels(env), ensure_ascii=False)
        body = f"window.crmVoipCallbackLabels = {labels};\n{script}"
        return request.make_response(
            body,
            headers=[
                ("Content-Type", "application/javascript; charset=utf-8"),
                ("Cache-Control", "public, max-age=3600"),
                ("Vary", "Accept-Language"),
            ],
        )

    @staticmethod
    def _labels(env):
        return {
            "button": env._("Call me back"),
            "title": env._("We will call you back within seconds"),
            "name": env._("Your name"),
            "number": env._("Your phone number"),
            "submit": env._("Call me"),
            "close": env._("Close"),
            "sending": env._("Sending…"),
            "error": env._("Something went wrong. Please call us instead."),
        }

    # ------------------------------------------------------------------
    # The request
    # ------------------------------------------------------------------

    @http.route(
        "/crm_voip_callback/<string:key>/request",
        type="http",
        auth="public",
        methods=["POST", "OPTIONS"],
        csrf=False,
        save_session=False,
    )
    def crm_voip_callback_request(self, key, **_kwargs):
        """Ask for a call-back: ``{"number", "name", "url", "utm_source", "utm_medium",
        "utm_campaign", "lang", "hp"}`` as JSON (``token`` in the body or the
        ``X-Callback-Token`` header). Answers ``{"status", "message"}``, the message in
        the visitor's language: 200 calling or scheduled, 400 invalid, 403 not allowed,
        413 too big, 422 refused, 429 too many requests."""
        httprequest = request.httprequest
        origin = httprequest.headers.get("Origin", "")
        source = (
            request.env["crm.voip.callback.source"].sudo().search([("key", "=", key[:64])], limit=1)
        )
        env = request.env
        if not source or not source.enabled:
            message = env._("Call-back requests are not available.")
            return self._json(env, 404, "unavailable", message)
        if not source._crm_voip_origin_allowed(origin, httprequest.host_url):
            _logger.info("crm_voip_callback: origin %r refused by source %s", origin, source.id)
            return self._forbidden(env)
        cors = self._cors_headers(origin)
        if httprequest.method == "OPTIONS":
            return request.make_response("", status=204, headers=cors)
        length = httprequest.content_length
        if length is None or length > MAX_BODY_BYTES:
            return self._json(env, 413, "invalid", env._("The request is too large."), cors)
        httprequest.max_content_length = MAX_BODY_BYTES
        try:
            data = json.loads(httprequest.get_data(cache=False, parse_form_data=False) or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return self._json(env, 400, "invalid", env._("The request is not understood."), cors)
        env = env(context=dict(env.context, lang=self._lang(data.get("lang"), source)))
        source = source.with_env(env(su=True))
        if source.token:
            given = httprequest.headers.get(TOKEN_HEADER) or data.get("token") or ""
            if not isinstance(given, str) or not hmac.compare_digest(
                given.encode(), source.token.encode()
            ):
                return self._forbidden(env, cors)
        answer = source._crm_voip_callback_request(data, httprequest.remote_addr or "")
        if answer.call:
            # Logged and committed first; the PBX is asked with no transaction open
            # (``_crm_voip_originate`` claims the call once, commits, then asks).
            request.env.cr.commit()
            error = answer.call._crm_voip_originate()
            if error:
                _logger.warning("crm_voip_callback: call %s not placed: %s", answer.call.id, error)
                answer = source._crm_voip_placing_failed(answer.call)
        return self._json(
            env, answer.http_status, answer.status, answer.message, cors, answer.extra
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    @staticmethod
    def _cors_headers(origin):
        """The CORS answer for an origin already checked as allowed (or none)."""
        if not origin:
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", "POST, OPTIONS"),
            ("Access-Control-Allow-Headers", f"Content-Type, {TOKEN_HEADER}"),
            ("Access-Control-Max-Age", "600"),
            ("Vary", "Origin"),
        ]

    def _forbidden(self, env, headers=()):
        message = env._("This website may not ask for call-backs.")
        return self._json(env, 403, "forbidden", message, headers)

    @staticmethod
    def _json(env, status, code, message, headers=(), extra=None):
        body = json.dumps({"status": code, "message": message, **(extra or {})})
        return request.make_response(
            body,
            status=status,
            headers=[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )

    @staticmethod
    def _lang(wanted, source=None):
        """An installed language: ``wanted`` (``ru``, ``ru-RU``, ``ru_RU``), else the
        browser's, else the source company's."""
        installed = [code for code, _name in request.env["res.lang"].get_installed()]
        candidates = []
        if isinstance(wanted, str) and wanted:
            candidates.append(wanted[:16])
        accept = parse_accept_header(
            request.httprequest.headers.get("Accept-Language", ""), LanguageAccept
        )
        candidates.extend(value for value, _quality in accept)
        for candidate in candidates:
            code = candidate.replace("-", "_")
            if code in installed:
                return code
            prefix = code.split("_")[0].lower()
            for lang in installed:
                if lang.split("_")[0].lower() == prefix:
                    return lang
        company_lang = source.sudo().company_id.partner_id.lang if source else None
        if company_lang in installed:
            return company_lang
        return installed[0] if installed else "en_US"
