"""Neural-network building blocks: Module, layers, losses, functional, init."""
from .parameter import Parameter, Buffer  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, init, utils, parallel  # noqa: F401
from .parallel import DataParallel  # noqa: F401
