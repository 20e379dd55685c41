import { registry } from "@web/core/registry";
import { screenshotStep } from "@crm_voip/../tests/tours/crm_voip_tour_utils";

/**
 * Anna works two campaigns: in preview she reads the card, calls and answers with a
 * shortcut key; in progressive the dialer calls for her as soon as she is ready. The
 * simulator plays both calls (answered) and the Python test checks the leads.
 */
registry.category("web_tour.tours").add("crm_voip_dialer_agent_tour", {
    steps: () => [
        {
            content: "Join the preview campaign",
            trigger: ".o_dialer_join[data-campaign='Preview: spring offers']",
            run: "click",
        },
        { content: "The script is rendered", trigger: ".o_dialer_script b:contains(Anna)" },
        { content: "Ready for contacts", trigger: ".o_dialer_ready", run: "click" },
        {
            content: "The first contact's card, to read before calling",
            trigger: ".o_dialer_card[data-line-state=preview] .o_dialer_contact:contains(Dialer client 00000)",
        },
        screenshotStep("dialer_preview"),
        { content: "Call the contact", trigger: ".o_dialer_dial", run: "click" },
        {
            content: "The call bar shows the call and its timer",
            trigger: ".o_dialer_callbar .o_dialer_timer",
        },
        {
            content: "The client answered: the dispositions",
            trigger: ".o_dialer_card[data-line-state=wrapup] ~ .o_dialer_dispositions",
        },
        screenshotStep("dialer_disposition"),
        {
            content: "Key 1: Interested",
            trigger: ".o_dialer_disposition[data-shortcut='1']",
            run: () => document.dispatchEvent(new KeyboardEvent("keydown", { key: "1", bubbles: true })),
        },
        { content: "Nobody left to preview", trigger: ".o_dialer_waiting" },
        { content: "Leave the campaign", trigger: ".o_dialer_leave", run: "click" },
        {
            content: "Join the progressive campaign",
            trigger: ".o_dialer_join[data-campaign='Progressive: renewals']",
            run: "click",
        },
        { content: "Ready: the dialer calls for me", trigger: ".o_dialer_ready", run: "click" },
        {
            content: "The dialer rings me and the client",
            trigger: ".o_dialer_callbar:contains(Dialer client 00001)",
        },
        screenshotStep("dialer_progressive_call"),
        {
            content: "The call is over: Not interested",
            trigger: ".o_dialer_card[data-line-state=wrapup] ~ .o_dialer_dispositions .o_dialer_disposition:contains(Not interested)",
            run: "click",
        },
        { content: "Waiting for the next contact", trigger: ".o_dialer_waiting" },
        { content: "Pause", trigger: ".o_dialer_pause", run: "click" },
        { content: "Paused", trigger: ".o_dialer_status[data-status=paused]" },
    ],
});
