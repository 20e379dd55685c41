from . import crm_voip_routing
