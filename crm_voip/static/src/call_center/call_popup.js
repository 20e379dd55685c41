import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useCallTimer } from "./call_timer";

/** The card of an incoming call: who calls, on which line, what is going on with him. */
export class CallPopup extends Component {
    static template = "crm_voip.CallPopup";
    static props = { call: Object, center: Object };

    setup() {
        this.state = useState({ noteOpen: false, note: "" });
        this.timer = useCallTimer(() => this.props.call.date_answer);
    }

    get call() {
        return this.props.call;
    }

    get title() {
        return this.call.partner ? this.call.partner.name : this.call.number || _t("Unknown number");
    }

    get statusText() {
        switch (this.call.status) {
            case "talking":
                return _t("In call · %s", this.timer.text);
            case "answered_elsewhere": {
                const colleague = this.call.answeredBy || _t("a colleague");
                return _t("Answered by %s", colleague);
            }
            case "missed":
                return _t("Missed");
            default:
                return _t("Incoming call…");
        }
    }

    get statusClass() {
        return {
            talking: "text-bg-success",
            answered_elsewhere: "text-bg-secondary",
            missed: "text-bg-danger",
        }[this.call.status] || "text-bg-warning";
    }

    openPartner() {
        return this.props.center.openRecord("res.partner", this.call.partner.id);
    }

    openOpportunity(opportunity) {
        return this.props.center.openRecord("crm.lead", opportunity.id);
    }

    openLead() {
        return this.props.center.openRecord("crm.lead", this.call.lead.id);
    }

    createContact() {
        return this.props.center.createContact(this.call, false);
    }

    createOpportunity() {
        return this.props.center.createContact(this.call, true);
    }

    toggleNote() {
        this.state.noteOpen = !this.state.noteOpen;
    }

    async saveNote() {
        if (this.state.note.trim()) {
            await this.props.center.addNote(this.call, this.state.note);
            this.state.note = "";
            this.state.noteOpen = false;
        }
    }

    close() {
        this.props.center.dismissPopup(this.call.call_id);
    }
}
