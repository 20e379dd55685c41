"""pytest-odoo on demand.

``pyproject.toml`` keeps the pytest-odoo plugin off (``-p no:odoo``): the framework-free
``tests/`` must not import Odoo. A command line that names an Odoo database or
configuration (``--odoo-database``, ``--odoo-config``) wants it, so it is switched on
then, as if ``-p odoo`` had been given:

    python3 -m pytest --odoo-config=.devdb/odoo.conf crm_voip/tests/test_crm_voip_caller_id.py

It then collects what Odoo's own runner runs, no more (see below).
"""

ODOO_OPTIONS = ("--odoo-database", "--odoo-config")


def pytest_addoption(parser, pluginmanager):
    # Called while this file loads, before the command line is parsed: registering the
    # plugin now still adds its options to the parser in time.
    args = pluginmanager.get_plugin("pytestconfig").invocation_params.args
    if any(str(arg).startswith(ODOO_OPTIONS) for arg in args):
        pluginmanager.consider_pluginarg("odoo")


def pytest_collection_modifyitems(config, items):
    # Odoo's runner runs only the test methods a class defines itself, unless it sets
    # `allow_inherited_tests_method` (odoo.tests.loader); pytest would also run the
    # inherited ones (TestGenericWebhook re-running TestZadarmaWebhook's on the wrong
    # PBX account). Keep the two runners in agreement.
    if not config.pluginmanager.has_plugin("odoo"):
        return
    kept, inherited = [], []
    for item in items:
        cls = getattr(item, "cls", None)
        own = cls is None or item.name in vars(cls)
        allowed = getattr(cls, "allow_inherited_tests_method", False)
        (kept if own or allowed else inherited).append(item)
    if inherited:
        config.hook.pytest_deselected(items=inherited)
        items[:] = kept
