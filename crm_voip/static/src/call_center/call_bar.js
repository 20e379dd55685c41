import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useCallTimer } from "./call_timer";

/** The live bar of a call placed from Odoo: dialling, ringing, talking, with a timer. */
export class CallBar extends Component {
    static template = "crm_voip.CallBar";
    static props = { call: Object, center: Object };

    setup() {
        this.timer = useCallTimer(() => this.props.call.date_answer || this.props.call.date_start);
    }

    get statusText() {
        const call = this.props.call;
        if (call.state === "talking") {
            return _t("Talking · %s", this.timer.text);
        }
        if (call.status === "dialing" && !call.date_answer) {
            return _t("Your phone rings first, then %s…", call.partner_name || call.number);
        }
        return _t("Calling %s…", call.partner_name || call.number);
    }
}
