"""The explorer page in headless Chromium, and the TensorBoard callback read back from its event file.

Concept: what the page draws is what was recorded. Loaded from file:// it logs no error and fetches nothing; moving the
iteration slider redraws the canvas with that iteration's recorded mask, pixel for pixel; pointing at a cell says what the
cell is (word, example, time step, unit, gate and h(t-1) unit) and whether it was kept or dropped; the time step control
of a per-step site shows the mask at that step; a kind no view knows gets the generic view by its axes; the page stays
within its size bound at the demo's size. TensorBoard: the pictures in the event file are the recorded masks, the scalars
the recorded drop rates and p, and the file stays within its byte budget.

Chromium is Debian's `chromium` package (`.ci/run` installs it): without it the browser tests are skipped on a developer
machine and fail in CI (`CI` set), as in tests/test_docs.py, whose DevTools-protocol driver they use."""
import io, json, math, os, re, subprocess, sys, time, warnings, zipfile
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from awd_fastai.core import DEMO_P
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.dropout import DropoutSite
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder, MaskRecord, pack_mask, _Batch, _Mask
from awd_fastai.plots import KEPT_COLOR, DROPPED_COLOR
from awd_fastai.explorer import write_explorer, explorer_html, NONE_COLOR, _ASSETS
from awd_fastai.tensorboard import mask_picture, MaskTensorBoardCallback
from test_docs import ROOT, chromium, required_chromium   # the DevTools-protocol driver of the docs test

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)
NAIVE = {'embedding': 'per_step', 'input': 'per_step', 'hidden': 'per_step', 'output': 'per_step'}
rgb = lambda c: tuple(int(c[i:i+2], 16) for i in (1, 3, 5))
CELL = {rgb(DROPPED_COLOR): 0, rgb(KEPT_COLOR): 1, rgb(NONE_COLOR): 2}   # the page's colours, back to dropped / kept / no element

def record(modes=None, every=1, **kw) -> MaskRecord:
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    r = MaskRecorder(every=every, **kw)
    learn = awd_learner(dls, **SMALL, modes=modes, **DEMO_P)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=r)
    return r.record

def synthetic(sites:dict, n:int, vocab:int=2000, tokens=(32, 35), calls:int=1, seed:int=0) -> MaskRecord:
    "A record of `n` iterations of random masks, `calls` forward calls each: `sites` is `{name: (DropoutSite, shape)}`; each call has token ids."
    g, rec = np.random.default_rng(seed), MaskRecord()
    rec.vocab = [f'w{i}' for i in range(vocab)]
    idx = {name: rec._add_site(name, site) for name, (site, _) in sites.items()}
    for it in range(n):
        parts, masks, off = [], [], 0
        for c in range(calls):
            for name, (site, shape) in sites.items():
                q = pack_mask(torch.from_numpy(g.random(shape) >= site.p)).numpy()
                masks.append(_Mask(idx[name], c, c, off, tuple(shape), site.p)); parts.append(q); off += len(q)
        ids = g.integers(0, vocab, calls * math.prod(tokens)).astype(np.int32)
        rec._add(_Batch(it, it // 100, np.concatenate(parts), tuple(masks), ids, (tokens,) * calls))
    return rec

def odd() -> MaskRecord:
    "Sites of kinds the page has no view for ('brand_new'), or that may have no `SITE_KINDS` entry yet (the recurrent-state kinds)."
    return synthetic({'x.state': (DropoutSite('state_batch', label='state, one mask per batch', p=0.3), (1, 1, 40)),
                      'x.locked': (DropoutSite('state_locked', label='state, one mask per example', p=0.2), (3, 1, 9)),
                      'x.cube': (DropoutSite('brand_new', label='a new kind', p=0.5), (3, 5, 7))}, 4, tokens=(3, 5), calls=2)

@pytest.fixture(scope='module')
def recs(): return record(), record(NAIVE)

@pytest.fixture(scope='module')
def page(recs, tmp_path_factory):
    "The page of both runs (and a record whose kinds no view knows), and its shown iterations."
    path = write_explorer(tmp_path_factory.mktemp('explorer')/'explorer.html', {'locked': recs[0], 'naive': recs[1], 'odd': odd()}, 'Test page')
    return path

@pytest.fixture(scope='module')
def browser(page):
    exe = required_chromium()
    with chromium(exe) as b:
        b.send('Log.enable')
        yield b

def problems(b) -> list:
    "Console errors and warnings, browser log errors, exceptions, failed requests and requests that left file:// (since the last `open`)."
    out = [f"console.{e['params']['type']}: {e['params']['args']}" for e in b.events
           if e['method'] == 'Runtime.consoleAPICalled' and e['params']['type'] in ('error', 'warning', 'assert')]
    out += [f"log: {e['params']['entry']['text']}" for e in b.events if e['method'] == 'Log.entryAdded' and e['params']['entry']['level'] == 'error']
    out += [f"exception: {e['params']['exceptionDetails']}" for e in b.events if e['method'] == 'Runtime.exceptionThrown']
    return out

def load(b, page:Path, where:str=''):
    "Open the page at `#where` (a fresh load), wait until it has drawn; return what went wrong while it loaded."
    bad = b.open(page.as_uri() + '?' + str(time.time()) + where)   # a new URL each time: a real load, not a hash change
    b.wait_js('document.body.dataset.ready')
    return bad + problems(b)

def cells(b, k:int=0) -> np.ndarray:
    "The cells of canvas `panel-k`, read back from its pixels: 0 dropped, 1 kept, 2 no element."
    px = b.js(f"(c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data))(document.getElementById('panel-{k}'))")
    h = b.js(f"document.getElementById('panel-{k}').height")
    px = np.array(px, np.int64).reshape(h, -1, 4)
    assert (px[..., 3] == 255).all()
    return np.vectorize(lambda r, g, bl: CELL[(r, g, bl)])(px[..., 0], px[..., 1], px[..., 2])

def choose(b, control:str, value):
    "Set a control as a user would: its value, then the event the page listens to."
    ev = 'change' if control in ('rec', 'site') else 'input'
    b.js(f"(e => {{ e.value = {json.dumps(str(value))}; e.dispatchEvent(new Event('{ev}')); return 1 }})(document.getElementById('{control}'))")

def point(b, k:int, i:int, j:int) -> str:
    "Move the mouse onto cell (row i, column j) of canvas `panel-k` (a real mouse event through DevTools); return the hover text."
    b.js(f"document.getElementById('panel-{k}').scrollIntoView({{block: 'center'}}); 1")
    r = b.js(f"(c => {{ const r = c.getBoundingClientRect(); return [r.left, r.top, r.width / c.width, r.height / c.height] }})(document.getElementById('panel-{k}'))")
    x, y = r[0] + (j + 0.5) * r[2], r[1] + (i + 0.5) * r[3]
    b.send('Input.dispatchMouseEvent', type='mouseMoved', x=x, y=y)
    return b.js("document.getElementById('hover').textContent")

def site_index(b, name:str) -> int:
    return b.js(f"[...document.getElementById('site').options].findIndex(o => o.textContent.includes('({name},'))")

def shown_iterations(b) -> list:
    return b.js("RECS[document.getElementById('rec').value].its.map(x => x[0])")

kd = lambda v: 'kept' if v else 'dropped'

def test_loads_with_no_error_and_no_request(browser, page):
    assert load(browser, page) == []
    assert page.stat().st_size < 10 * 2**20
    html = page.read_text()
    assert not re.search(r'<(script|img|link|iframe)[^>]*\s(src|href)="(?!data:)', html)    # nothing to fetch
    for control in ('rec', 'site', 'it', 'call', 'example', 'step'):                           # every control has a label
        assert browser.js(f"document.querySelector('label[for={control}]') !== null")

def test_slider_draws_the_mask_of_that_iteration(browser, page, recs):
    rec = recs[0]
    assert load(browser, page) == []
    choose(browser, 'site', site_index(browser, '0.input_dp'))
    its = shown_iterations(browser)
    assert its == rec.iterations                               # a small recording: every iteration is on the page
    seen = []
    for pos in (0, 3, len(its) - 1):
        choose(browser, 'it', pos)
        got = cells(browser, 0)                                # examples × units
        np.testing.assert_array_equal(got, rec.mask('0.input_dp', its[pos])[:, 0, :].numpy())
        stripes = cells(browser, 1)                            # units × time steps of example 0: locked, the same at every step
        np.testing.assert_array_equal(stripes, np.repeat(rec.mask('0.input_dp', its[pos])[0, 0, :].numpy()[:, None], stripes.shape[1], 1))
        seen.append(got)
    assert not (seen[0] == seen[1]).all()                      # a new mask every batch: the canvas changed
    choose(browser, 'it', 2)
    browser.js("document.activeElement.blur(); 1")
    browser.send('Input.dispatchKeyEvent', type='keyDown', key='ArrowRight', code='ArrowRight', windowsVirtualKeyCode=39)
    np.testing.assert_array_equal(cells(browser, 0), rec.mask('0.input_dp', its[3])[:, 0, :].numpy())   # the arrow key: next iteration
    assert problems(browser) == []

def test_weight_view_and_hover_name_gate_and_units(browser, page, recs):
    rec, name = recs[0], '0.rnns.0.weight_hh_l0'
    site = rec.sites[name]
    assert load(browser, page) == []
    choose(browser, 'site', site_index(browser, name)); choose(browser, 'it', 5)
    it = shown_iterations(browser)[5]
    m = rec.mask(name, it).numpy()                             # (4·32, 32): gate blocks i, f, g, o
    np.testing.assert_array_equal(cells(browser, 0), m)
    nh = m.shape[0] // len(site.gates)
    for i, j in ((0, 0), (nh + 7, 3), (3*nh + nh - 1, m.shape[1] - 1)):
        gate = site.gates[i // nh]
        assert point(browser, 0, i, j) == f"gate {gate}, unit {i % nh} (row {i}) \u2190 h(t-1) unit {j}: {kd(m[i, j])}"
    assert browser.js("[...document.querySelectorAll('.blabel')].map(e => e.textContent).join('')") == ''.join(site.gates)

def test_embedding_text_and_vocabulary_hover(browser, page, recs):
    rec, name = recs[0], '0.encoder_dp'
    assert load(browser, page) == []
    choose(browser, 'site', site_index(browser, name)); choose(browser, 'it', 4)
    it = shown_iterations(browser)[4]
    m, ids = rec.mask(name, it)[:, 0].numpy(), rec.at(it).tokens_of(name).numpy()
    grid = cells(browser, 0)                                   # the vocabulary, 64 words per row, the rest grey
    np.testing.assert_array_equal(grid.reshape(-1)[:len(m)], m)
    assert (grid.reshape(-1)[len(m):] == 2).all()
    wid = int(np.flatnonzero(~m)[0])                           # a dropped word
    assert point(browser, 0, wid // 64, wid % 64) == f"word \u201c{rec.vocab[wid]}\u201d (id {wid}): dropped"
    words = browser.js("[...document.querySelectorAll('#text .w')].map(w => [w.textContent, w.classList.contains('dropped')])")
    assert words == [[rec.vocab[t], not m[t]] for t in ids.reshape(-1)]   # the batch's text, every dropped word marked

def test_per_step_time_step_selection(browser, page, recs):
    naive, name = recs[1], '0.input_dp'
    assert load(browser, page) == []
    choose(browser, 'rec', 1); choose(browser, 'site', site_index(browser, name)); choose(browser, 'it', 2)
    it = shown_iterations(browser)[2]
    m = naive.mask(name, it).numpy()                           # (bs, seq_len, n): a fresh mask at every step
    ids = naive.at(it).tokens_of(name).numpy()
    for e, t in ((0, 0), (3, 7), (5, m.shape[1] - 1)):
        choose(browser, 'example', e); choose(browser, 'step', t)
        np.testing.assert_array_equal(cells(browser, 0), m[e].T)       # units × time steps of example e
        np.testing.assert_array_equal(cells(browser, 1), m[:, t, :])   # examples × units at time step t
        u = 11
        assert point(browser, 1, 2, u) == f"example 2, time step {t} (\u201c{naive.vocab[ids[2, t]]}\u201d), unit {u}: {kd(m[2, t, u])}"
    assert browser.js("document.getElementById('step-ctl').hidden") is False
    choose(browser, 'rec', 0)                                  # a locked site has no time step control
    choose(browser, 'site', site_index(browser, name))
    assert browser.js("document.getElementById('step-ctl').hidden") is True
    assert problems(browser) == []

def test_kinds_without_a_view_get_the_generic_view(browser, page):
    assert load(browser, page) == []
    choose(browser, 'rec', 2)
    rec = odd()                                                # the page's third recording (the same seed)
    choose(browser, 'site', site_index(browser, 'x.state')); choose(browser, 'it', 1)
    m = rec.mask('x.state', 1).reshape(-1).numpy()             # one axis of size > 1: wrapped, 64 per row, named by `site.axes`
    np.testing.assert_array_equal(cells(browser, 0).reshape(-1)[:40], m)
    unit = (rec.sites['x.state'].axes or ('', '', 'axis 2'))[2] or 'axis 2'
    assert point(browser, 0, 0, 5) == f"{unit} 5: {kd(m[5])}"
    choose(browser, 'site', site_index(browser, 'x.cube'))
    m = rec.mask('x.cube', 1).numpy()
    np.testing.assert_array_equal(cells(browser, 0), m[0])    # its last two axes, the first index of the others
    assert browser.js("document.getElementById('call-ctl').hidden") is False   # two forward calls in each iteration: choose one
    choose(browser, 'call', 1)
    np.testing.assert_array_equal(cells(browser, 0), rec.mask('x.cube', 1, call=1).numpy()[0])
    choose(browser, 'site', site_index(browser, 'x.locked'))   # a kind whose row (SITE_KINDS) names the locked view
    m = rec.mask('x.locked', 1, call=1).numpy()
    np.testing.assert_array_equal(cells(browser, 0), m[:, 0, :])
    np.testing.assert_array_equal(cells(browser, 1), np.repeat(m[0, 0, :, None], 5, 1))   # the same at each of the 5 steps
    assert problems(browser) == []

def test_page_stays_within_its_bound_at_the_demo_size():
    "The demo's two recordings (336 iterations each, masks of the demo's shapes) fit the default bound of 8 MiB, and the page says what it left out."
    locked = {'emb': (DropoutSite('embedding', 'embedding', label='embedding', p=0.1), (1960, 1)),
              'inp': (DropoutSite('locked', 'input', label='input', p=0.6), (32, 1, 64)),
              'w0': (DropoutSite('weight', 'weight', 0, tuple('ifgo'), 'W_hh, layer 1', 0.5), (640, 160)),
              'hid': (DropoutSite('locked', 'hidden', 0, label='between', p=0.2), (32, 1, 160)),
              'w1': (DropoutSite('weight', 'weight', 1, tuple('ifgo'), 'W_hh, layer 2', 0.5), (256, 64)),
              'out': (DropoutSite('locked', 'output', label='output', p=0.4), (32, 1, 64))}
    naive = {**{k: (DropoutSite('per_step', s.where, s.layer, label=s.label, p=s.p), (shape[0], 35, shape[2]))
                  for k, (s, shape) in locked.items() if s.kind == 'locked'},
             'emb': (DropoutSite('embedding_per_step', 'embedding', label='embedding', p=0.1), (32, 35, 64)),
             'w0': locked['w0'], 'w1': locked['w1']}
    t0 = time.time()
    html = explorer_html({'locked': synthetic(locked, 336), 'naive': synthetic(naive, 336, seed=1)})
    took = time.time() - t0
    assert len(html.encode()) <= 8 * 2**20 < 10 * 2**20
    index = json.loads(re.search(r'<script id="awd-index" type="application/json">(.*?)</script>', html, re.S).group(1))
    for r in index['records']:
        assert len(r['its']) >= 20 and 'of 336, to stay within its size bound' in r['about']
    print(f"demo-size page: {len(html.encode())/2**20:.2f} MiB in {took:.2f} s")

# ------------------------------------------------------------------------------------------------- TensorBoard
def read_back(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    return EventAccumulator(str(folder), size_guidance={'images': 0, 'scalars': 0, 'tensors': 0}).Reload()

def picture_cells(e) -> np.ndarray:
    px = np.array(Image.open(io.BytesIO(e.encoded_image_string)).convert('RGB')).astype(np.int64)
    return np.vectorize(lambda r, g, b: CELL[(r, g, b)])(px[..., 0], px[..., 1], px[..., 2])

def tb_fit(tmp_path, recorder, **kw):
    pytest.importorskip('tensorboard', reason="tensorboard is an optional dependency: pip install 'awd_fastai[tensorboard]'")
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    learn = awd_learner(dls, **SMALL, **DEMO_P)
    tb = MaskTensorBoardCallback(tmp_path, **kw)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=[recorder, tb])
    return learn, tb

def test_tensorboard_pictures_and_scalars_are_the_recording(tmp_path):
    r = MaskRecorder(every=2, names=['0.encoder_dp', '0.input_dp', '0.rnns.0.weight_hh_l0', '0.rnns.1.weight_hh_l0'], crop=12)
    learn, tb = tb_fit(tmp_path, r, every=4)
    ea, rec = read_back(tmp_path), r.record
    assert sorted(ea.Tags()['images']) == sorted(f'masks/{n}' for n in rec.names)        # the recorder's sites, nothing else
    rates = rec.drop_rates()
    for name, site in rec.sites.items():
        events = ea.Images(f'masks/{name}')
        assert [e.step for e in events] == [it for it in rec.iterations if it % 4 == 0]
        for e in events:
            m, got = rec.mask(name, e.step), picture_cells(e)
            if site.kind == 'weight':                          # the recorder's crop: 12 rows of each gate block, 12 columns
                want = m.numpy()
                assert want.shape == (4*12, 12)
            elif site.kind == 'embedding':                     # the vocabulary (12 words, cropped), 64 words per row at most, the rest grey
                v, w = m[:, 0].numpy().astype(np.int64), min(64, len(m))
                want = np.concatenate([v, np.full(-len(v) % w, 2)]).reshape(-1, w)
            else: want = m[:, 0, :].numpy()                    # locked: examples × units
            s = got.shape[0] // want.shape[0]
            np.testing.assert_array_equal(got, np.kron(want, np.ones((s, s), np.int64)), err_msg=f'{name} at {e.step}')
        for kind in ('drop_rate', 'p'):
            want = rates[rates.name == name].set_index('iteration')[kind]
            got = {e.step: e.value for e in ea.Scalars(f'{kind}/{name}')}
            assert sorted(got) == [e.step for e in events]
            for it, v in got.items(): assert abs(v - want[it]) < 1e-6, (kind, name, it)
    assert tb.event_file.stat().st_size == tb.written                                    # every byte accounted for

def test_tensorboard_budget_stops_pictures_and_says_so(tmp_path):
    r = MaskRecorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        learn, tb = tb_fit(tmp_path, r, budget=40_000)
    ea = read_back(tmp_path)
    pics, rates = ea.Images('masks/0.rnns.0.weight_hh_l0'), ea.Scalars('drop_rate/0.rnns.0.weight_hh_l0')
    assert 0 < len(pics) < len(rates) == len(r.record)         # pictures stopped; the drop rates of every batch are there
    assert pics[-1].step == tb.pictures_until - 1
    assert tb.event_file.stat().st_size <= 40_000
    assert [str(w.message) for w in caught if 'MaskTensorBoardCallback' in str(w.message)] == [tb._budget_note(tb.pictures_until)]
    assert any(t.startswith('masks/budget') for t in ea.Tags()['tensors'])

def test_tensorboard_at_fastai_size_is_cropped(tmp_path):
    "A fastai-size W_hh (4608 × 1152) is pictured as 4 gate blocks of `crop` rows × `crop` columns."
    pytest.importorskip('tensorboard', reason="tensorboard is an optional dependency: pip install 'awd_fastai[tensorboard]'")
    dls = lm_dls(corpus_texts(4), bs=16, seq_len=8, valid_pct=0.25)
    learn = awd_learner(dls, emb_sz=16, n_hid=1152, n_layers=2, **DEMO_P)
    r, tb = MaskRecorder(names=['0.rnns.0.weight_hh_l0']), MaskTensorBoardCallback(tmp_path, every=2, crop=64)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=[r, tb])
    e = read_back(tmp_path).Images('masks/0.rnns.0.weight_hh_l0')[0]
    m = r.record.mask('0.rnns.0.weight_hh_l0', e.step)
    assert m.shape == (4608, 1152) and (e.height, e.width) == (4*64, 64)
    np.testing.assert_array_equal(picture_cells(e), m.reshape(4, 1152, 1152)[:, :64, :64].reshape(256, 64).numpy())

def test_tensorboard_is_optional_and_named_when_missing(monkeypatch):
    "Without tensorboard the callback says which extra to install, when the fit starts (importing the module needs nothing)."
    import builtins, awd_fastai.tensorboard as tbm
    real = builtins.__import__
    def no_tb(name, *a, **k):
        if name.startswith('tensorboard') or name.startswith('torch.utils.tensorboard'): raise ImportError(f'No module named {name!r}')
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, '__import__', no_tb)
    with pytest.raises(ImportError, match=r"pip install 'awd_fastai\[tensorboard\]'"): tbm._tensorboard()

def test_bad_input_gets_a_clear_error(recs, tmp_path):
    rec = recs[0]
    for call, err, msg in [
            (lambda: explorer_html(MaskRecord()), ValueError, "holds no recorded iteration"),
            (lambda: explorer_html({}), ValueError, "non-empty dict"),
            (lambda: explorer_html({'a': {}}), TypeError, r"`records\['a'\]` must be a MaskRecord; got dict"),
            (lambda: explorer_html(rec, max_bytes=1000), ValueError, r"`max_bytes`=1000 is too small for one recorded iteration"),
            (lambda: explorer_html(rec, max_bytes=0), ValueError, r"`max_bytes` must be a positive integer"),
            (lambda: explorer_html(rec, crop=-2), ValueError, r"`crop` must be a positive integer"),
            (lambda: rec.explore(tmp_path/'missing'/'x.html'), FileNotFoundError, "does not exist"),
            (lambda: rec.explore(tmp_path), IsADirectoryError, "is a folder"),
            (lambda: MaskTensorBoardCallback(every=0), ValueError, r"`every` must be a positive integer"),
            (lambda: MaskTensorBoardCallback(budget=1.5), ValueError, r"`budget` must be a positive integer")]:
        with pytest.raises(err, match=msg): call()
    assert list(tmp_path.iterdir()) == []                      # nothing written
    pytest.importorskip('tensorboard')
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    learn = awd_learner(dls, **SMALL)
    with pytest.raises(ValueError, match='this learner has none'): learn.fit(1, cbs=MaskTensorBoardCallback(tmp_path/'a'))
    with pytest.raises(ValueError, match='use a multiple of 3'): learn.fit(1, cbs=[MaskRecorder(every=3), MaskTensorBoardCallback(tmp_path/'b', every=4)])
    learn.fit(1, cbs=[MaskRecorder(every=3), MaskTensorBoardCallback(tmp_path/'c', every=6)])   # the learner is still usable

@pytest.fixture(scope='module')
def state_page(tmp_path_factory):
    "The demo's h(t-1) recordings (`record_state_dropout`, as `awd-fastai demo` saves and shows them) on one page."
    from awd_fastai.report import record_state_dropout
    state = record_state_dropout()
    recs = {k: state[k] for k in ('per_step', 'locked', 'batch')}
    return write_explorer(tmp_path_factory.mktemp('state')/'explorer.html', recs, 'h(t-1)'), recs

def test_the_h_masks_per_step_change_over_time_locked_do_not(browser, state_page):
    "The article's subject from a real recording: the per-step mask on h(t-1) has a time-step control and changes over time; the locked one is one mask per example."
    page, recs = state_page
    assert load(browser, page) == []
    for k, (label, kind) in enumerate([('per_step', 'state_per_step'), ('locked', 'state_locked')]):
        rec = recs[label]
        name = next(n for n, s in rec.sites.items() if s.kind == kind)
        choose(browser, 'rec', k); choose(browser, 'site', site_index(browser, name))
        choose(browser, 'it', 0)
        m = rec.mask(name, shown_iterations(browser)[0]).numpy()
        steps = browser.js("document.getElementById('step-ctl').hidden") is False
        if kind == 'state_per_step':
            assert steps and m.shape[1] > 1
            np.testing.assert_array_equal(cells(browser, 0), m[0].T)           # units × time steps: changes over time
            assert (m[0].T != m[0].T[:, :1]).any()
        else:
            assert not steps and m.shape[1] == 1
            np.testing.assert_array_equal(cells(browser, 0), m[:, 0, :])       # examples × units: one mask for the sequence
    assert problems(browser) == []

def test_the_page_shows_the_p_of_each_call():
    "A p changed during the run (tests/data/masks_v0.2.0.npz, between two fits): each mask on the page carries the p "
    "of its own call, and the drop-rate history the p of each iteration."
    from awd_fastai.explorer import _record_json
    rec = MaskRecord.load(ROOT/'tests'/'data'/'masks_v0.2.0.npz')
    data = _record_json(rec, 'old', rec.iterations, None)[0]
    names = [s['name'] for s in data['sites']]
    for it, _, masks, _ in data['its']:
        for site, call, *_, p, _ in masks: assert p == round(rec.site(names[site], it, call).p, 6), (it, names[site])
    h = names.index('0.hidden_dps.0')
    assert len({p for _, _, p in data['history'][h]}) == 2                        # the change shows in the history too
    assert [p for _, _, p in data['history'][h]] == [rec.site('0.hidden_dps.0', it).p for it in rec.iterations]

def test_old_home_of_the_tensorboard_callback_warns_and_gives_the_same_object():
    "0.2.0's `from awd_fastai.explorer import MaskTensorBoardCallback` (and `mask_picture`) works in 0.3.0, with a FutureWarning."
    import awd_fastai.tensorboard as tbm
    for name in ('MaskTensorBoardCallback', 'mask_picture'):
        with pytest.warns(FutureWarning, match=rf'awd_fastai.explorer.{name}` is deprecated .* use `awd_fastai.tensorboard.{name}`'):
            exec(f'from awd_fastai.explorer import {name} as old', ns := {})
        assert ns['old'] is getattr(tbm, name)
    with pytest.raises(ImportError): exec('from awd_fastai.explorer import no_such_name', {})

def test_explorer_imports_no_tensorboard():
    "Importing the explorer imports neither the TensorBoard module nor tensorboard itself."
    code = "import sys, awd_fastai.explorer; print([m for m in ('awd_fastai.tensorboard', 'tensorboard') if m in sys.modules])"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == '[]'

def test_page_files_ship_in_the_wheel(tmp_path):
    "The page's HTML, CSS and JavaScript are package data: a wheel holds them and an installed copy reads them (as tests/test_memory.py)."
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q',
                        '-w', str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = next(tmp_path.glob('awd_fastai-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    for f in _ASSETS: assert f'awd_fastai/assets/{f}' in names, f"{f} missing from {wheel.name} (package-data in pyproject.toml?)"
    site = tmp_path/'site'
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target', str(site), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    code = ("import json; from importlib.resources import files; from awd_fastai.explorer import _asset, _ASSETS; "
            "print(json.dumps(dict(where=str(files('awd_fastai')), text={f: _asset(f) for f in _ASSETS})))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(site)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(got['where']).resolve().is_relative_to(site.resolve())   # the installed copy, not the source tree
    for f in _ASSETS: assert got['text'][f] == (ROOT/'awd_fastai'/'assets'/f).read_text(encoding='utf-8'), f

def test_page_inlines_its_files(recs):
    "The written page holds the CSS and both scripts verbatim and loads nothing: one self-contained file."
    from awd_fastai.explorer import _asset
    page = explorer_html(recs[0], max_bytes=2**20)
    for f in ('explorer_views.js', 'explorer.js'): assert _asset(f) in page, f
    css = _asset('explorer.css')
    for k, c in (('KEPT', KEPT_COLOR), ('DROPPED', DROPPED_COLOR), ('NONE', NONE_COLOR)): css = css.replace('{{%s}}' % k, c)
    assert css in page and '{{' not in page.split('<script id="awd-index"')[0]
    assert not re.search(r'<(script|img|link|iframe)[^>]*\s(src|href)="(?!data:)', page)
