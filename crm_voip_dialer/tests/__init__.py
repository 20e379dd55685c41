from . import test_dialer_install
