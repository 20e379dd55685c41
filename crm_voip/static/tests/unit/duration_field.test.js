import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { describe, expect, test } from "@odoo/hoot";
import { queryAllTexts } from "@odoo/hoot-dom";
import {
    clickSave,
    contains,
    defineModels,
    fields,
    models,
    mountView,
    onRpc,
} from "@web/../tests/web_test_helpers";
import { formatDuration, parseDuration } from "@crm_voip/duration_field/duration_field";

class CrmVoipCall extends models.Model {
    _name = "crm.voip.call";

    state = fields.Selection({
        selection: [
            ["done", "Answered"],
            ["missed", "Not answered"],
        ],
    });
    talk_seconds = fields.Integer({ aggregator: "sum" });
    ring_seconds = fields.Integer({ aggregator: "avg" });

    _records = [
        { id: 1, state: "done", talk_seconds: 109, ring_seconds: 7 },
        { id: 2, state: "done", talk_seconds: 3723, ring_seconds: 4 },
        { id: 3, state: "missed", talk_seconds: 0, ring_seconds: 30 },
    ];
}

defineMailModels();
defineModels([CrmVoipCall]);

const LIST = `
    <list>
        <field name="state"/>
        <field name="ring_seconds" widget="crm_voip_duration"/>
        <field name="talk_seconds" widget="crm_voip_duration" sum="Talk time"/>
    </list>`;

describe.current.tags("desktop");
describe("crm_voip duration field", () => {
    test("seconds read as m:ss, and h:mm:ss past an hour", () => {
        expect(formatDuration(0)).toBe("0:00");
        expect(formatDuration(9)).toBe("0:09");
        expect(formatDuration(109)).toBe("1:49");
        expect(formatDuration(3599)).toBe("59:59");
        expect(formatDuration(3600)).toBe("1:00:00");
        expect(formatDuration(3723)).toBe("1:02:03");
        expect(formatDuration(36000 + 61)).toBe("10:01:01");
        // Averages of group rows are fractional.
        expect(formatDuration(13.6)).toBe("0:14");
        expect(formatDuration(false)).toBe("");
        expect(formatDuration(null)).toBe("");
    });

    test("typed durations back to seconds", () => {
        expect(parseDuration("1:49")).toBe(109);
        expect(parseDuration(" 1:02:03 ")).toBe(3723);
        expect(parseDuration("95")).toBe(95);
        expect(parseDuration("")).toBe(0);
        expect(() => parseDuration("1:2:3:4")).toThrow();
        expect(() => parseDuration("1 min")).toThrow();
    });

    test("list rows and the total", async () => {
        await mountView({ type: "list", resModel: "crm.voip.call", arch: LIST });
        expect(queryAllTexts(".o_data_cell[name=talk_seconds]")).toEqual([
            "1:49",
            "1:02:03",
            "0:00",
        ]);
        expect(queryAllTexts(".o_data_cell[name=ring_seconds]")).toEqual(["0:07", "0:04", "0:30"]);
        expect("tfoot .o_list_number").toHaveText("1:03:52");
    });

    test("group rows show their sums and averages as durations", async () => {
        // The mock server sums every measure: give the rows the averages Odoo would.
        onRpc("web_read_group", async ({ parent }) => {
            const result = await parent();
            for (const group of result.groups) {
                group.ring_seconds /= group.state_count;
            }
            return result;
        });
        await mountView({
            type: "list",
            resModel: "crm.voip.call",
            arch: LIST,
            groupBy: ["state"],
        });
        // Per group: average ring time ((7 + 4) / 2, rounded), then total talk time.
        expect(queryAllTexts(".o_group_header:eq(0) td.o_list_number")).toEqual([
            "0:06",
            "1:03:52",
        ]);
        expect(queryAllTexts(".o_group_header:eq(1) td.o_list_number")).toEqual([
            "0:30",
            "0:00",
        ]);
    });

    test("form: readonly as text, editable as m:ss", async () => {
        onRpc("crm.voip.call", "web_save", ({ args }) => {
            expect.step(args[1]);
        });
        await mountView({
            type: "form",
            resModel: "crm.voip.call",
            resId: 1,
            arch: `
                <form>
                    <field name="ring_seconds" widget="crm_voip_duration" readonly="1"/>
                    <field name="talk_seconds" widget="crm_voip_duration"/>
                </form>`,
        });
        expect(".o_field_widget[name=ring_seconds] span").toHaveText("0:07");
        expect(".o_field_widget[name=talk_seconds] input").toHaveValue("1:49");
        await contains(".o_field_widget[name=talk_seconds] input").edit("2:05");
        await clickSave();
        expect.verifySteps([{ talk_seconds: 125 }]);
        expect(".o_field_widget[name=talk_seconds] input").toHaveValue("2:05");
    });
});
