__version__ = "0.3.0"

# The public API in one import: `import awd_fastai` / `from awd_fastai import *` (nbdev only maintains `__version__` here).
# No warning filters: importing awd_fastai leaves `warnings.filters` as it finds them (fastai's own import warns that
# `torch.jit.script` is deprecated; that warning is fastai's to give, and fastai users see it with `from fastai.text.all import *`).
from .core import *
from .dropout import *
from .model import *
from .data import *
from .learner import *
from .recorder import *
from .plots import *
from . import compat   # the names of earlier releases, with deprecation warnings: deleting it removes them
