{
    "name": "CRM VoIP: outbound dialer campaigns",
    "summary": "Preview, progressive and power dialing of partner and lead lists, with "
    "do-not-call lists and calling hours",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip"],
    "installable": True,
}
