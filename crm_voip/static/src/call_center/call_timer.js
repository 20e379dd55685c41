import { onWillUnmount, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { deserializeDateTime } from "@web/core/l10n/dates";

/** "m:ss" since ``since`` (a server datetime string), or since now when missing. */
export function formatElapsed(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const minutes = Math.floor(total / 60);
    const rest = String(total % 60).padStart(2, "0");
    return `${minutes}:${rest}`;
}

export function useCallTimer(getSince) {
    const startedAt = Date.now();
    const state = useState({ now: Date.now() });
    const interval = browser.setInterval(() => (state.now = Date.now()), 1000);
    onWillUnmount(() => browser.clearInterval(interval));
    return {
        get text() {
            const since = getSince();
            const origin = since ? deserializeDateTime(since).toMillis() : startedAt;
            return formatElapsed((state.now - origin) / 1000);
        },
    };
}
