import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { screenshotStep } from "@crm_voip/../tests/tours/crm_voip_tour_utils";

registry.category("web_tour.tours").add("crm_voip_reports_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Telephony app",
            trigger: '.o_app[data-menu-xmlid="crm_voip.crm_voip_menu_root"]',
            run: "click",
        },
        {
            content: "Open Reporting",
            trigger: '.o_main_navbar [data-menu-xmlid="crm_voip_reports.crm_voip_reports_menu_reporting"]',
            run: "click",
        },
        {
            content: "… Call analysis",
            trigger: '.dropdown-item[data-menu-xmlid="crm_voip_reports.crm_voip_call_report_menu"]',
            run: "click",
        },
        {
            content: "The pivot opens on this month, by salesperson",
            trigger: ".o_pivot .o_pivot_header_cell_closed:contains(voip_anna)",
        },
        {
            content: "… with the answer rate",
            trigger: ".o_pivot th:contains(Answer rate)",
        },
        {
            content: "… and the missed calls nobody took",
            trigger: ".o_pivot .o_pivot_header_cell_closed:contains(None)",
        },
        {
            content: "Drop the period filter: every call so far",
            trigger: ".o_searchview_facet:contains(Date) .o_facet_remove",
            run: "click",
        },
        {
            content: "Boris' calls of last week show up",
            trigger: ".o_pivot .o_pivot_header_cell_closed:contains(voip_boris)",
        },
        screenshotStep("reports_pivot"),
        {
            content: "The gear menu offers the Excel workbook",
            trigger: ".o_control_panel .o_cp_action_menus button",
            run: "click",
        },
        {
            content: "Export to Excel",
            trigger: ".o_crm_voip_reports_export",
        },
        {
            content: "Close the menu",
            trigger: ".o_control_panel .o_cp_action_menus button",
            run: "click",
        },
        {
            content: "Open Reporting again",
            trigger: '.o_main_navbar [data-menu-xmlid="crm_voip_reports.crm_voip_reports_menu_reporting"]',
            run: "click",
        },
        {
            content: "… the dashboard",
            trigger: '.dropdown-item[data-menu-xmlid="crm_voip_reports.crm_voip_reports_dashboard_menu"]',
            run: "click",
        },
        {
            content: "KPI cards: today's calls",
            trigger: ".o_crm_voip_reports_card[data-kpi=calls] .o_kpi_value",
        },
        {
            content: "… and this week's",
            trigger: ".o_crm_voip_reports_card[data-kpi=missed] .o_kpi_week",
        },
        {
            content: "The heatmap of incoming calls",
            trigger: ".o_crm_voip_reports_heatmap_table td.o_heat_cell",
        },
        {
            content: "The salespeople",
            trigger: ".o_crm_voip_reports_salespeople_table .o_crm_voip_reports_salesperson:contains(voip_anna)",
        },
        {
            content: "Over the last 30 days",
            trigger: ".o_crm_voip_reports_period",
            run: "select last_30_days",
        },
        {
            content: "Sorted by calls",
            trigger: ".o_crm_voip_reports_sort",
            run: "select call_count",
        },
        {
            content: "The most calls first: the missed ones nobody took",
            trigger: ".o_crm_voip_reports_salespeople_table tbody tr:first-child td:first-child:contains(Unassigned)",
        },
        {
            content: "Show the missed share",
            trigger: ".o_crm_voip_reports_missed_share",
            run: "click",
        },
        {
            content: "The cells show percentages",
            trigger: ".o_crm_voip_reports_missed_share.btn-primary",
        },
        {
            content: "Back to the top for the picture",
            trigger: ".o_crm_voip_reports_dashboard",
            run: () => {
                document.querySelector(".o_crm_voip_reports_dashboard").scrollTop = 0;
            },
        },
        screenshotStep("reports_dashboard"),
    ],
});
