{
    "name": "CRM VoIP: website call-back on Odoo Website",
    "summary": 'The "call me back" button on the pages of an Odoo website, chosen per website',
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip_callback", "website"],
    "data": [
        "views/website_templates.xml",
        "views/res_config_settings_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
