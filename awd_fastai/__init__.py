__version__ = "0.3.0"

# The public API in one import: `import awd_fastai` / `from awd_fastai import *` (nbdev only maintains `__version__`
# here). No warning filters: importing awd_fastai leaves `warnings.filters` as it finds them (fastai's own import warns
# that `torch.jit.script` is deprecated; that warning is fastai's to give, and fastai users see it with
# `from fastai.text.all import *`).
# `from awd_fastai import *` gives the workflow (data -> model -> learner -> recorder, Monte Carlo dropout) and the
# three layers fastai's `awdlstm` names; every other layer is in `awd_fastai.dropout`, the figures in `awd_fastai.plots`
# (also as the record's methods: `rec.show()`, `rec.plot_mask_grid()`); each module's `__all__` is its public API.
# `import awd_fastai` imports matplotlib because fastai does (`fastai.imports` imports pyplot), not because of plots.
# `python -m awd_fastai` imports this package (and so fastai) before it runs __main__.py: the command's warnings start here
# then, and only then (`awd_fastai_cli.package_import`; an import from Python changes nothing)
try: from awd_fastai_cli import package_import as _package_import
except ImportError: pass
else: _package_import()
from . import core, dropout, model, data, learner, mc, recorder, plots
from .core import DEMO_P
from .dropout import RNNDropout, EmbeddingDropout, WeightDropout
from .model import *
from .data import *
from .learner import *
from .mc import *
from .recorder import *

__all__ = ['DEMO_P', 'RNNDropout', 'EmbeddingDropout', 'WeightDropout',
           *model.__all__, *data.__all__, *learner.__all__, *mc.__all__, *recorder.__all__]
from . import compat   # the names of earlier releases, with deprecation warnings: deleting it removes them
