import { registry } from "@web/core/registry";
import { delay, simulateCall, waitUntil } from "./crm_voip_tour_utils";

let secondWindow = null;

function secondTab() {
    return secondWindow && !secondWindow.closed ? secondWindow.document : null;
}

function popupCount() {
    const second = secondTab();
    return (
        document.querySelectorAll(".o_crm_voip_popup").length +
        (second ? second.querySelectorAll(".o_crm_voip_popup").length : 0)
    );
}

registry.category("web_tour.tours").add("crm_voip_two_tabs", {
    url: "/odoo",
    steps: () => [
        {
            content: "Open a second Odoo tab of the same user",
            trigger: ".o_main_navbar",
            timeout: 60000,
            run: async () => {
                // The tour's state lives in localStorage, shared by the tabs: hide it while
                // the second tab starts, or that tab would run this tour too.
                const saved = Object.keys(localStorage)
                    .filter((key) => key.startsWith("current_tour"))
                    .map((key) => [key, localStorage.getItem(key)]);
                saved.forEach(([key]) => localStorage.removeItem(key));
                try {
                    secondWindow = window.open("/odoo", "crm_voip_second_tab", "width=900,height=600");
                    if (!secondWindow) {
                        throw new Error("the second tab could not be opened");
                    }
                    await waitUntil(() => secondTab()?.querySelector(".o_crm_voip_call_center"), 45000);
                    await delay(1500);
                } finally {
                    saved.forEach(([key, value]) => localStorage.setItem(key, value));
                }
            },
        },
        {
            content: "A call rings Anna",
            trigger: "body",
            run: () =>
                simulateCall("Novofon test", "missed", {
                    caller: "74957654321",
                    extensions: ["101"],
                    event_gap: 4,
                }),
        },
        {
            content: "Exactly one popup in all tabs",
            trigger: "body",
            run: async () => {
                await waitUntil(() => popupCount() > 0);
                await delay(1500);
                if (popupCount() !== 1) {
                    const here = JSON.stringify(await navigator.locks.query());
                    const there = JSON.stringify(await secondWindow.navigator.locks.query());
                    throw new Error(
                        `expected one popup across tabs, got ${popupCount()}; locks ${here} / ${there}`
                    );
                }
            },
        },
        {
            content: "Dismiss it where it shows: gone everywhere",
            trigger: "body",
            run: async () => {
                const here = document.querySelector(".o_crm_voip_popup_close");
                const there = secondTab().querySelector(".o_crm_voip_popup_close");
                (here || there).click();
                await waitUntil(() => popupCount() === 0);
                secondWindow.close();
            },
        },
    ],
});
