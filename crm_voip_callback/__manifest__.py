{
    "name": "CRM VoIP: website call-back",
    "summary": 'A "call me back" button for any website: the PBX rings the right salesperson, '
    "then the visitor, within seconds",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip_routing", "utm"],
    "data": [
        "security/ir.model.access.csv",
        "security/crm_voip_callback_security.xml",
        "views/crm_voip_callback_source_views.xml",
        "views/crm_voip_call_views.xml",
    ],
    "installable": True,
}
