from . import (
    crm_voip_call,
    crm_voip_callback_source,
    crm_voip_callback_request,
    crm_voip_callback_throttle,
)
