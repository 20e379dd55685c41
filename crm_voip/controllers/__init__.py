from . import crm_voip
from . import crm_voip_recording
