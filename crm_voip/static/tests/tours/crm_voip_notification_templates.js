import { registry } from "@web/core/registry";

/**
 * An administrator sets up a PBX that posts the notifications its customer writes: the
 * account lists them, each with the exact text to paste (holding the account's secret),
 * and copies one.
 */
registry.category("web_tour.tours").add("crm_voip_notification_templates", {
    steps: () => [
        {
            content: "Open the notifications to set up",
            trigger: ".o_notebook .nav-link:contains(Notifications to set up)",
            run: "click",
        },
        {
            content: "Each notification says where it goes",
            trigger: ".o_crm_voip_notification_template .o_crm_voip_template_url:contains(/crm_voip/webhook/)",
        },
        {
            content: "...and its text holds the account's secret",
            trigger: ".o_crm_voip_notification_template .o_crm_voip_template_body:contains(tour-secret-42)",
        },
        {
            content: "Copy the first one's text",
            trigger: ".o_crm_voip_notification_template:first .o_crm_voip_copy_template",
            run: "click",
        },
        {
            content: "The copy is confirmed (or the browser refused the clipboard, and says so)",
            trigger: ".o_notification:contains(Copied), .o_notification:contains(copy it by hand)",
        },
    ],
});
