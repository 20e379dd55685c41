import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

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
            content: "A salesperson has no configuration menu",
            trigger:
                ".o_main_navbar:not(:has([data-menu-xmlid='crm_voip.crm_voip_menu_configuration']))",
        },
    ],
});
