import { browser } from "@web/core/browser/browser";

// Head start of a tab by rank, so that the tab the user looks at usually wins. The
// focused tab does not wait: a popup's latency is what the salesperson feels.
const DELAY_BY_RANK = { "-1": 0, 0: 0, 1: 60, 2: 300 };

/**
 * Decides which of the user's open tabs shows a call, so that a popup appears once
 * per user however many Odoo tabs are open, and disappears from all of them together.
 *
 * Exactly one: the tab that shows a call holds an exclusive Web Lock named after it
 * for as long as it shows it; the others fail to take it. Preferably the right one:
 * tabs ask for the lock after a head start that depends on their rank (-1: the tab
 * that already shows this call; 0: visible and focused; 1: visible; 2: hidden).
 * Without Web Locks (old browsers), tabs exchange claims on a BroadcastChannel and
 * pick the lowest (rank, tab id) seen within the claim window.
 */
export class TabCoordinator {
    static CHANNEL = "crm_voip";

    constructor({ claimDelay = 150, channelFactory, locks } = {}) {
        this.claimDelay = claimDelay;
        this.locks = locks === undefined ? browser.navigator?.locks : locks;
        this.tabId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
        this.claims = new Map(); // key -> [{tabId, rank}] (fallback protocol)
        this.held = new Map(); // key -> release function of the Web Lock
        this.listeners = new Set();
        const factory =
            channelFactory ||
            (() =>
                "BroadcastChannel" in browser
                    ? new browser.BroadcastChannel(TabCoordinator.CHANNEL)
                    : null);
        this.channel = factory();
        if (this.channel) {
            this.channel.onmessage = (ev) => this._onMessage(ev.data);
        }
    }

    /** Rank of this tab for a new claim; lower wins. */
    currentRank() {
        const doc = browser.document || document;
        if (doc.visibilityState !== "visible") {
            return 2;
        }
        return doc.hasFocus && doc.hasFocus() ? 0 : 1;
    }

    /**
     * Claim ``key`` for this tab; resolves true if this tab must show it.
     * @param {string} key
     * @param {number} [rank]
     */
    claim(key, rank = this.currentRank()) {
        if (this.locks) {
            return this._claimWithLock(key, rank);
        }
        const own = { tabId: this.tabId, rank };
        this._addClaim(key, own);
        this._post({ type: "claim", key, ...own });
        return new Promise((resolve) => {
            browser.setTimeout(() => resolve(this.winner(key) === this.tabId), this.claimDelay);
        });
    }

    _claimWithLock(key, rank) {
        if (this.held.has(key)) {
            return Promise.resolve(true);
        }
        const delay = DELAY_BY_RANK[String(Math.max(-1, Math.min(2, rank)))] ?? 0;
        return new Promise((resolve) => {
            browser.setTimeout(() => {
                this.locks
                    .request(`crm_voip:${key}`, { ifAvailable: true }, (lock) => {
                        if (!lock) {
                            resolve(false);
                            return null;
                        }
                        resolve(true);
                        // Held until released: no other tab can show this call meanwhile.
                        return new Promise((release) => this.held.set(key, release));
                    })
                    .catch(() => resolve(false));
            }, delay);
        });
    }

    /** Fallback protocol: the tab every tab agrees on for ``key``. */
    winner(key) {
        const claims = this.claims.get(key) || [];
        let best = null;
        for (const claim of claims) {
            if (
                !best ||
                claim.rank < best.rank ||
                (claim.rank === best.rank && claim.tabId < best.tabId)
            ) {
                best = claim;
            }
        }
        return best && best.tabId;
    }

    /** This tab stops showing ``key`` (closed by itself): let it go, tell nobody. */
    release(key) {
        const release = this.held.get(key);
        if (release) {
            this.held.delete(key);
            release();
        }
    }

    /** Tell every tab that ``key`` is done with (closed, wrapped up). */
    dismiss(key) {
        this.release(key);
        this.claims.delete(key);
        this._post({ type: "dismiss", key });
    }

    onDismiss(callback) {
        this.listeners.add(callback);
        return () => this.listeners.delete(callback);
    }

    _addClaim(key, claim) {
        const claims = this.claims.get(key) || [];
        if (!claims.some((c) => c.tabId === claim.tabId)) {
            claims.push(claim);
        }
        this.claims.set(key, claims);
    }

    _post(message) {
        if (this.channel) {
            this.channel.postMessage(message);
        }
    }

    _onMessage(message) {
        if (!message || typeof message !== "object") {
            return;
        }
        if (message.type === "claim") {
            this._addClaim(message.key, { tabId: message.tabId, rank: message.rank });
        } else if (message.type === "dismiss") {
            this.release(message.key);
            this.claims.delete(message.key);
            for (const listener of this.listeners) {
                listener(message.key);
            }
        }
    }
}
