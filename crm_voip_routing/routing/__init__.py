"""Pure-Python routing core (no Odoo import): see ``engine``."""

from . import engine
