from . import bus_push
