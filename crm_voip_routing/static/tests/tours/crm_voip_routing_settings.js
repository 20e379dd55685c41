import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("crm_voip_routing_settings", {
    url: "/odoo/settings#crm",
    steps: () => [
        {
            content: "The call-back deadline is set in the CRM settings",
            trigger:
                ".o_setting_box:contains('Call-back deadline')" +
                " .o_field_widget[name='crm_voip_missed_sla_minutes'] input",
            run: "edit 30",
        },
        {
            content: "The overdue text is optional",
            trigger: ".o_field_widget[name='crm_voip_escalation_sms'] input",
            run: "click",
        },
        {
            content: "Its text appears once enabled",
            trigger: ".o_field_widget[name='crm_voip_escalation_sms_body'] textarea",
        },
        {
            content: "Discard: nothing was meant to be saved",
            trigger: ".o_form_button_cancel",
            run: "click",
        },
        {
            content: "Back to the saved settings",
            trigger: ".o_field_widget[name='crm_voip_escalation_sms'] input:not(:checked)",
        },
    ],
});
