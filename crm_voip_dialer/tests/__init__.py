from . import test_dialer_setup
from . import test_dialer_compliance
from . import test_dialer_blacklist
from . import test_dialer_click_to_call
from . import test_dialer_concurrency
from . import test_dialer_simulator
from . import test_dialer_ui
from . import test_dialer_access
