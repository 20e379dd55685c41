from . import crm_voip_call_report_mixin
from . import crm_voip_call_report
from . import crm_voip_call_report_daily
from . import crm_voip_call_report_masking
