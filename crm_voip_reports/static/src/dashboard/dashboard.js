import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat, formatInteger } from "@web/views/fields/formatters";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { downloadCallWorkbook, REPORT_MODEL } from "../export/export_menu";

/** "1:02:03" for an hour and more, "2:03" below. */
export function formatDuration(seconds) {
    if (seconds === false || seconds === null || seconds === undefined) {
        return "–";
    }
    const total = Math.round(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

export function formatRate(value) {
    return value === false || value === null ? "–" : `${formatFloat(value, { digits: [16, 1] })} %`;
}

/**
 * The telephony dashboard: KPI cards for today and this week, the incoming load and
 * missed share by weekday and hour, and the salespeople ranked by a chosen KPI. All of it
 * comes from one call to `crm.voip.call.report.crm_voip_dashboard_data`, which reads the
 * report with the user's access rules.
 */
export class CrmVoipReportsDashboard extends Component {
    static template = "crm_voip_reports.Dashboard";
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.actionService = useService("action");
        this.state = useState({
            period: "month",
            sortBy: "answer_rate",
            descending: true,
            heatmapMode: "load",
            data: null,
            loading: true,
        });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.loading = true;
        this.state.data = await this.orm.call(REPORT_MODEL, "crm_voip_dashboard_data", [], {
            period: this.state.period,
            sort_by: this.state.sortBy,
            descending: this.state.descending,
        });
        this.state.loading = false;
    }

    /** The KPI cards: each shows today's value, this week's below. */
    get cardKpis() {
        return [
            {
                key: "calls",
                label: _t("Calls"),
                format: (v) => this.formatInteger(v.call_count),
                hint: (v) =>
                    _t("%(in)s in, %(out)s out", {
                        in: this.formatInteger(v.inbound_count),
                        out: this.formatInteger(v.outbound_count),
                    }),
            },
            {
                key: "answered",
                label: _t("Answered"),
                className: "text-success",
                format: (v) => this.formatRate(v.answer_rate),
                hint: (v) => _t("%s calls", this.formatInteger(v.answered_count)),
            },
            {
                key: "missed",
                label: _t("Missed"),
                className: "text-danger",
                format: (v) => this.formatInteger(v.missed_count),
                hint: (v) => _t("%s of incoming", this.formatRate(v.missed_rate)),
            },
            {
                key: "talk",
                label: _t("Talk time"),
                format: (v) => this.formatHours(v.talk_hours),
                hint: (v) => _t("%s per call", this.formatMinutes(v.avg_talk_minutes)),
            },
            {
                key: "wait",
                label: _t("Avg wait"),
                format: (v) => this.formatMinutes(v.avg_wait_minutes),
                hint: () => _t("incoming calls"),
            },
            {
                key: "callbacks",
                label: _t("Called back in time"),
                format: (v) => this.formatRate(v.callback_sla_rate),
                hint: (v) => _t("median %s", this.formatMinutes(v.callback_median_minutes)),
            },
        ];
    }

    // Formatting ------------------------------------------------------------

    formatInteger(value) {
        return value === false || value === null ? "–" : formatInteger(value);
    }
    formatRate(value) {
        return formatRate(value);
    }
    formatHours(hours) {
        return hours === false || hours === null ? "–" : formatDuration(hours * 3600);
    }
    formatMinutes(minutes) {
        return minutes === false || minutes === null ? "–" : formatDuration(minutes * 60);
    }
    formatRatio(value) {
        return value === false || value === null ? "–" : formatFloat(value, { digits: [16, 1] });
    }

    heatCell(cell) {
        const data = this.state.data.heatmap;
        let alpha = 0;
        let color = "68, 114, 196";
        let text = "";
        if (this.state.heatmapMode === "load") {
            alpha = data.max_calls ? cell.calls / data.max_calls : 0;
            text = cell.calls ? String(cell.calls) : "";
        } else {
            color = "220, 53, 69";
            alpha = cell.missed_rate ? cell.missed_rate / 100 : 0;
            text = cell.calls ? `${Math.round(cell.missed_rate || 0)}%` : "";
        }
        return {
            text,
            style: `background-color: rgba(${color}, ${(0.08 + 0.85 * alpha).toFixed(2)});` +
                (alpha > 0.55 ? " color: white;" : ""),
            title: _t("%(day)s %(hour)s: %(calls)s incoming calls, %(missed)s missed", {
                day: cell.weekday_label,
                hour: cell.hour_label,
                calls: cell.calls,
                missed: cell.missed,
            }),
        };
    }

    // Actions ---------------------------------------------------------------

    async onPeriodChange(ev) {
        this.state.period = ev.target.value;
        await this.load();
    }

    async onSortChange(ev) {
        this.state.sortBy = ev.target.value;
        await this.load();
    }

    async toggleOrder() {
        this.state.descending = !this.state.descending;
        await this.load();
    }

    setHeatmapMode(mode) {
        this.state.heatmapMode = mode;
    }

    openAnalysis(extraDomain = [], viewType = "pivot") {
        const domain = [...this.state.data.domain, ...extraDomain];
        return this.actionService.doAction({
            type: "ir.actions.act_window",
            name: _t("Call analysis"),
            res_model: REPORT_MODEL,
            views: [viewType, ...["pivot", "graph", "list"].filter((type) => type !== viewType)].map(
                (type) => [false, type]
            ),
            domain,
            context: { group_by: viewType === "pivot" ? ["user_id"] : [] },
        });
    }

    openSalesperson(row) {
        return this.openAnalysis([["user_id", "=", row.user_id || false]], "list");
    }

    async exportWorkbook() {
        await downloadCallWorkbook(this.state.data.domain);
    }
}

registry.category("actions").add("crm_voip_reports.dashboard", CrmVoipReportsDashboard);
