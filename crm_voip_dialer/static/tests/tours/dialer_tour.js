import { registry } from "@web/core/registry";

/** The agent joins the campaign and goes ready; the test plays the calls. */
registry.category("web_tour.tours").add("crm_voip_dialer_agent_tour", {
    url: "/odoo/action-crm_voip_dialer.crm_voip_dialer_agent_panel_action",
    steps: () => [
        { trigger: ".o_dialer_join", run: "click" },
        { trigger: ".o_dialer_ready", run: "click" },
        { trigger: ".o_dialer_pause" },
    ],
});
