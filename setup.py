"""pip installs the four addons into the ``odoo.addons`` namespace.

Odoo itself is a prerequisite and never a dependency here: ``pip install .`` on a
machine where ``import odoo`` works makes the addons available without touching the
addons path.
"""

import pathlib

from setuptools import setup

ROOT = pathlib.Path(__file__).parent
ADDONS = [
    "crm_voip",
    "crm_voip_routing",
    "crm_voip_reports",
    "crm_voip_dialer",
    "crm_voip_callback",
    "crm_voip_callback_website",
]


def addon_packages(addon):
    """Every Python package inside an addon, mapped into odoo.addons."""
    packages = {}
    for init in sorted((ROOT / addon).rglob("__init__.py")):
        relative = init.parent.relative_to(ROOT)
        packages[".".join(("odoo", "addons", *relative.parts))] = str(relative)
    return packages


package_dir = {}
for name in ADDONS:
    package_dir.update(addon_packages(name))
package_dir["vats_simulator"] = "vats_simulator"
package_dir["vats_simulator.pbx"] = "vats_simulator/pbx"

setup(
    name="odoo-addons-crm-voip",
    version="18.0.1.0.0",
    description="Cloud PBX (VATS) telephony for Odoo 18 CRM: call log, caller ID, routing, "
    "reports, dialer",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="LGPL-3.0-only",
    python_requires=">=3.10",
    packages=list(package_dir),
    package_dir=package_dir,
    include_package_data=True,
    install_requires=["phonenumbers", "websocket-client", "xlsxwriter", "requests"],
    classifiers=[
        "Framework :: Odoo",
        "Framework :: Odoo :: 18.0",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
        "Programming Language :: Python :: 3",
    ],
)
