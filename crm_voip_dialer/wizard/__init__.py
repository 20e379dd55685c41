from . import crm_voip_dialer_import
