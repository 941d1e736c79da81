__version__ = "0.3.0"

# The public API in one import: `import awd_fastai` / `from awd_fastai import *` (nbdev only maintains `__version__`
# here). Lazily (PEP 562): the modules of `_API`, and torch and fastai with them, are imported on the first name asked
# of the package (`awd_fastai.MaskRecorder`, `from awd_fastai import *`), not by `import awd_fastai` itself, so that
# `awd-fastai --help` and `import awd_fastai.core` start without them. The names are those `from .core import *` ...
# `from .plots import *` gave. No warning filters: importing awd_fastai leaves `warnings.filters` as it finds them
# (fastai's own import warns that `torch.jit.script` is deprecated; that warning is fastai's to give, and fastai users
# see it with `from fastai.text.all import *`).
_API = ('core', 'dropout', 'model', 'data', 'learner', 'recorder', 'plots')   # the one-import API's modules, in order

def _load() -> dict:
    "Import the API's modules in order and bind their `__all__` names here, as `from .m import *` did; the namespace."
    import importlib
    g = globals()
    if not g.get('_loaded'):
        for m in _API:
            mod = importlib.import_module(f'{__name__}.{m}')
            g.update({k: getattr(mod, k) for k in mod.__all__})
        g['_loaded'] = True
    return g

def __getattr__(name:str):
    "A name of the API (its modules imported on first use), or `__all__`: every public name, as `import *` gave them."
    import importlib, importlib.util
    if name.startswith('__') and name != '__all__':
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name != '__all__' and importlib.util.find_spec(f'{__name__}.{name}') is not None:   # a module: only it
        return importlib.import_module(f'{__name__}.{name}')
    g = _load()
    if name == '__all__': return [k for k in g if not k.startswith('_')]
    if name in g: return g[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def __dir__() -> list: return sorted(_load())
