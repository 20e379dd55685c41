"""The call state machine of crm_voip: pure Python, no Odoo imports.

``states`` names the call states and their groups (the one definition every module, the
SQL reports and the browser use); ``machine`` turns a PBX event and the call as it is
into the values to write. The Odoo model ``crm.voip.call`` applies what it returns.
"""

from . import states, machine
