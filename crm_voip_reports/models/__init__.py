from . import crm_voip_call_callback
from . import crm_voip_call
from . import res_company
from . import res_config_settings
