import { Component, markup, onMounted, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/**
 * The agent's panel of a campaign: join/leave, ready/pause, the contact's card and the
 * script, a live call bar, and the disposition form after each call (each disposition's
 * shortcut key picks it).
 */
export class DialerAgentPanel extends Component {
    static template = "crm_voip_dialer.AgentPanel";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.bus = useService("bus_service");
        this.notification = useService("notification");
        this.voip = useService("crm_voip");
        this.state = useState({ campaigns: [], data: null, note: "", now: Date.now() });
        this.campaignId = this.props.action?.params?.campaign_id;
        this.sequence = 0;
        this.onKeydown = this.onKeydown.bind(this);
        this.onUpdate = () => this.refresh();
        onWillStart(async () => {
            this.state.campaigns = await this.orm.call("crm.voip.dialer.agent", "dialer_my_campaigns", []);
            if (this.campaignId) {
                await this.join(this.campaignId);
            }
        });
        onMounted(() => {
            this.bus.subscribe("crm_voip_dialer/update", this.onUpdate);
            document.addEventListener("keydown", this.onKeydown);
            this.clock = setInterval(() => (this.state.now = Date.now()), 1000);
        });
        onWillUnmount(() => {
            this.bus.unsubscribe("crm_voip_dialer/update", this.onUpdate);
            document.removeEventListener("keydown", this.onKeydown);
            clearInterval(this.clock);
        });
    }

    get agentId() {
        return this.state.data?.agent_id;
    }

    get script() {
        // Html field content, sanitized by the server.
        return markup(this.state.data?.campaign.script || "");
    }

    /** "m:ss" since the call rang or was answered, for the call bar. */
    get callTimer() {
        const since = this.state.data?.card?.call_since;
        if (!since) {
            return "";
        }
        const seconds = Math.max(0, Math.floor((this.state.now - deserializeDateTime(since).toMillis()) / 1000));
        return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    }

    get onCall() {
        const card = this.state.data?.card;
        return card && ["dialing", "talking"].includes(card.state);
    }

    async join(campaignId) {
        const sequence = ++this.sequence;
        const data = await this.orm.call("crm.voip.dialer.agent", "dialer_join", [campaignId]);
        if (sequence === this.sequence) {
            this.state.data = data;
        }
    }

    async call(method, args = []) {
        // Only the answer to the latest request is shown: a slower, older one is stale.
        const sequence = ++this.sequence;
        const data = await this.orm.call("crm.voip.dialer.agent", method, [[this.agentId], ...args]);
        if (sequence === this.sequence) {
            this.state.data = data;
        }
    }

    async refresh() {
        if (this.agentId) {
            await this.call("dialer_panel_data");
        }
    }

    async ready() {
        // In preview mode, the answer carries the next contact's card.
        await this.call("action_ready");
    }

    async leave() {
        const agentId = this.agentId;
        // The panel closes at once: an answer still on its way (a refresh woken by the
        // bus) must not bring the campaign back.
        this.sequence++;
        this.state.data = null;
        try {
            await this.orm.call("crm.voip.dialer.agent", "action_leave", [[agentId]]);
        } finally {
            this.state.campaigns = await this.orm.call("crm.voip.dialer.agent", "dialer_my_campaigns", []);
        }
    }

    async dial() {
        const card = this.state.data.card;
        await this.voip.dial(card.phone, { resModel: "crm.voip.dialer.line", resId: card.line_id });
        await this.refresh();
    }

    async dispose(dispositionId) {
        await this.call("dialer_dispose", [dispositionId, this.state.note || false]);
        this.state.note = "";
        this.notification.add(_t("Disposition saved."), { type: "success" });
    }

    openRecord(resModel, resId) {
        this.action.doAction({ type: "ir.actions.act_window", res_model: resModel, res_id: resId, views: [[false, "form"]] });
    }

    get canDispose() {
        const card = this.state.data?.card;
        return card && ["wrapup", "talking"].includes(card.state);
    }

    onKeydown(ev) {
        if (!this.canDispose || ["INPUT", "TEXTAREA"].includes(ev.target.tagName) || ev.ctrlKey || ev.altKey || ev.metaKey) {
            return;
        }
        const disposition = this.state.data.dispositions.find((d) => d.shortcut && d.shortcut === ev.key.toLowerCase());
        if (disposition) {
            ev.preventDefault();
            this.dispose(disposition.id);
        }
    }
}

registry.category("actions").add("crm_voip_dialer.agent_panel", DialerAgentPanel);
