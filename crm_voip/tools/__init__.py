from . import bus_push
from . import crash_points
