from . import router
