"""Where website call-back requests come from: one record per website (or landing page)."""

import secrets
from urllib.parse import urlsplit

from odoo import api, fields, models
from odoo.exceptions import ValidationError


def _new_key():
    return secrets.token_urlsafe(16)


def normalize_origin(value):
    """``https://Shop.example.com:443/page`` -> ``https://shop.example.com``: an origin as a
    browser sends it (scheme, host, port only when not the scheme's default), or ""."""
    value = (value or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


class CrmVoipCallbackSource(models.Model):
    """A website that may ask for call-backs: who it is, where it may post from, which PBX
    account places its calls and how much one number or one address may ask."""

    _name = "crm.voip.callback.source"
    _description = "Website call-back source"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=False)
    active = fields.Boolean(default=True)
    enabled = fields.Boolean(
        default=True, help="Off: the widget stays on the pages but every request is refused."
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    key = fields.Char(
        string="Public key",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: _new_key(),
        help="Names this source in the embedding snippet; it is public, not a secret.",
    )
    token = fields.Char(
        string="Shared token",
        copy=False,
        groups="crm_voip.crm_voip_group_manager",
        help="Optional. When set, a request must carry it (the snippet's data-token "
        "attribute, or the website's server adding it): a request without it is refused "
        "with 403.",
    )
    allowed_origins = fields.Text(
        help="The websites whose pages may post call-back requests, one per line "
        "(https://www.example.com). Browsers on other sites are refused; empty: only pages "
        "served by this Odoo.",
    )
    provider_id = fields.Many2one(
        "crm.voip.provider",
        string="PBX account",
        required=True,
        check_company=True,
        help="The account that places the call: it rings the salesperson, then the visitor.",
    )
    line_id = fields.Many2one(
        "crm.voip.line",
        string="Line",
        check_company=True,
        domain="[('provider_id', '=', provider_id)]",
        help="Routed as a call to this line: the routing rules of the line apply, and its "
        "team and campaign are the defaults of the request.",
    )
    team_id = fields.Many2one("crm.team", string="Sales team", check_company=True)
    source_id = fields.Many2one("utm.source", string="Source")
    medium_id = fields.Many2one("utm.medium", string="Medium")
    campaign_id = fields.Many2one("utm.campaign", string="Campaign")
    number_limit = fields.Integer(
        string="Requests per number",
        default=3,
        help="A number asking more often within the window is answered 429 (too many requests).",
    )
    address_limit = fields.Integer(
        string="Requests per address",
        default=10,
        help="An Internet address asking more often within the window is answered 429.",
    )
    limit_window_minutes = fields.Integer(string="Window (minutes)", default=60)
    allow_international = fields.Boolean(
        string="Call abroad",
        help="Off: only numbers of the PBX account's country are called back.",
    )
    call_ids = fields.One2many("crm.voip.call", "crm_voip_callback_source_id", readonly=True)
    call_count = fields.Integer(compute="_compute_call_count")
    snippet = fields.Char(string="Embedding snippet", compute="_compute_snippet")

    _sql_constraints = [
        ("key_uniq", "unique(key)", "The public key of a call-back source is unique."),
    ]

    @api.constrains("number_limit", "address_limit", "limit_window_minutes")
    def _check_limits(self):
        for source in self:
            if min(source.number_limit, source.address_limit, source.limit_window_minutes) < 1:
                raise ValidationError(self.env._("The limits and their window must be positive."))

    @api.constrains("provider_id", "line_id")
    def _check_line(self):
        for source in self:
            if source.line_id and source.line_id.provider_id != source.provider_id:
                raise ValidationError(
                    self.env._("The line must belong to the source's PBX account.")
                )

    def _compute_call_count(self):
        counts = dict(
            self.env["crm.voip.call"]._read_group(
                [("crm_voip_callback_source_id", "in", self.ids)],
                ["crm_voip_callback_source_id"],
                ["__count"],
            )
        )
        for source in self:
            source.call_count = counts.get(source, 0)

    @api.depends("key")
    def _compute_snippet(self):
        base_url = self.get_base_url()
        for source in self:
            source.snippet = (
                f'<script src="{base_url}/crm_voip_callback/widget.js" '
                f'data-key="{source.key}" defer></script>'
            )

    def _crm_voip_origins(self):
        """The allowed origins, normalized."""
        self.ensure_one()
        origins = set()
        for line in (self.allowed_origins or "").replace(",", "\n").splitlines():
            origin = normalize_origin(line)
            if origin:
                origins.add(origin)
        return origins

    def _crm_voip_origin_allowed(self, origin, own_origin):
        """Whether a browser page of ``origin`` (its Origin header, maybe empty) may post
        to this source. No Origin header: not a browser's cross-site request (a server
        posting on its site's behalf, or a same-origin form), allowed; the token, the
        limits and the checks of the number apply all the same."""
        self.ensure_one()
        origin = normalize_origin(origin)
        if not origin:
            return True
        return origin == normalize_origin(own_origin) or origin in self._crm_voip_origins()

    def action_regenerate_key(self):
        for source in self:
            source.key = _new_key()

    def action_open_calls(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Call-back requests"),
            "res_model": "crm.voip.call",
            "view_mode": "list,form",
            "domain": [("crm_voip_callback_source_id", "=", self.id)],
        }
