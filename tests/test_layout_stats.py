"tools/layout_stats.py (issue 21): its private-read and import-graph detection, on small made-up modules."
import ast, importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location('layout_stats', Path(__file__).resolve().parents[1]/'tools'/'layout_stats.py')
ls = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(ls)

RECORDER = '''
_popcount = [0]
def _helper(): pass
class MaskRecord:
    def __init__(self): self._batches = {}
    def _iters_of(self, name): return []
@patch
def _site(self:MaskRecord, name): pass
'''

def test_private_reads_are_the_records_privates_read_elsewhere():
    top, members = ls.record_privates(ast.parse(RECORDER))
    assert {'_popcount', '_helper'} <= top and {'_batches', '_iters_of', '_site'} <= members
    reader = ast.parse('from .recorder import MaskRecord, _popcount\n'
                       'class Cb:\n    def __init__(self): self._batches = 1\n'   # its own `_batches`: not the record's
                       'def f(rec): return rec._iters_of("x"), _popcount[3], rec.names, rec._sites_unknown\n')
    got = [t for _, t in ls.private_reads(reader, top, members)]
    assert 'from .recorder import _popcount' in got and 'rec._iters_of' in got and '_popcount' in got
    assert not any('_batches' in t or 'names' in t or '_sites_unknown' in t for t in got)

def test_import_graph_tells_lazy_from_top_level_imports_and_finds_cycles():
    g = ls.imports(ast.parse('from .core import x\nimport awd_fastai.dropout\ndef f():\n    from .plots import y\n'),
                   {'core', 'dropout', 'plots', 'cli'})
    assert g == {'core': 'top', 'dropout': 'top', 'plots': 'lazy'}
    assert ls.cycles({'a': {'b': 'top'}, 'b': {'a': 'top'}}) and not ls.cycles({'a': {'b': 'top'}, 'b': {'a': 'lazy'}})

def test_the_package_is_measured():
    s = ls.stats(run=False)
    assert 'recorder' in s['modules'] and s['modules']['recorder']['private_reads'] == 0
    assert s['total']['lines'] == sum(len(p.read_text().splitlines()) for p in ls.modules().values())

def test_only_the_record_reads_its_private_members():
    "Plots, explorer, TensorBoard and report read `MaskRecord` through its public API (`packed`, `site`, `iterations_of`, ...); "
    "the one exception left is the 0.1.0 translation `_site_from_v1` in the plots' deprecated paths."
    reads = [r for d in ls.stats(run=False)['modules'].values() for r in d['reads']]
    assert [r for r in reads if '_site_from_v1' not in r] == [], reads

def test_import_adds_no_matplotlib_beyond_fastai():
    "fastai's own `fastai.imports` imports matplotlib.pyplot (so does any fastai module): `import awd_fastai` adds no matplotlib module of its own."
    got = ls.matplotlib_added()
    assert 'error' not in got, got
    assert got['by_fastai'] > 0 and got['added'] == [], got
