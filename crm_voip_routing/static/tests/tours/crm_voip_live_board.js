import { registry } from "@web/core/registry";
import { screenshotStep, simulateCall, waitUntil } from "@crm_voip/../tests/tours/crm_voip_tour_utils";

const ROMASHKA = "74957654321";

function member(name, state) {
    const row = `.o_crm_voip_board_member:has(.o_crm_voip_board_member_name:contains(${name}))`;
    return state ? `${row}[data-state=${state}]` : row;
}

registry.category("web_tour.tours").add("crm_voip_live_board", {
    url: "/odoo/action-crm_voip_routing.crm_voip_board_action",
    steps: () => [
        { content: "The board is loaded", trigger: ".o_crm_voip_board_body" },
        { content: "Anna is free", trigger: member("voip_anna", "free") },
        { content: "Boris is on do not disturb", trigger: member("voip_boris", "dnd") },
        { content: "The team is shown", trigger: ".o_crm_voip_board_team_name:contains(Moscow desk)" },
        {
            content: "A client calls the Moscow line; Anna's extension rings",
            trigger: ".o_crm_voip_board_line_name:contains(Moscow sales 495)",
            run: () =>
                simulateCall("Novofon test", "answered", {
                    caller: ROMASHKA,
                    did: "74951204567",
                    extensions: ["101"],
                    answered_by: "101",
                    event_gap: 4,
                }),
        },
        { content: "Anna is ringing", trigger: member("voip_anna", "ringing") },
        {
            content: "The line shows the call waiting, with the client",
            trigger: ".o_crm_voip_board_line_call[data-state=ringing] .o_crm_voip_board_client_link:contains(Romashka LLC)",
        },
        { content: "Anna answers: talking", trigger: `${member("voip_anna", "talking")} .o_crm_voip_board_client_link:contains(Romashka LLC)` },
        {
            content: "… with the line and a duration that ticks",
            trigger: `${member("voip_anna", "talking")} .o_crm_voip_board_line:contains(Moscow sales 495)`,
            run: async () => {
                const duration = () =>
                    [...document.querySelectorAll(".o_crm_voip_board_member[data-state=talking]")]
                        .find((row) => row.textContent.includes("voip_anna"))
                        ?.querySelector(".o_crm_voip_board_duration").textContent;
                const first = duration();
                await waitUntil(() => duration() !== first, 2500);
            },
        },
        screenshotStep("live_board"),
        { content: "Hang-up: Anna is free again", trigger: member("voip_anna", "free") },
        { content: "The line has no call left", trigger: "body:not(:has(.o_crm_voip_board_line_call))" },
        {
            content: "The manager puts himself on do not disturb",
            trigger: ".o_crm_voip_routing_dnd_toggle:not(.o_crm_voip_routing_dnd_on)",
            run: "click",
        },
        { content: "His row shows it at once", trigger: member("voip_manager", "dnd") },
    ],
});
