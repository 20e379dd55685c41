from . import crm_voip_extension_import
from . import crm_voip_extension_import_line
from . import crm_voip_reconcile_wizard
