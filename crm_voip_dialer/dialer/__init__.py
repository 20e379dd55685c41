"""Pure-Python decisions of the dialer (no Odoo import): calling windows, retries, pacing,
and the timezones of country subdivisions."""

from . import pacing, region_timezones
