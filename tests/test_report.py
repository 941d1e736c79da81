"""The demo report is the illustrated article: sections in the article's order, each with its figure, a one-line reading
and readable text, and every figure showing what its caption claims.

Concept: the claims are checked on the data each figure drew (`Caption.drawn`, i.e. `fig.drawn` of the plot function):
dropped is zero and survivors are scaled by 1/(1-p); `Dropout2d` zeroes whole channels; eval draws no mask; the rows of the
embedding figure are words of the batch's text; a new batch has a new mask; a locked mask on h(t-1) is constant over time
and a per-step one is not (both as recorded); the hidden state goes on across batches while the mask changes. The page
itself is checked in headless Chromium (the DevTools driver of tests/test_docs.py): every section has a loaded figure, a
reading, and figure text at least 9 px at the size the page shows it."""
import contextlib, html, io, os, re, time
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np, pytest, torch
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.report import (train_recorded, write_figures, write_report, record_state_dropout, NAIVE_MODES, REPORT_SECTIONS,
                               REPORT_SITES, Caption)
from awd_fastai.memory import load_results, _select
from awd_fastai.recorder import MaskRecord
from awd_fastai.plots import lm_results
from html.parser import HTMLParser
from test_docs import chromium, required_chromium   # the DevTools-protocol driver of the docs test

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)
PAGE_WIDTH = 1100                                 # the report's max-width (CSS px)

@pytest.fixture(scope='module')
def runs():
    "Two short recorded training runs (AWD-LSTM's dropouts and the per-step contrast) and the recurrent-state recordings."
    torch.set_num_threads(1)
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rec, h1 = train_recorded(dls, None, 1, 5e-3, 1, 42, **SMALL)
        naive, h2 = train_recorded(dls, NAIVE_MODES, 1, 5e-3, 1, 42, **SMALL)
    return rec, naive, {'locked': h1, 'per_step': h2}, record_state_dropout()

@pytest.fixture(scope='module')
def report(runs, tmp_path_factory):
    rec, naive, history, state = runs
    out = tmp_path_factory.mktemp('report')
    caps = write_figures(rec, out, naive, history, state=state)
    write_report(out, caps, 'A short run.')
    plt.close('all')
    return out, caps

def test_sections_follow_the_article_and_every_figure_has_a_reading(report):
    out, caps = report
    assert all(isinstance(c, Caption) and c.reading and c.section in REPORT_SECTIONS for c in caps.values())
    order = list(REPORT_SECTIONS)
    assert [order.index(c.section) for c in caps.values()] == sorted(order.index(c.section) for c in caps.values())  # article order
    assert {c.section for c in caps.values()} == set(REPORT_SITES)             # a short demo-like run fills every figure section
    for f, c in caps.items():
        assert (out/f).stat().st_size > 0, f
        assert not re.search(r'\b\d+\.(rnns|hidden_dps|input_dp|encoder_dp|output_dp)\b', c + c.reading), f   # labels, never module paths

def test_every_figure_is_readable_at_report_width(report):
    "Smallest text of each figure, at the size the page shows it (at most the page width): at least 9 px."
    from PIL import Image
    out, caps = report
    for f, c in caps.items():
        with Image.open(out/f) as im: w = im.size[0]
        px = c.min_font_pt * c.dpi / 72 * min(1, PAGE_WIDTH / w)
        assert px >= 9, f'{f}: smallest text {px:.1f} px at report width'

def test_every_figure_is_readable_at_800_px(report):
    "Every figure of the report, shown 800 px wide (a laptop window, a narrow screen): its smallest text at least 8 px."
    from PIL import Image
    out, caps = report
    for f, c in caps.items():
        with Image.open(out/f) as im: w = im.size[0]
        px = c.min_font_pt * c.dpi / 72 * min(1, 800 / w)
        assert px >= 8, f'{f}: smallest text {px:.1f} px at 800 px wide'

def test_dropped_has_one_colour_no_colormap_of_any_report_figure_uses(report):
    "Across every report figure: a colormap beside the masks never comes near the dropped colour, and NaN (dropped) is drawn in it."
    from test_plots import colours_apart
    from awd_fastai.plots import DROPPED_COLOR, mask_cmap
    mask = mask_cmap(np.linspace(0, 1, 256))
    seen = 0
    for f, c in report[1].items():
        for colours, bad in c.colormaps:
            if np.array_equal(colours, mask): continue                            # the masks' own kept/dropped colours
            seen += 1
            assert colours_apart(colours, DROPPED_COLOR), f
            if bad[3] > 0: assert matplotlib.colors.to_hex(bad) == DROPPED_COLOR, f
    assert seen >= 2                                                           # the CNN and the DropConnect-batches figures at least

def test_dropconnect_columns_are_a_recorded_per_batch_mask_on_h(report, runs):
    "The whole-column panel is the per-batch mask on h(t-1) recorded in the same batch as the DropConnect mask, and the matrix the recurrence used is zero exactly where either dropped."
    batch, used = runs[3]['batch'], runs[3]['batch_weights']
    c = report[1]['dropconnect.png']; d = c.drawn
    from awd_fastai.report import _first
    sn, wn = _first(batch, kind='state_batch'), _first(batch, kind='weight')   # as the figure chooses them: by kind
    it = sorted(used)[-1]
    assert not d['constructed'] and 'recorded' in c
    np.testing.assert_array_equal(d['columns'], batch.mask(sn, it).reshape(-1).numpy())
    assert (d['state'] == d['state'][:1]).all()                                # whole columns
    np.testing.assert_array_equal(d['weight'], batch.mask(wn, it).numpy())
    np.testing.assert_array_equal(d['used'], (used[it] != 0).numpy())
    np.testing.assert_array_equal(d['used'], d['weight'] & d['columns'][None])  # the kernel's zeros: either mask

def test_mask_grid_shows_consecutive_batches_each_with_a_new_mask(report):
    c = report[1]['mask_grid.png']; d = c.drawn
    its = d['iterations']
    assert d['consecutive'] and its == list(range(its[0], its[0] + len(its))) and len(its) == 8
    assert all((a != b).any() for a, b in zip(d['images'], d['images'][1:]))   # "a new mask every batch", batch after batch
    assert 'consecutive' in c and 'evenly spaced' not in c

def test_drop_rates_no_site_hides_another(report):
    lines = report[1]['drop_rates.png'].drawn['lines']
    assert len({id(l.axes) for l in lines.values()}) == len(lines) > 1

def test_all_masks_names_the_dropped_words_and_says_what_is_cropped(report, runs):
    from awd_fastai.report import _panels_text
    rec, c = runs[0], report[1]['all_masks.png']
    d = c.drawn
    emb = next(n for n, s in rec.sites.items() if s.kind == 'embedding')
    words, img = d['labels'][emb], d['images'][emb]
    assert words == [str(w) for w in rec.vocab[:img.shape[0]]]                 # every row named
    gone = [w for w, k in zip(words, img[:, 0]) if not k]
    assert f"dropped in this batch: {', '.join(gone) or 'none of them'}" in c
    fig = rec.plot_all_masks(crop=10); text = _panels_text(rec, fig.drawn)     # the demo's size crops W_hh; the test's is small
    assert 'W_hh, layer 1: cropped to the first 10 of 32 rows of each gate block and the first 10 of 32 columns' in text
    plt.close(fig)

def test_a_dropped_word_is_shown_at_every_occurrence(report, runs):
    "Where a shown batch has a dropped word twice, the text marks it twice and the caption points at it."
    from awd_fastai.plots import dropped_twice
    rec, c = runs[0], report[1]['embedding.png']
    name = next(n for n, s in rec.sites.items() if s.kind == 'embedding')
    its = rec._iters_of(name)
    possible = any(dropped_twice(rec.at(i).tokens_of(name), rec.mask(name, i)) is not None for i in its)
    rep = []
    for b in c.drawn['batches']:
        keep = rec.mask(name, b['iteration']).reshape(-1)
        rep += [t for t in set(b['text']) if not keep[t] and b['text'].count(t) > 1]
    assert bool(rep) == possible                                               # shown whenever the recording has one
    if rep: assert 'occurs' in c and 'dark at every occurrence' in c

def test_captions_show_no_machine_or_repository_paths(report):
    "Commands are shown as a reader types them (no --out/--log paths); no temporary path, no bare repository path (the tutorial is a docs page)."
    from awd_fastai.report import _shown_command
    assert _shown_command('awd-fastai memory --out /tmp/mdef --log experiments/memory/runs.jsonl') == 'awd-fastai memory'
    assert _shown_command('awd-fastai memory --full --out=/tmp/x --workers 2') == 'awd-fastai memory --full --workers 2'
    out, caps = report
    bad = re.compile(r'/tmp/|--out\b|--log\b|(?<![\w.])(nbs|benchmarks|experiments)/')
    for f, c in caps.items():
        if f == 'ablation.png': continue                                       # the ablation's caption: issue 24's part of the section
        assert not bad.search(c + c.reading), f
    head = (out/'index.html').read_text().split('<nav>')[0]
    assert not bad.search(head) and 'Tutorials' in head

def test_one_epoch_is_singular():
    from awd_fastai.core import _n
    assert _n(1, 'epoch') == '1 epoch' and _n(4, 'epoch') == '4 epochs' and _n(1, 'batch', 'batches') == '1 batch'
    assert _n(0, 'recorded batch', 'recorded batches') == '0 recorded batches'

def test_cnn_dropout_scales_survivors_drops_channels_and_eval_does_nothing(report):
    d = report[1]['cnn_dropout.png'].drawn
    x, p = d['x'], d['p']
    np.testing.assert_allclose(d['element'][d['element_kept']], x[d['element_kept']] / (1 - p), rtol=1e-6)   # survivors × 1/(1-p)
    assert (d['element'][~d['element_kept']] == 0).all() and 0 < d['element_kept'].mean() < 1
    per_channel = d['channel_kept'].reshape(len(x), -1)
    assert (per_channel.all(1) | ~per_channel.any(1)).all()                    # Dropout2d: a channel is kept or dropped whole
    np.testing.assert_array_equal(d['eval'], x)                                # eval: no mask, no scaling

def test_embedding_rows_are_the_batch_words_dropped_zero_survivors_scaled(report, runs):
    rec = runs[0]
    d = report[1]['embedding.png'].drawn
    name = next(n for n, s in rec.sites.items() if s.kind == 'embedding')
    b1, b2 = d['batches']
    for b in (b1, b2):
        ids = rec.at(b['iteration']).tokens_of(name)
        assert set(b['ids']) <= set(ids[b['example']].tolist())              # the rows are words of the batch's text
        keep = rec.mask(name, b['iteration']).reshape(-1)
        np.testing.assert_array_equal(b['keep'], keep[b['ids']].numpy())      # dropped as recorded
        np.testing.assert_allclose(b['scale'], np.where(b['keep'], 1 / (1 - d['p']), 0.))
    assert (~b1['keep']).any() or (~b2['keep']).any()                         # dropped words are among the rows
    assert b2['iteration'] == b1['iteration'] + 1                              # two consecutive batches ...
    assert not torch.equal(rec.mask(name, b1['iteration']), rec.mask(name, b2['iteration']))   # ... with different masks

def test_state_masks_are_the_recorded_ones_per_step_changes_locked_does_not(report, runs):
    state = runs[3]
    per, lock = state['per_step'], state['locked']
    pn = next(n for n, s in per.sites.items() if s.kind == 'state_per_step')
    ln = next(n for n, s in lock.sites.items() if s.kind == 'state_locked')
    pm, lm = per.mask(pn), lock.mask(ln)
    assert pm.shape[1] > 1 and lm.shape[1] == 1                                # per step: a time axis; locked: one mask
    d = report[1]['state_dropout.png'].drawn
    np.testing.assert_array_equal(d['per_step'], pm[0, :, :32].T.numpy())     # the recorded per-step masks, step by step
    assert not (d['per_step'] == d['per_step'][:, :1]).all()                  # per step: changes over time
    assert (d['locked'] == d['locked'][:, :1]).all()                          # locked: the same at every step
    np.testing.assert_array_equal(d['locked_mask'], lm[0, 0, :32].numpy())
    frames = report[1]['masks.gif'].drawn['frames']
    assert len(frames) == pm.shape[1]                                          # the GIF runs over time steps
    for t, (a, b) in enumerate(frames):
        assert torch.equal(a, pm[:8, t, :32]) and torch.equal(b, lm[:8, 0, :32])
    assert any(not torch.equal(frames[0][0], a) for a, _ in frames[1:])        # flickers ...
    assert all(torch.equal(frames[0][1], b) for _, b in frames)                # ... and stands still

def test_dropconnect_matrices_are_what_the_kernel_used(report, runs):
    lock, weights = runs[3]['locked'], runs[3]['weights']
    wn = next(n for n, s in lock.sites.items() if s.kind == 'weight')
    site = lock.sites[wn]
    its = sorted(weights)[-2:]
    d = report[1]['dropconnect_batches.png'].drawn
    for k, it, w in zip(d['keep'], its, (weights[i] for i in its)):
        c = min(24, w.shape[1])
        rec_mask = lock.mask(wn, it).reshape(4, -1, w.shape[1])[:, :24, :c].reshape(-1, c).numpy()
        np.testing.assert_array_equal(k, rec_mask)                             # zero exactly where the recorded mask dropped
        raw = w.reshape(4, -1, w.shape[1])[:, :24, :c].reshape(-1, c).numpy()
        assert (raw[~k] == 0).all()
    assert 0 < d['changed'] < 1 and site.gates == tuple('ifgo')                # a new mask at the next batch

def test_between_layers_per_step_and_locked_come_from_the_two_runs(report, runs):
    rec, naive = runs[0], runs[1]
    d = report[1]['naive_vs_locked.png'].drawn
    np.testing.assert_array_equal(d['per_step'], naive.mask('0.input_dp')[0, :, :64].T.numpy())
    assert (d['locked'] == d['locked'][:, :1]).all()
    assert "Zaremba" in report[1]['naive_vs_locked.png'] and 'does not touch the recurrent connection' in report[1]['naive_vs_locked.png']

def test_bptt_hidden_state_goes_on_the_mask_changes(report, runs):
    rec = runs[0]
    d = report[1]['bptt.png'].drawn
    its = d['iterations']
    assert its == list(range(its[0], its[0] + len(its)))                       # consecutive batches
    for m, it in zip(d['masks'], its):
        assert (m == m[:, :1]).all()                                           # one locked mask within a batch
    assert all((a[:, 0] != b[:, 0]).any() for a, b in zip(d['masks'], d['masks'][1:]))   # a new one at every boundary

def test_does_it_matter_quotes_the_committed_results(report):
    "The memory part shows the committed v2 results (the site map and the LSTM headline), says how many runs and up to when, "
    "names no repository path, and its readings quote the measured numbers."
    caps = report[1]
    from awd_fastai.memory import memory_reading, _task_results
    res = load_results('v2')
    c = caps['memory.png']
    assert "memory experiment's committed results" in c and f"{len(res['runs'])} runs of the grid" in c and res['date'][:10] in c
    assert 'experiments/' not in c                                             # the protocol and log are named, not their paths
    lstm = next(iter(_task_results(res).values()))
    T = lstm['runs'][0]['config']['T']
    step = np.mean([r['recall_curve'][T-1] for r in _select(lstm, p=0.25)['state_step']])
    assert f'{step:.2f}' in c.reading                                          # the reading quotes the measured recall
    assert caps['memory_map.png'].reading == memory_reading(res)[0].replace('**', '')   # the map's reading: its first task's numbers
    lm = lm_results()
    c = caps['lm_ablation.png']
    assert f"{lm['n_runs']} runs up to {lm['last_run'][:10]}" in c and 'source repository' in c     # the committed log, never rerun
    assert lm['log'] not in c                                                # and no repository path a pip user lacks

class _Tables(HTMLParser):
    "The cells of every `<table class=\"results\">` of a page: a list of rows (header first) per table."
    def __init__(self): super().__init__(); self.tables, self.cell = [], None
    def handle_starttag(self, tag, attrs):
        if tag == 'table' and 'results' in (dict(attrs).get('class') or '').split(): self.tables.append([])
        elif self.tables and tag == 'tr': self.tables[-1].append([])
        elif self.tables and tag in ('td', 'th'): self.cell = ''
    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self.cell is not None: self.tables[-1][-1].append(self.cell.strip()); self.cell = None
    def handle_data(self, data):
        if self.cell is not None: self.cell += data

def _mean_range(s:dict, d:int=1) -> str:
    return f"{s['mean']:.{d}f}" + (f" [{s['min']:.{d}f}–{s['max']:.{d}f}]" if s['min'] != s['max'] else '')

def test_the_language_model_numbers_are_the_shipped_results(report):
    "The report's table, figure and reading quote `lm_ablation.json` as shipped: every number printed is the JSON's, rounded."
    out, caps = report
    lm = lm_results()
    p = _Tables(); p.feed((out/'index.html').read_text())
    assert len(p.tables) == 1
    head, *rows = p.tables[0]
    rows = {r[0]: dict(zip(head, r)) for r in rows}
    ran = [d for d in lm['schemes'] if d['n']]
    assert list(rows) == [d['label'] for d in ran]                                # every scheme run, in the protocol's order
    for d in ran:
        r = rows[d['label']]
        if not d['n_ranked']: assert r['best valid ppl'] == r['test ppl'] == '–'; continue   # still improving: not ranked
        assert r['best valid ppl'] == _mean_range(d['best_valid']) and r['test ppl'] == _mean_range(d['test_ppl'])
        assert r['best epoch'] == _mean_range(d['best_epoch'], 0)
        shown = r['valid vs AWD-LSTM'].replace('±', '').replace(' %', '')
        assert abs(float(shown) - d['valid_change_pct']) <= 0.05, (d['key'], shown)
        if d['paper_change_pct']: assert abs(float(r['paper: valid vs full'].split(' %')[0]) - d['paper_change_pct']) <= 0.05
    c = caps['lm_ablation.png']
    for k in c.drawn['schemes']:                                                   # the figure: the shipped mean curves
        m = len(c.drawn['valid'][k]); curves = next(d for d in lm['schemes'] if d['key'] == k)['curves']
        assert c.drawn['valid'][k] == curves['valid'][:m] and c.drawn['train'][k] == curves['train'][:m]
    worse = [d['short'] for d in lm['schemes'] if d['vs_awd'] == 'worse']        # the reading names exactly the schemes apart from AWD-LSTM
    assert re.search(re.escape(f"worse beyond the seed ranges: {', '.join(worse) or 'none'}") + '[;.]', c.reading)
    awd = next(d for d in lm['schemes'] if d['key'] == 'awd')
    if awd['n_ranked']: assert f"{awd['best_valid']['mean']:.1f}" in c

def test_the_language_model_figure_is_readable_at_800_px(report):
    "The ablation's figure at 800 px wide (a narrow screen, the README's width): smallest text at least 8 px."
    from PIL import Image
    out, caps = report
    c = caps['lm_ablation.png']
    with Image.open(out/'lm_ablation.png') as im: w = im.size[0]
    assert c.min_font_pt * c.dpi / 72 * min(1, 800 / w) >= 8

def test_formats_and_resolution(runs, tmp_path):
    rec, naive, history, state = runs
    with pytest.raises(ValueError, match='`fmt` must be one of'): write_figures(rec, tmp_path, fmt='jpeg', state=state)
    with pytest.raises(ValueError, match='`dpi` must be a positive integer'): write_figures(rec, tmp_path, dpi=0, state=state)
    caps = write_figures(rec, tmp_path, naive, fmt='svg', state=state)
    assert all(f.endswith('.svg') or f.endswith('.gif') for f in caps) and (tmp_path/'cnn_dropout.svg').read_text().lstrip().startswith('<')
    from PIL import Image
    a, b = tmp_path/'a', tmp_path/'b'
    write_figures(rec, a if a.mkdir() is None else a, fmt='png', dpi=50, state=state)
    write_figures(rec, b if b.mkdir() is None else b, fmt='png', dpi=100, state=state)
    with Image.open(a/'cnn_dropout.png') as x, Image.open(b/'cnn_dropout.png') as y: assert abs(y.size[0] / x.size[0] - 2) < 0.05
    caps = write_figures(rec, tmp_path, fmt='pdf', state=state)
    assert (tmp_path/'cnn_dropout.pdf').read_bytes()[:4] == b'%PDF'
    plt.close('all')

PER_STEP = {'embedding': 'per_step', 'input': 'per_step', 'hidden': 'per_step', 'output': 'per_step'}   # every site between layers per step, the embedding too

def _section(page:str, k:str) -> str:
    "The HTML of section `k` of a report page."
    return page.split(f'<section id="{k}">')[1].split('</section>')[0]

def _kinds(caption:Caption, rec:MaskRecord) -> set:
    return {rec.sites[n].kind for n in caption.drawn['images']}

@pytest.fixture(scope='module')
def per_step_report(tmp_path_factory):
    "A report drawn, as `awd-fastai plot` draws it, from a saved recording whose activation sites are all per step (masks only)."
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp('per_step')
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rec, _ = train_recorded(dls, PER_STEP, 1, 5e-3, 4, 42, **SMALL)
    rec = MaskRecord.load(rec.save(out/'per_step.npz'))
    caps = write_figures(rec, out, state=record_state_dropout())
    write_report(out, caps, 'Per-step run')
    plt.close('all')
    return rec, out, caps, html.unescape((out/'index.html').read_text())

def test_a_per_step_recording_is_described_as_what_was_drawn(per_step_report):
    "Captions follow the drawn sites' kinds: per-step masks are never described as locked, and sections without a figure say what the recording holds."
    rec, out, caps, page = per_step_report
    kinds = {s.kind for s in rec.sites.values()}
    assert {'per_step', 'embedding_per_step'} <= kinds and not {'locked', 'embedding'} & kinds
    assert {'naive_vs_locked.png', 'embedding.png'}.isdisjoint(caps)   # no locked input, no whole-word mask
    assert 'word_neighbours.png' in caps and rec.embedding is not None   # the recording holds the trained embedding (format 3)
    all_masks = caps['all_masks.png']
    assert _kinds(all_masks, rec) == kinds and set(all_masks.drawn['images']) == set(rec.names)   # every site it holds is drawn
    assert 'the same at every step' not in all_masks and 'time steps' in all_masks   # per step: a time axis, never 'the same at every step'
    for n in rec.names: assert rec.sites[n].label in all_masks
    hid = next(n for n, s in rec.sites.items() if s.where == 'hidden')
    assert 'the same at every step' not in caps['mask_grid.png'] and "'per_step'" in caps['mask_grid.png']
    bptt = caps['bptt.png']
    assert (bptt.drawn['masks'][0] != bptt.drawn['masks'][0][:, :1]).any()   # the drawn mask changes within a batch ...
    assert 'every time step' in bptt.reading and 'same at every step' not in bptt.reading   # ... and the reading says so
    assert f"kind '{rec.sites[hid].kind}'" in _section(page, 'bptt').split('</p>')[0]       # the 'Site:' line names what was followed
    emb = _section(page, 'embedding-dropout')
    assert 'embedding_per_step' in emb and 'no site of this kind' not in emb   # it says what the recording holds instead
    assert "'per_step'" in _section(page, 'between-layers')
    assert 'no trained embedding vectors' not in _section(page, 'embeddings')   # drawn from the saved embedding
    assert page.count('<section') == len(REPORT_SECTIONS)

def test_a_locked_recording_is_described_as_locked(report, runs):
    rec, caps = runs[0], report[1]
    assert 'locked' in _kinds(caps['all_masks.png'], rec) and 'the same at every step' in caps['all_masks.png']
    assert 'changes at each boundary' in caps['bptt.png'].reading and 'every time step' not in caps['bptt.png'].reading
    emb = next(n for n, s in rec.sites.items() if s.kind == 'embedding')
    n, V = caps['all_masks.png'].drawn['images'][emb].shape[0], rec.mask(emb).shape[0]
    assert n < V and f'first {n} of the {V} words' in caps['all_masks.png'] and str(rec.vocab[0]) in caps['all_masks.png']   # the first N of V words, named

def test_the_footer_links_only_the_recordings_in_the_folder(per_step_report, report, tmp_path):
    rec, out, caps, page = per_step_report
    links = re.findall(r'href="([^"#]+)"', page)
    assert all((out/l).is_file() for l in links if not l.startswith('http'))   # every link is a file of the folder
    assert 'per_step.npz' in links and 'masks.npz' not in page                 # the recording that is there, not the demo's names
    write_report(tmp_path, caps, 'No recordings')                              # a folder without any recording
    assert '.npz' not in (tmp_path/'index.html').read_text().split('</section>')[-1]

def test_texts_make_no_unmeasured_claims(report):
    "No caption, reading or introduction calls a scheme harmful or says why something works: the measurements don't show that."
    texts = [t for _, _, t in REPORT_SECTIONS.values()] + [x for c in report[1].values() for x in (c, c.reading)]
    for t in texts: assert not re.search(r'harmful|works because', t), t
    cap = report[1]['state_dropout.png']
    assert 'Left, per step' in cap and 'Right, locked' in cap                  # the two panels' schemes, not the same label twice
    assert 'left per step' in report[1]['masks.gif'] and 'right locked' in report[1]['masks.gif']

def test_the_memory_caption_quotes_only_the_lines_drawn(report):
    "Item 4 of the newcomer's report: the LSTM headline's caption gives recall and steps for the schemes the figure draws "
    "(`fig.drawn['runs']`) and no other, with those schemes' seed counts."
    from awd_fastai.memory import SCHEMES
    c = report[1]['memory.png']; drawn = c.drawn['runs']
    for s, (name, *_) in SCHEMES.items():
        assert bool(re.search(r'(?:: |; )' + re.escape(name) + r' \d', c)) == (s in drawn), (s, str(c))
    seeds = {len(rs) for rs in drawn.values()}
    assert len(seeds) > 1 or (re.search(rf'\b{seeds.pop()} seeds, mean', c) and ' for ' not in c.split(' seeds')[1][:6])

def test_the_learning_curve_names_its_runs(report):
    "Title, legend and caption of the two runs: how many, and each by its dropouts."
    c = report[1]['learning_curve.png']
    assert c.drawn['title'] == 'Learning curves of the two runs'
    assert c.drawn['labels'] == {'locked': "AWD-LSTM's locked dropouts", 'per_step': 'per-step dropouts between layers'}
    assert "demo" not in c and c.startswith("AWD-LSTM's locked dropouts against per-step dropouts between layers")

def test_every_line_of_the_learning_curve_has_markers(report):
    "With one epoch each line is a single point: only a marker shows it."
    d = report[1]['learning_curve.png'].drawn
    assert len(d['markers']) == 2 * len(d['history']) and all(m not in (None, '', 'None') for m in d['markers'])

def test_the_prose_sections_have_diagrams_that_say_so(report):
    "Motivation, the recurrent layer and the closing remark each show a diagram drawn by code, captioned as one (never as recorded)."
    from awd_fastai.diagrams import cell_site_kinds, awd_lstm_sites
    by = {c.section: (f, c) for f, c in report[1].items() if c.section in ('motivation', 'recurrent', 'closing')}
    assert set(by) == {'motivation', 'recurrent', 'closing'}
    for f, c in by.values(): assert 'a diagram drawn by code, not a recording' in c.lower(), f
    d = by['motivation'][1].drawn
    assert (d['per_step_drawn'][1] != d['per_step_drawn'][0]).any()             # per step: the mask at t=1 differs from t=0
    assert all((w == d['weight']).all() for w in d['weight_drawn'])             # AWD-LSTM: one W_hh mask, the same at every step
    d = by['recurrent'][1].drawn
    assert set(d['markers']) == set(cell_site_kinds('lstm')) and d['awd'] == awd_lstm_sites('lstm')   # every site of the cell, AWD-LSTM's marked
    d, reading = by['closing'][1].drawn, by['closing'][1].reading
    assert d['chips'] and all(f"{s} on {on}" in reading for (on, s), e in d['chips'].items() if e not in ('none', 'rerun pending'))

def test_the_readability_check_counts_tick_labels():
    from awd_fastai.report import _min_font_pt
    fig, ax = plt.subplots(); ax.plot([0, 1]); ax.set_title('title'); ax.tick_params(labelsize=5)
    assert _min_font_pt(fig) == 5                                              # tick labels are text too (they get it at draw time)
    plt.close(fig)

@pytest.fixture(scope='module')
def browser():
    exe = required_chromium()
    with chromium(exe) as b: yield b

SECTIONS_JS = """[...document.querySelectorAll('section')].map(s => ({
  id: s.id, title: s.querySelector('h2, h3').innerText, prose: (s.querySelector('.prose') || {}).innerText || '', site: (s.querySelector('.site') || {}).innerText || '',
  figures: [...s.querySelectorAll('figure')].map(f => { const i = f.querySelector('img'); return {
    src: i.getAttribute('src'), natural: i.naturalWidth, shown: i.getBoundingClientRect().width, complete: i.complete,
    pt: parseFloat(i.dataset.minFontPt), dpi: parseFloat(i.dataset.dpi),
    reading: (f.querySelector('.reading') || {}).innerText || '', caption: f.querySelector('figcaption').innerText,
    font: parseFloat(getComputedStyle(f.querySelector('figcaption')).fontSize)}})}))"""

def test_the_report_in_chromium(report, browser):
    out, caps = report
    bad = browser.open((out/'index.html').as_uri() + '?' + str(time.time()))
    assert bad == []                                                           # nothing failed, nothing left file://
    sections = browser.js(SECTIONS_JS)
    assert [s['id'] for s in sections] == list(REPORT_SECTIONS)                # the article's order
    toc = browser.js("[...document.querySelectorAll('nav a')].map(a => a.getAttribute('href'))")
    assert toc == [f'#{k}' for k in REPORT_SECTIONS]                           # a table of contents
    for s in sections:
        if s['id'] not in REPORT_SITES:                                        # a section of prose only ('Does it matter?', ...)
            assert not s['figures'] and len(s['prose']) > 100, s['id']; continue
        assert s['site'].startswith('Site:'), s['id']                          # each figure section names its site
        assert s['figures'], f"{s['id']}: no figure"
        for f in s['figures']:
            assert f['complete'] and f['natural'] > 0, f['src']               # loaded
            assert f['reading'].startswith('Reading:') and len(f['reading']) > 20, f['src']
            assert f['font'] >= 9 and f['caption'].strip()
            px = f['pt'] * f['dpi'] / 72 * f['shown'] / f['natural']           # smallest figure text as displayed
            assert px >= 9, f"{f['src']}: smallest text {px:.1f} px as shown"
            assert f['shown'] <= PAGE_WIDTH + 2                       # within the page (+ its 1 px border)
    assert browser.js("document.body.innerText").count('Reading:') == len(caps)

def test_the_state_run_leaves_the_global_random_state_alone():
    "The report's extra recorded run is seeded on its own: the caller's random streams go on as if it had not run."
    import random
    def draws(): return random.random(), float(np.random.rand()), float(torch.rand(1))
    random.seed(1); np.random.seed(1); torch.manual_seed(1); expected = draws()
    random.seed(1); np.random.seed(1); torch.manual_seed(1); record_state_dropout()
    assert draws() == expected
