import { Component, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { CallBar } from "./call_bar";
import { CallPopup } from "./call_popup";
import { WrapupPanel } from "./wrapup_panel";

/** Where the telephony UI lives on every page: popups, call bar, wrap-up panel. */
export class CallCenter extends Component {
    static template = "crm_voip.CallCenter";
    static components = { CallPopup, CallBar, WrapupPanel };
    static props = {};

    setup() {
        this.center = useService("crm_voip");
        this.state = useState(this.center.state);
    }
}

registry.category("main_components").add("crm_voip.CallCenter", { Component: CallCenter });
