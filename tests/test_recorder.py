"""MaskRecorder across processes and exports: `learn.export()` carries no recording, a saved recording reloads in a new
process with identical masks, and the same seed gives the same masks and losses in another process."""
import hashlib, json, subprocess, sys, textwrap
from pathlib import Path
import numpy as np, pytest, torch
from fastai.learner import load_learner
from fastai.torch_core import set_seed
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)

def seeded_run(seed:int=7, recorder:bool=True):
    "A short seeded training run: (learner, its recorder or None)."
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    set_seed(seed, reproducible=True)   # after lm_dls: fastai's RandomSplitter reseeds torch with the split seed
    learn = awd_learner(dls, **SMALL)
    rec = MaskRecorder() if recorder else None
    learn.fit(1, 1e-2, cbs=rec)
    return learn, rec

def digests(rec) -> dict:
    "Name -> sha256 of its masks (bool bytes) and iterations."
    return {n: hashlib.sha256(rec[n].numpy().tobytes() + json.dumps(rec.iters(n)).encode()).hexdigest() for n in rec.names}

@pytest.fixture(scope='module')
def run7(): return seeded_run(7)

@pytest.mark.filterwarnings("ignore:load_learner` uses Python's insecure pickle")   # our own file
def test_export_does_not_pickle_the_record(run7, tmp_path):
    "The exported learner is as small as one without a recording, and its recorder starts empty but works."
    learn, rec = run7
    assert rec.stored_bytes > 0
    learn.path = tmp_path
    learn.add_cb(rec)
    try: learn.export('with.pkl')
    finally: learn.remove_cb(rec)
    learn.export('without.pkl')
    size = lambda f: (tmp_path/f).stat().st_size
    assert abs(size('with.pkl') - size('without.pkl')) < 20_000 < rec.stored_bytes
    loaded = load_learner(tmp_path/'with.pkl')
    r = next(cb for cb in loaded.cbs if isinstance(cb, MaskRecorder))
    assert len(r) == 0 and r.names == []
    loaded.dls = learn.dls
    loaded.fit(1, 1e-3)
    assert len(r) == len(learn.dls.train) and r.names == rec.names

CHILD = textwrap.dedent('''
    import json, sys, hashlib
    sys.path.insert(0, sys.argv[3])
    from test_recorder import seeded_run, digests
    from awd_fastai.recorder import MaskRecorder
    rec = MaskRecorder.load(sys.argv[1])
    learn, own = seeded_run(7)
    own.save(sys.argv[2] + '.npz')
    json.dump(dict(loaded=digests(rec), loaded_vocab=rec.vocab, own=digests(own), losses=[float(l) for l in learn.recorder.losses]),
              open(sys.argv[2], 'w'))
''')

@pytest.fixture(scope='module')
def child(run7, tmp_path_factory):
    "A new Python process that loads our recording, and trains the same seeded run."
    tmp = tmp_path_factory.mktemp('child')
    run7[1].save(tmp/'masks.npz')
    r = subprocess.run([sys.executable, '-c', CHILD, str(tmp/'masks.npz'), str(tmp/'out.json'), str(Path(__file__).parent)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((tmp/'out.json').read_text()), tmp

def test_recording_reloads_in_a_new_process(run7, child):
    out, _ = child
    assert out['loaded'] == digests(run7[1])
    assert out['loaded_vocab'] == run7[1].vocab

def test_same_seed_same_masks_and_losses_in_another_process(run7, child):
    "Determinism run to run: the new process's seeded run drew exactly our masks and had exactly our losses."
    out, tmp = child
    learn, rec = run7
    assert out['own'] == digests(rec)
    assert out['losses'] == [float(l) for l in learn.recorder.losses]
    other = MaskRecorder.load(tmp/'out.json.npz')
    for n in rec.names: assert torch.equal(other[n], rec[n])

def test_same_seed_same_losses_and_weights_without_the_recorder(run7):
    "The recorder draws no random numbers: without it, the same seed gives the same losses, weights and last masks."
    learn, rec = run7
    plain, _ = seeded_run(7, recorder=False)
    assert [float(l) for l in plain.recorder.losses] == [float(l) for l in learn.recorder.losses]
    for (k, v), w in zip(learn.model.state_dict().items(), plain.model.state_dict().values()): assert torch.equal(v, w), k
    enc = plain.model[0]
    assert torch.equal(enc.rnns[0].last_mask['weight_hh_l0'], rec['0.rnns.0.weight_hh_l0'][-1])
    assert torch.equal(enc.input_dp.last_mask, rec['0.input_dp'][-1])

def test_another_seed_other_masks(run7):
    _, rec = run7
    _, other = seeded_run(8)
    for n in rec.names: assert not torch.equal(other[n], rec[n]), n
