from . import test_reports_install
