import { reactive } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { rpc, RPCError } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { session } from "@web/session";
import { TabCoordinator } from "./tab_coordinator";

const NO_STATE_GROUPS = { live: [], final: [], answered: [], unanswered: [] };
// How long a popup stays once the call went elsewhere or was not answered.
export const CLOSE_DELAY = { answered_elsewhere: 4000, missed: 8000 };

/**
 * The telephony state of one browser tab: incoming-call popups, the live call bar of a
 * click-to-call, and the wrap-up panel. Fed by the server over the bus
 * ("crm_voip/incoming_call", "crm_voip/call_update", "crm_voip/wrapup_done"); a
 * TabCoordinator makes each call show in one tab of the user only.
 */
export class CrmVoipCallCenterState {
    /**
     * @param {object} params
     * @param {{live: string[], final: string[], answered: string[], unanswered: string[]}} params.stateGroups
     *  the call-state groups, defined once on the server (crm_voip/callstate/states.py)
     */
    constructor({ orm, notification, action, coordinator, userId, stateGroups }) {
        this.stateGroups = stateGroups;
        this.orm = orm;
        this.notification = notification;
        this.action = action;
        this.coordinator = coordinator;
        this.userId = userId;
        this.state = reactive({ popups: [], activeCall: null, wrapup: null, outcomes: null });
        coordinator.onDismiss((key) => this._forget(key));
    }

    // ------------------------------------------------------------------
    // Bus events
    // ------------------------------------------------------------------

    async onIncomingCall(payload) {
        if (this._popup(payload.call_id)) {
            return;
        }
        const mine = await this.coordinator.claim(`call-${payload.call_id}`);
        if (!mine || this._popup(payload.call_id)) {
            return;
        }
        this.state.popups.push({ ...payload, status: payload.state, answeredBy: "" });
    }

    async onCallUpdate(payload) {
        const popup = this._popup(payload.call_id);
        const active = this.state.activeCall;
        const isMine = payload.user_id === this.userId;
        const isFinal = this.stateGroups.final.includes(payload.state);
        if (popup) {
            Object.assign(popup, payload);
            if (payload.state === "talking") {
                if (isMine) {
                    popup.status = "talking";
                } else {
                    popup.status = "answered_elsewhere";
                    popup.answeredBy = payload.user_name;
                    this._closeLater(popup, CLOSE_DELAY.answered_elsewhere);
                }
            } else if (isFinal) {
                if (payload.state === "done" && isMine) {
                    this._removePopup(payload.call_id);
                } else if (payload.state === "done") {
                    popup.status = "answered_elsewhere";
                    popup.answeredBy = payload.user_name;
                    this._closeLater(popup, CLOSE_DELAY.answered_elsewhere);
                } else {
                    popup.status = "missed";
                    this._closeLater(popup, CLOSE_DELAY.missed);
                }
            }
        }
        if (active && active.call_id === payload.call_id) {
            Object.assign(active, payload);
            if (isFinal) {
                this.state.activeCall = null;
            }
        }
        const wantsWrapup =
            isFinal && isMine && !payload.wrapup_done && (payload.state === "done" || payload.direction === "outbound");
        if (wantsWrapup && !(this.state.wrapup && this.state.wrapup.call_id === payload.call_id)) {
            // The tab that showed the call keeps it for the wrap-up.
            const rank = popup || (active && active.call_id === payload.call_id) ? -1 : undefined;
            if (await this.coordinator.claim(`wrapup-${payload.call_id}`, rank)) {
                await this.openWrapup(payload);
            }
        }
    }

    onWrapupDone({ call_id }) {
        this.coordinator.release(`wrapup-${call_id}`);
        if (this.state.wrapup && this.state.wrapup.call_id === call_id) {
            this.state.wrapup = null;
        }
    }

    // ------------------------------------------------------------------
    // Popup actions
    // ------------------------------------------------------------------

    dismissPopup(callId) {
        this._removePopup(callId);
        this.coordinator.dismiss(`call-${callId}`);
    }

    async openRecord(resModel, resId) {
        await this.action.doAction({
            type: "ir.actions.act_window",
            res_model: resModel,
            res_id: resId,
            views: [[false, "form"]],
            target: "current",
        });
    }

    async createContact(call, withOpportunity = false) {
        const result = await this.orm.call("crm.voip.call", "crm_voip_create_contact", [[call.call_id]], {
            with_opportunity: withOpportunity,
        });
        if (withOpportunity && result.lead_id) {
            await this.openRecord("crm.lead", result.lead_id);
        } else if (result.partner_id) {
            await this.openRecord("res.partner", result.partner_id);
        }
        return result;
    }

    async addNote(call, note) {
        await this.orm.call("crm.voip.call", "crm_voip_add_note", [[call.call_id], note]);
        this.notification.add(_t("Note saved on the call and the client's history."), { type: "success" });
    }

    // ------------------------------------------------------------------
    // Click-to-call
    // ------------------------------------------------------------------

    /**
     * Ask the PBX to ring the user's own phone, then the client.
     * @param {string} number
     * @param {{resModel?: string, resId?: number, fieldName?: string}} [record] the record
     *  being viewed, and its field that shows the number
     */
    async dial(number, { resModel = false, resId = false, fieldName = false } = {}) {
        if (!number || !number.trim()) {
            this.notification.add(_t("Type a number to call."), { type: "warning" });
            return null;
        }
        let call;
        try {
            call = await this.orm.call("crm.voip.call", "crm_voip_dial_prepare", [number], {
                res_model: resModel,
                res_id: resId,
                field_name: fieldName,
            });
        } catch (error) {
            this._notifyError(error);
            return null;
        }
        this.coordinator.claim(`call-${call.call_id}`, -1);
        this.state.activeCall = { ...call, status: "dialing" };
        const { error } = await rpc("/crm_voip/originate", { call_id: call.call_id });
        if (error) {
            await this.orm.call("crm.voip.call", "crm_voip_originate_failed", [[call.call_id], error]);
            this.notification.add(error, { type: "danger", title: _t("The call could not be placed") });
            this.state.activeCall = null;
            return null;
        }
        return call;
    }

    // ------------------------------------------------------------------
    // Wrap-up
    // ------------------------------------------------------------------

    async openWrapup(payload) {
        if (!this.state.outcomes) {
            this.state.outcomes = await this.orm.searchRead(
                "crm.voip.call.outcome",
                [],
                ["name", "color", "is_positive", "suggest_next_call"]
            );
        }
        this.state.wrapup = { ...payload };
    }

    async saveWrapup(values) {
        const wrapup = this.state.wrapup;
        if (!wrapup) {
            return;
        }
        await this.orm.call("crm.voip.call", "crm_voip_wrapup", [[wrapup.call_id], values]);
        this.coordinator.dismiss(`wrapup-${wrapup.call_id}`);
        this.state.wrapup = null;
        this.notification.add(_t("Call wrapped up."), { type: "success" });
    }

    closeWrapup() {
        if (this.state.wrapup) {
            this.coordinator.dismiss(`wrapup-${this.state.wrapup.call_id}`);
        }
        this.state.wrapup = null;
    }

    // ------------------------------------------------------------------
    // Private
    // ------------------------------------------------------------------

    _popup(callId) {
        return this.state.popups.find((popup) => popup.call_id === callId);
    }

    _removePopup(callId) {
        const index = this.state.popups.findIndex((popup) => popup.call_id === callId);
        if (index >= 0) {
            this.state.popups.splice(index, 1);
        }
        this.coordinator.release(`call-${callId}`);
    }

    _closeLater(popup, delay) {
        browser.setTimeout(() => this._removePopup(popup.call_id), delay);
    }

    _forget(key) {
        const [kind, id] = key.split("-");
        if (kind === "call") {
            this._removePopup(Number(id));
        } else if (kind === "wrapup" && this.state.wrapup && this.state.wrapup.call_id === Number(id)) {
            this.state.wrapup = null;
        }
    }

    _notifyError(error) {
        const message =
            error instanceof RPCError ? error.data?.message || error.message : error?.message || String(error);
        this.notification.add(message, { type: "danger", title: _t("The call could not be placed") });
    }
}

export const crmVoipService = {
    dependencies: ["bus_service", "orm", "notification", "action"],
    start(env, { bus_service, orm, notification, action }) {
        const center = new CrmVoipCallCenterState({
            orm,
            notification,
            action,
            coordinator: new TabCoordinator(),
            userId: user.userId,
            // Internal users get them with the session; nobody else gets calls.
            stateGroups: session.crm_voip?.state_groups || NO_STATE_GROUPS,
        });
        bus_service.subscribe("crm_voip/incoming_call", (payload) => center.onIncomingCall(payload));
        bus_service.subscribe("crm_voip/call_update", (payload) => center.onCallUpdate(payload));
        bus_service.subscribe("crm_voip/wrapup_done", (payload) => center.onWrapupDone(payload));
        bus_service.start();
        return center;
    },
};

registry.category("services").add("crm_voip", crmVoipService);
