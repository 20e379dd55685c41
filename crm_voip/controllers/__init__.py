from . import crm_voip
