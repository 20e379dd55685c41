import { registry } from "@web/core/registry";
import { screenshotStep } from "./crm_voip_tour_utils";

registry.category("web_tour.tours").add("crm_voip_click_to_call", {
    url: "/odoo/action-base.action_partner_form?view_type=list",
    steps: () => [
        {
            content: "Call Romashka from its row in the contact list",
            trigger: ".o_data_row:contains(Romashka LLC) .o_crm_voip_dial_button",
            run: "click",
        },
        { content: "The call bar shows the call", trigger: ".o_crm_voip_callbar" },
        screenshotStep("call_bar"),
        { content: "The list did not open the record", trigger: ".o_list_view" },
        { content: "After the call, the wrap-up panel", trigger: ".o_crm_voip_wrapup" },
        { content: "Later", trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_later", run: "click" },
        { content: "Closed", trigger: "body:not(:has(.o_crm_voip_wrapup))" },
    ],
});
