import { patch } from "@web/core/utils/patch";
import { useService } from "@web/core/utils/hooks";
import { PhoneField } from "@web/views/fields/phone/phone_field";

/** Every phone number in forms, lists and kanbans gets a click-to-call button. */
patch(PhoneField.prototype, {
    setup() {
        super.setup(...arguments);
        this.crmVoip = useService("crm_voip");
    },

    async onCrmVoipDial(ev) {
        ev.stopPropagation();
        ev.preventDefault();
        const record = this.props.record;
        const number = record.data[this.props.name];
        await this.crmVoip.dial(number, {
            resModel: record.resModel,
            resId: record.resId || false,
            // A number shown masked is dialled from the record, by the server.
            fieldName: this.props.name,
        });
    },
});
