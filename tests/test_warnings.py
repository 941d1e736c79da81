"""Warnings are scoped: importing awd_fastai installs no warning filter (a problem in a user's own `nn.LSTM` stays visible),
and our layers do not trigger the warnings that an earlier version filtered out."""
import os, re, subprocess, sys, warnings
from pathlib import Path
import pytest, torch, torch.nn as nn
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner

ROOT = Path(__file__).resolve().parents[1]

_FILTERS = """
import sys, warnings
import fastai.text.all, fastai.distributed, matplotlib.pyplot           # what awd_fastai imports of others
before = list(warnings.filters)
for m in sys.argv[1:]: __import__(m)
print(repr([(a, getattr(m, 'pattern', m), c.__name__, getattr(mod, 'pattern', mod), l) for a, m, c, mod, l in before]))
print(repr([(a, getattr(m, 'pattern', m), c.__name__, getattr(mod, 'pattern', mod), l) for a, m, c, mod, l in warnings.filters]))
"""

@pytest.mark.parametrize('mods', [['awd_fastai'], ['awd_fastai.dropout'], ['awd_fastai.learner', 'awd_fastai.distributed'],
                                  ['awd_fastai.recorder', 'awd_fastai.plots', 'awd_fastai.cli'], ['awd_fastai_cli']])
def test_import_leaves_warning_filters_unchanged(mods):
    "In a fresh process, after fastai's own imports: importing awd_fastai (any module) leaves `warnings.filters` as it was."
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    r = subprocess.run([sys.executable, '-c', _FILTERS, *mods], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    before, after = r.stdout.strip().splitlines()
    assert after == before

def _command() -> list:
    "The `awd-fastai` command as pyproject.toml declares it, run as pip's console-script wrapper runs it."
    mod, func = re.search(r'^awd-fastai\s*=\s*"([\w.]+):(\w+)"', (ROOT/'pyproject.toml').read_text(), re.M).groups()
    return [sys.executable, '-c', f'import sys; from {mod} import {func}; sys.exit({func}())']

_AFTER = "import sys, warnings\n{}\nprint(repr([(a, getattr(m, 'pattern', m), c.__name__, getattr(o, 'pattern', o), l) for a, m, c, o, l in warnings.filters]))"

def test_the_command_shows_no_import_warning_and_keeps_the_filters():
    """`awd-fastai --help` prints no warning (fastai's import makes torch warn that `torch.jit.script` is deprecated: the
    command leaves that one out), and the command's process has the warning filters a plain import of the CLI gives."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH')) if p)
    r = subprocess.run(_command() + ['--help'], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0 and r.stdout.startswith('usage: awd-fastai'), r.stderr[-2000:]
    assert 'Warning' not in r.stderr, r.stderr[-2000:]
    run = lambda code: subprocess.run([sys.executable, '-c', _AFTER.format(code)], capture_output=True, text=True, cwd=ROOT, env=env)
    via_command = run("import awd_fastai_cli, contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): awd_fastai_cli.main(['--version'])")
    plain = run('import awd_fastai.cli')
    assert via_command.returncode == plain.returncode == 0, via_command.stderr[-2000:] + plain.stderr[-2000:]
    assert via_command.stdout == plain.stdout
    assert 'torch.jit.script' not in via_command.stderr

def test_the_commands_worker_processes_show_no_import_warning(tmp_path):
    """`awd-fastai memory --quick` with 2 worker processes: each spawned worker imports fastai afresh, and none prints the
    `torch.jit.script` warning (the workers start with `awd_fastai_cli.worker_init`, which the runner passes)."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH')) if p)
    r = subprocess.run(_command() + ['memory', '--quick', '--workers', '2', '--out', str(tmp_path/'m')], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert '[4/4' in r.stdout                                       # the runs were made, in the workers
    assert 'torch.jit.script' not in r.stderr and 'Warning' not in r.stderr, r.stderr[-2000:]

def test_worker_init_hides_only_the_jit_warning():
    "In a process started with `worker_init`, another FutureWarning still shows; only the one known message is left out."
    code = ("import warnings, awd_fastai_cli\nawd_fastai_cli.worker_init()\n"
            "warnings.warn('`torch.jit.script` is deprecated. (from fastai)', FutureWarning)\n"
            "warnings.warn('something else is deprecated', FutureWarning)")
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH')) if p)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0 and 'something else is deprecated' in r.stderr and 'jit.script' not in r.stderr, r.stderr

def test_import_hides_no_warning_of_a_users_lstm():
    "A warning raised by the user's own code after `import awd_fastai` reaches the user (nothing filters it by message)."
    code = ("import warnings, awd_fastai\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.warn('RNN module weights are not part of single contiguous chunk of memory. (a user LSTM)')\n"
            "print(len(w))")
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0 and r.stdout.strip() == '1', r.stdout + r.stderr[-2000:]

def test_training_raises_no_warning_on_cpu():
    "With every warning an error, an awd_learner trains, validates and predicts on CPU: weight dropout triggers nothing here "
    "(on cuDNN neither, thanks to the flat weight buffer: see the GPU tests below and nbs/00_dropout.ipynb)."
    dls = lm_dls(corpus_texts(10), bs=4, seq_len=12)
    learn = awd_learner(dls, emb_sz=16, n_hid=24, n_layers=2)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with learn.no_bar(), learn.no_logging():
            learn.fit(1, 1e-3)
            learn.validate()
        learn.generate('The assert statement', 3)

_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU: the warning and the flat buffer are cuDNN behaviour')

@_CUDA
def test_cudnn_weight_warning_is_visible():
    "On cuDNN, a user's own LSTM whose weights are not in one flat buffer still warns: nothing of ours filters the warning."
    import awd_fastai.dropout  # noqa: F401
    lstm = nn.LSTM(4, 6, batch_first=True).cuda()
    lstm.weight_hh_l0.data = lstm.weight_hh_l0.data.clone()        # a weight outside the layer's buffer
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        lstm(torch.randn(2, 5, 4, device='cuda'))
    assert sum('contiguous chunk of memory' in str(x.message) for x in w) >= 1

@_CUDA
def test_weight_dropout_on_cudnn_gives_no_weight_warning():
    "On cuDNN, WeightDropout writes the masked W_hh into its slot of one flat buffer: no warning in training (two forwards "
    "before one backward included) or eval, and the same outputs and gradients as the path without the buffer."
    from copy import deepcopy
    from awd_fastai.dropout import WeightDropout
    lstm = nn.LSTM(4, 6, batch_first=True, bidirectional=True)
    wd, ref = WeightDropout(deepcopy(lstm), 0.5).cuda(), WeightDropout(deepcopy(lstm), 0.5).cuda()
    ref._on_flat_buffer = lambda x: False                           # the copying path, warning included
    x = torch.randn(2, 5, 4, device='cuda')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        for n_fwd in (1, 2, 1):
            torch.manual_seed(0); a = sum(wd(x)[0].sum() for _ in range(n_fwd))
            a.backward()
        wd.eval(); wd(x); wd.train()
    assert sum('contiguous chunk of memory' in str(x.message) for x in w) == 0
    wd.zero_grad()
    torch.manual_seed(1); a = wd(x)[0]
    torch.manual_seed(1); b = ref(x)[0]
    torch.testing.assert_close(a, b)
    a.sum().backward(); b.sum().backward()
    for (n, p), (_, q) in zip(wd.named_parameters(), ref.named_parameters()): torch.testing.assert_close(p.grad, q.grad, msg=n)
