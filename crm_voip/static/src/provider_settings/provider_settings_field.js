import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * The settings a PBX's adapter declares (``config_fields``), edited as one JSON value.
 *
 * The declarations come with the record (``settings_schema``, in the user's language), so
 * a new PBX brings its own form fields without a view of its own. One instance edits the
 * secret settings (masked; an administrators' field), another the others.
 */
export class CrmVoipSettingsField extends Component {
    static template = "crm_voip.SettingsField";
    static props = { ...standardFieldProps, secret: { type: Boolean, optional: true } };

    get fields() {
        const schema = this.props.record.data.settings_schema || [];
        return schema.filter((field) => Boolean(field.secret) === Boolean(this.props.secret));
    }

    get values() {
        return this.props.record.data[this.props.name] || {};
    }

    inputId(field) {
        return `o_crm_voip_setting_${this.props.name}_${field.name}`;
    }

    displayValue(field) {
        const value = this.values[field.name];
        return value === undefined || value === null ? "" : value;
    }

    placeholder(field) {
        return field.default === null || field.default === undefined ? "" : String(field.default);
    }

    parse(field, input) {
        if (field.kind === "boolean") {
            return input.checked;
        }
        const text = input.value;
        if (field.kind === "integer") {
            const trimmed = text.trim();
            if (!trimmed) {
                return null;
            }
            const number = Number(trimmed);
            return Number.isInteger(number) ? number : trimmed;
        }
        return text === "" ? null : text;
    }

    onChange(field, ev) {
        const values = { ...this.values, [field.name]: this.parse(field, ev.target) };
        if (values[field.name] === null) {
            delete values[field.name];
        }
        this.props.record.update({ [this.props.name]: values });
    }

    get emptyMessage() {
        return this.props.secret
            ? _t("This PBX needs no credentials.")
            : _t("This PBX has no other settings.");
    }
}

export const crmVoipSettingsField = {
    component: CrmVoipSettingsField,
    displayName: _t("PBX settings"),
    supportedTypes: ["json"],
    fieldDependencies: [{ name: "settings_schema", type: "json", readonly: true }],
    extractProps: ({ options }) => ({ secret: Boolean(options.secret) }),
};

registry.category("fields").add("crm_voip_settings", crmVoipSettingsField);
