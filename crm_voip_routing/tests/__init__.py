from . import test_routing_install
