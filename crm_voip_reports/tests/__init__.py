from . import test_reports_setup
from . import test_report_measures
from . import test_report_security
from . import test_xlsx
from . import test_ui
from . import test_export_access
from . import test_report_access
from . import test_masked_numbers
