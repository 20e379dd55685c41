import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useInputField } from "@web/views/fields/input_field_hook";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * Seconds as the call popup shows them: "1:49", "1:02:03" past an hour; "" when unset.
 * Averages of group rows are fractional: rounded to the second.
 */
export function formatDuration(seconds) {
    if (seconds === false || seconds === null || seconds === undefined) {
        return "";
    }
    const total = Math.max(0, Math.round(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = String(total % 60).padStart(2, "0");
    if (hours) {
        return `${hours}:${String(minutes).padStart(2, "0")}:${rest}`;
    }
    return `${minutes}:${rest}`;
}

/** "1:49", "1:02:03" or plain seconds ("109") back to seconds; throws when unreadable. */
export function parseDuration(text) {
    const value = text.trim();
    if (!value) {
        return 0;
    }
    const parts = value.split(":");
    if (parts.length > 3 || parts.some((part) => !/^\d+$/.test(part))) {
        throw new Error(`Not a duration: ${text}`);
    }
    return parts.reduce((total, part) => total * 60 + Number(part), 0);
}

/** An integer field of seconds (talk time, ring time) shown as m:ss or h:mm:ss. */
export class CrmVoipDurationField extends Component {
    static template = "crm_voip.DurationField";
    static props = {
        ...standardFieldProps,
        placeholder: { type: String, optional: true },
    };

    setup() {
        useInputField({
            getValue: () => this.formattedValue,
            parse: (value) => parseDuration(value),
        });
    }

    get formattedValue() {
        return formatDuration(this.props.record.data[this.props.name]);
    }
}

export const crmVoipDurationField = {
    component: CrmVoipDurationField,
    displayName: _t("Duration (m:ss)"),
    supportedTypes: ["integer"],
    isEmpty: (record, fieldName) => record.data[fieldName] === false,
    extractProps: ({ attrs }) => ({ placeholder: attrs.placeholder }),
};

registry.category("fields").add("crm_voip_duration", crmVoipDurationField);
// The list's group rows and totals format their sums and averages by the widget's name.
registry.category("formatters").add("crm_voip_duration", formatDuration);
