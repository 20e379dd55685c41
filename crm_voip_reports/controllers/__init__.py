from . import crm_voip_reports
