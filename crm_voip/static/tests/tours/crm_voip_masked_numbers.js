import { registry } from "@web/core/registry";
import { simulateCall } from "./crm_voip_tour_utils";

// A salesperson outside "Sees client phone numbers": an unknown caller's number shows masked.
const MASKED = "+7 499 ***-**-33";

registry.category("web_tour.tours").add("crm_voip_masked_numbers", {
    url: "/odoo",
    steps: () => [
        {
            content: "An unknown number calls Anna",
            trigger: ".o_main_navbar",
            run: () =>
                simulateCall("Novofon test", "answered", {
                    caller: "74991112233",
                    did: "74951204567",
                    extensions: ["101"],
                    answered_by: "101",
                    event_gap: 2.5,
                }),
        },
        { content: "The popup shows the number masked", trigger: `.o_crm_voip_popup .o_crm_voip_popup_name:contains(${MASKED})` },
        { content: "Hang-up: the wrap-up panel opens", trigger: ".o_crm_voip_wrapup" },
        { content: "Later", trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_later", run: "click" },
        {
            content: "Open the call log",
            trigger: "body:not(:has(.o_crm_voip_wrapup))",
            run: "goToUrl /odoo/action-crm_voip.crm_voip_call_action",
        },
        { content: "The list shows the number masked", trigger: `.o_data_row:contains(${MASKED})` },
        { content: "… and nowhere whole", trigger: ".o_list_view:not(:contains(111-22-33))" },
        {
            content: "Call the client back from his row",
            trigger: `.o_data_row:contains(${MASKED}) .o_crm_voip_dial_button`,
            run: "click",
        },
        { content: "The call bar shows the call", trigger: ".o_crm_voip_callbar" },
        { content: "Open the call", trigger: `.o_data_row:contains(${MASKED}) td.o_data_cell:first`, run: "click" },
        { content: "The form shows the number masked", trigger: `.o_form_view .o_field_widget[name=partner_number_display]:contains(${MASKED})` },
        { content: "… and not the PBX's raw numbers", trigger: ".o_form_view:not(:has(.o_field_widget[name=from_number]))" },
    ],
});
