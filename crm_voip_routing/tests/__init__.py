from . import test_routing_setup
from . import test_routing_rules
from . import test_routing_webhook
from . import test_missed_calls
from . import test_routing_ui
from . import test_routing_lookup
from . import test_routing_new_caller
from . import test_callback_deadline
