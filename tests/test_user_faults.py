"Faults users hit (issue 18): arguments silently ignored, callbacks writing during inference, no-dropout runs, half-written output, packed sequences in training, `python -m`, progress bars in logs."
import os, re, subprocess, sys, warnings
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
    from awd_fastai.tensorboard import MaskTensorBoardCallback
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

# ## 3. No masks, no crash

NO_DROPOUT = ['--embed-p', '0', '--input-p', '0', '--hidden-p', '0', '--weight-p', '0', '--output-p', '0']
TINY = ['--epochs', '1', '--emb-sz', '8', '--n-hid', '8', '--n-layers', '1', '--bs', '8', '--seq-len', '20', '--no-contrast']

@pytest.fixture(scope='module')
def text(tmp_path_factory):
    f = tmp_path_factory.mktemp('text')/'notes.txt'
    f.write_text('\n\n'.join(corpus_texts(12)))
    return f

def run_main(argv):
    "Exit code, stdout, stderr and the warnings' messages of `awd-fastai` run in this process."
    import contextlib, io
    from awd_fastai.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue(), [f'{x.category.__name__}: {x.message}' for x in w]

@pytest.fixture(scope='module')
def no_dropout_run(text, tmp_path_factory):
    out = tmp_path_factory.mktemp('nodrop')/'run'
    return out, run_main(['train', '--data', text, '--out', out, *TINY, *NO_DROPOUT])

def test_no_dropout_train_is_a_report(no_dropout_run):
    "Every p = 0 (a no-dropout baseline): the run ends with a report of the figures that need no mask, and says why the "
    "others are absent; the recorder warned that there is nothing to record."
    from awd_fastai.recorder import MaskRecord
    out, (code, stdout, stderr, warned) = no_dropout_run
    assert code == 0, stderr
    assert any(w.startswith('NoDropoutWarning') and 'p = 0' in w for w in warned)
    page = (out/'index.html').read_text()
    shown = set(re.findall(r'<img src="([^"]+)"', page))
    # the h(t-1) and DropConnect figures come from a short run of a small model of their own (`record_state_dropout`)
    assert {'cnn_dropout.png', 'state_dropout.png', 'dropconnect.png', 'memory.png', 'lm_ablation.png', 'learning_curve.png'} <= shown
    assert not shown & {'all_masks.png', 'mask_grid.png', 'bptt.png', 'embedding.png'}
    assert 'the recording holds no mask' in page
    assert len(MaskRecord.load(out/'masks.npz')) == 0                  # this run recorded nothing; the explorer shows
    assert 'h(t-1) per step' in (out/'explorer.html').read_text()      # only the small model's h(t-1) runs

def test_no_dropout_report_says_so(no_dropout_run):
    "The labels are the facts of the run: one run (--no-contrast), no dropout (every p = 0), on the user's text; nothing "
    "calls it AWD-LSTM's dropouts, two runs or the demo (the header, the learning curve's title, legend and caption, the log)."
    import html
    from PIL import Image
    out, (code, stdout, stderr, _) = no_dropout_run
    page = html.unescape((out/'index.html').read_text())
    assert code == 0, stderr
    assert re.search(r'come from 1 run of a small AWD-LSTM trained on \S*notes\.txt: 1 epoch, 0 recorded batches\. '
                     r'Final validation perplexity: [\d.]+ with no dropout \(every p = 0\)\.', page), page[:3000]
    start = page.index('learning_curve.png')
    curve = page[start:page.index('</figure>', start)]         # its reading and caption
    assert 'loss per epoch of the run on' in curve and '1 run on' in curve and 'no dropout (every p = 0)' in curve
    assert not re.search(r"two|demo|AWD-LSTM's|locked", curve), curve
    assert 'Training without dropout (every p = 0) on' in stdout and "AWD-LSTM's dropouts" not in stdout

def test_no_dropout_plot_is_a_report(no_dropout_run, tmp_path):
    "`plot` on the empty recording of a no-dropout run: a report too, no IndexError."
    out, _ = no_dropout_run
    code, _, stderr, _ = run_main(['plot', out/'masks.npz', '--out', tmp_path/'figs'])
    assert code == 0, stderr
    assert 'cnn_dropout.png' in (tmp_path/'figs'/'index.html').read_text()

def test_recorder_warns_on_a_model_without_active_dropout(dls):
    "A `MaskRecorder` on a model whose dropout layers all have p = 0 says so, once per fit (a `NoDropoutWarning`), and "
    "records nothing; with one p > 0 it does not warn."
    from awd_fastai.recorder import MaskRecorder, NoDropoutWarning
    ps0 = dict(embed_p=0, input_p=0, hidden_p=0, weight_p=0, output_p=0)
    assert issubclass(NoDropoutWarning, UserWarning)
    for ps, warned in ((ps0, True), ({**ps0, 'output_p': 0.2}, False)):
        r, learn = MaskRecorder(), awd_learner(dls, **SMALL, **ps)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=r)
        msgs = [str(x.message) for x in w if x.category is NoDropoutWarning]
        assert len(msgs) == warned and (not warned or 'p = 0' in msgs[0])
        assert (len(r.record) == 0) == warned

# ## 4. Half-written output

def test_batch_too_large_leaves_nothing_and_says_why(text, tmp_path):
    "`--bs 100000`: exit 2 with our one-line error (no fastai 'Please see the stack trace below:'), and no folder left, "
    "not even the parents the run would have created."
    code, stdout, stderr, _ = run_main(['train', '--data', text, '--out', tmp_path/'new'/'run', *TINY, '--bs', '100000'])
    assert code == 2 and 'too little text for batches of 100000' in stderr
    assert 'stack trace' not in stdout + stderr
    assert list(tmp_path.iterdir()) == []

def test_failure_after_training_leaves_nothing(text, tmp_path, monkeypatch):
    "Ctrl-C (or any error) after the recordings are written, while drawing the figures: exit 130 with one line, and "
    "neither the output folder nor its temporary sibling remains, so the next run is not refused."
    from awd_fastai import report as R
    def interrupted(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(R, 'write_figures', interrupted)
    out = tmp_path/'run'
    code, stdout, stderr, _ = run_main(['train', '--data', text, '--out', out, *TINY])
    assert code == 130 and stderr.strip().splitlines() == ['awd-fastai: interrupted']
    assert list(tmp_path.iterdir()) == []
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'keep.txt').write_text('a file of the user')
    monkeypatch.setattr(R, 'write_figures', lambda *a, **k: (_ for _ in ()).throw(OSError('disk full')))
    code, _, stderr, _ = run_main(['train', '--data', text, '--out', tmp_path/'mine', *TINY, '--force'])   # into it
    assert code == 2 and 'disk full' in stderr
    assert [p.name for p in (tmp_path/'mine').iterdir()] == ['keep.txt'] and len(list(tmp_path.iterdir())) == 1

def test_ctrl_c_in_a_real_process(text, tmp_path):
    "SIGINT while training: status 130, one line on stderr after the run's own output (no traceback), nothing left."
    import signal, time
    out = tmp_path/'run'
    p = subprocess.Popen([sys.executable, '-u', '-c', 'import sys; from awd_fastai.cli import main; sys.exit(main())', 'train',
                          '--data', str(text), '--out', str(out), *TINY[:2], '--epochs', '50', *TINY[2:]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'},
                         # a shell's background job (`cmd &`, nohup) ignores SIGINT, and so would the child: restore it
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in p.stdout:
            if line.startswith('Training'): break
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        _, stderr = p.communicate(timeout=60)
    finally: p.kill()
    assert p.returncode == 130, stderr[-2000:]
    assert 'Traceback' not in stderr and stderr.strip().splitlines()[-1] == 'awd-fastai: interrupted'
    assert list(tmp_path.iterdir()) == []

# ## 7. Progress bars in logs

def test_progress_in_a_log_is_a_line_per_epoch(dls, capsys):
    "`train_recorded(progress=False)` (the CLI's choice when stdout is no terminal): the column names, then one line per "
    "epoch, no carriage return; fastai's progress callback is back on nothing global (the learner is the run's own)."
    from fastai.callback.progress import ProgressCallback
    from fastai.learner import defaults
    from awd_fastai.report import train_recorded
    cbs_before = list(defaults.callbacks)
    train_recorded(dls, epochs=2, emb_sz=8, n_hid=8, n_layers=1, progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert '\r' not in ''.join(lines) and len(lines) == 3
    assert lines[0].split() == ['epoch', 'train_loss', 'valid_loss', 'accuracy', 'perplexity', 'time']
    assert [l.split()[0] for l in lines[1:]] == ['0', '1'] and all(len(l.split()) == 6 for l in lines[1:])
    assert list(defaults.callbacks) == cbs_before and ProgressCallback in defaults.callbacks

def test_cli_in_a_log_prints_lines_not_bars(no_dropout_run):
    "The CLI with its output redirected (here a `StringIO`, no terminal): no progress-bar updates, a line per epoch."
    _, (code, stdout, _, _) = no_dropout_run
    assert code == 0 and '\r' not in stdout and '█' not in stdout
    assert sum(l.split()[:1] == ['0'] for l in stdout.splitlines()) == 1          # the one epoch's line

# ## 6. `python -m`

@pytest.mark.parametrize('module', ['awd_fastai', 'awd_fastai.cli'])
def test_python_m_runs_the_command(module):
    "`python -m awd_fastai ...` and `python -m awd_fastai.cli ...` are the `awd-fastai` command (its output, its exit codes)."
    from awd_fastai import __version__
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    r = subprocess.run([sys.executable, '-m', module, '--version'], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and r.stdout.strip() == f'awd-fastai {__version__}', r.stderr[-2000:]
    assert r.stderr == ''                                        # as `awd-fastai`: fastai's torch.jit warning left out
    if module == 'awd_fastai':                                   # its exit codes (one more start of Python: ~10 s)
        r = subprocess.run([sys.executable, '-m', module, 'plot', 'missing.npz'], capture_output=True, text=True, timeout=120,
                           env=env)
        assert r.returncode == 2 and r.stderr == 'awd-fastai: error: no recording at missing.npz\n', r.stderr

def test_the_commands_own_warnings_are_one_line(capsys):
    "The command shows a warning of awd_fastai's as one line, `awd-fastai: warning: MESSAGE (CATEGORY)`, not Python's "
    "file:line and source line; any other warning goes on unchanged; the torch.jit one stays left out. No filter changes."
    import awd_fastai, awd_fastai_cli
    from awd_fastai.recorder import NoDropoutWarning
    passed, filters = [], list(warnings.filters)
    show = awd_fastai_cli._command_warnings(lambda *a, **k: passed.append(a[0]))
    here = Path(awd_fastai.__file__).parent
    show(NoDropoutWarning('MaskRecorder: every dropout layer it records has p = 0'), NoDropoutWarning, str(here/'recorder.py'), 795)
    show(UserWarning('There is no item with probability >= 0.9'), UserWarning, str(here/'learner.py'), 285)
    show(UserWarning('a user warning'), UserWarning, '/elsewhere/mine.py', 3)
    show(FutureWarning('`torch.jit.script` is deprecated. Please switch'), FutureWarning, '/torch/jit/_script.py', 1491)
    assert capsys.readouterr().err.splitlines() == [
        'awd-fastai: warning: MaskRecorder: every dropout layer it records has p = 0 (NoDropoutWarning)',
        'awd-fastai: warning: There is no item with probability >= 0.9 (UserWarning)']
    assert [str(m) for m in passed] == ['a user warning'] and warnings.filters == filters

# ## 5. `PackedSequence` in training

def _packed(n_in=3, lens=(5, 2, 4), seed=0):
    from torch.nn.utils.rnn import pack_sequence
    g = torch.Generator().manual_seed(seed)
    return pack_sequence([torch.randn(l, n_in, generator=g) for l in lens], enforce_sorted=False)

def _param(wd, k:str):
    "The tensor of `wd` that plays the wrapped RNN's parameter `k` (a dropped weight's raw copy)."
    return getattr(wd, f'{k}_raw') if hasattr(wd, f'{k}_raw') else getattr(wd.module, k)

def _wrappers():
    "Every stepping wrapper: W_hh dropout with a per-example / per-step / per-batch state mask, and per-step DropConnect."
    from awd_fastai.dropout import WeightDropout, PerStepWeightDropout, PerStepStateDropout, LockedStateDropout, BatchStateDropout
    return {'state per step': lambda m, p: WeightDropout(m, p, state_dp=PerStepStateDropout(p)),
            'state locked': lambda m, p: WeightDropout(m, p, state_dp=LockedStateDropout(p)),
            'state per batch': lambda m, p: WeightDropout(m, p, state_dp=BatchStateDropout(p)),
            'per-step DropConnect': lambda m, p: PerStepWeightDropout(m, p)}

@pytest.mark.parametrize('rnn', ['LSTM', 'GRU'])
@pytest.mark.parametrize('bidir', [False, True])
@pytest.mark.parametrize('kind', list(_wrappers()))
def test_packed_sequence_steps_as_nn_rnn_at_p0(rnn, bidir, kind):
    "Stepping through a `PackedSequence` (forced, at p = 0) is the wrapped nn.LSTM/GRU: its packed output and each "
    "sequence's final state, from a given initial state, forwards and backwards."
    from torch.nn.utils.rnn import pad_packed_sequence
    torch.manual_seed(0)
    ref = getattr(torch.nn, rnn)(3, 4, batch_first=True, bidirectional=bidir)
    wd = _wrappers()[kind](getattr(torch.nn, rnn)(3, 4, batch_first=True, bidirectional=bidir), 0.)
    with torch.no_grad():
        for k, v in ref.state_dict().items(): _param(wd, k).copy_(v)   # the same weights
    wd.train(); wd._stepping = lambda: True                      # the training path, with masks that keep everything
    x, nd = _packed(), 2 if bidir else 1
    h0 = torch.randn(nd, 3, 4)
    hx = (h0, torch.randn(nd, 3, 4)) if rnn == 'LSTM' else h0
    (out, h), (out_ref, h_ref) = wd(x, hx), ref(x, hx)
    assert isinstance(out, type(x)) and torch.equal(out.batch_sizes, x.batch_sizes)
    torch.testing.assert_close(pad_packed_sequence(out, batch_first=True)[0], pad_packed_sequence(out_ref, batch_first=True)[0])
    for a, b in zip(h if rnn == 'LSTM' else [h], h_ref if rnn == 'LSTM' else [h_ref]): torch.testing.assert_close(a, b)

@pytest.mark.parametrize('kind', list(_wrappers()))
def test_packed_sequence_trains_with_masks(kind):
    "In training with p > 0 a `PackedSequence` goes through (it raised `AttributeError`): a packed output, gradients, "
    "and each sequence's final state is its output at its own last step; eval still matches nn.LSTM."
    from torch.nn.utils.rnn import pad_packed_sequence
    torch.manual_seed(0)
    wd = _wrappers()[kind](torch.nn.LSTM(3, 4, batch_first=True), 0.5)
    wd.train()
    x = _packed()
    out, (h, c) = wd(x)
    padded, lens = pad_packed_sequence(out, batch_first=True)            # (bs, sl, nh), (bs,)
    for i, l in enumerate(lens.tolist()): torch.testing.assert_close(h[0, i], padded[i, l-1])
    (padded.sum() + c.sum()).backward()
    assert wd.module.weight_ih_l0.grad is not None
    wd.eval()
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():
        for k, v in ref.state_dict().items(): v.copy_(_param(wd, k))
    torch.testing.assert_close(pad_packed_sequence(wd(x)[0], batch_first=True)[0], pad_packed_sequence(ref(x)[0], batch_first=True)[0])
