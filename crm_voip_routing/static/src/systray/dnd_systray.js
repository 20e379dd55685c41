import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { session } from "@web/session";

/**
 * "Do not disturb" for calls: while it is on, call routing skips the user (his clients'
 * calls go to the next step of the chain: his mobile, a colleague, the team...).
 */
export class CrmVoipDndSystray extends Component {
    static template = "crm_voip_routing.DndSystray";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.state = useState({ dnd: Boolean(session.crm_voip_routing?.dnd), busy: false });
    }

    get title() {
        return this.state.dnd
            ? _t("Do not disturb: calls skip you. Click to receive calls again.")
            : _t("You receive calls. Click for do not disturb.");
    }

    async toggle() {
        if (this.state.busy) {
            return;
        }
        this.state.busy = true;
        try {
            this.state.dnd = await this.orm.call("res.users", "crm_voip_routing_toggle_dnd", []);
            session.crm_voip_routing = { ...(session.crm_voip_routing || {}), dnd: this.state.dnd };
            this.notification.add(
                this.state.dnd
                    ? _t("Do not disturb: your calls go to the next step of their chain.")
                    : _t("Calls ring you again."),
                { type: this.state.dnd ? "warning" : "success" }
            );
        } finally {
            this.state.busy = false;
        }
    }
}

export const crmVoipDndSystrayItem = {
    Component: CrmVoipDndSystray,
    isDisplayed: () => Boolean(session.crm_voip_routing),
};

registry.category("systray").add("crm_voip_routing.dnd", crmVoipDndSystrayItem, { sequence: 45 });
