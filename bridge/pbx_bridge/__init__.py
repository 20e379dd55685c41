"""The PBX bridge: runs next to a self-hosted PBX and posts its calls to Odoo."""
