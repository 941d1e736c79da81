__version__ = "0.1.0"

# The public API in one import: `import awd_fastai` / `from awd_fastai import *` (nbdev only maintains `__version__` here).
from .dropout import *
from .model import *
from .data import *
from .learner import *
from .recorder import *
from .plots import *
