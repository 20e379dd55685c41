import { describe, expect, test } from "@odoo/hoot";
import { runAllTimers } from "@odoo/hoot-mock";
import { CrmVoipCallCenterState } from "@crm_voip/services/crm_voip_service";
import { formatElapsed } from "@crm_voip/call_center/call_timer";

const ME = 7;
// As the server sends them (crm_voip/callstate/states.py; test_crm_voip_js checks they agree).
const STATE_GROUPS = {
    live: ["ringing", "talking"],
    final: ["done", "missed", "busy", "failed"],
    answered: ["talking", "done"],
    unanswered: ["missed", "busy", "failed"],
};

/** A coordinator that always lets this tab show the call. */
function soloCoordinator() {
    return {
        claims: [],
        dismissed: [],
        claim(key, rank) {
            this.claims.push([key, rank]);
            return Promise.resolve(true);
        },
        dismiss(key) {
            this.dismissed.push(key);
        },
        release() {},
        onDismiss() {},
    };
}

function makeCenter(coordinator = soloCoordinator()) {
    const calls = [];
    const orm = {
        async searchRead() {
            return [{ id: 1, name: "Interested", is_positive: true, suggest_next_call: false }];
        },
        async call(model, method, args, kwargs) {
            calls.push([model, method, args, kwargs]);
            return {};
        },
    };
    const notification = { add() {} };
    const center = new CrmVoipCallCenterState({
        orm,
        notification,
        action: { doAction() {} },
        coordinator,
        userId: ME,
        stateGroups: STATE_GROUPS,
    });
    return { center, calls, coordinator };
}

const RINGING = {
    call_id: 42,
    state: "ringing",
    direction: "inbound",
    user_id: false,
    number: "+7 495 765-43-21",
    partner: { id: 3, name: "Romashka LLC" },
    opportunities: [],
    interactions: [],
    overdue_activities: [],
};

describe.current.tags("desktop");
describe("crm_voip call center", () => {
    test("an incoming call pops up once", async () => {
        const { center } = makeCenter();
        await center.onIncomingCall(RINGING);
        await center.onIncomingCall(RINGING);
        expect(center.state.popups.length).toBe(1);
        expect(center.state.popups[0].status).toBe("ringing");
    });

    test("answered elsewhere: the popup says by whom, then closes", async () => {
        const { center } = makeCenter();
        await center.onIncomingCall(RINGING);
        await center.onCallUpdate({ ...RINGING, state: "talking", user_id: 99, user_name: "Boris" });
        expect(center.state.popups[0].status).toBe("answered_elsewhere");
        expect(center.state.popups[0].answeredBy).toBe("Boris");
        await runAllTimers();
        expect(center.state.popups.length).toBe(0);
    });

    test("answered here, then hung up: wrap-up in the same tab", async () => {
        const { center, coordinator } = makeCenter();
        await center.onIncomingCall(RINGING);
        await center.onCallUpdate({ ...RINGING, state: "talking", user_id: ME });
        expect(center.state.popups[0].status).toBe("talking");
        await center.onCallUpdate({ ...RINGING, state: "done", user_id: ME, wrapup_done: false });
        expect(center.state.popups.length).toBe(0);
        expect(center.state.wrapup.call_id).toBe(42);
        expect(coordinator.claims.at(-1)).toEqual(["wrapup-42", -1]);
        expect(center.state.outcomes.length).toBe(1);
    });

    test("missed: no wrap-up, the popup says missed", async () => {
        const { center } = makeCenter();
        await center.onIncomingCall(RINGING);
        await center.onCallUpdate({ ...RINGING, state: "missed" });
        expect(center.state.popups[0].status).toBe("missed");
        expect(center.state.wrapup).toBe(null);
    });

    test("saving the wrap-up sends it and dismisses it everywhere", async () => {
        const { center, calls, coordinator } = makeCenter();
        await center.openWrapup({ ...RINGING, state: "done", user_id: ME });
        await center.saveWrapup({ outcome_id: 1, note: "ok" });
        expect(calls.at(-1)[1]).toBe("crm_voip_wrapup");
        expect(coordinator.dismissed).toEqual(["wrapup-42"]);
        expect(center.state.wrapup).toBe(null);
    });

    test("timer format", () => {
        expect(formatElapsed(0)).toBe("0:00");
        expect(formatElapsed(65)).toBe("1:05");
        expect(formatElapsed(3600)).toBe("60:00");
    });
});
