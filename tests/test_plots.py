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
import awd_fastai.plots as plots, awd_fastai.cli as cli, awd_fastai.report as report
from awd_fastai.plots import mask_image, plot_weight_mask

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)

def record(modes=None, every=4) -> MaskRecord:
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    r = MaskRecorder(every=every)
    learn = awd_learner(dls, **SMALL, modes=modes, **DEMO_P)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=r)
    return r.record

@pytest.fixture(scope='module')
def recs(): return record(), record({'embedding': 'per_step', 'input': 'per_step', 'hidden': 'per_step', 'output': 'per_step'})

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
    state = report.record_state_dropout()
    caps = report.write_figures(rec, a, naive, state=state)
    new_caps = report.write_figures(disguised(rec, tmp_path), b, disguised(naive, tmp_path),
                                 state={**state, 'batch': disguised(state['batch'], tmp_path)})   # the DropConnect figure's run too
    assert list(new_caps) == list(caps) == ['unrolled.png', 'cnn_dropout.png', 'embedding.png', 'cell_sites.png', 'state_dropout.png',
                                            'masks.gif', 'naive_vs_locked.png', 'dropconnect.png', 'dropconnect_batches.png',
                                            'all_masks.png', 'mask_grid.png', 'drop_rates.png', 'bptt.png', 'memory_map.png',
                                            'memory.png', 'lm_ablation.png', 'site_effects.png']   # in the article's order, diagrams included
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
    for mod in (plots, cli, report):
        tree = ast.parse(inspect.getsource(mod))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        assert 're' not in imported, mod.__name__
    callers = {f.name for f in ast.walk(ast.parse(inspect.getsource(plots))) if isinstance(f, ast.FunctionDef)
               and any(isinstance(c, ast.Call) and getattr(c.func, 'id', None) == '_site_from_v1' for c in ast.walk(f))}
    assert callers == {'site_label', 'mask_image'}
    with pytest.warns(FutureWarning): mask_image(torch.ones(8, 2, dtype=torch.bool), 'WeightDropout')   # 0.1.0 call: deprecated

def test_drop_rate_lines_of_sites_with_the_same_p_stay_apart(recs):
    "Each site has a panel of its own, with its p dashed and every measured rate inside the panel: no line hides another."
    rec = recs[0]
    lines = rec.plot_drop_rates().drawn['lines']
    ps = {n: rec.sites[n].p for n in lines}
    assert [(a, b) for a in lines for b in lines if a < b and ps[a] == ps[b]]   # the demo's W_hh layers share p ...
    assert len({id(l.axes) for l in lines.values()}) == len(lines)             # ... and are drawn apart, one panel each
    for n, l in lines.items():
        lo, hi = l.axes.get_ylim()
        assert lo <= min(l.get_ydata()) and max(l.get_ydata()) <= hi and lo < ps[n] < hi
        assert [h.get_ydata()[0] for h in l.axes.get_lines()[1:]] == [ps[n]]  # its own p, dashed
    assert all(l.get_marker() not in (None, '', 'None') for l in lines.values())
    plt.close('all')

def _lab(rgb):
    "sRGB (..., 3) in 0..1 -> CIELAB (D65)."
    rgb = np.asarray(rgb, float)[..., :3]
    c = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T / [0.95047, 1, 1.08883]
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)

def colours_apart(colours, colour) -> bool:
    "Every one of `colours` (RGBA rows) looks unlike `colour`: at least 40 apart in CIELAB, and of another hue (30 degrees) where coloured."
    a, b = _lab(colours), _lab(matplotlib.colors.to_rgb(colour))
    hue = lambda x: np.degrees(np.arctan2(x[..., 2], x[..., 1]))
    dh = np.abs((hue(a) - hue(b) + 180) % 360 - 180)
    chroma = np.hypot(a[..., 1], a[..., 2])
    return bool((np.linalg.norm(a - b, axis=-1) >= 40).all() and ((dh >= 30) | (chroma < 15)).all())

def test_the_colour_check_sees_what_the_issue_saw():
    "coolwarm's deepest blue was too close to the dropped navy; the maps used now are not."
    assert not colours_apart(plt.get_cmap('coolwarm')(np.linspace(0, 1, 256)), plots.DROPPED_COLOR)
    assert not colours_apart(plt.get_cmap('magma')(np.linspace(0, 1, 256)), plots.DROPPED_COLOR)   # its black end
    for cm in (plots._value_cmap(), plots._value_cmap('magma', 0.3, 1.)): assert colours_apart(cm(np.linspace(0, 1, 256)), plots.DROPPED_COLOR)

def test_dropped_is_one_colour_that_no_colormap_of_the_figure_uses(recs):
    "In every figure that draws values beside dropped entries, dropped (NaN) is `DROPPED_COLOR` and no colormap comes near it."
    from matplotlib.image import AxesImage
    rec = recs[0]
    w = rec.mask('0.rnns.0.weight_hh_l0')
    figs = [plots.plot_embedding_batches(rec, '0.encoder_dp', weight=torch.randn(len(rec.vocab), 16)), plots.plot_cnn_dropout(),
            plots.plot_weight_batches([torch.randn(w.shape) * w for _ in range(2)], rec.sites['0.rnns.0.weight_hh_l0'], [0, 1]),
            rec.plot_all_masks()]
    for fig in figs:
        ims = fig.findobj(AxesImage)
        assert ims
        for im in ims:
            if im.cmap is plots.mask_cmap: continue                               # the mask's own two colours
            assert colours_apart(im.cmap(np.linspace(0, 1, 256)), plots.DROPPED_COLOR), im.cmap.name
            if np.isnan(np.asarray(im.get_array(), float)).any():                   # dropped entries are drawn ...
                assert matplotlib.colors.to_hex(im.cmap.get_bad()) == plots.DROPPED_COLOR   # ... in the dropped colour
    d = figs[1].drawn
    assert not d['element_kept'].all()                                            # the CNN figure has dropped units to show
    plt.close('all')

def test_dropconnect_vs_state_says_when_its_columns_are_constructed(recs):
    "Without a recorded mask on h(t-1) the column panel is row 0 of the weight mask and its title says so; with one, it is that mask."
    rec = recs[0]
    w = rec.mask('0.rnns.0.weight_hh_l0')                                       # (4·32, 32)
    d = plots.plot_dropconnect_vs_state(w, gates=tuple('ifgo')).drawn
    assert d['constructed'] and 'constructed' in d['artists'][1].axes.get_title()
    np.testing.assert_array_equal(d['columns'], w[0].numpy())
    m = torch.rand(1, 1, 32) > 0.3
    d = plots.plot_dropconnect_vs_state(w, gates=tuple('ifgo'), state=m, used=w & m[0]).drawn
    assert not d['constructed'] and 'recorded' in d['artists'][1].axes.get_title() and len(d['artists']) == 3
    assert (d['state'] == m.reshape(1, -1).numpy()).all()                        # whole columns: every row is the mask
    np.testing.assert_array_equal(d['used'], (w & m[0]).numpy())
    with pytest.raises(ValueError, match='units'): plots.plot_dropconnect_vs_state(w, state=torch.ones(5, dtype=torch.bool))
    plt.close('all')

def test_all_masks_names_every_word_row_and_says_what_it_crops(recs):
    "The word panel names each of its rows; a cropped panel's title says how much it shows, from the whole picture's shape."
    rec = recs[0]
    fig = rec.plot_all_masks(crop=10); d = fig.drawn
    for n, words in d['labels'].items():
        ax = d['artists'][n].axes
        assert words == [str(w) for w in rec.vocab[:len(words)]]
        assert [t.get_text() for t in ax.get_yticklabels()] == [plots._word_label(w) for w in words]   # punctuation quoted
        assert len(words) == d['images'][n].shape[0]
    w = '0.rnns.0.weight_hh_l0'
    assert d['images'][w].shape == (40, 10) and d['full'][w] == (128, 32)
    assert 'first 10×10 per gate\nof 32×32' in d['artists'][w].axes.get_title()
    assert 'first' not in d['artists']['0.hidden_dps.0'].axes.get_title()     # (8, 32) cropped to 10 rows: nothing cut
    plt.close('all')

def test_mask_grid_of_consecutive_batches_says_so():
    rec = record(every=1)
    its = rec.iterations[3:7]
    fig = rec.plot_mask_grid('0.hidden_dps.0', iterations=its); d = fig.drawn
    assert d['iterations'] == its and d['consecutive'] and 'consecutive' in fig.get_suptitle()
    assert all((a != b).any() for a, b in zip(d['images'], d['images'][1:]))   # a new mask at every batch
    d = rec.plot_mask_grid('0.hidden_dps.0', n=4).drawn                        # evenly spaced: not called consecutive
    assert not d['consecutive']
    plt.close('all')

def test_dropped_twice_finds_a_repeated_dropped_word():
    keep = torch.tensor([True, False, True, False])
    assert plots.dropped_twice(torch.tensor([[0, 1, 2, 3], [1, 0, 1, 2]]), keep) == 1    # word 1 dropped, twice in example 1
    assert plots.dropped_twice(torch.tensor([[0, 1, 2, 3]]), keep) is None
    assert plots.dropped_twice(torch.tensor([[1, 0, 1]]), keep, max_tokens=2) is None   # only the first tokens count

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

def test_mask_grid_without_a_name_draws_the_default_site_and_says_which(recs):
    "`rec.plot_mask_grid()` needs no site name, like `rec.show()`: the first site between layers, named in the title."
    rec = recs[0]
    assert rec.default_name() == '0.hidden_dps.0'
    d, named = rec.plot_mask_grid(n=3).drawn, rec.plot_mask_grid('0.hidden_dps.0', n=3).drawn
    for a, b in zip(d['images'], named['images']): np.testing.assert_array_equal(a, b)
    assert d['artists'][0].axes.figure.get_suptitle().startswith(rec.sites['0.hidden_dps.0'].label)
    plt.close('all')

def test_a_recording_where_a_mask_is_expected_says_what_to_pass(recs):
    "`show_mask(rec)`: a TypeError naming `rec.mask(name)` and the sites, and no warning about `rec[name]`, never written."
    import warnings
    rec = recs[0]
    with warnings.catch_warnings():
        warnings.simplefilter('error')                                   # a warning would fail the test
        with pytest.raises(TypeError, match=r"`mask` must be a 2-d keep-mask.*got a `MaskRecord`.*\.mask\(name\).*'0\.input_dp'"):
            plots.show_mask(rec)
        with pytest.raises(TypeError, match=r"got a `MaskSnapshot`.*\.mask\(name\)"): plots.show_mask(rec.at(-1))
        w = rec.mask('0.rnns.0.weight_hh_l0')
        wrong = {   # every public plot of a tensor: the wrong type names the argument and what it must be
            'mask': [lambda x: plots.show_mask(x), lambda x: plots.plot_weight_mask(x), lambda x: plots.plot_embedding_mask(x),
                     lambda x: plots.plot_dropconnect_vs_state(x), lambda x: plots.plot_embedding_matrix(torch.ones(4, 2), mask=x),
                     lambda x: plots.mask_image(x, rec.sites['0.input_dp']),
                     lambda x: plots.plot_dropped_words([1, 2], x, ['a', 'b', 'c'])],
            'naive': [lambda x: plots.plot_naive_vs_locked(x, rec.mask('0.input_dp'))],
            'locked': [lambda x: plots.plot_naive_vs_locked(torch.ones(2, 3, 4, dtype=torch.bool), x)],
            'state': [lambda x: plots.plot_dropconnect_vs_state(w, state=x)],
            'weight': [lambda x: plots.plot_embedding_matrix(x), lambda x: plots.plot_word_neighbours(x, ['a', 'cat'])],
            'x': [lambda x: plots.plot_cnn_dropout(x)],
            'tokens': [lambda x: plots.plot_dropped_words(x, torch.ones(3, 1, dtype=torch.bool), ['a', 'b', 'c'])],
            'per_step': [lambda x: plots.save_time_step_gif(x, torch.ones(2, 1, 4), 'never.gif')],
            'weights': [lambda x: plots.plot_weight_batches([x], rec.sites['0.rnns.0.weight_hh_l0'], [0])]}
        for arg, fns in wrong.items():
            for fn in fns:
                for bad in (rec, 'a string', {'a': 1}):
                    with pytest.raises(TypeError, match=f'`{arg}` must be'): fn(bad)
        for fn in (lambda r: plots.plot_bptt(r, '0.input_dp'), lambda r: plots.plot_embedding_batches(r, '0.encoder_dp')):
            with pytest.raises(TypeError, match=r'`rec` must be a `MaskRecord`'): fn(rec.mask('0.input_dp'))
    plt.close('all')

def test_all_masks_weight_panels_mark_the_gate_blocks_as_dropconnect_does(recs):
    "Each W_hh panel of `plot_all_masks`: a line between gate blocks and the gates' names, as `plot_weight_mask` draws them."
    rec = recs[0]
    fig = rec.plot_all_masks()
    for name in ('0.rnns.0.weight_hh_l0', '0.rnns.1.weight_hh_l0'):
        ax, gates = fig.drawn['artists'][name].axes, rec.sites[name].gates
        assert [t.get_text() for t in ax.get_yticklabels()] == list(gates) == ['i', 'f', 'g', 'o']
        rows = fig.drawn['images'][name].shape[0]
        ref = plot_weight_mask(fig.drawn['images'][name], gates=gates).drawn['artist'].axes
        assert [l.get_ydata()[0] for l in ax.get_lines()] == [l.get_ydata()[0] for l in ref.get_lines()] == [k*rows//4 - 0.5 for k in (1, 2, 3)]
    ax = plot_weight_mask(torch.ones(9, 3, dtype=torch.bool), gates=('r', 'z', 'n')).drawn['artist'].axes   # a GRU's blocks
    assert [t.get_text() for t in ax.get_yticklabels()] == ['r', 'z', 'n']
    plt.close('all')
