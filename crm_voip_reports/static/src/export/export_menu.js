import { Component } from "@odoo/owl";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { download } from "@web/core/network/download";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { STATIC_ACTIONS_GROUP_NUMBER } from "@web/search/action_menus/action_menus";

export const REPORT_MODEL = "crm.voip.call.report";
export const EXPORT_URL = "/crm_voip_reports/export_xlsx";

/** Download the call analysis of `domain` as an Excel workbook. */
export async function downloadCallWorkbook(domain) {
    await download({
        url: EXPORT_URL,
        data: {
            domain: JSON.stringify(domain || []),
            company_ids: JSON.stringify(user.context.allowed_company_ids || []),
        },
    });
}

/** "Export to Excel" in the gear menu of the call analysis views. */
export class CrmVoipReportExportMenu extends Component {
    static template = "crm_voip_reports.ExportMenu";
    static components = { DropdownItem };
    static props = {};

    async onSelected() {
        await downloadCallWorkbook(this.env.searchModel.domain);
    }
}

registry.category("cogMenu").add(
    "crm-voip-reports-export",
    {
        Component: CrmVoipReportExportMenu,
        groupNumber: STATIC_ACTIONS_GROUP_NUMBER,
        isDisplayed: (env) =>
            env.searchModel?.resModel === REPORT_MODEL &&
            ["pivot", "graph", "list"].includes(env.config?.viewType),
    },
    { sequence: 5 }
);
