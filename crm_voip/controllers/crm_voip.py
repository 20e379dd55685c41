import json
import logging
import re
import time
from datetime import datetime, timezone

from werkzeug.exceptions import HTTPException

from odoo import http
from odoo.http import request

from .. import providers

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# What ``secrets.token_urlsafe`` (and the demo data) make; anything else is no token of
# ours and is answered without a query (a ``%00`` would make PostgreSQL refuse it).
WEBHOOK_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Where ``ir.http`` leaves the provider it found for the token, for the controller.
PROVIDER_ENVIRON_KEY = "crm_voip.webhook_provider"
# A flood of unknown tokens logs one line a minute per worker, not one per request.
UNKNOWN_TOKEN_LOG_INTERVAL = 60
_unknown_token_log = {"next": 0.0, "suppressed": 0}


class WebhookRefused(HTTPException):
    """A refusal before the controller runs (unknown token, body too large): a JSON
    reason with a 4xx status, raised from ``ir.http._pre_dispatch``."""

    def __init__(self, status, reason):
        super().__init__(description=reason)
        self.code = status
        self.response = _json_response(status, {"status": "error", "error": reason})


def _json_response(status, payload):
    return request.make_response(
        json.dumps(payload),
        headers=[("Content-Type", "application/json")],
        status=status,
    )


def _log_unknown_token():
    now = time.monotonic()
    if now < _unknown_token_log["next"]:
        _unknown_token_log["suppressed"] += 1
        return
    suppressed, _unknown_token_log["suppressed"] = _unknown_token_log["suppressed"], 0
    _unknown_token_log["next"] = now + UNKNOWN_TOKEN_LOG_INTERVAL
    _logger.warning(
        "crm_voip: webhook for an unknown token from %s (%d more in the last minute not logged)",
        request.httprequest.remote_addr or "",
        suppressed,
    )


def admit_webhook(token):
    """Before Odoo reads a webhook's body: find the account of ``token`` and read the
    body only for a known one, and only up to ``MAX_BODY_BYTES``. Raises
    ``WebhookRefused``; keeps the provider and the raw body (signatures are computed
    over the exact bytes, and some PBXs send multipart bodies with a boundary bug that
    makes the standard form parser drop every field)."""
    httprequest = request.httprequest
    provider = request.env["crm.voip.provider"]
    if isinstance(token, str) and WEBHOOK_TOKEN_RE.fullmatch(token):
        provider = provider.sudo()._find_by_webhook_token(token)
    if not provider:
        _log_unknown_token()
        raise WebhookRefused(404, "unknown webhook URL")
    length = httprequest.content_length
    if length is None and "chunked" in httprequest.headers.get("Transfer-Encoding", "").lower():
        # Without a length the body could only be bounded by reading it.
        raise WebhookRefused(411, "Content-Length required")
    if length is not None and length > MAX_BODY_BYTES:
        raise WebhookRefused(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    # Also bounds the form parser Odoo runs next on the same (cached) bytes.
    httprequest.max_content_length = MAX_BODY_BYTES
    httprequest.get_data(cache=True, parse_form_data=False)
    httprequest.environ[PROVIDER_ENVIRON_KEY] = provider


class CrmVoipWebhookController(http.Controller):
    """The public door of the PBX events: verified, stored, applied, answered.

    Everything after the provider lookup runs as the low-privilege webhook user, in
    the company of the PBX account; no PBX is called from here.
    """

    @http.route(
        [
            "/crm_voip/webhook/<string:token>",
            # PBXs that post each kind of event to its own path below the URL they are given.
            "/crm_voip/webhook/<string:token>/<path:event_path>",
        ],
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def crm_voip_webhook(self, token, **_kwargs):
        # Found by ir.http before the body was read (``admit_webhook``).
        provider = request.httprequest.environ.get(PROVIDER_ENVIRON_KEY)
        if not provider:
            admit_webhook(token)
            provider = request.httprequest.environ[PROVIDER_ENVIRON_KEY]
        # The cached id, not env.ref(), which checks that the user exists on each request.
        webhook_user_id = request.env["ir.model.data"]._xmlid_to_res_id(
            "crm_voip.user_crm_voip_webhook"
        )
        request.update_env(
            user=webhook_user_id,
            context={
                "allowed_company_ids": [provider.company_id.id],
                "tracking_disable": True,
                "mail_create_nolog": True,
                "lang": request.env.context.get("lang") or "en_US",
            },
        )
        provider = provider.with_env(request.env)
        adapter = provider._get_crm_voip_adapter()
        webhook_request = self._webhook_request()
        try:
            adapter.check_source(webhook_request.remote_addr)
            handshake = adapter.handshake(webhook_request)
            if handshake is not None:
                return self._response(handshake)
            if webhook_request.method not in adapter.webhook_methods:
                expected = " or ".join(adapter.webhook_methods)
                return self._reply(405, {"status": "error", "error": f"{expected} expected"})
            if len(webhook_request.body) > MAX_BODY_BYTES:
                raise providers.errors.MalformedEventError("request body too large")
            # Checked for storage there: nothing refused is stored, no 500 from the PBX's input.
            verified, call_events = providers.validation.read_webhook(adapter, webhook_request)
        except providers.errors.SignatureError as error:
            _logger.warning(
                "crm_voip: provider %s refused a webhook from %s: %s",
                provider.id,
                webhook_request.remote_addr,
                error,
            )
            return self._reply(403, {"status": "error", "error": str(error)})
        except providers.errors.MalformedEventError as error:
            _logger.warning("crm_voip: provider %s got a malformed webhook: %s", provider.id, error)
            return self._reply(400, {"status": "error", "error": str(error)})
        if verified:
            _logger.debug("crm_voip: provider %s webhook verified: %s", provider.id, verified)
        # A program beside the PBX (a bridge) may report its status, with or without events.
        peer_status = adapter.peer_status(webhook_request)
        if peer_status is not None:
            provider._crm_voip_store_peer_status(peer_status)

        events_model = request.env["crm.voip.event"]
        stored, duplicates = events_model._crm_voip_store(provider, call_events, first_write=True)
        calls = events_model._crm_voip_apply_stored(stored, alone=True)
        decision = self._routing_decision(provider, call_events, calls)
        if decision is not None:
            return self._response(adapter.routing_reply(decision))
        return self._response(adapter.ack(call_events, duplicates))

    @http.route("/crm_voip/originate", type="json", auth="user", methods=["POST"])
    def crm_voip_originate(self, call_id=None):
        """Second step of click-to-call: ask the PBX to ring the salesperson, then the client.

        The call was logged by ``crm_voip_dial_prepare``; it is claimed and committed
        before the PBX is asked, so a repeated request never reaches the PBX again and no
        transaction waits on the PBX. Returns ``{"error": message or False}``; a refusal
        of the PBX has ended the call failed.
        """
        call = request.env["crm.voip.call"].browse(_record_id(call_id)).exists()
        if not call or not call.has_access("read"):
            call = request.env["crm.voip.call"]
        if not call or call.user_id != request.env.user or call.origin != "click_to_call":
            return {"error": request.env._("This call does not exist or is not yours.")}
        if call.state != "ringing":
            return {"error": request.env._("This call is already over.")}
        return {"error": call._crm_voip_originate() or False}

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    @staticmethod
    def _remote_addr():
        return request.httprequest.remote_addr or ""

    def _webhook_request(self):
        http_request = request.httprequest
        return providers.events.WebhookRequest(
            method=http_request.method,
            url=http_request.url,
            path=http_request.path,
            query=http_request.args.to_dict(),
            form={},
            headers=dict(http_request.headers),
            body=http_request.get_data(cache=True, parse_form_data=False) or b"",
            content_type=http_request.headers.get("Content-Type", ""),
            remote_addr=self._remote_addr(),
            received_at=datetime.now(timezone.utc),
        )

    @staticmethod
    def _routing_decision(provider, call_events, applied_calls):
        """A single "call starting" event is the PBX asking where to send the call, when
        its adapter routes in the webhook reply."""
        if len(call_events) != 1 or call_events[0].kind != providers.events.CALL_STARTED:
            return None
        if not provider._crm_voip_adapter_class().routes_synchronously:
            return None
        call = applied_calls[:1]
        if not call:  # a repeated delivery: the call was applied by the first one
            call = request.env["crm.voip.call"].search(
                [
                    ("provider_id", "=", provider.id),
                    ("provider_call_id", "=", call_events[0].provider_call_id),
                ],
                limit=1,
            )
        return call._crm_voip_routing_decision() if call else None

    @staticmethod
    def _response(webhook_response):
        return request.make_response(
            webhook_response.body,
            headers=[("Content-Type", webhook_response.content_type)],
            status=webhook_response.status,
        )

    @staticmethod
    def _reply(status, payload):
        return _json_response(status, payload)


def _record_id(value):
    """A record id from the browser, or ``()`` when the value cannot be one: a bad id is
    answered like a call that does not exist, never with a server error."""
    try:
        record_id = int(value)
    except (TypeError, ValueError, OverflowError):
        return ()
    return record_id if 0 < record_id < 2**31 else ()
