"""Pure-Python decisions of the dialer (no Odoo import): calling windows, retries, pacing."""

from . import pacing
