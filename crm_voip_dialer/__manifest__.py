{
    "name": "CRM VoIP: outbound dialer campaigns",
    "summary": "Preview, progressive and power dialing of partner and lead lists, with "
    "do-not-call lists and calling hours",
    "version": "18.0.1.1.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip", "phone_validation"],
    "external_dependencies": {"python": ["phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "security/crm_voip_dialer_security.xml",
        "data/ir_cron_data.xml",
        "data/crm_voip_dialer_disposition_data.xml",
        "views/crm_voip_dialer_import_views.xml",
        "views/crm_voip_dialer_campaign_views.xml",
        "views/crm_voip_dialer_line_views.xml",
        "views/crm_voip_dialer_disposition_views.xml",
        "views/crm_voip_dialer_menus.xml",
    ],
    "assets": {
        "web.assets_backend": ["crm_voip_dialer/static/src/**/*"],
        "web.assets_tests": ["crm_voip_dialer/static/tests/tours/**/*"],
    },
    "installable": True,
}
