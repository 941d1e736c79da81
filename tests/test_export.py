"""Export and compilation of the model (`awd_lm`), in training and in eval, on a tiny model: what is supported is stated in
nbs/01_model.ipynb ("Export and compilation"). `torch.jit.script` (deprecated by torch) fails on our layers as on fastai's;
`torch.export` exports the model for inference (in training, its masks are not kept); `torch.compile` works in training and
eval, with the same masks as eager from the same seed (backends eager and aot_eager)."""
import shutil, warnings
import pytest, torch
import fastai.text.all as fa
from awd_fastai.model import awd_lm

@pytest.fixture
def model():
    torch.manual_seed(0)
    return awd_lm(50, emb_sz=8, n_hid=12, n_layers=2)

@pytest.fixture
def x(): return torch.randint(0, 50, (3, 7))

def test_jit_script_fails_as_for_fastai(model):
    "`torch.jit.script` cannot compile our layers, nor fastai's (both keep Python state; torch deprecates it for compile/export)."
    fastai_lm = fa.get_language_model(fa.AWD_LSTM, 50, dict(fa.awd_lstm_lm_config, emb_sz=8, n_hid=12, n_layers=2))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)      # torch's deprecation of `torch.jit.script`
        for m in (model, fastai_lm):
            with pytest.raises(RuntimeError): torch.jit.script(m)

def test_export_for_inference(model, x):
    "Eval: the exported program computes what the model computes from a reset state, and is stateless: each call starts "
    "from that state (the eager model carries its hidden state to the next call)."
    model.eval(); model.reset()
    prog = torch.export.export(model, (x,)).module()
    a1, a2 = prog(x)[0], prog(x)[0]
    model.reset(); b1, b2 = model(x)[0], model(x)[0]
    torch.testing.assert_close(a1, b1)
    assert torch.equal(a1, a2) and not torch.allclose(b1, b2)

def test_export_in_training_draws_masks_it_does_not_keep(model, x):
    "Train: the exported program draws new masks at every call (as the eager model from the same seed), but it cannot "
    "store them on the layers (`last_mask`, what `MaskRecorder` reads): they are Python side effects."
    model.train(); model.reset()
    prog = torch.export.export(model, (x,)).module()
    assert not torch.allclose(prog(x)[0], prog(x)[0])                          # new masks at every call
    model.reset(); torch.manual_seed(1); eager = model(x)[0]
    kept = model[0].input_dp.last_mask.clone()
    torch.manual_seed(1); exported = prog(x)[0]
    torch.testing.assert_close(exported, eager)                                # the same masks from the same seed
    torch.manual_seed(2); prog(x)
    assert torch.equal(model[0].input_dp.last_mask, kept)                      # none kept: the layer still has the eager one

def test_export_in_training_with_fastai_stream_is_refused(x):
    "With `rng='fastai'` (`bernoulli_` on a new tensor), torch.export refuses the model in training mode."
    torch.manual_seed(0)
    model = awd_lm(50, emb_sz=8, n_hid=12, n_layers=2, rng='fastai').train()
    with pytest.raises(RuntimeError, match='fake tensor'): torch.export.export(model, (x,))

def _check_compiled(model, x, backend):
    compiled = torch.compile(model, backend=backend)
    model.train(); model.reset(); torch.manual_seed(5)
    y = model(x)[0]; mask = model[0].rnns[0].last_mask['weight_hh_l0'].clone()
    y.sum().backward(); g = model[0].rnns[0].weight_hh_l0_raw.grad.clone(); model.zero_grad()
    model.reset(); torch.manual_seed(5)
    yc = compiled(x)[0]
    torch.testing.assert_close(yc, y)                                          # the same masks from the same seed
    assert torch.equal(model[0].rnns[0].last_mask['weight_hh_l0'], mask)       # and each layer keeps the mask it drew
    yc.sum().backward()
    torch.testing.assert_close(model[0].rnns[0].weight_hh_l0_raw.grad, g)      # the same gradients
    assert not torch.allclose(compiled(x)[0], yc)                              # the state carries to the next call, new masks
    model.eval(); model.reset(); e = model(x)[0]; model.reset()
    torch.testing.assert_close(compiled(x)[0], e)

@pytest.mark.parametrize('backend', ['eager', 'aot_eager'])
def test_compile_train_and_eval(model, x, backend):
    "`torch.compile` with backends that need no C++ compiler: training (masks, gradients, carried state) and eval match eager."
    _check_compiled(model, x, backend)

@pytest.mark.skipif(shutil.which('c++') is None and shutil.which('g++') is None, reason="inductor needs a C++ compiler on CPU")
def test_compile_inductor(model, x):
    "The default backend, inductor (generates C++ on CPU; about a minute to compile this tiny model on 2 cores)."
    _check_compiled(model, x, 'inductor')

def _supported(f) -> str:
    try: f(); return 'yes'
    except RuntimeError: return 'no'

def test_docs_table_states_what_works(model, x):
    "The support table of nbs/01_model.ipynb ('Export and compilation') says, for each API and mode, what a run shows."
    import json
    from pathlib import Path
    nb = json.loads((Path(__file__).resolve().parents[1]/'nbs'/'01_model.ipynb').read_text())
    md = next(''.join(c['source']) for c in nb['cells'] if ''.join(c['source']).startswith('## Export and compilation'))
    cells = [[c.strip() for c in line.strip().strip('|').split('|')] for line in md.splitlines() if line.startswith('| `')]
    rows = {r[0]: (r[1].split(',')[0], r[2].split(',')[0]) for r in cells}       # 'yes' or 'no' (then the caveat)
    def run(api, mode):
        getattr(model, mode)(); model.reset()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            if api == 'script': return _supported(lambda: torch.jit.script(model))
            if api == 'export': return _supported(lambda: torch.export.export(model, (x,)))
            return _supported(lambda: torch.compile(model, backend='eager')(x))
    assert set(rows) == {'`torch.jit.script`', '`torch.export.export`', '`torch.compile` (`eager`, `aot_eager`, `inductor` backends)'}
    for name, api in (('`torch.jit.script`', 'script'), ('`torch.export.export`', 'export'),
                      ('`torch.compile` (`eager`, `aot_eager`, `inductor` backends)', 'compile')):
        assert rows[name] == (run(api, 'train'), run(api, 'eval')), name
