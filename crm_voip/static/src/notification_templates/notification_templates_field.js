import { Component } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * The notifications an administrator sets up by hand in the PBX's web account (for PBXs
 * that post whatever body their customer writes): for each, where it goes and the exact
 * text to paste, with a button that copies it.
 */
export class CrmVoipNotificationTemplatesField extends Component {
    static template = "crm_voip.NotificationTemplatesField";
    static props = { ...standardFieldProps };

    setup() {
        this.notification = useService("notification");
    }

    get templates() {
        return this.props.record.data[this.props.name] || [];
    }

    async copy(text) {
        try {
            await browser.navigator.clipboard.writeText(text);
            this.notification.add(_t("Copied"), { type: "success" });
        } catch {
            this.notification.add(_t("Select the text and copy it by hand."), {
                type: "warning",
            });
        }
    }
}

registry.category("fields").add("crm_voip_notification_templates", {
    component: CrmVoipNotificationTemplatesField,
    supportedTypes: ["json"],
});
