"Faults users hit (issue 18): arguments silently ignored, callbacks writing during inference, no-dropout runs, half-written output, packed sequences in training, `python -m`, progress bars in logs."
import os, subprocess, sys, warnings
from pathlib import Path
import pytest, torch
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner

SMALL = dict(emb_sz=8, n_hid=8, n_layers=1)

@pytest.fixture(scope='module')
def dls(): return lm_dls(corpus_texts(20), bs=8, seq_len=20)

# ## 2. Arguments silently ignored (the `lm_dls` cases are in test_data.py)

def _kwargs_calls(dls, tmp_path):
    "One call per public function or method of ours that takes `**kwargs`, each given a keyword nobody takes."
    import matplotlib.pyplot as plt
    from awd_fastai.plots import mask_legend, save_time_step_gif
    from awd_fastai.distributed import add_distributed_trainer, AWDDistributedTrainer
    from awd_fastai.recorder import MaskRecorder
    learn = awd_learner(dls, **SMALL, cbs=MaskRecorder())
    learn.no_bar(); learn.no_logging()
    learn.fit(1, 1e-3)
    rec = learn.mask_recorder.record
    calls = {'lm_dls': lambda: lm_dls(corpus_texts(20), bs=8, seq_len=20, bogus=1),
             'awd_learner': lambda: awd_learner(dls, **SMALL, bogus=1),
             'AWDLearner.get_preds': lambda: learn.get_preds(bogus=1),
             'AWDLearner.show_masks': lambda: learn.show_masks(bogus=1),
             'AWDLearner.to_distributed': lambda: learn.to_distributed(bogus=1),
             'add_distributed_trainer': lambda: add_distributed_trainer(learn, bogus=1),
             'AWDDistributedTrainer': lambda: AWDDistributedTrainer(bogus=1),
             'mask_legend': lambda: mask_legend(plt.figure().gca(), bogus=1),
             'save_time_step_gif': lambda: save_time_step_gif(torch.ones(2, 3, 4), torch.ones(2, 1, 4), tmp_path/'a.gif', bogus=1)}
    calls.update({f'MaskRecord.show({n!r})': (lambda n=n: rec.show(n, bogus=1)) for n in rec.names})
    return calls

def test_every_public_kwargs_function_refuses_an_unknown_keyword(dls, tmp_path):
    "No public function of ours that takes `**kwargs` ignores a keyword it cannot use: a `TypeError` naming it."
    import matplotlib; matplotlib.use('Agg')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for name, call in _kwargs_calls(dls, tmp_path).items():
            with pytest.raises(TypeError, match='bogus'): call()
    assert not (tmp_path/'a.gif').exists()
    from awd_fastai.model import awd_lm
    with pytest.raises(ValueError, match='bogus'): awd_lm(10, bogus=1)     # the model's options: a `ValueError` (0.2.0)

# ## 1. Callbacks with side effects during inference

def _tree(p:Path) -> set: return {str(f.relative_to(p)) for f in p.rglob('*')}

def test_inference_writes_nothing(dls, tmp_path, monkeypatch):
    "fastai runs `before_fit`/`after_fit` in `validate`, `get_preds` and each word of `predict`: with our callbacks "
    "attached (TensorBoard with its default `runs/` folder, the recorder), they create no file or folder, also from an "
    "exported learner loaded in an empty folder; a later fit still logs, and `tb.event_file` names its file."
    pytest.importorskip('tensorboard')
    from fastai.learner import load_learner
    from awd_fastai.core import DEMO_P
    from awd_fastai.recorder import MaskRecorder
    from awd_fastai.explorer import MaskTensorBoardCallback
    train_dir, serve_dir = tmp_path/'train', tmp_path/'serve'
    train_dir.mkdir(); serve_dir.mkdir()
    monkeypatch.chdir(train_dir)
    tb = MaskTensorBoardCallback(every=10)
    learn = awd_learner(dls, **SMALL, **DEMO_P, cbs=[MaskRecorder(every=10), tb], path=train_dir)
    learn.no_bar(); learn.no_logging()
    before = _tree(train_dir)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.validate(); learn.get_preds(); learn.predict('the', n_words=3)
        assert _tree(train_dir) == before == set()
        assert tb.event_file is None
        learn.lr_find(num_it=5, show_plot=False)
        assert _tree(train_dir) == {'models'}                # the LR finder trains, but is no fit to log
        (train_dir/'models').rmdir()                         # fastai's LR finder's folder for its temporary weights
        learn.fit(1, 1e-3)
        logged = _tree(train_dir)
        assert tb.event_file is not None and tb.event_file.stat().st_size > 100 and len(logged) == 3   # runs/<date>/<file>
        learn.validate(); learn.predict('the', n_words=2)
        assert _tree(train_dir) == logged and tb.event_file.stat().st_size > 100
        learn.export(tmp_path/'learner.pkl')
        monkeypatch.chdir(serve_dir)
        served = load_learner(tmp_path/'learner.pkl')
        served.no_bar(); served.no_logging()
        served.validate(); served.get_preds(); served.predict('the', n_words=3)
    assert _tree(serve_dir) == set() and _tree(train_dir) == logged
