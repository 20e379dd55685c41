import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";

/** After a call: outcome, note and the follow-ups, in one panel. */
export class WrapupPanel extends Component {
    static template = "crm_voip.WrapupPanel";
    static props = { call: Object, outcomes: Array, center: Object };

    setup() {
        this.state = useState({
            outcomeId: false,
            note: "",
            createOpportunity: false,
            nextCallDate: "",
            taskSummary: "",
            taskDate: "",
            saving: false,
        });
    }

    get call() {
        return this.props.call;
    }

    get title() {
        const who = this.call.partner_name || this.call.number || _t("unknown number");
        return this.call.direction === "outbound" ? _t("Call to %s", who) : _t("Call from %s", who);
    }

    get isUnknown() {
        return !this.call.partner_name;
    }

    selectOutcome(outcome) {
        this.state.outcomeId = outcome.id;
        if (outcome.is_positive) {
            this.state.createOpportunity = true;
        }
        if (outcome.suggest_next_call && !this.state.nextCallDate) {
            const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
            this.state.nextCallDate = tomorrow.toISOString().slice(0, 10);
        }
    }

    async save() {
        if (this.state.saving) {
            return;
        }
        this.state.saving = true;
        try {
            if (this.isUnknown && this.state.createOpportunity) {
                await this.props.center.orm.call("crm.voip.call", "crm_voip_create_contact", [
                    [this.call.call_id],
                ]);
            }
            await this.props.center.saveWrapup({
                outcome_id: this.state.outcomeId,
                note: this.state.note,
                create_opportunity: this.state.createOpportunity,
                next_call_date: this.state.nextCallDate || false,
                task_summary: this.state.taskSummary,
                task_date: this.state.taskDate || false,
            });
        } finally {
            this.state.saving = false;
        }
    }

    onKeydown(ev) {
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
            this.save();
        }
    }

    later() {
        this.props.center.closeWrapup();
    }
}
