"""The carried-state dropout sites (issue 19) through the whole package: each kind is recorded by `MaskRecorder` (the
recorded mask is the layer's `last_mask`, with its own site, kind and p), drawn by `plot_all_masks` (per-step kinds with
a time axis: the panel is units × time steps of one example), pictured by the explorer's TensorBoard pictures, and shown
by the explorer page (per-step kinds in the per-step view, with its time-step control)."""
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np, pytest, torch
from fastai.callback.core import Callback, CancelFitException
from fastai.torch_core import set_seed
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.dropout import SITE_KINDS, SiteKind
from awd_fastai.model import STATE_KIND_MODES, _state_classes
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder
from awd_fastai.plots import mask_image
from awd_fastai.explorer import write_explorer
from awd_fastai.tensorboard import mask_picture

SMALL = dict(emb_sz=16, n_hid=24, n_layers=2)

def rnn_type_for(kind:str) -> str:
    "A cell that has the site: the LSTM where it can, else the GRU."
    cls = _state_classes.get(kind)
    return 'lstm' if cls is None or 'LSTM' in cls.cells else 'gru'

class _Stop(Callback):
    order = 100   # after the recorder has read the batch's masks
    def after_batch(self):
        if self.training and self.iter + 1 >= 2: raise CancelFitException()

def record(kind:str, **kw):
    "Two recorded training batches of a small model with `modes={'state': kind}`: (learner, record)."
    dls = lm_dls(corpus_texts(10), bs=6, seq_len=12)
    set_seed(0)
    learn = awd_learner(dls, **SMALL, modes={'state': kind}, state_p=0.3, rnn_type=rnn_type_for(kind), **kw)
    rec = MaskRecorder()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=[rec, _Stop()])
    return learn, rec.record

@pytest.fixture(scope='module')
def recs(): return {kind: record(kind) for kind in STATE_KIND_MODES}

def state_sites(rec, kind): return [n for n, s in rec.sites.items() if s.kind == kind]

def test_every_new_kind_has_a_view_everywhere():
    "Each kind's one row (`SITE_KINDS`) names the view plots and the explorer draw and the panel text the report uses."
    for kind in STATE_KIND_MODES:
        row = SiteKind.of(kind)
        assert row is SITE_KINDS[kind] and row.panel and row.scheme in ('per step', 'locked', 'one mask per call')
        assert row.view == ('per_step' if row.per == 'step' else 'locked')

@pytest.mark.parametrize('kind', STATE_KIND_MODES)
def test_recorded_mask_is_the_layers_mask(recs, kind):
    learn, rec = recs[kind]
    names = state_sites(rec, kind)
    assert len(names) == learn.model[0].n_layers * (2 if kind == 'zoneout' else 1)   # zoneout on an LSTM: h and c
    it = rec.iterations[-1]
    for name in names:
        site = rec.sites[name]
        assert (site.where, site.p) == ('state', 0.3) and site.label.endswith(f'layer {site.layer + 1}')
        torch.testing.assert_close(rec.mask(name, it), learn.model.get_submodule(name).last_mask)       # what the layer drew in the last batch
        assert rec.at(it).ps[name] == [0.3]

def test_zoneout_records_each_state_with_its_own_p():
    learn, _ = record('zoneout')
    for rnn in learn.model[0].rnns: rnn.state_dp.c.p = 0.6                    # separate p's for c and h
    r = MaskRecorder()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=[r, _Stop()])
    snap = r.record.at(r.record.iterations[-1])
    assert snap.ps['0.rnns.0.state_dp.c'] == [0.6] and snap.ps['0.rnns.0.state_dp.h'] == [0.3]
    assert r.record.sites['0.rnns.1.state_dp.c'].label == 'zoneout on c, layer 2'
    kept = r.record.mask('0.rnns.0.state_dp.c').float().mean()
    assert 0.25 < kept < 0.55                                                  # True = updated: about 1-p of the units

@pytest.mark.parametrize('kind', STATE_KIND_MODES)
def test_drawn_with_a_time_axis_per_step(recs, kind):
    _, rec = recs[kind]
    fig = rec.plot_all_masks()
    per_step = SITE_KINDS[kind].per == 'step'
    for name in state_sites(rec, kind):
        m = rec.mask(name, rec.iterations[-1])
        ax = fig.drawn['artists'][name].axes
        img = fig.drawn['images'][name]
        if per_step:
            assert ax.get_xlabel() == 'time step' and ax.get_ylabel() == 'unit'
            np.testing.assert_array_equal(img, m[0].T.numpy())                    # units × time steps of example 0
            assert img.shape[1] == m.shape[1] > 1
        else:
            assert (ax.get_xlabel(), ax.get_ylabel()) == ('unit', 'example')
            np.testing.assert_array_equal(img, m[:, 0].numpy())
        np.testing.assert_array_equal(mask_picture(m, rec.sites[name]), mask_image(m, rec.sites[name], crop=128)[0].numpy())
    plt.close(fig)

def test_explorer_shows_per_step_sites_over_time(recs, tmp_path):
    from test_docs import chromium, required_chromium
    from test_explorer import load, choose, cells, site_index, shown_iterations, problems
    kinds = ['cell_per_step', 'cell_locked', 'zoneout', 'gru_everywhere_per_step']
    page = write_explorer(tmp_path/'explorer.html', {k: recs[k][1] for k in kinds}, 'State sites')
    exe = required_chromium()
    with chromium(exe) as b:
        b.send('Log.enable')
        for r, kind in enumerate(kinds):
            rec = recs[kind][1]
            assert load(b, page) == []
            choose(b, 'rec', r)
            for name in state_sites(rec, kind):
                choose(b, 'site', site_index(b, name)); choose(b, 'it', 1)
                m = rec.mask(name, shown_iterations(b)[1]).numpy()
                if SITE_KINDS[kind].per == 'step':
                    choose(b, 'example', 2); choose(b, 'step', 3)
                    np.testing.assert_array_equal(cells(b, 0), m[2].T)            # units × time steps of example 2
                    np.testing.assert_array_equal(cells(b, 1), m[:, 3, :])        # examples × units at step 3
                    assert b.js("document.getElementById('step-ctl').hidden") is False
                    assert 'time step' in b.js("document.body.textContent")
                else:
                    np.testing.assert_array_equal(cells(b, 0), m[:, 0, :])
            assert problems(b) == []
