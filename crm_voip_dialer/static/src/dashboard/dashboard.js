import { Component, onMounted, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/** The supervisor's live view of a campaign, refreshed by "crm_voip_dialer/update". */
export class DialerDashboard extends Component {
    static template = "crm_voip_dialer.Dashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.bus = useService("bus_service");
        this.state = useState({ data: null });
        this.campaignId = this.props.action?.params?.campaign_id;
        this.onUpdate = (payload) => {
            if (payload.campaign_id === this.campaignId) {
                this.load();
            }
        };
        onWillStart(() => this.load());
        onMounted(() => {
            this.bus.subscribe("crm_voip_dialer/update", this.onUpdate);
            this.interval = setInterval(() => this.load(), 15000);
        });
        onWillUnmount(() => {
            this.bus.unsubscribe("crm_voip_dialer/update", this.onUpdate);
            clearInterval(this.interval);
        });
    }

    async load() {
        this.state.data = await this.orm.call("crm.voip.dialer.campaign", "dialer_dashboard_data", [
            [this.campaignId],
        ]);
    }

    width(count) {
        const total = this.state.data.total || 1;
        return `width: ${(100 * count) / total}%`;
    }

    minutes(seconds) {
        return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    }
}

registry.category("actions").add("crm_voip_dialer.dashboard", DialerDashboard);
