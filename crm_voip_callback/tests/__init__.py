from . import test_callback_request, test_callback_widget
