"""Routing's own "new caller" flag gives way to crm_voip's ``partner_created``.

``crm_voip_new_caller`` was set when the unknown-caller policy created a contact or a
lead; crm_voip flags the lead itself (``lead_created``), so a new caller without that
flag had his contact created.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'crm_voip_call' AND column_name = 'crm_voip_new_caller'"
    )
    if not cr.fetchone():
        return
    cr.execute(
        "UPDATE crm_voip_call SET partner_created = TRUE"
        " WHERE crm_voip_new_caller AND NOT COALESCE(lead_created, FALSE)"
    )
    cr.execute("ALTER TABLE crm_voip_call DROP COLUMN crm_voip_new_caller")
