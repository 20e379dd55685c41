/*
 * Website call-back widget of crm_voip_callback: a "Call me back" button and a small form.
 * Plain JavaScript, no library, no build step: any website includes it with
 *   <script src="https://odoo.example.com/crm_voip_callback/widget.js" data-key="KEY" defer></script>
 * (data-token: the source's shared token, when it has one; data-inline: the id of an element
 * to render the form into instead of the floating button).
 * The server prepends window.crmVoipCallbackLabels, its words in the page's language.
 */
(function () {
    "use strict";
    const script = document.currentScript;
    if (!script || window.crmVoipCallbackLoaded) {
        return;
    }
    window.crmVoipCallbackLoaded = true;
    const labels = window.crmVoipCallbackLabels || {};
    const key = script.dataset.key || "";
    const token = script.dataset.token || "";
    const endpoint = new URL(
        "/crm_voip_callback/" + encodeURIComponent(key) + "/request",
        script.src
    ).href;
    const UTM_KEYS = ["utm_source", "utm_medium", "utm_campaign"];
    const STORAGE_KEY = "crm_voip_callback_utm";

    // The visit's campaign: the landing page's query string, kept for the pages after it;
    // else the cookies an Odoo website sets.
    function readUtm() {
        const params = new URLSearchParams(window.location.search);
        const fromQuery = {};
        for (const name of UTM_KEYS) {
            if (params.get(name)) {
                fromQuery[name] = params.get(name);
            }
        }
        try {
            if (Object.keys(fromQuery).length) {
                window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(fromQuery));
                return fromQuery;
            }
            const stored = window.sessionStorage.getItem(STORAGE_KEY);
            if (stored) {
                return JSON.parse(stored);
            }
        } catch {
            // Storage disabled: the query string alone.
        }
        const fromCookies = {};
        for (const part of document.cookie.split(";")) {
            const [name, ...rest] = part.trim().split("=");
            const utmName = name.replace(/^odoo_/, "");
            if (name.startsWith("odoo_utm_") && UTM_KEYS.includes(utmName)) {
                fromCookies[utmName] = decodeURIComponent(rest.join("="));
            }
        }
        return fromCookies;
    }
    const utm = readUtm();

    function element(tag, attributes, text) {
        const node = document.createElement(tag);
        for (const [name, value] of Object.entries(attributes || {})) {
            node.setAttribute(name, value);
        }
        if (text) {
            node.textContent = text;
        }
        return node;
    }

    const style = element("style");
    style.textContent = `
.o_crm_voip_callback_button{position:fixed;right:20px;bottom:20px;z-index:2147483000;
 border:0;border-radius:24px;padding:12px 20px;background:#017e84;color:#fff;font:600 15px/1.2 sans-serif;
 box-shadow:0 2px 8px rgba(0,0,0,.3);cursor:pointer}
.o_crm_voip_callback_panel{position:fixed;right:20px;bottom:76px;z-index:2147483000;width:280px;
 padding:16px;background:#fff;color:#222;border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.3);
 font:14px/1.4 sans-serif}
.o_crm_voip_callback_inline .o_crm_voip_callback_panel{position:static;box-shadow:none;width:auto}
.o_crm_voip_callback_panel[hidden]{display:none}
.o_crm_voip_callback_panel label{display:block;margin:8px 0 2px}
.o_crm_voip_callback_panel input{box-sizing:border-box;width:100%;padding:6px;font:inherit}
.o_crm_voip_callback_panel button{margin-top:10px;padding:8px 14px;font:inherit;cursor:pointer}
.o_crm_voip_callback_hp{position:absolute!important;left:-10000px!important;width:1px;height:1px;overflow:hidden}
.o_crm_voip_callback_close{float:right;border:0;background:none;font-size:18px;margin:0!important;padding:0!important}
.o_crm_voip_callback_status{margin-top:10px}`;
    document.head.appendChild(style);

    function build() {
        const inlineHost = script.dataset.inline && document.getElementById(script.dataset.inline);
        const panel = element("div", {
            class: "o_crm_voip_callback_panel",
            role: "dialog",
            "aria-label": labels.title || "",
        });
        const form = element("form", { novalidate: "" });
        const title = element("p", { class: "o_crm_voip_callback_title" }, labels.title);
        const nameInput = element("input", {
            id: "o_crm_voip_callback_name",
            name: "name",
            autocomplete: "name",
            maxlength: "100",
        });
        const numberInput = element("input", {
            id: "o_crm_voip_callback_number",
            name: "number",
            type: "tel",
            autocomplete: "tel",
            required: "",
            maxlength: "40",
        });
        // The honeypot: out of sight and out of the tab order; only robots fill it.
        const trap = element("div", { class: "o_crm_voip_callback_hp", "aria-hidden": "true" });
        const trapInput = element("input", {
            name: "hp",
            tabindex: "-1",
            autocomplete: "off",
        });
        trap.appendChild(trapInput);
        const submit = element(
            "button",
            { type: "submit", class: "o_crm_voip_callback_submit" },
            labels.submit
        );
        const status = element("div", {
            class: "o_crm_voip_callback_status",
            role: "status",
            "aria-live": "polite",
        });
        form.append(
            title,
            element("label", { for: "o_crm_voip_callback_name" }, labels.name),
            nameInput,
            element("label", { for: "o_crm_voip_callback_number" }, labels.number),
            numberInput,
            trap,
            submit,
            status
        );
        if (inlineHost) {
            inlineHost.classList.add("o_crm_voip_callback_inline");
            panel.appendChild(form);
            inlineHost.appendChild(panel);
        } else {
            const close = element(
                "button",
                { type: "button", class: "o_crm_voip_callback_close", "aria-label": labels.close },
                "×"
            );
            panel.append(close, form);
            panel.hidden = true;
            const button = element(
                "button",
                { type: "button", class: "o_crm_voip_callback_button", "aria-expanded": "false" },
                labels.button
            );
            button.addEventListener("click", () => {
                panel.hidden = !panel.hidden;
                button.setAttribute("aria-expanded", String(!panel.hidden));
                if (!panel.hidden) {
                    numberInput.focus();
                }
            });
            close.addEventListener("click", () => {
                panel.hidden = true;
                button.setAttribute("aria-expanded", "false");
                button.focus();
            });
            document.body.append(panel, button);
        }

        form.addEventListener("submit", async (ev) => {
            ev.preventDefault();
            if (!numberInput.value.trim()) {
                numberInput.focus();
                return;
            }
            submit.disabled = true;
            status.className = "o_crm_voip_callback_status";
            status.textContent = labels.sending || "";
            const body = {
                number: numberInput.value,
                name: nameInput.value,
                hp: trapInput.value,
                url: window.location.href,
                lang: document.documentElement.lang || navigator.language || "",
                ...utm,
            };
            const headers = { "Content-Type": "application/json" };
            if (token) {
                headers["X-Callback-Token"] = token;
            }
            let answer = null;
            try {
                // No cookie is sent: the request is the visitor's, not an Odoo session's.
                const response = await fetch(endpoint, {
                    method: "POST",
                    headers,
                    body: JSON.stringify(body),
                    credentials: "omit",
                    mode: "cors",
                });
                answer = await response.json();
            } catch {
                answer = null;
            }
            submit.disabled = false;
            const state = (answer && answer.status) || "error";
            status.classList.add("o_crm_voip_callback_" + state);
            status.textContent = (answer && answer.message) || labels.error || "";
            if (state === "calling" || state === "scheduled") {
                form.querySelectorAll("input, button[type=submit]").forEach((node) => {
                    node.disabled = true;
                });
            }
        });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", build);
    } else {
        build();
    }
})();
