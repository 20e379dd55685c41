from . import crm_voip_dialer_disposition
from . import crm_voip_dialer_campaign
from . import crm_voip_dialer_line
from . import crm_voip_dialer_attempt
from . import crm_voip_dialer_agent
from . import crm_voip_call
from . import crm_voip_dialer_line_masking
