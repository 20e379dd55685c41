import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("crm_voip_routing_manager", {
    url: "/odoo/action-crm_voip_routing.crm_voip_route_action",
    steps: () => [
        {
            content: "Open the rule for known clients",
            trigger: ".o_data_row td[name='name']:contains('Known clients')",
            run: "click",
        },
        {
            content: "Its chain is listed step by step",
            trigger: ".o_field_widget[name='step_ids'] .o_data_row:nth-child(4)",
        },
        {
            content: "Test a number from the rule",
            trigger: "button[name='action_open_routing_test']",
            run: "click",
        },
        {
            content: "Type the client's number as people type it",
            trigger: ".modal .o_field_widget[name='number'] input",
            run: "edit 8 (495) 765-43-21 && click .modal-title",
        },
        {
            content: "The decision names the rule and why",
            trigger: ".modal .o_crm_voip_routing_trace:contains('Known clients')",
        },
        {
            content: "The PBX reply is shown",
            trigger: ".modal .o_field_widget[name='pbx_reply']:contains('redirect')",
        },
        {
            content: "Close",
            trigger: ".modal .modal-footer button.btn-secondary",
            run: "click",
        },
        {
            content: "Back on the rule",
            trigger: ".o_form_view:not(:has(.modal))",
        },
    ],
});
