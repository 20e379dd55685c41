{
    "name": "CRM VoIP: call analytics",
    "summary": "Pivot and graph reports, KPIs per salesperson, team and line, Excel export",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "crm_voip contributors",
    "website": "https://github.com/crm-voip/crm_voip",
    "depends": ["crm_voip"],
    "external_dependencies": {"python": ["xlsxwriter"]},
    "installable": True,
}
