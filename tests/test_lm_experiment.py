"The language-model ablation's runner (experiments/lm/run.py): a smoke run on the embedded corpus is logged in full and resumes; never WikiText-2."
import importlib.util, json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT/'experiments'/'lm'/'run.py'

def _module():
    "experiments/lm/run.py as a module (imported once)."
    spec = importlib.util.spec_from_file_location('lm_run', SCRIPT)
    m = sys.modules.get('lm_run')
    if m is None:
        m = sys.modules['lm_run'] = importlib.util.module_from_spec(spec)   # registered first: its dataclass needs its module
        spec.loader.exec_module(m)
    return m

def _run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)

@pytest.fixture(scope='module')
def quick(tmp_path_factory):
    "One `--quick` run (embedded corpus, tiny model, 2 epochs), logged to a temporary file."
    d = tmp_path_factory.mktemp('lm')
    r = _run('--quick', '--workers', '1', '--log', str(d/'runs.jsonl'), cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr
    return d, r, [json.loads(l) for l in (d/'runs.jsonl').read_text().splitlines()]

def test_quick_run_logs_every_run_in_full(quick):
    d, r, runs = quick
    m = _module()
    test_configs = m.grid_configs(quick=True)
    assert [x['config'] for x in runs] == [m.asdict(c) for c in test_configs]            # every run, in order
    for x in runs:
        n = x['epochs_run']
        assert n == x['config']['epochs'] and all(len(x[k]) == n for k in ('train_ppl', 'train_eval_ppl', 'valid_ppl', 'epoch_s'))
        assert x['best_valid'] == min(x['valid_ppl']) and x['valid_ppl'][x['best_epoch']-1] == x['best_valid']
        assert x['still_improving'] == (x['best_epoch'] == n)
        assert x['test_ppl'] > 1 and x['seconds'] > 0 and x['date'] and x['protocol'] == 'quick'
        assert x['command'].startswith('python experiments/lm/run.py --quick')
        assert str(d) not in x['command'] and str(ROOT) not in x['command']                 # no machine paths in the log
    assert '0 left' in r.stdout and 'ETA' in r.stdout                                       # the progress bar

def test_rerun_skips_the_logged_runs(quick):
    d, _, runs = quick
    before = (d/'runs.jsonl').read_text()
    r = _run('--quick', '--workers', '1', '--log', str(d/'runs.jsonl'), cwd=d)
    assert r.returncode == 0 and f'{len(runs)} already in' in r.stdout and '0 to run' in r.stdout, r.stdout + r.stderr
    assert (d/'runs.jsonl').read_text() == before

def test_a_log_of_another_version_is_refused(quick, tmp_path, capsys):
    _, _, runs = quick
    log = tmp_path/'old.jsonl'
    log.write_text(json.dumps(dict(runs[0], protocol='lm-0')) + '\n')
    assert _module().main(['--quick', '--workers', '1', '--log', str(log)]) == 2
    assert "protocol version(s) ['lm-0']" in capsys.readouterr().err
    assert len(log.read_text().splitlines()) == 1                                           # nothing appended

def test_without_the_data_folder_nothing_is_run_or_written(tmp_path, capsys):
    log = tmp_path/'pilots.jsonl'
    assert _module().main(['--pilot', '--note', 'x', '--data', str(tmp_path/'nowhere'), '--log', str(log)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path/'nowhere') in err and 'no such folder' in err
    assert not log.exists()

def test_the_grid_is_the_protocols():
    "Ten schemes; three seeds for no dropout, AWD-LSTM and the two per-step recurrent schemes, two for the rest; seed 0 of every scheme first."
    m = _module()
    runs = m.grid_configs()
    seeds = {s: sorted(c.seed for c in runs if c.scheme == s) for s in m.SCHEMES}
    assert seeds == {s: [0, 1, 2] if s in ('none', 'awd', 'state_step', 'cell_step') else [0, 1] for s in m.SCHEMES}
    assert [c.seed for c in runs[:len(m.SCHEMES)]] == [0] * len(m.SCHEMES)
    assert all(m.asdict(c) | dict(scheme='none', seed=0) == m.asdict(runs[0]) for c in runs)   # only scheme and seed vary

def test_results_table_ranks_only_runs_that_stopped_improving(quick):
    "The smoke runs (2 epochs, best at the last) are all 'still improving': listed with their numbers, none ranked."
    d, _, runs = quick
    spec = importlib.util.spec_from_file_location('lm_results', ROOT/'experiments'/'lm'/'results.py')
    res = importlib.util.module_from_spec(spec); spec.loader.exec_module(res)
    rows = res.table(res.load(d/'runs.jsonl')).splitlines()[2:]
    assert len(rows) == len({r['config']['scheme'] for r in runs})
    for row, r in zip(rows, runs):
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert cells[2] == '–' and f"seed 0: {r['best_valid']:.1f} at {r['best_epoch']}" in cells[-1]
    done = dict(runs[1], still_improving=False)                                   # one that stopped: ranked, 0 against itself
    row = res.table([done]).splitlines()[2]
    assert f"| {done['best_valid']:.1f} |" in row and '| 0 |' in row

def test_test_perplexity_is_measured_as_validation():
    "The validation lines sent through the test path (`dls.test_dl`) give exactly the validation perplexity."
    import pandas as pd, torch
    from awd_fastai.learner import awd_learner
    m = _module()
    c = m.LMConfig(**m.QUICK)
    dls, _, _ = m.get_dls(c, None)
    _, valid, _ = m.split_texts(c, None)
    torch.manual_seed(0)
    model = awd_learner(dls, emb_sz=c.emb_sz, n_hid=c.n_hid, n_layers=c.n_layers, metrics=[]).model
    v = m.perplexity(model, dls.valid)
    assert v > 1 and v == m.perplexity(model, dls.test_dl(pd.DataFrame({'text': valid})))

def test_a_run_depends_on_its_config_only():
    "The same config trained twice in one process (the data cached, as in a worker) gives the same numbers: resuming in any order changes nothing."
    import torch
    m = _module()
    c = m.LMConfig(**(m.QUICK | dict(epochs=1)))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a, b = (m.train_lm(c, verbose=False) for _ in range(2))
    finally: torch.set_num_threads(threads)
    for k in ('train_ppl', 'valid_ppl', 'test_ppl', 'best_valid'): assert a[k] == b[k], k

def _results_module():
    spec = importlib.util.spec_from_file_location('lm_results', ROOT/'experiments'/'lm'/'results.py')
    res = importlib.util.module_from_spec(spec); spec.loader.exec_module(res)
    return res

def test_shipped_results_are_the_committed_log(tmp_path):
    "awd_fastai/data/lm_ablation.json is `python experiments/lm/results.py` of experiments/lm/runs.jsonl: regenerated, byte for byte."
    res = _results_module()
    out = tmp_path/'lm.json'
    assert res.main(['--out', str(out)]) == 0
    assert out.read_text() == (ROOT/'awd_fastai'/'data'/'lm_ablation.json').read_text(), \
        'the shipped results lag the log: run `python experiments/lm/results.py`'

def test_results_call_a_scheme_worse_only_when_the_seed_ranges_lie_apart():
    res = _results_module()
    s = lambda lo, hi: dict(mean=(lo + hi) / 2, min=lo, max=hi)
    assert res.verdict(s(110, 112), s(100, 105), 2, 3) == 'worse' and res.verdict(s(90, 95), s(100, 105), 2, 3) == 'better'
    assert res.verdict(s(104, 112), s(100, 105), 2, 3) == 'within'
    assert res.verdict(s(110, 110), s(100, 105), 1, 3) is None                   # one seed has no range: not called either way

def test_results_curves_average_the_seeds_that_ran_each_epoch(quick):
    "Mean per-epoch curves over seeds; a seed that stopped earlier leaves the later epochs to the others (n counts them)."
    d, _, runs = quick
    res = _results_module()
    a = dict(runs[0], epochs_run=3, valid_ppl=[5., 4., 3.], train_eval_ppl=[6., 5., 4.], train_ppl=[7., 6., 5.])
    b = dict(runs[0], epochs_run=2, valid_ppl=[7., 6.], train_eval_ppl=[8., 7.], train_ppl=[9., 8.], config=dict(runs[0]['config'], seed=1))
    c = res._curves([a, b])
    assert c['valid'] == [6., 5., 3.] and c['train'] == [7., 6., 4.] and c['n'] == [2, 2, 1] and c['epoch'] == [1, 2, 3]
