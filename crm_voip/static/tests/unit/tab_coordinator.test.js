import { describe, expect, test } from "@odoo/hoot";
import { runAllTimers } from "@odoo/hoot-mock";
import { TabCoordinator } from "@crm_voip/services/tab_coordinator";

/** BroadcastChannel stand-ins wired together, delivering like the real one (not to self). */
function channelHub() {
    const channels = [];
    return () => {
        const channel = {
            onmessage: null,
            postMessage(data) {
                for (const other of channels) {
                    if (other !== channel && other.onmessage) {
                        other.onmessage({ data });
                    }
                }
            },
        };
        channels.push(channel);
        return channel;
    };
}

describe.current.tags("desktop");
describe("crm_voip tab coordinator", () => {
    test("with Web Locks: exactly one tab holds a call until it lets go", async () => {
        if (!navigator.locks) {
            expect(true).toBe(true);
            return;
        }
        const hub = channelHub();
        const first = new TabCoordinator({ channelFactory: hub });
        const second = new TabCoordinator({ channelFactory: hub });
        const key = `call-hoot-${Date.now()}`;
        const claims = Promise.all([first.claim(key, 0), second.claim(key, 0)]);
        await runAllTimers();
        const won = await claims;
        expect(won.filter(Boolean).length).toBe(1);
        const [winner, loser] = won[0] ? [first, second] : [second, first];
        const again = loser.claim(key, -1);
        await runAllTimers();
        expect(await again).toBe(false);
        winner.dismiss(key);
        await navigator.locks.query(); // the lock manager has processed the release
        const after = loser.claim(key, -1);
        await runAllTimers();
        expect(await after).toBe(true);
        loser.release(key);
    });

    test("one tab wins a call, the focused one first", async () => {
        const hub = channelHub();
        const hidden = new TabCoordinator({ claimDelay: 50, channelFactory: hub, locks: null });
        const focused = new TabCoordinator({ claimDelay: 50, channelFactory: hub, locks: null });
        const results = Promise.all([hidden.claim("call-7", 2), focused.claim("call-7", 0)]);
        await runAllTimers();
        expect(await results).toEqual([false, true]);
    });

    test("equal ranks: every tab picks the same winner", async () => {
        const hub = channelHub();
        const tabs = [1, 2, 3].map(() => new TabCoordinator({ claimDelay: 50, channelFactory: hub, locks: null }));
        const results = Promise.all(tabs.map((tab) => tab.claim("call-8", 1)));
        await runAllTimers();
        const won = await results;
        expect(won.filter(Boolean).length).toBe(1);
        const winners = new Set(tabs.map((tab) => tab.winner("call-8")));
        expect(winners.size).toBe(1);
    });

    test("dismissing in one tab dismisses in all", async () => {
        const hub = channelHub();
        const first = new TabCoordinator({ claimDelay: 10, channelFactory: hub, locks: null });
        const second = new TabCoordinator({ claimDelay: 10, channelFactory: hub, locks: null });
        const dismissed = [];
        second.onDismiss((key) => dismissed.push(key));
        first.dismiss("call-9");
        expect(dismissed).toEqual(["call-9"]);
    });
});
