import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/** The call list's row of a client number, as the popup spells it. */
const callRow = (number) =>
    `.o_data_row:has(.o_data_cell[name=partner_number_display]:contains(${number}))`;

registry.category("web_tour.tours").add("crm_voip_telephony_menu", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Telephony app",
            trigger: '.o_app[data-menu-xmlid="crm_voip.crm_voip_menu_root"]',
            run: "click",
        },
        {
            content: "The call log opens",
            trigger: ".o_breadcrumb:contains(Calls)",
        },
        {
            content: "Numbers and talk time read as in the popup",
            trigger: `${callRow("+7 495 123-45-67")} .o_data_cell[name=talk_seconds]:contains(1:49)`,
        },
        {
            content: "Past an hour, talk time has hours",
            trigger: `${callRow("+44 20 7946 0958")} .o_data_cell[name=talk_seconds]:contains(1:02:03)`,
        },
        {
            content: "The total talk time too (109 s + 3723 s)",
            trigger: ".o_list_renderer tfoot .o_list_number:contains(1:03:52)",
        },
        {
            content: "No raw digits left in the list",
            trigger: ".o_list_renderer:not(:has(.o_data_cell:contains(84951234567)))",
        },
        {
            content: "A salesperson has no configuration menu",
            trigger:
                ".o_main_navbar:not(:has([data-menu-xmlid='crm_voip.crm_voip_menu_configuration']))",
        },
    ],
});
