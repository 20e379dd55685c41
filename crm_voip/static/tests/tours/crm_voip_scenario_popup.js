import { registry } from "@web/core/registry";
import { simulateCall } from "./crm_voip_tour_utils";

// The scenario suites' account, whichever PBX it is (see tests/common_scenarios.py).
const ACCOUNT = "Scenarios under test";

registry.category("web_tour.tours").add("crm_voip_scenario_popup", {
    url: "/odoo",
    steps: () => [
        {
            content: "A known client calls the Moscow line; Anna's extension rings",
            trigger: ".o_main_navbar",
            run: () =>
                simulateCall(ACCOUNT, "answered", {
                    caller: "74957654321",
                    did: "74951204567",
                    extensions: ["101"],
                    answered_by: "101",
                    event_gap: 2.5,
                }),
        },
        { content: "Anna's popup names the caller", trigger: ".o_crm_voip_popup .o_crm_voip_popup_name:contains(Romashka LLC)" },
        { content: "… the line he dialled", trigger: ".o_crm_voip_popup .o_crm_voip_popup_line:contains(Moscow sales 495)" },
        { content: "She answers: the popup shows the talk", trigger: ".o_crm_voip_popup[data-status=talking]" },
        { content: "Hang-up: the wrap-up panel opens", trigger: ".o_crm_voip_wrapup" },
    ],
});
