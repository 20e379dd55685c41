"""Provider layer of crm_voip: pure Python, no Odoo imports.

Importing this package registers every adapter; get one with
``registry.get_adapter_class(code)(config)``.
"""

from . import registry, events, errors, base, numbers
from . import zadarma, generic

from .registry import available_codes, get_adapter_class, register
