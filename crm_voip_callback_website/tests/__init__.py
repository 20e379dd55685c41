from . import test_website_callback
