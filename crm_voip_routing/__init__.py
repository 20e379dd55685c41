from . import routing
from . import models
from . import wizard
from . import controllers
