"""Mixed precision: masks and the MaskRecorder keep working under fastai's `to_fp16()` and under bfloat16 autocast on CPU."""
import warnings
import numpy as np, pytest, torch
from fastai.callback.core import Callback
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)

@pytest.fixture(scope='module')
def dls(): return lm_dls(corpus_texts(20), bs=8, seq_len=20)

def check_record(learn, recorder):
    "Every training batch recorded with every site, drop rates near p (5 sigma over the run), a finite, falling loss."
    rec, n = recorder.record, len(learn.dls.train)
    assert rec.iterations == list(range(n)) and len(rec.names) == 6
    assert all(set(rec.at(it).masks) == set(rec.names) for it in rec.iterations)
    for name, g in rec.drop_rates().groupby('name'):
        k, p = sum(int(np.prod(s)) for s in g['shape']), g.p.iloc[0]
        assert abs(g.drop_rate.mean() - p) <= 5*np.sqrt(p*(1-p)/k) + 1e-3, name
    losses = [float(l) for l in learn.recorder.losses]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]

class Dtypes(Callback):
    "Note the dtype of the model's output and of each dropout layer's multiplicative mask, during training."
    order = 95
    def after_pred(self):
        if not self.training: return
        self.pred_dtype = self.pred.dtype
        self.mask_dtypes = {n: (m._last_noise['weight_hh_l0'] if isinstance(m._last_noise, dict) else m._last_noise).dtype
                            for n, m in self.learn.model.named_modules() if getattr(m, '_last_noise', None) is not None}

def test_to_fp16_trains_and_records(dls):
    "fastai's `to_fp16()` trains an `awd_learner` with a recorder. On CPU fastai's MixedPrecision (autocast('cuda'), "
    "GradScaler('cuda')) disables itself with a warning and trains in float32, so this checks that nothing breaks."
    rec = MaskRecorder()
    learn = awd_learner(dls, **SMALL, cbs=rec).to_fp16()
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*CUDA is not available.*')
        learn.fit(1, 1e-2)
    check_record(learn, rec)

@pytest.mark.skipif(not torch.cuda.is_available(), reason="fastai's MixedPrecision autocasts on CUDA only; no GPU here")
def test_to_fp16_on_cuda(dls):
    "On a GPU: float16 activations, float16 activation masks, float32 raw weights and weight masks; the recorder records."
    rec, dt = MaskRecorder(), Dtypes()
    learn = awd_learner(dls, **SMALL, cbs=[rec, dt]).to_fp16()
    learn.fit(1, 1e-2)
    assert next(learn.model.parameters()).is_cuda              # fastai's default device: data and model on the GPU
    assert dt.mask_dtypes['0.hidden_dps.0'] == torch.float16 and dt.mask_dtypes['0.rnns.0'] == torch.float32
    check_record(learn, rec)

class CPUAutocast(Callback):
    "bfloat16 autocast on CPU, as fastai's MixedPrecision does on CUDA (which it supports only there)."
    order = 10
    def before_batch(self): self.ctx = torch.autocast('cpu', dtype=torch.bfloat16); self.ctx.__enter__()
    def after_pred(self): self.learn.pred = self.pred.float()
    def after_loss(self): self.ctx.__exit__(None, None, None)

def test_bf16_autocast_on_cpu(dls):
    "Under CPU bfloat16 autocast the RNN activations and their masks are bfloat16; the recorder records them as usual."
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16): torch.nn.LSTM(2, 2)(torch.randn(1, 1, 2))
    except RuntimeError as e: pytest.skip(f'this CPU/torch cannot run an LSTM under bfloat16 autocast: {e}')
    rec, dt = MaskRecorder(), Dtypes()
    learn = awd_learner(dls, **SMALL, cbs=[rec, dt, CPUAutocast()])
    learn.fit(1, 1e-2)
    assert dt.mask_dtypes['0.hidden_dps.0'] == torch.bfloat16 and dt.mask_dtypes['1.output_dp'] == torch.bfloat16
    assert dt.mask_dtypes['0.rnns.0'] == torch.float32          # weight masks follow the raw float32 weights
    check_record(learn, rec)
