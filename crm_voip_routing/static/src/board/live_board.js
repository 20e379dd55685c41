import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatElapsed } from "@crm_voip/call_center/call_timer";

// A call never moves backwards: pushes may arrive late, or before the board's first load.
const RANK = { ringing: 0, talking: 1 };
const FINAL_RANK = 2;

/** Milliseconds since the epoch of a server datetime ("YYYY-MM-DD HH:MM:SS", UTC). */
export function serverMillis(value) {
    return value ? Date.parse(`${value.replace(" ", "T")}Z`) : null;
}

/**
 * Telephony → Live board: the salespeople with an extension, by team, with their state,
 * and every line's calls in progress and waiting.
 *
 * Loaded once (crm.voip.board/crm_voip_board_data, built for the viewer), then kept up
 * to date by the bus alone: "crm_voip/board_call" (states and times of a call, no name
 * or number: the channel is the company's), "crm_voip/board_member" ("do not disturb")
 * and Odoo's presence ("bus.bus/im_status_updated", logged in or out). A new call's
 * client is asked once (crm_voip_board_calls), as the viewer may see him. Nothing is
 * tab-specific: every open tab subscribes and shows the same board.
 */
export class CrmVoipLiveBoard extends Component {
    static template = "crm_voip_routing.LiveBoard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.bus = useService("bus_service");
        this.action = useService("action");
        this.state = useState({
            loaded: false,
            error: "",
            teams: [],
            members: {},
            lines: [],
            calls: {},
            now: Date.now(),
        });
        this.companyIds = new Set();
        this.teamIds = new Set();
        this.clockOffset = 0; // server clock minus this browser's
        this.early = []; // pushes received before the first load
        this.detailsWanted = new Set();
        this.detailsTimer = null;
        this.presenceChannels = [];
        this.handlers = {
            "crm_voip/board_call": (payload) => this.onCall(payload),
            "crm_voip/board_member": (payload) => this.onMember(payload),
            "bus.bus/im_status_updated": (payload) => this.onPresence(payload),
        };
        for (const [type, handler] of Object.entries(this.handlers)) {
            this.bus.subscribe(type, handler);
        }
        // Subscribed before loading: the bus delivers what was pushed in between.
        this.bus.addChannel("crm_voip_board");
        this.ticker = browser.setInterval(() => (this.state.now = Date.now()), 1000);
        onWillStart(() => this.load());
        onWillUnmount(() => {
            browser.clearInterval(this.ticker);
            browser.clearTimeout(this.detailsTimer);
            for (const [type, handler] of Object.entries(this.handlers)) {
                this.bus.unsubscribe(type, handler);
            }
            this.bus.deleteChannel("crm_voip_board");
            for (const channel of this.presenceChannels) {
                this.bus.deleteChannel(channel);
            }
        });
    }

    async load() {
        let data;
        try {
            data = await this.orm.call("crm.voip.board", "crm_voip_board_data", []);
        } catch (error) {
            this.state.error = error.data?.message || error.message || String(error);
            return;
        }
        this.clockOffset = serverMillis(data.server_now) - Date.now();
        this.companyIds = new Set(data.company_ids);
        this.teamIds = new Set(data.team_ids);
        this.state.teams = data.teams;
        this.state.lines = data.lines;
        this.state.members = Object.fromEntries(data.members.map((member) => [member.id, member]));
        this.state.calls = Object.fromEntries(data.calls.map((call) => [call.call_id, call]));
        for (const member of data.members) {
            const channel = `odoo-presence-res.partner_${member.partner_id}`;
            this.presenceChannels.push(channel);
            this.bus.addChannel(channel);
        }
        this.state.loaded = true;
        for (const payload of this.early.splice(0)) {
            this.onCall(payload);
        }
    }

    // ------------------------------------------------------------------
    // Bus
    // ------------------------------------------------------------------

    onCall(payload) {
        if (!this.state.loaded) {
            this.early.push(payload);
            return;
        }
        const calls = this.state.calls;
        const known = calls[payload.call_id];
        const rank = RANK[payload.state] ?? FINAL_RANK;
        if (known && rank < (RANK[known.state] ?? FINAL_RANK)) {
            return;
        }
        if (rank === FINAL_RANK) {
            delete calls[payload.call_id];
            return;
        }
        if (known) {
            Object.assign(known, this._callFields(payload));
        } else if (this._concernsBoard(payload)) {
            calls[payload.call_id] = { ...this._callFields(payload), client: false, number: "", loading: true };
            this._wantDetails(payload.call_id);
        }
    }

    onMember({ user_id, dnd }) {
        const member = this.state.members[user_id];
        if (member) {
            member.dnd = dnd;
        }
    }

    onPresence({ partner_id, im_status }) {
        for (const member of Object.values(this.state.members)) {
            if (member.partner_id === partner_id && im_status) {
                member.presence = im_status;
            }
        }
    }

    _callFields(payload) {
        const fields = ["call_id", "company_id", "state", "direction", "user_id", "line_id"];
        const result = Object.fromEntries(fields.map((name) => [name, payload[name]]));
        result.rang_user_ids = payload.rang_user_ids || [];
        result.date_start = payload.date_start || false;
        result.date_answer = payload.date_answer || false;
        return result;
    }

    _concernsBoard(payload) {
        if (!this.companyIds.has(payload.company_id)) {
            return false;
        }
        if (!this.teamIds.size) {
            return true; // a telephony manager's board: every call of his companies
        }
        const members = this.state.members;
        return (
            Boolean(members[payload.user_id]) ||
            (payload.rang_user_ids || []).some((userId) => members[userId]) ||
            this.teamIds.has(payload.team_id) ||
            this.state.lines.some((line) => line.id === payload.line_id)
        );
    }

    /** New calls' clients, asked in one request per burst of pushes. */
    _wantDetails(callId) {
        this.detailsWanted.add(callId);
        if (this.detailsTimer === null) {
            this.detailsTimer = browser.setTimeout(() => this._fetchDetails(), 0);
        }
    }

    async _fetchDetails() {
        const ids = [...this.detailsWanted];
        this.detailsWanted.clear();
        this.detailsTimer = null;
        const rows = await this.orm.call("crm.voip.board", "crm_voip_board_calls", [ids]);
        const byId = Object.fromEntries(rows.map((row) => [row.call_id, row]));
        for (const callId of ids) {
            const call = this.state.calls[callId];
            if (!call) {
                continue;
            }
            const row = byId[callId];
            if (!row) {
                delete this.state.calls[callId]; // not for this viewer (or over already)
                continue;
            }
            Object.assign(call, {
                client: row.client,
                number: row.number,
                did_number: row.did_number,
                loading: false,
            });
        }
    }

    // ------------------------------------------------------------------
    // What is shown
    // ------------------------------------------------------------------

    get calls() {
        return Object.values(this.state.calls).sort((a, b) => a.call_id - b.call_id);
    }

    /** ``{userId: {state, call}}``: talking beats ringing beats availability. */
    get presenceByUser() {
        const byUser = {};
        for (const call of this.calls) {
            if (call.state === "talking" && call.user_id) {
                byUser[call.user_id] = { state: "talking", call };
            }
        }
        for (const call of this.calls) {
            if (call.state !== "ringing") {
                continue;
            }
            const rung = call.rang_user_ids.length ? call.rang_user_ids : [call.user_id];
            for (const userId of rung) {
                if (userId && !byUser[userId]) {
                    byUser[userId] = { state: "ringing", call };
                }
            }
        }
        for (const member of Object.values(this.state.members)) {
            if (byUser[member.id]) {
                continue;
            }
            let state = "free";
            if (member.dnd) {
                state = "dnd";
            } else if (member.away) {
                state = member.away;
            } else if (!member.presence || member.presence.includes("offline")) {
                state = "logged_out";
            }
            byUser[member.id] = { state, call: null };
        }
        return byUser;
    }

    get teamGroups() {
        const members = Object.values(this.state.members);
        const groups = this.state.teams.map((team) => ({
            key: `team-${team.id}`,
            id: team.id,
            name: team.name,
            members: members.filter((member) => member.team_ids.includes(team.id)),
        }));
        const teamless = members.filter((member) => !member.team_ids.length);
        if (teamless.length) {
            groups.push({ key: "team-none", id: 0, name: _t("No team"), members: teamless });
        }
        return groups;
    }

    get lineGroups() {
        const calls = this.calls;
        const groups = this.state.lines.map((line) => ({
            key: `line-${line.id}`,
            id: line.id,
            name: line.name,
            number: line.number,
            calls: calls.filter((call) => call.line_id === line.id),
        }));
        const lineless = calls.filter((call) => !this.state.lines.some((line) => line.id === call.line_id));
        if (lineless.length) {
            groups.push({ key: "line-none", id: 0, name: _t("Other numbers"), number: "", calls: lineless });
        }
        return groups.map((group) => ({
            ...group,
            talking: group.calls.filter((call) => call.state === "talking"),
            waiting: group.calls.filter((call) => call.state === "ringing"),
        }));
    }

    stateLabel(state) {
        return {
            free: _t("Free"),
            ringing: _t("Ringing"),
            talking: _t("Talking"),
            dnd: _t("Do not disturb"),
            time_off: _t("Away: time off"),
            off_hours: _t("Away: off hours"),
            logged_out: _t("Logged out"),
        }[state];
    }

    get waitingLabel() {
        return _t("Waiting");
    }

    directionLabel(direction) {
        return { inbound: _t("Inbound"), outbound: _t("Outbound"), internal: _t("Internal") }[direction] || "";
    }

    lineName(call) {
        const line = this.state.lines.find((line) => line.id === call.line_id);
        return line ? line.name : call.did_number || "";
    }

    memberName(userId) {
        return this.state.members[userId]?.name || "";
    }

    duration(call) {
        const since = serverMillis(call.state === "talking" ? call.date_answer || call.date_start : call.date_start);
        if (since === null) {
            return "";
        }
        return formatElapsed((this.state.now + this.clockOffset - since) / 1000);
    }

    openClient(call) {
        if (!call.client) {
            return;
        }
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: call.client.model,
            res_id: call.client.id,
            views: [[false, "form"]],
            target: "current",
        });
    }
}

registry.category("actions").add("crm_voip_routing.live_board", CrmVoipLiveBoard);
