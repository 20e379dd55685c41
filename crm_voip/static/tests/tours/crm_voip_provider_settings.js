import { registry } from "@web/core/registry";

/** An administrator connects a PBX: the form shows the settings its adapter declares. */
registry.category("web_tour.tours").add("crm_voip_provider_settings", {
    steps: () => [
        {
            content: "Name the account",
            trigger: ".o_field_widget[name=name] input",
            run: "edit Tour PBX",
        },
        {
            content: "Choose Zadarma",
            trigger: ".o_field_widget[name=code] select",
            run: "selectByLabel Zadarma / Novofon",
        },
        {
            content: "Zadarma asks for its key and secret, masked",
            trigger:
                ".o_crm_voip_settings_secret [data-setting=api_secret] input[type=password]",
        },
        {
            content: "...and for its own options, with their defaults shown",
            trigger: ".o_crm_voip_settings [data-setting=max_event_age] input[placeholder='14400']",
        },
        {
            content: "Switch to the generic webhook",
            trigger: ".o_field_widget[name=code] select",
            run: "selectByLabel Generic signed JSON webhook",
        },
        {
            content: "Zadarma's settings are gone",
            trigger: ".o_crm_voip_settings_secret:not(:has([data-setting=api_secret]))",
        },
        {
            content: "Type the webhook secret",
            trigger: ".o_crm_voip_settings_secret [data-setting=webhook_secret] input[type=password]",
            run: "edit s3cret-tour",
        },
        {
            content: "Narrow the replay window",
            trigger: ".o_crm_voip_settings [data-setting=replay_window] input",
            run: "edit 120",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
    ],
});
