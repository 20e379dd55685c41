from . import crm_voip_routing_test
