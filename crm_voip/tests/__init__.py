from . import test_crm_voip_install
from . import test_crm_voip_webhook
from . import test_crm_voip_caller_id
from . import test_crm_voip_security
from . import test_crm_voip_click_to_call
from . import test_crm_voip_ui
from . import test_crm_voip_js
from . import test_crm_voip_recording
