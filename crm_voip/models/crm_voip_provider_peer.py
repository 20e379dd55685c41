from odoo import api, fields, models

from .crm_voip_provider import SILENCE_ALERT


class CrmVoipProvider(models.Model):
    """The status a program beside the PBX (a bridge) reports, for PBXs whose adapter
    ``reports_peer_status``: from its heartbeats (webhook requests carrying a status) and
    from the account's connection test. A heartbeat is contact from the PBX."""

    _inherit = "crm.voip.provider"

    reports_peer_status = fields.Boolean(compute="_compute_reports_peer_status")
    peer_status = fields.Json(string="Bridge status", readonly=True, copy=False)
    peer_status_date = fields.Datetime(string="Bridge status at", readonly=True, copy=False)
    peer_connected = fields.Boolean(
        string="Bridge connected to the PBX", compute="_compute_peer_fields"
    )
    peer_last_event = fields.Datetime(
        string="Bridge's last PBX event", compute="_compute_peer_fields"
    )
    peer_queue_depth = fields.Integer(
        string="Events waiting in the bridge", compute="_compute_peer_fields"
    )
    peer_dead_letters = fields.Integer(
        string="Events refused, kept by the bridge", compute="_compute_peer_fields"
    )
    peer_version = fields.Char(string="Bridge version", compute="_compute_peer_fields")
    peer_problem = fields.Char(string="Bridge reports", compute="_compute_peer_fields")

    @api.depends("code")
    def _compute_reports_peer_status(self):
        for provider in self:
            adapter_class = provider._crm_voip_adapter_class()
            provider.reports_peer_status = bool(
                adapter_class and adapter_class.reports_peer_status()
            )

    @api.depends("peer_status")
    def _compute_peer_fields(self):
        for provider in self:
            status = provider.peer_status if isinstance(provider.peer_status, dict) else {}
            last_event = status.get("last_event")
            try:
                # Given in UTC by the adapter; Odoo keeps naive UTC.
                last_event = fields.Datetime.to_datetime(last_event[:19].replace("T", " "))
            except (TypeError, ValueError):
                last_event = False
            provider.update(
                {
                    "peer_connected": status.get("connected") is True,
                    "peer_last_event": last_event,
                    "peer_queue_depth": _count(status.get("queue_depth")),
                    "peer_dead_letters": _count(status.get("dead_letters")),
                    "peer_version": str(status.get("version") or "") or False,
                    "peer_problem": str(status.get("problem") or "") or False,
                }
            )

    @api.depends("api_error", "peer_status_date")
    def _compute_event_stats(self):
        super()._compute_event_stats()
        now = fields.Datetime.now()
        for provider in self:
            heard = provider.peer_status_date
            # A recent heartbeat is the PBX's side alive, events or not.
            if heard and now - heard <= SILENCE_ALERT and provider.health in ("never", "silent"):
                provider.health = "ok"

    def _crm_voip_store_peer_status(self, status):
        """Keep the status the peer reported (``ProviderAdapter.peer_status``)."""
        self.ensure_one()
        self.sudo().write({"peer_status": status, "peer_status_date": fields.Datetime.now()})

    def _crm_voip_ask_pbx(self, ask, failure_title):
        """A connection test of a PBX with a peer also reports the peer's status: kept
        after the (read-only) request, in a cursor of its own."""

        def ask_and_keep_status(adapter):
            answer = ask(adapter)
            if adapter.last_peer_status is not None:
                self._crm_voip_store_peer_status_after_commit(adapter.last_peer_status)
            return answer

        return super()._crm_voip_ask_pbx(ask_and_keep_status, failure_title)

    def _crm_voip_store_peer_status_after_commit(self, status):
        registry, provider_id = self.env.registry, self.id

        def write():
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                provider = env["crm.voip.provider"].browse(provider_id).exists()
                if provider:
                    provider._crm_voip_store_peer_status(status)

        self.env.cr.postcommit.add(write)


def _count(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
