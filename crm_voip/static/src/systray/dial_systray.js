import { Component, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { useDropdownState } from "@web/core/dropdown/dropdown_hooks";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/** A phone icon in the systray with a dial field: type a number, press Enter. */
export class DialSystray extends Component {
    static template = "crm_voip.DialSystray";
    static components = { Dropdown };
    static props = {};

    setup() {
        this.center = useService("crm_voip");
        this.dropdown = useDropdownState();
        this.state = useState({ number: "" });
    }

    async dial() {
        const call = await this.center.dial(this.state.number);
        if (call) {
            this.state.number = "";
            this.dropdown.close();
        }
    }

    onKeydown(ev) {
        if (ev.key === "Enter") {
            this.dial();
        }
    }
}

registry.category("systray").add("crm_voip.DialSystray", { Component: DialSystray }, { sequence: 30 });
