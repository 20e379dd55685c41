import { registry } from "@web/core/registry";
import { screenshotStep, simulateCall } from "./crm_voip_tour_utils";

const ROMASHKA = "74957654321";

registry.category("web_tour.tours").add("crm_voip_incoming_call", {
    url: "/odoo",
    steps: () => [
        {
            content: "A known client calls the Moscow line; Anna's extension rings",
            trigger: ".o_main_navbar",
            run: () =>
                simulateCall("Novofon test", "answered", {
                    caller: ROMASHKA,
                    did: "74951204567",
                    extensions: ["101"],
                    answered_by: "101",
                    event_gap: 2.5,
                }),
        },
        { content: "The popup names the caller", trigger: ".o_crm_voip_popup .o_crm_voip_popup_name:contains(Romashka LLC)" },
        { content: "… the line he dialled", trigger: ".o_crm_voip_popup .o_crm_voip_popup_line:contains(Moscow sales 495)" },
        {
            content: "… his open opportunity",
            trigger: ".o_crm_voip_popup .o_crm_voip_popup_opportunity:contains(Romashka: equipment)",
        },
        { content: "… his salesperson", trigger: ".o_crm_voip_popup .o_crm_voip_popup_responsible:contains(voip_anna)" },
        screenshotStep("incoming_popup"),
        { content: "Anna answers: the popup stays, with a timer", trigger: ".o_crm_voip_popup[data-status=talking]" },
        { content: "Hang-up: the wrap-up panel opens", trigger: ".o_crm_voip_wrapup" },
        { content: "The popup is gone", trigger: "body:not(:has(.o_crm_voip_popup))" },
        {
            content: "Outcome: interested",
            trigger: ".o_crm_voip_wrapup .o_crm_voip_outcome[data-outcome=Interested]",
            run: "click",
        },
        {
            content: "A note",
            trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_note",
            run: "edit Wants a demo next week",
        },
        {
            content: "Call back on a chosen day",
            trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_next_call",
            run: () => {
                // A native date input: set it the way the browser's picker does.
                const input = document.querySelector(".o_crm_voip_wrapup_next_call");
                input.value = "2030-06-01";
                input.dispatchEvent(new Event("input", { bubbles: true }));
            },
        },
        screenshotStep("wrapup_panel"),
        { content: "Save", trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_save", run: "click" },
        { content: "The panel closes", trigger: "body:not(:has(.o_crm_voip_wrapup))" },
    ],
});

registry.category("web_tour.tours").add("crm_voip_unknown_caller", {
    url: "/odoo",
    steps: () => [
        {
            content: "An unknown number calls",
            trigger: ".o_main_navbar",
            run: () =>
                simulateCall("Novofon test", "answered", {
                    caller: "79990007788",
                    extensions: ["101"],
                    answered_by: "101",
                    event_gap: 2.5,
                }),
        },
        { content: "The popup shows the number", trigger: ".o_crm_voip_popup .o_crm_voip_popup_name:contains(+7 999 000-77-88)" },
        { content: "Wrap-up after the call", trigger: ".o_crm_voip_wrapup" },
        {
            content: "Create the contact and an opportunity in one step",
            trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_opportunity",
            run: "check",
        },
        { content: "Save", trigger: ".o_crm_voip_wrapup .o_crm_voip_wrapup_save", run: "click" },
        { content: "Done", trigger: "body:not(:has(.o_crm_voip_wrapup))" },
    ],
});

registry.category("web_tour.tours").add("crm_voip_missed_call", {
    url: "/odoo",
    steps: () => [
        {
            content: "A client calls, nobody answers",
            trigger: ".o_main_navbar",
            run: () =>
                simulateCall("Novofon test", "missed", {
                    caller: ROMASHKA,
                    extensions: ["101"],
                    event_gap: 2.5,
                }),
        },
        { content: "The popup rings", trigger: ".o_crm_voip_popup[data-status=ringing]" },
        { content: "The caller hangs up: missed", trigger: ".o_crm_voip_popup[data-status=missed]" },
        { content: "The popup closes by itself", trigger: "body:not(:has(.o_crm_voip_popup))" },
    ],
});
