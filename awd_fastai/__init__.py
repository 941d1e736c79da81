__version__ = "0.2.0"

import warnings
# fastai 2.8 calls `torch.jit.script` when it is imported; torch's deprecation warning is not something our users can act on.
warnings.filterwarnings('ignore', message=r'`torch.jit.script` is deprecated')

# The public API in one import: `import awd_fastai` / `from awd_fastai import *` (nbdev only maintains `__version__` here).
from .core import *
from .dropout import *
from .model import *
from .data import *
from .learner import *
from .recorder import *
from .plots import *
