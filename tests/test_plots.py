"""Plots, captions and the command line read what a mask is from its `DropoutSite`, never from its name or its shape:
renamed and relabelled sites are drawn in the same places with the new labels, described gate blocks decide the crop and the
labels, a kind that no view knows gets the generic picture, and `write_figures` chooses and captions sites by description."""
import ast, inspect, re
from dataclasses import replace
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np, pytest, torch
from awd_fastai.core import DEMO_P
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.dropout import DropoutSite
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder, MaskRecord
import awd_fastai.plots as plots, awd_fastai.cli as cli
from awd_fastai.plots import mask_image, plot_weight_mask

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)

def record(modes=None, every=4) -> MaskRecord:
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    r = MaskRecorder(every=every)
    learn = awd_learner(dls, **SMALL, modes=modes, **DEMO_P)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=r)
    return r.record

@pytest.fixture(scope='module')
def recs(): return record(), record({'embed': 'naive', 'input': 'naive', 'hidden': 'naive', 'output': 'naive'})

def disguised(rec:MaskRecord, tmp:Path, **changes) -> MaskRecord:
    "A copy of `rec` whose sites have opaque names (in reverse model order) and upper-case labels (plus `changes`)."
    r = MaskRecord.load(rec.save(tmp/f'{id(rec)}.npz'))
    r._sites = [(f'x{len(r._sites) - i}', replace(s, label=s.label.upper(), **changes.get(n, {}))) for i, (n, s) in enumerate(r._sites)]
    r._index = {n: i for i, (n, _) in enumerate(r._sites)}
    return r

def test_plot_all_masks_follows_descriptions_not_names(recs, tmp_path):
    rec = recs[0]
    new = disguised(rec, tmp_path)
    a, b = rec.plot_all_masks(fig=plt.figure()).drawn['artists'], new.plot_all_masks(fig=plt.figure()).drawn['artists']
    assert [rec.sites[n].where for n in a] == [new.sites[n].where for n in b] == ['embedding', 'input', 'weight', 'hidden', 'weight', 'output']
    for (n, im), (m, im2) in zip(a.items(), b.items()):
        np.testing.assert_array_equal(im.get_array(), im2.get_array())
        assert im2.axes.get_title().split('\n')[0] == rec.sites[n].label.upper()
        assert im2.axes.get_xlabel() == im.axes.get_xlabel() and im2.axes.get_ylabel() == im.axes.get_ylabel()
    plt.close('all')

def test_gate_blocks_come_from_the_description(recs):
    "The same LSTM W_hh mask, described with 4, 2 or no blocks, is cropped and labelled as described."
    rec = recs[0]
    site, w = rec.sites['0.rnns.0.weight_hh_l0'], rec.mask('0.rnns.0.weight_hh_l0')          # (4·32, 32)
    img, (xl, yl) = mask_image(w, site, crop=5)
    np.testing.assert_array_equal(img, w.reshape(4, 32, 32)[:, :5, :5].reshape(20, 5))
    assert (xl, yl) == ('h(t-1) unit', 'gate row')
    img, _ = mask_image(w, replace(site, gates=('a', 'b')), crop=5)
    np.testing.assert_array_equal(img, w.reshape(2, 64, 32)[:, :5, :5].reshape(10, 5))
    img, (xl, yl) = mask_image(w, replace(site, gates=()), crop=5)
    np.testing.assert_array_equal(img, w[:5, :5])
    assert (xl, yl) == ('input', 'output')
    ticks = lambda g: [t.get_text() for t in plot_weight_mask(w, gates=g).drawn['artist'].axes.get_yticklabels()]
    assert ticks(tuple('ifgo')) == list('ifgo') and ticks(('a', 'b')) == ['a', 'b']
    assert ticks(()) != list('ifgo')                                           # no blocks described: none drawn
    plt.close('all')

def test_a_kind_without_a_view_gets_the_generic_picture(recs, tmp_path):
    rec = recs[0]
    new = disguised(rec, tmp_path, **{'0.hidden_dps.0': dict(kind='recurrent_state_mask')})
    name = next(n for n, s in new.sites.items() if s.kind == 'recurrent_state_mask')
    ims = new.plot_all_masks(fig=plt.figure()).drawn['artists']
    m = new.mask(name)                                                         # (bs, 1, n): the last two axes of its first index
    np.testing.assert_array_equal(ims[name].get_array(), m[0][:48, :48])
    new.show(name); new.plot_mask_grid(name, n=3); new.save_mask_gif(name, tmp_path/'g.gif', n=3)
    plt.close('all')

def test_cli_figures_and_captions_follow_descriptions(recs, tmp_path):
    "`write_figures` on disguised recordings: every figure, chosen by `where`/`kind`, drawn from the same data and captioned with the sites' labels."
    rec, naive = recs
    a, b = tmp_path/'a', tmp_path/'b'
    a.mkdir(); b.mkdir()
    state = cli.record_state_dropout()
    caps = cli.write_figures(rec, a, naive, state=state)
    new_caps = cli.write_figures(disguised(rec, tmp_path), b, disguised(naive, tmp_path), state=state)
    assert list(new_caps) == list(caps) == ['cnn_dropout.png', 'embedding.png', 'state_dropout.png', 'masks.gif', 'naive_vs_locked.png',
                                            'dropconnect.png', 'dropconnect_batches.png', 'all_masks.png', 'mask_grid.png',
                                            'drop_rates.png', 'bptt.png', 'memory.png', 'lm_ablation.png']
    assert 'W_HH, LAYER 1' in new_caps['dropconnect.png'] and 'i, f, g, o' in new_caps['dropconnect.png']
    assert 'BETWEEN LAYERS 1 AND 2' in new_caps['mask_grid.png'] and 'BETWEEN LAYERS 1 AND 2' in new_caps['bptt.png']
    assert 'INPUT' in new_caps['naive_vs_locked.png']
    same = lambda x, y: (np.testing.assert_array_equal(x, y) if isinstance(x, np.ndarray) else None)
    for f in ('naive_vs_locked.png', 'dropconnect.png', 'bptt.png'):
        for k in ('per_step', 'locked', 'weight', 'state', 'image'):
            if k in caps[f].drawn: same(caps[f].drawn[k], new_caps[f].drawn[k])   # the same pictures from the same masks
    for x, y in zip(caps['embedding.png'].drawn['batches'], new_caps['embedding.png'].drawn['batches']):
        assert x['words'] == y['words'] and (x['keep'] == y['keep']).all()
    plt.close('all')

def test_mask_grid_with_fewer_iterations_than_panels_leaves_no_empty_axes(recs):
    rec = recs[0]
    fig = plt.figure(figsize=(16, 3))
    rec.plot_mask_grid('0.hidden_dps.0', n=len(rec) + 5, axs=fig.subplots(1, len(rec) + 5))
    assert len(fig.axes) == len(rec) == len(fig.drawn['images'])
    plt.close('all')

def test_plot_functions_return_the_figure_with_what_they_drew(recs):
    "The one return rule: a `Figure`, whose `drawn` holds the data behind the picture."
    from matplotlib.figure import Figure
    rec = recs[0]
    figs = [rec.plot_all_masks(), rec.plot_mask_grid('0.input_dp', n=3), rec.plot_drop_rates(), rec.show('0.input_dp'),
            plots.show_mask(torch.ones(3, 4, dtype=torch.bool)), plots.plot_cnn_dropout(), plots.plot_ablation(), plots.plot_lm_curves(),
            plots.plot_embedding_batches(rec, '0.encoder_dp'), plots.plot_bptt(rec, '0.hidden_dps.0')]
    for f in figs: assert isinstance(f, Figure) and isinstance(f.drawn, dict) and f.drawn
    plt.close('all')

def test_no_name_or_shape_parsing_in_plots_and_cli():
    "Static guard: neither module uses regular expressions; the only name translation is called from deprecated paths."
    for mod in (plots, cli):
        tree = ast.parse(inspect.getsource(mod))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        assert 're' not in imported, mod.__name__
    callers = {f.name for f in ast.walk(ast.parse(inspect.getsource(plots))) if isinstance(f, ast.FunctionDef)
               and any(isinstance(c, ast.Call) and getattr(c.func, 'id', None) == '_site_from_v1' for c in ast.walk(f))}
    assert callers == {'site_label', 'mask_image'}
    with pytest.warns(FutureWarning): mask_image(torch.ones(8, 2, dtype=torch.bool), 'WeightDropout')   # 0.1.0 call: deprecated

def test_drop_rate_lines_of_sites_with_the_same_p_stay_apart(recs):
    "Sites with the same p have their own colour and marker, and each p is one dashed line: no measured line hides another."
    rec = recs[0]
    lines = rec.plot_drop_rates().drawn['lines']
    ps = {n: rec.sites[n].p for n in lines}
    same = [(a, b) for a in lines for b in lines if a < b and ps[a] == ps[b]]
    assert same                                                                # the demo's W_hh layers share p
    for a, b in same:
        la, lb = lines[a], lines[b]
        assert (la.get_marker(), la.get_color()) != (lb.get_marker(), lb.get_color())
    assert all(l.get_marker() not in (None, '', 'None') for l in lines.values())
    plt.close('all')

def test_ablation_text_has_no_markup_and_no_signed_zero():
    "A change that rounds to zero reads ±0.0 %, never -0.0 %; figure text carries no Markdown backticks."
    from matplotlib.text import Text
    res = dict(metric='validation perplexity', command='`python benchmarks/quality.py`', date='2026-01-01',
               runs=[dict(run='awd_fastai (all)', val_ppl=100.0), dict(run='tiny change', val_ppl=99.996), dict(run='worse', val_ppl=103.0)])
    fig = plots.plot_ablation(res); fig.canvas.draw()
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert not any('`' in t for t in texts)
    labels = [t for t in texts if '%' in t]
    assert any('±0.0 %' in t for t in labels) and any('+3.0 %' in t for t in labels)
    assert not any(re.search(r'[-+]0\.0 %', t) for t in labels)
    plt.close('all')

def test_all_masks_panels_fit_the_page_in_rows(recs):
    "More than four sites: two rows of panels, a figure no wider than the report (10 in), each panel named."
    rec = recs[0]
    fig = rec.plot_all_masks(); d = fig.drawn
    assert len(rec.names) > 4 and fig.get_figwidth() <= 10
    assert len({round(ax.get_position().y0, 2) for ax in fig.axes if ax.get_images()}) == 2
    assert d['n_calls'] > 1 or "the batch's only forward pass" in fig.get_suptitle()   # 'call 1 of 1' said plainly
    plt.close('all')
