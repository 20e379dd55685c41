import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("crm_voip_routing_dnd", {
    url: "/odoo",
    steps: () => [
        {
            content: "The telephony systray item is there, calls ring",
            trigger: ".o_crm_voip_routing_dnd_toggle:not(.o_crm_voip_routing_dnd_on)",
            run: "click",
        },
        {
            content: "Do not disturb is on",
            trigger: ".o_crm_voip_routing_dnd_toggle.o_crm_voip_routing_dnd_on",
            run: "click",
        },
        {
            content: "Calls ring again",
            trigger: ".o_crm_voip_routing_dnd_toggle:not(.o_crm_voip_routing_dnd_on):enabled",
            run: "click",
        },
        {
            content: "Do not disturb is on again, and stays on",
            trigger: ".o_crm_voip_routing_dnd_toggle.o_crm_voip_routing_dnd_on:enabled",
        },
    ],
});
