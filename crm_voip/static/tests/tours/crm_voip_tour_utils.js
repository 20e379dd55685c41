import { rpc } from "@web/core/network/rpc";

/** Have the VATS simulator play a call into the test PBX account (simulator mode). */
export async function simulateCall(providerName, scenario, params) {
    const [provider] = await rpc("/web/dataset/call_kw/crm.voip.provider/search_read", {
        model: "crm.voip.provider",
        method: "search_read",
        args: [[["name", "=", providerName]], ["id"]],
        kwargs: {},
    });
    await rpc("/web/dataset/call_kw/crm.voip.provider/crm_voip_simulate_call", {
        model: "crm.voip.provider",
        method: "crm_voip_simulate_call",
        args: [[provider.id], scenario, params],
        kwargs: {},
    });
}

export function delay(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A step that asks the Python side for a screenshot of the page, for the docs. */
export function screenshotStep(name) {
    return {
        content: `Screenshot ${name}`,
        trigger: "body",
        run: async () => {
            console.log(`crm_voip:screenshot:${name}`);
            await delay(800);
        },
    };
}

export async function waitUntil(predicate, timeout = 8000) {
    const start = Date.now();
    while (!predicate()) {
        if (Date.now() - start > timeout) {
            throw new Error("condition not met in time");
        }
        await delay(100);
    }
}
