{
    "name": "CRM VoIP: call analysis",
    "summary": "Call statistics per salesperson, team, line and period: answer and missed "
    "rates, talk and wait time, call-backs, calls per won deal; dashboard and Excel export",
    "version": "18.0.1.2.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip"],
    "external_dependencies": {"python": ["xlsxwriter"]},
    "data": [
        "security/ir.model.access.csv",
        "security/crm_voip_reports_security.xml",
        "data/ir_cron_data.xml",
        "report/crm_voip_call_report_views.xml",
        "views/res_config_settings_views.xml",
        "views/crm_voip_reports_menus.xml",
    ],
    "assets": {
        "web.assets_backend": ["crm_voip_reports/static/src/**/*"],
        "web.assets_tests": ["crm_voip_reports/static/tests/tours/**/*"],
    },
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
    "installable": True,
}
