"""Faults: an interrupted fit, a failed save and a NaN loss leave the learner usable and the recording consistent."""
import errno, os, stat
import numpy as np, pytest, torch
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.tracker import TerminateOnNaNCallback
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner
import awd_fastai.core as core_mod
import awd_fastai.recorder as recorder_mod
from awd_fastai.recorder import MaskRecorder, MaskRecord

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)

@pytest.fixture(scope='module')
def dls(): return lm_dls(corpus_texts(20), bs=8, seq_len=20)

def assert_consistent(rec:MaskRecord, n_iterations:int):
    "`n_iterations` whole iterations: each has one call of every site (no half iteration) and that call's token ids."
    assert len(rec.iterations) == n_iterations
    for it in rec.iterations:
        s = rec.at(it)
        assert {n: s.n_calls(n) for n in rec.names} == {n: 1 for n in rec.names}, it
        assert len(s.tokens) == 1 and all(s.tokens_of(n) is s.tokens[0] for n in rec.names)

def assert_usable(learn, recorder:MaskRecorder):
    "The learner trains and validates again, and the recorder goes on recording, consistently."
    n = len(recorder.record)
    learn.fit(1, 1e-3, cbs=[recorder, RaiseAt(2, 'after_batch', CancelFitException)])
    assert len(recorder.record) == n + 3          # batches 0, 1, 2 of the new fit
    assert_consistent(recorder.record, n + 3)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in learn.model.modules())   # no hook left
    assert np.isfinite(learn.validate()[0])

class RaiseAt(Callback):
    "Raise `exc` at `event` of training batch `n` (of the epoch), after every other callback."
    order = 100
    def __init__(self, n, event, exc): self.n, self.event, self.exc = n, event, exc
    def __call__(self, event_name):
        if event_name == self.event and self.training and self.iter == self.n: raise self.exc()
        return super().__call__(event_name)

# ## Interrupted fits

@pytest.mark.parametrize('exc', [KeyboardInterrupt, CancelFitException])
@pytest.mark.parametrize('event', ['before_batch', 'after_pred', 'after_loss', 'before_step', 'after_batch'])
def test_interrupted_fit_leaves_consistent_record_and_usable_learner(dls, exc, event):
    "Interrupted at any point of batch 4: the batches before it are recorded for every name, nothing of batch 4 half-way."
    rec, learn = MaskRecorder(), awd_learner(dls, **SMALL)
    try: learn.fit(1, 1e-3, cbs=[rec, RaiseAt(4, event, exc)])
    except KeyboardInterrupt: pass
    n = 5 if event == 'after_batch' else 4      # after_batch of batch 4 runs the recorder first (order 90 < 100)
    assert_consistent(rec.record, n)
    assert_usable(learn, rec)

class InterruptInside(torch.nn.Module):
    "A forward hook that raises KeyboardInterrupt in the middle of the model's forward, on the `n`-th training call."
    def __init__(self, n): super().__init__(); self.n, self.calls = n, 0
    def __call__(self, module, inp, out):
        if module.training:
            self.calls += 1
            if self.calls == self.n: raise KeyboardInterrupt()

def test_keyboard_interrupt_mid_forward(dls):
    "Between two layers' masks: the first layers of batch 3 drew new masks, the later ones did not; none of it is recorded."
    rec, learn = MaskRecorder(), awd_learner(dls, **SMALL)
    h = learn.model[0].rnns[1].register_forward_hook(InterruptInside(4))
    with pytest.raises(KeyboardInterrupt): learn.fit(1, 1e-3, cbs=rec)
    h.remove()
    assert_consistent(rec.record, 3)
    assert_usable(learn, rec)

@pytest.mark.parametrize('where', ['pack_mask', '_copy_into'])
def test_keyboard_interrupt_inside_the_recorder(dls, monkeypatch, where):
    "An interrupt (Ctrl-C) while the recorder packs the third mask of batch 2 (in a forward hook), or while it stores "
    "batch 2: no half iteration; the learner and the recorder go on."
    rec, learn = MaskRecorder(), awd_learner(dls, **SMALL)
    calls, orig = [0], getattr(recorder_mod, where)
    def interrupted(*args):
        calls[0] += 1
        if calls[0] == (6*2 + 3 if where == 'pack_mask' else 2*2 + 1): raise KeyboardInterrupt()   # masks: 6 per batch; stores: 2 per batch
        return orig(*args)
    monkeypatch.setattr(recorder_mod, where, interrupted)
    with pytest.raises(KeyboardInterrupt): learn.fit(1, 1e-3, cbs=rec)
    monkeypatch.undo()
    assert_consistent(rec.record, 2)
    assert_usable(learn, rec)

# ## A save that fails leaves the earlier recording intact

@pytest.fixture(scope='module')
def recorded(dls):
    rec, learn = MaskRecorder(), awd_learner(dls, **SMALL)
    learn.fit(1, 1e-3, cbs=[rec, RaiseAt(5, 'after_batch', CancelFitException)])
    assert len(rec.record) == 6
    return rec.record

def save_fails_cleanly(rec, folder, exc_type, err=None):
    "Save twice to one path, the second time failing: the error comes through, the first file is intact, no temp file is left."
    path = folder/'masks.npz'
    before = path.read_bytes()
    with pytest.raises(exc_type) as e: rec.save(path)
    if err is not None: assert e.value.errno == err
    assert path.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ['masks.npz']
    assert len(MaskRecord.load(path)) == len(rec)

def first_save(rec, tmp_path):
    rec.save(tmp_path/'masks.npz')
    return tmp_path

def test_save_disk_full_while_writing(recorded, tmp_path, monkeypatch):
    folder = first_save(recorded, tmp_path)
    def write_half(f, **arrays): f.write(b'PK\x03\x04 half a zip'); raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(recorder_mod.np, 'savez_compressed', write_half)
    save_fails_cleanly(recorded, folder, OSError, errno.ENOSPC)

def test_save_disk_full_at_flush(recorded, tmp_path, monkeypatch):
    folder = first_save(recorded, tmp_path)
    def fsync(fd): raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(core_mod.os, 'fsync', fsync)
    save_fails_cleanly(recorded, folder, OSError, errno.ENOSPC)

def test_save_permission_denied_creating_the_file(recorded, tmp_path, monkeypatch):
    "Simulated (the suite may run as root, who may write anywhere): the folder refuses new files."
    folder = first_save(recorded, tmp_path)
    real_open = os.open
    def create(path, flags, *a, **k):
        if flags & os.O_CREAT: raise PermissionError(errno.EACCES, 'Permission denied')
        return real_open(path, flags, *a, **k)
    monkeypatch.setattr(core_mod.os, 'open', create)
    save_fails_cleanly(recorded, folder, PermissionError, errno.EACCES)

def test_save_permission_denied_replacing_the_file(recorded, tmp_path, monkeypatch):
    folder = first_save(recorded, tmp_path)
    def replace(src, dst): raise PermissionError(errno.EACCES, 'Permission denied')
    monkeypatch.setattr(core_mod.os, 'replace', replace)
    save_fails_cleanly(recorded, folder, PermissionError, errno.EACCES)

@pytest.mark.skipif(os.name != 'posix' or os.geteuid() == 0, reason='root may write to a read-only folder; simulated above')
def test_save_into_read_only_folder(recorded, tmp_path):
    folder = first_save(recorded, tmp_path)
    folder.chmod(0o500)
    try: save_fails_cleanly(recorded, folder, PermissionError)
    finally: folder.chmod(0o700)

def test_save_interrupted(recorded, tmp_path, monkeypatch):
    folder = first_save(recorded, tmp_path)
    def interrupted(f, **arrays): f.write(b'PK\x03\x04'); raise KeyboardInterrupt()
    monkeypatch.setattr(recorder_mod.np, 'savez_compressed', interrupted)
    save_fails_cleanly(recorded, folder, KeyboardInterrupt)

def test_saved_file_has_the_mode_open_would_give_it(recorded, tmp_path):
    "0o666 less the umask, like any new file (not mkstemp's 0o600): a recording shared with a group stays readable."
    old = os.umask(0o022)
    try: path = recorded.save(tmp_path/'masks.npz')
    finally: os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644

# ## NaN and inf losses do not corrupt the recorder

def check_masks_sound(rec:MaskRecord):
    "Every mask's drop rate is a number near its layer's p (5 sigma over all masks of a site)."
    rates = rec.drop_rates()
    assert rates.drop_rate.notna().all() and rates.drop_rate.between(0, 1).all()
    for name, g in rates.groupby('name'):
        n = sum(int(np.prod(s)) for s in g['shape'])
        p = g.p.iloc[0]
        assert abs(g.drop_rate.mean() - p) <= 5*np.sqrt(p*(1-p)/n) + 1e-3, name

def test_absurd_learning_rate_nan_loss(dls, tmp_path):
    "The loss turns NaN or inf; the recorder still holds one sound, consistent snapshot per batch, and saves and loads."
    rec, learn = MaskRecorder(), awd_learner(dls, **SMALL)
    with np.errstate(all='ignore'): learn.fit(1, 1e6, cbs=rec)
    assert not np.isfinite(float(learn.recorder.losses[-1]))   # the fault did happen
    assert_consistent(rec.record, len(dls.train))
    check_masks_sound(rec.record)
    back = MaskRecord.load(rec.record.save(tmp_path/'nan.npz'))
    for it in rec.record.iterations:
        for name in rec.record.names: assert torch.equal(back.mask(name, it), rec.record.mask(name, it))

def test_nan_weights_and_terminate_on_nan(dls):
    "NaN weights make the loss NaN from the first batch; fastai's TerminateOnNaNCallback stops before the recorder runs."
    rec, learn = MaskRecorder(), awd_learner(dls, **SMALL)
    learn.fit(1, 1e-3, cbs=[rec, RaiseAt(3, 'after_batch', CancelFitException)])   # 4 batches recorded
    with torch.no_grad(): learn.model[0].encoder.weight.fill_(float('nan'))
    learn.fit(1, 1e-3, cbs=[rec, TerminateOnNaNCallback()])
    assert_consistent(rec.record, 4)
    check_masks_sound(rec.record)
