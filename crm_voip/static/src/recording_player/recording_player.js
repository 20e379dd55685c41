import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * Inline player of a call recording. The field holds the recording's URL on this server
 * (`/crm_voip/recording/<id>`, which checks access and serves HTTP ranges so the player
 * can seek); the PBX's own links never reach the browser.
 */
export class CrmVoipAudioField extends Component {
    static template = "crm_voip.AudioField";
    static props = { ...standardFieldProps };

    get src() {
        return this.props.record.data[this.props.name] || "";
    }

    get downloadUrl() {
        return `${this.src}?download=1`;
    }

    get downloadTitle() {
        return _t("Download the recording");
    }

    /** Playing or seeking inside a list row must not open the record. */
    onClick(ev) {
        ev.stopPropagation();
    }
}

export const crmVoipAudioField = {
    component: CrmVoipAudioField,
    displayName: _t("Call recording player"),
    supportedTypes: ["char"],
};

registry.category("fields").add("crm_voip_audio", crmVoipAudioField);
