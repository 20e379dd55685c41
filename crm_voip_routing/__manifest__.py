{
    "name": "CRM VoIP: call routing and missed calls",
    "summary": "Route calls to the client's own manager, with fallbacks, and turn every "
    "unanswered call into a task for a specific manager",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip"],
    "installable": True,
}
