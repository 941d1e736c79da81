"""MaskRecorder: every forward call recorded (fastai's text classifier), iterations never mixed (naive sites over epochs),
`learn.export()` carries no record, recordings reload in a new process and from 0.1.0 files, the same seed gives the same
masks, the recorder never perturbs training, stores about one bit per element within its budget, and the 0.1.0 names
still work with a warning."""
import hashlib, json, mmap, pickle, random, re, subprocess, sys, textwrap, warnings
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np, pandas as pd, pytest, torch
from fastai.callback.core import Callback
from fastai.learner import load_learner
from fastai.torch_core import set_seed
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder, MaskRecord, mask_layers
from awd_fastai.plots import mask_image

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)
DATA = Path(__file__).parent/'data'

def seeded_run(seed:int=7, recorder:bool=True):
    "A short seeded training run: (learner, its recorder or None)."
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    set_seed(seed, reproducible=True)   # after lm_dls: fastai's RandomSplitter reseeds torch with the split seed
    learn = awd_learner(dls, **SMALL)
    rec = MaskRecorder() if recorder else None
    learn.fit(1, 1e-2, cbs=rec)
    return learn, rec

def digests(rec:MaskRecord) -> dict:
    "Iteration -> sha256 of every mask (bool bytes, with its site and call) and every call's token ids."
    out = {}
    for it in rec.iterations:
        s, h = rec.at(it), hashlib.sha256()
        for name, masks in s.masks.items():
            for c, m in enumerate(masks): h.update(f'{name}/{c}/{tuple(m.shape)}'.encode() + m.numpy().tobytes())
        for t in s.tokens: h.update(t.numpy().tobytes())
        out[str(it)] = h.hexdigest()
    return out

@pytest.fixture(scope='module')
def run7(): return seeded_run(7)

# ## Export, new processes, seeds

@pytest.mark.filterwarnings("ignore:load_learner` uses Python's insecure pickle")   # our own file
def test_export_does_not_pickle_the_record(run7, tmp_path):
    "The exported learner is as small as one without a recording, and its recorder starts empty but works."
    learn, rec = run7
    assert rec.record.stored_bytes > 0
    learn.path = tmp_path
    learn.add_cb(rec)
    try: learn.export('with.pkl')
    finally: learn.remove_cb(rec)
    learn.export('without.pkl')          # after the fit with `cbs=`: the deprecated reference to the recorder is not exported
    size = lambda f: (tmp_path/f).stat().st_size
    assert abs(size('with.pkl') - size('without.pkl')) < 20_000 < rec.record.stored_bytes
    assert '_last_mask_recorder' not in pickle.loads(pickle.dumps(learn)).__dict__
    loaded = load_learner(tmp_path/'with.pkl')
    r = next(cb for cb in loaded.cbs if isinstance(cb, MaskRecorder))
    assert len(r.record) == 0 and r.record.names == []
    loaded.dls = learn.dls
    loaded.fit(1, 1e-3)
    assert r.record.iterations == list(range(len(learn.dls.train))) and r.record.names == rec.record.names

CHILD = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[3])
    from test_recorder import seeded_run, digests
    from awd_fastai.recorder import MaskRecord
    rec = MaskRecord.load(sys.argv[1])
    learn, own = seeded_run(7)
    own.record.save(sys.argv[2] + '.npz')
    json.dump(dict(loaded=digests(rec), loaded_vocab=rec.vocab, loaded_sites={n: s.to_dict() for n, s in rec.sites.items()},
                   own=digests(own.record), losses=[float(l) for l in learn.recorder.losses]), open(sys.argv[2], 'w'))
''')

@pytest.fixture(scope='module')
def child(run7, tmp_path_factory):
    "A new Python process that loads our recording, and trains the same seeded run."
    tmp = tmp_path_factory.mktemp('child')
    run7[1].record.save(tmp/'masks.npz')
    r = subprocess.run([sys.executable, '-c', CHILD, str(tmp/'masks.npz'), str(tmp/'out.json'), str(Path(__file__).parent)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((tmp/'out.json').read_text()), tmp

def test_recording_reloads_in_a_new_process(run7, child):
    out, _ = child
    rec = run7[1].record
    assert out['loaded'] == digests(rec)
    assert out['loaded_vocab'] == rec.vocab
    assert out['loaded_sites'] == {n: s.to_dict() for n, s in rec.sites.items()}

def test_same_seed_same_masks_and_losses_in_another_process(run7, child):
    "Determinism run to run: the new process's seeded run drew exactly our masks and had exactly our losses."
    out, tmp = child
    learn, rec = run7
    assert out['own'] == digests(rec.record)
    assert out['losses'] == [float(l) for l in learn.recorder.losses]
    assert digests(MaskRecord.load(tmp/'out.json.npz')) == digests(rec.record)

def test_same_seed_same_losses_and_weights_without_the_recorder(run7):
    "The recorder draws no random numbers and changes nothing: without it, the same seed gives the same losses, weights and last masks."
    learn, rec = run7
    plain, _ = seeded_run(7, recorder=False)
    assert [float(l) for l in plain.recorder.losses] == [float(l) for l in learn.recorder.losses]
    for (k, v), w in zip(learn.model.state_dict().items(), plain.model.state_dict().values()): assert torch.equal(v, w), k
    enc, last = plain.model[0], rec.record.at(-1)
    assert torch.equal(enc.rnns[0].last_mask['weight_hh_l0'], last.mask('0.rnns.0.weight_hh_l0'))
    assert torch.equal(enc.input_dp.last_mask, last.mask('0.input_dp'))

def test_another_seed_other_masks(run7):
    _, rec = run7
    _, other = seeded_run(8)
    a, b = rec.record.at(0), other.record.at(0)
    for n in rec.record.names: assert not torch.equal(a.mask(n), b.mask(n)), n

# ## Every forward call: fastai's text classifier (ULMFiT)

@pytest.fixture(scope='module')
def classifier():
    """fastai's `text_classifier_learner` on our AWD_LSTM: its `SentenceEncoder` calls the encoder once per chunk of `seq_len`
    tokens, with fewer documents in later chunks as short documents end. An independent pre-hook on the encoder keeps the
    input of every training call, batch by batch."""
    from fastai.text.all import TextDataLoaders, text_classifier_learner, awd_lstm_clas_config
    from awd_fastai.model import AWD_LSTM
    rnd = random.Random(0)
    words = "good bad the a movie film plot great awful is was very".split()
    df = pd.DataFrame([(' '.join(rnd.choice(words) for _ in range(n)), rnd.choice('pn')) for n in [3, 5, 8, 12, 20, 30, 45, 60]*4],
                      columns=['text', 'label'])
    dls = TextDataLoaders.from_df(df, text_col='text', label_col='label', valid_pct=0.25, bs=8, seed=1)
    learn = text_classifier_learner(dls, AWD_LSTM, config=dict(awd_lstm_clas_config, emb_sz=16, n_hid=24, n_layers=2),
                                    pretrained=False, seq_len=8)
    calls = []                                  # per training batch: the token ids of each encoder call
    class Batches(Callback):
        run_valid = False
        def before_batch(self): calls.append([])
    encoder = learn.model[0].module
    h = encoder.register_forward_pre_hook(lambda m, args: calls[-1].append(args[0].clone()) if m.training else None)
    layers = mask_layers(learn.model)
    before = {n: m.mask_count for n, (m, _) in layers.items()}
    rec = MaskRecorder()
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3, cbs=[rec, Batches()])
    h.remove()
    drawn = {n: m.mask_count - before[n] for n, (m, _) in layers.items()}
    return rec.record, calls, drawn

def test_classifier_records_every_mask_drawn(classifier):
    "Over training, the masks recorded for each site are exactly the masks its layer drew (`mask_count`), every call of every batch."
    rec, calls, drawn = classifier
    assert rec.iterations == list(range(len(calls)))
    assert any(len(c) > 1 for c in calls)                          # the encoder is called several times per batch
    n_recorded = {n: sum(rec.at(it).n_calls(n) for it in rec.iterations) for n in rec.names}
    assert n_recorded == {n: drawn[n] for n in rec.names} and all(v > len(calls) for v in n_recorded.values())
    assert set(drawn) - set(rec.names) == {'0.module.hidden_dps.1'} and drawn['0.module.hidden_dps.1'] == 0   # (never called)

def test_classifier_each_call_with_its_own_tokens(classifier):
    "Call c of every site goes with the token ids that went through encoder call c; its masks have that call's batch size."
    rec, calls, _ = classifier
    shrinks = False
    for it, ids in zip(rec.iterations, calls):
        s = rec.at(it)
        for name, site in s.sites.items():
            assert s.n_calls(name) == len(ids), (it, name)
            for c, x in enumerate(ids):
                assert torch.equal(s.tokens_of(name, c), x.int()), (it, name, c)
                if site.kind == 'locked': assert s.mask(name, c).shape == (x.shape[0], 1, s.mask(name, c).shape[2])
        shrinks |= len({x.shape[0] for x in ids}) > 1
    assert shrinks                                                  # some batch shrank as its short documents ended

def assert_panel_shows(im, mask, site):
    "`plot_all_masks`' panel `im` is `mask` as `mask_image` draws it (48 per block); a word panel: its first rows, as many as are named."
    got, want = im.get_array(), mask_image(mask, site, crop=48)[0]
    assert got.shape[1] == want.shape[1] and (got.shape[0] == want.shape[0] or want.shape[1] == 1)
    np.testing.assert_array_equal(got, want[:got.shape[0]])

def test_a_plot_of_a_classifier_batch_shows_any_call(classifier):
    rec, calls, _ = classifier
    it = max(rec.iterations, key=lambda i: len(calls[i]))
    s, n = rec.at(it), len(calls[it])
    for c in range(n):
        fig = plt.figure(figsize=(12, 5))
        ims = rec.plot_all_masks(it, call=c, fig=fig).drawn['artists']
        assert f'training iteration {it}, call {c+1} of {n}' in fig.get_suptitle()
        for name, im in ims.items(): assert_panel_shows(im, s.mask(name, c), s.sites[name])
        plt.close(fig)
    with pytest.raises(IndexError, match=f'has {n} call'): rec.plot_all_masks(it, call=n)

# ## Naive (per-step) sites over epochs: whole iterations, never mixed

@pytest.fixture(scope='module')
def naive_run():
    dls = lm_dls(corpus_texts(10), bs=8, seq_len=17)               # the last batch of an epoch has 5 steps
    set_seed(1, reproducible=True)
    learn = awd_learner(dls, **SMALL, modes={'hidden': 'per_step', 'weight': 'per_step'})
    last_masks = []                                  # the hidden mask of each training batch, straight from the layer
    class Keep(Callback):
        run_valid, order = False, 95
        def after_batch(self): last_masks.append(self.model[0].hidden_dps[0].last_mask.clone())
    rec = MaskRecorder()
    with learn.no_bar(), learn.no_logging(): learn.fit(3, 1e-3, cbs=[rec, Keep()])
    return rec.record, last_masks, len(dls.train)

def test_naive_sites_every_iteration_has_every_site(naive_run):
    rec, last_masks, n_train = naive_run
    assert rec.iterations == list(range(3*n_train))
    assert all(set(rec.at(it).masks) == set(rec.names) for it in rec.iterations)
    assert {rec.sites[n].kind for n in rec.names} >= {'per_step', 'weight_per_step'}
    shapes = {tuple(rec.mask('0.hidden_dps.0', it).shape) for it in rec.iterations}
    assert len(shapes) == 2                                          # the short last batch of each epoch is recorded too
    for it, m in zip(rec.iterations, last_masks): assert torch.equal(rec.mask('0.hidden_dps.0', it), m), it

def test_naive_batch_figures_never_mix_iterations(naive_run):
    "The last (short) batch of each epoch and its neighbours: every panel is that iteration's own mask."
    rec, _, n_train = naive_run
    for it in [e*n_train + d for e in range(3) for d in (n_train-2, n_train-1)] + [n_train]:
        s = rec.at(it)
        fig = plt.figure(figsize=(12, 5))
        ims = rec.plot_all_masks(it, fig=fig).drawn['artists']
        assert f'training iteration {it}, call 1 of 1' in fig.get_suptitle()
        assert set(ims) == set(rec.names)
        for name, im in ims.items(): assert_panel_shows(im, s.mask(name), s.sites[name])
        plt.close(fig)
    ims = rec.plot_mask_grid('0.hidden_dps.0', n=len(rec)).drawn['artists']
    for im, it in zip(ims, rec.iterations):
        assert im.axes.get_title() == f'iter {it}'
        np.testing.assert_array_equal(im.get_array(), mask_image(rec.mask('0.hidden_dps.0', it), rec.sites['0.hidden_dps.0'], crop=48)[0])
    plt.close('all')

# ## Storage and budget

def test_about_one_bit_per_mask_element(run7):
    "Stored bytes of masks = ceil(elements / 8) per mask: measured, at most 1.01 bits per element at these sizes."
    rec = run7[1].record
    calls = rec.calls()
    elements = sum(int(np.prod(s)) for s in calls['shape'])
    mask_bytes = rec.stored_bytes - sum(int(np.prod(t)) * 4 for t in calls.drop_duplicates(['iteration'])['tokens'])
    assert mask_bytes == sum((int(np.prod(s)) + 7) // 8 for s in calls['shape'])
    assert 8 * mask_bytes / elements <= 1.01

def test_budget_bounds_the_record_at_every_batch_and_thins_whole_iterations(run7):
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    one = run7[1].record._batches[0].nbytes                      # bytes of one iteration
    rec = MaskRecorder(budget=int(5.5 * one))
    stored = []
    class Watch(Callback):
        run_valid, order = False, 95
        def after_batch(self): stored.append(rec.record.stored_bytes)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        awd_learner(dls, **SMALL).fit(2, 1e-3, cbs=[rec, Watch()])
    assert max(stored) <= rec.budget and len(stored) == 2*len(dls.train)
    assert sum('memory budget' in str(x.message) for x in w) == 1
    r = rec.record
    assert r.thinned >= 2 and 3 <= len(r) <= 5
    assert all(set(r.at(it).masks) == set(r.names) for it in r.iterations)         # whole iterations
    assert len(set(np.diff(r.iterations))) <= 2 and r.iterations[-1] >= len(stored) - r.every*r.stride

def test_thinning_gives_memory_back_and_keeps_every_mask():
    """The record maps no more memory than the iterations it keeps fill, at every batch (thinning unmaps what it frees), and
    the iterations it keeps after thinning several times hold exactly the masks and token ids of the same iterations
    recorded without a budget."""
    def run(budget=None, map_bytes=None):
        dls = lm_dls(corpus_texts(20), bs=8, seq_len=20)
        set_seed(3, reproducible=True)
        rec = MaskRecorder() if budget is None else MaskRecorder(budget=budget)
        if map_bytes: rec.record._arena.map_bytes = map_bytes
        seen = []
        class Watch(Callback):
            run_valid, order = False, 95
            def after_batch(self): seen.append((rec.record._arena.mapped_bytes, len(rec.record)))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            awd_learner(dls, **SMALL).fit(2, 1e-3, cbs=[rec, Watch()])
        return rec.record, seen
    full, _ = run()
    one = max(b.nbytes for b in full._batches.values())
    small, seen = run(int(5.5*one), map_bytes=mmap.PAGESIZE)
    per_map = mmap.PAGESIZE // ((one + 7) // 8 * 8)               # iterations a map holds
    assert small.thinned >= 2 and per_map >= 1
    assert all(m <= -(-n // per_map) * mmap.PAGESIZE for m, n in seen)   # never more maps than the kept iterations fill
    assert min(m for m, _ in seen[len(seen)//2:]) < max(m for m, _ in seen)   # and maps are given back
    d_full, d_small = digests(full), digests(small)
    assert d_small and all(d_small[it] == d_full[it] for it in d_small)     # moved, never mixed up

# ## Recordings of 0.1.0

def test_loads_a_recording_written_by_0_1_0():
    "tests/data/masks_v0.1.0.npz (written by 0.1.0) reads as 0.1.0 read it (masks_v0.1.0.json), with site descriptions."
    rec, old = MaskRecord.load(DATA/'masks_v0.1.0.npz'), json.loads((DATA/'masks_v0.1.0.json').read_text())
    assert len(rec.vocab) == old['vocab_size'] and (rec.stride, rec.thinned) == (old['stride'], old['thinned'])
    assert rec.iterations == sorted(int(i) for i in old['tokens'])
    assert rec.names == list(old['masks'])
    for name, o in old['masks'].items():
        ms = rec.masks(name)
        assert list(ms) == o['iters'], name
        assert [rec.at(it).epoch for it in ms] == o['epochs']
        assert [int(m.sum()) for m in ms.values()] == o['kept'], name
        assert all(tuple(m.shape) == tuple(o['shape']) for m in ms.values())
    for it, shape in old['tokens'].items():
        ids = rec.at(int(it)).tokens_of('0.input_dp')
        assert tuple(ids.shape) == tuple(shape) and int(ids.sum()) == old['token_sums'][it]
    s = rec.sites
    assert (s['0.encoder_dp'].kind, s['0.encoder_dp'].where) == ('embedding', 'embedding')
    assert (s['0.input_dp'].kind, s['0.input_dp'].where, s['1.output_dp'].where) == ('locked', 'input', 'output')
    assert (s['0.hidden_dps.0'].kind, s['0.hidden_dps.0'].where, s['0.hidden_dps.0'].layer) == ('per_step', 'hidden', 0)
    w = s['0.rnns.1.weight_hh_l0']
    assert (w.kind, w.where, w.layer, w.gates, w.label, w.param) == ('weight', 'weight', 1, tuple('ifgo'), 'W_hh, layer 2', 'weight_hh_l0')
    assert '0.hidden_dps.0' not in rec.at(72).masks and len(rec.at(72).masks) == 5   # 0.1.0 skipped the short batch's per-step mask

def test_a_0_1_0_recording_saves_in_the_current_format_and_plots(tmp_path):
    rec = MaskRecord.load(DATA/'masks_v0.1.0.npz')
    back = MaskRecord.load(rec.save(tmp_path/'v2.npz'))
    assert digests(back) == digests(rec) and back.sites == rec.sites
    ims = rec.plot_all_masks(72, fig=plt.figure()).drawn['artists']
    assert set(ims) == set(rec.names) - {'0.hidden_dps.0'}
    plt.close('all')

def test_loads_a_recording_written_by_0_2_0_with_the_p_of_every_call(tmp_path):
    "tests/data/masks_v0.2.0.npz (format version 2, written by 0.2.0, a p changed between two fits) reads as 0.2.0 read it "
    "(masks_v0.2.0.json): each iteration with its own p, no trained embedding; saved again (version 3), it keeps both p's."
    rec, old = MaskRecord.load(DATA/'masks_v0.2.0.npz'), json.loads((DATA/'masks_v0.2.0.json').read_text())
    assert (rec.format_version, rec.embedding, len(rec.vocab)) == (2, None, old['vocab_size'])
    assert rec.iterations == old['iterations'] and rec.names == old['names']
    for name in rec.names:
        assert [rec.site(name, it).p for it in rec.iterations] == old['p'][name], name      # the p of each call, as recorded
        assert [int(m.sum()) for m in rec.masks(name).values()] == old['kept'][name], name
    h = '0.hidden_dps.0'
    before, after = old['p'][h][0], old['p'][h][-1]
    assert before != after and rec.sites[h].p == after                                    # `sites`: the p of the last call
    assert rec.title(h) == f'between layers 1 and 2, p={before:.2g}–{after:.2g}'
    back = MaskRecord.load(rec.save(tmp_path/'v3.npz'))
    assert back.format_version == 3 and digests(back) == digests(rec)
    assert [back.site(h, it).p for it in back.iterations] == old['p'][h]

def test_the_trained_embedding_is_saved_with_the_masks(run7, tmp_path):
    "Format version 3: `rec.embedding` (what the word figures draw) saves and loads bit for bit, in a new process too."
    learn, recorder = run7
    rec = recorder.record
    rec.embedding = learn.model[0].encoder.weight.detach().cpu().clone()
    try: path = rec.save(tmp_path/'emb.npz')
    finally: rec.embedding = None
    code = ("import sys; from awd_fastai.recorder import MaskRecord; r = MaskRecord.load(sys.argv[1]); "
            "import hashlib; print(r.format_version, r.embedding.dtype, hashlib.sha256(r.embedding.numpy().tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, '-c', code, str(path)], capture_output=True, text=True, check=True).stdout.split()
    w = learn.model[0].encoder.weight.detach().cpu()
    assert out == ['3', 'torch.float32', hashlib.sha256(w.numpy().tobytes()).hexdigest()]
    assert torch.equal(MaskRecord.load(path).embedding, w)
    rec.embedding = w[:-1]
    try:
        with pytest.raises(ValueError, match='one row per word'): rec.save(tmp_path/'bad.npz')
    finally: rec.embedding = None

# ## 0.1.0 names

def test_deprecated_names_warn_name_their_replacement_and_work(run7):
    learn, recorder = run7
    rec = recorder.record
    checks = [(lambda: learn.mask_recorder, recorder, 'r.record'),
              (lambda: recorder.names, rec.names, '.record.names'), (lambda: len(recorder), len(rec), 'len(recorder.record)'),
              (lambda: rec.iters('0.input_dp'), rec.iterations, 'rec.iterations'),
              (lambda: rec.epochs('0.input_dp'), [rec.at(i).epoch for i in rec.iterations], 'rec.at(iteration).epoch'),
              (lambda: rec.recorded_iters(), rec.iterations, 'rec.iterations'), (lambda: rec.skipped, {}, 'every mask is recorded'),
              (lambda: rec.info('0.rnns.0.weight_hh_l0')['layer'], 'WeightDropout', 'rec.sites[name]'),
              (lambda: rec.tokens[2].tolist(), rec.at(2).tokens_of('0.encoder_dp').tolist(), 'tokens_of'),
              (lambda: rec.tokens_at('0.encoder_dp', 2).tolist(), rec.at(2).tokens_of('0.encoder_dp').tolist(), 'tokens_of'),
              (lambda: rec['0.input_dp'][3].tolist(), rec.mask('0.input_dp', 3).tolist(), 'rec.masks(name)'),
              (lambda: recorder['0.input_dp'][3].tolist(), rec.mask('0.input_dp', 3).tolist(), 'masks(name)')]
    for old, expected, new in checks:
        with pytest.warns(FutureWarning, match=r'deprecated since awd_fastai 0\.2\.0 .*' + re.escape(new)):
            assert old() == expected
    with pytest.warns(FutureWarning, match='use `MaskRecord.load`'): MaskRecorder.load(DATA/'masks_v0.1.0.npz')
    with pytest.warns(FutureWarning, match='use `learn.mask_recorder.record.show'): learn.add_cb(recorder); learn.show_masks('0.input_dp')
    learn.remove_cb(recorder)
    with pytest.raises(AttributeError, match='what it recorded is `.record`'): recorder.at(0)
    plt.close('all')

def test_a_recorded_batch_allocates_no_mask_sized_buffer():
    """Process memory (issue 25): the recorder's hooks pack each mask from the layer's own float mask, a slice at a time,
    into memory it reuses from batch to batch (its scratch map), so nothing they allocate is as large as a mask: at
    most one slice of bools (256 KiB; torch's allocations, seen by its profiler) and the packed bytes of one slice
    (numpy's, seen by tracemalloc), for W_hh masks of 1.44 M elements (1.44 MB as bools, 5.8 MB as floats). The
    masks recorded are the layers' masks."""
    import tracemalloc
    from torch.profiler import profile, ProfilerActivity, record_function
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from awd_fastai.model import awd_lm
    from awd_fastai.recorder import _PACK_SLICE
    model = awd_lm(50, emb_sz=16, n_hid=600, n_layers=2).train()               # W_hh of layer 0: (2400, 600)
    rec = MaskRecorder()
    learn = Learner(DataLoaders([], []), model, loss_func=lambda *a: 0, cbs=rec)
    learn.training, learn.epoch = True, 0
    rec.before_fit(); rec.before_train()                                       # the fit's first epoch: hooks on
    hook, numpy_peaks = rec._after_call, []
    def watched(*args):
        tracemalloc.reset_peak(); before = tracemalloc.get_traced_memory()[0]
        with record_function('recorder_hook'): hook(*args)
        numpy_peaks.append(tracemalloc.get_traced_memory()[1] - before)
    def batch(i):
        learn.iter = i; rec.before_batch(); model.reset(); model(torch.randint(0, 50, (4, 10))); rec.after_batch()
    batch(0)                                                                   # the scratch map grows to one batch
    rec._after_call = watched
    tracemalloc.start()
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof: batch(1)
    finally: tracemalloc.stop(); rec._after_call = hook
    ev = prof.events()
    spans = [(e.time_range.start, e.time_range.end) for e in ev if e.name == 'recorder_hook']
    allocs = [e.cpu_memory_usage for e in ev if e.cpu_memory_usage > 0 and e.name != 'recorder_hook'
              and any(a <= e.time_range.start <= b for a, b in spans)]
    w = model[0].rnns[0].last_mask['weight_hh_l0']
    assert w.numel() > 4*_PACK_SLICE and len(spans) == len(numpy_peaks) > 0
    assert max(allocs, default=0) <= _PACK_SLICE                               # torch: one bool slice at most
    assert max(numpy_peaks) < _PACK_SLICE // 8 + 16*1024                       # numpy and Python: one packed slice, and small change
    assert torch.equal(rec.record.at(1).mask('0.rnns.0.weight_hh_l0'), w)       # and the masks are the layers'
    assert torch.equal(rec.record.at(1).mask('0.input_dp'), model[0].input_dp.last_mask)
