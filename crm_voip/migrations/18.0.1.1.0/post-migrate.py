"""PBX credentials and options move from fixed columns to the adapter-declared settings.

Up to 18.0.1.0.0 every account had ``api_key``, ``api_secret``, ``webhook_secret``,
``replay_window`` and ``max_event_age`` columns, whatever its PBX. Each value now goes to
``secret_settings`` or ``settings`` as the account's adapter declares it; the old
columns are dropped, so that no credential is left behind in a column nobody reads.
"""

import json
import logging

from odoo.tools import SQL

from odoo.addons.crm_voip import providers

_logger = logging.getLogger(__name__)

LEGACY_COLUMNS = ("api_key", "api_secret", "webhook_secret", "replay_window", "max_event_age")


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'crm_voip_provider' AND column_name IN %s",
        [LEGACY_COLUMNS],
    )
    columns = [name for (name,) in cr.fetchall()]
    if not columns:
        return
    cr.execute(
        SQL(
            "SELECT id, code, settings, %s FROM crm_voip_provider",
            SQL(", ").join(SQL.identifier(name) for name in columns),
        )
    )
    for provider_id, code, settings, *legacy in cr.fetchall():
        try:
            adapter_class = providers.get_adapter_class(code)
        except KeyError:
            _logger.warning("crm_voip: PBX account %s has an unknown PBX %r", provider_id, code)
            continue
        public, secret = dict(settings or {}), {}
        for name, value in zip(columns, legacy, strict=True):
            declared = adapter_class.config_field(name)
            if declared is None or value in (None, "", 0):
                continue
            (secret if declared.secret else public)[name] = declared.clean(value)
        cr.execute(
            "UPDATE crm_voip_provider SET settings = %s, secret_settings = %s WHERE id = %s",
            [json.dumps(public), json.dumps(secret), provider_id],
        )
    for name in columns:
        cr.execute(SQL("ALTER TABLE crm_voip_provider DROP COLUMN %s", SQL.identifier(name)))
    _logger.info("crm_voip: PBX settings of %s moved to the declared settings", columns)
