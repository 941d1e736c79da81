"End to end: `awd-fastai demo` from a fresh process writes every figure and the report; `plot` in another process redraws them identically."
import os, re, shutil, stat, subprocess, sys
from pathlib import Path
import matplotlib.pyplot as plt
import numpy as np
import pytest

FIGURES = ['unrolled.png', 'cnn_dropout.png', 'word_neighbours.png', 'embedding.png', 'cell_sites.png', 'state_dropout.png', 'masks.gif',
           'naive_vs_locked.png', 'dropconnect.png', 'dropconnect_batches.png', 'all_masks.png', 'mask_grid.png', 'drop_rates.png', 'bptt.png',
           'memory_map.png', 'memory.png', 'lm_ablation.png', 'learning_curve.png', 'site_effects.png']
           # what `plot` redraws from the saved recordings (the word figures from the saved embedding)

def cli(*args, cwd=None):
    exe = Path(sys.executable).parent/'awd-fastai'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-c', 'import sys; from awd_fastai.cli import main; sys.exit(main())']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, timeout=900)

DEMO_STDOUT = {}   # what the demo fixture's run printed

@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    r = cli('demo', '--out', str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    DEMO_STDOUT['out'] = r.stdout
    return out

def test_demo_writes_every_figure_and_the_report(demo):
    for f in FIGURES + ['masks.npz', 'masks_naive.npz', 'history.json', 'index.html']:
        assert (demo/f).stat().st_size > 0, f
    page = (demo/'index.html').read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == set(FIGURES)   # the report shows every figure
    assert page.count('<figcaption>') == len(FIGURES)
    assert 'href="explorer.html"' in page                                  # the report links the explorer page
    assert (demo/'explorer.html').stat().st_size < 10 * 2**20             # one self-contained page, both runs, under 10 MB

def test_demo_records_the_masks_on_h_and_the_explorer_shows_them(demo):
    "The article's subject from a real recording: per-step, locked and per-batch masks on h(t-1), saved and on the explorer page."
    from awd_fastai.recorder import MaskRecord
    page = (demo/'explorer.html').read_text()
    for f, kind in (('masks_state_per_step.npz', 'state_per_step'), ('masks_state_locked.npz', 'state_locked'),
                    ('masks_state_batch.npz', 'state_batch')):
        rec = MaskRecord.load(demo/f)
        assert kind in {s.kind for s in rec.sites.values()} and len(rec) > 0, f
        assert f'small model ({f})' in page                                   # a recording of the page
    index = (demo/'index.html').read_text()
    assert re.search(r'\b4 epochs\b', index) and 'epochs,' not in index.replace('4 epochs,', '')

def test_demo_says_what_it_does_after_training(demo):
    "Issue 21 (c): after training, the demo prints a line for the h(t-1) runs, each section it draws and the explorer page."
    lines = DEMO_STDOUT['out'].splitlines()
    after = lines[next(i for i, l in enumerate(lines) if l.startswith('Training the per-step contrast')) + 1:]
    said = [l for l in after if l.startswith(('Recording the h(t-1) runs', 'Drawing the figures of', 'Writing the explorer'))]
    assert said[0].startswith('Recording the h(t-1) runs') and said[-1].startswith('Writing the explorer page'), after
    assert sum(l.startswith('Drawing the figures of') for l in said) == 11                  # one line per section drawn

def test_plot_in_a_new_process_redraws_identically(demo, tmp_path):
    "Every figure the demo drew, the word figures included (the recording holds the trained embedding), pixel for pixel; "
    "the h(t-1) and DropConnect figures from the h(t-1) runs the demo saved (issue 21 (d)), copied beside the report."
    r = cli('plot', str(demo/'masks.npz'), '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Cannot draw' not in r.stdout
    assert 'Recording the h(t-1) runs' not in r.stdout                    # read from masks_state_*.npz, not recorded again
    for f in ('masks_state_per_step.npz', 'masks_state_locked.npz', 'masks_state_batch.npz', 'state_weights.json'):
        assert (tmp_path/f).read_bytes() == (demo/f).read_bytes(), f
    for f in FIGURES:
        if f.endswith('.png'): np.testing.assert_array_equal(plt.imread(demo/f), plt.imread(tmp_path/f), err_msg=f)

def test_recording_reloads_in_a_new_process(demo):
    code = ("import sys; from awd_fastai.recorder import MaskRecord; r = MaskRecord.load(sys.argv[1]); "
            "print(len(r.names), len(r), sum(int(m.sum()) for n in r.names for m in r.masks(n).values()))")
    out = subprocess.run([sys.executable, '-c', code, str(demo/'masks.npz')], capture_output=True, text=True, check=True).stdout
    from awd_fastai.recorder import MaskRecord
    r = MaskRecord.load(demo/'masks.npz')
    assert out.split() == [str(len(r.names)), str(len(r)), str(sum(int(m.sum()) for n in r.names for m in r.masks(n).values()))]

def test_every_file_gets_the_mode_open_would_give_it(demo):
    "Written atomically, and as readable as any new file: 0o666 less the umask (the demo ran under the test's umask)."
    umask = os.umask(0); os.umask(umask)
    for f in FIGURES + ['masks.npz', 'masks_naive.npz', 'history.json', 'index.html', 'explorer.html']:
        assert stat.S_IMODE((demo/f).stat().st_mode) == 0o666 & ~umask, f
    assert not [p for p in demo.iterdir() if p.name.startswith('.')]          # no temporary file left

CANNOT = {'word_neighbours.png': 'the recording holds no trained embedding (it is of format version {v}',
          'naive_vs_locked.png': 'no recording of the per-step contrast run (masks_naive.npz) beside it',
          'learning_curve.png': 'no learning curves (history.json) beside it'}   # what an old recording alone cannot draw, and why

@pytest.mark.parametrize('version', ['0.1.0', '0.2.0'])
def test_plot_an_old_recording_draws_the_rest_and_says_what_it_cannot(version, tmp_path):
    "`plot` of a 0.1.0 or 0.2.0 recording (format version 1 or 2: no trained embedding; no naive run or history beside it) "
    "draws every other figure and prints, per figure it cannot draw, why."
    shutil.copy(Path(__file__).parent/'data'/f'masks_v{version}.npz', tmp_path/'old.npz')
    r = cli('plot', str(tmp_path/'old.npz'), '--out', str(tmp_path/'figs'))
    assert r.returncode == 0, r.stderr[-3000:]
    page = (tmp_path/'figs'/'index.html').read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == set(FIGURES) - set(CANNOT)
    v = version.split('.')[1]
    said = [l for l in r.stdout.splitlines() if l.startswith('Cannot draw')]
    assert len(said) == len(CANNOT) and all(f"Cannot draw {f}: {why.format(v=v)}" in r.stdout for f, why in CANNOT.items()), r.stdout
    assert 'Recording the h(t-1) runs of a small model again: masks_state_per_step.npz' in r.stdout   # none beside it: said

def test_plot_refuses_a_folder_of_other_files(tmp_path):
    "Issue 21 (b): `plot --out` a folder that holds files but no report: exit 2 naming the problem, nothing written."
    shutil.copy(Path(__file__).parent/'data'/'masks_v0.2.0.npz', tmp_path/'old.npz')
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'thesis.tex').write_text('a file of the user')
    r = cli('plot', str(tmp_path/'old.npz'), '--out', str(tmp_path/'mine'))
    assert r.returncode == 2 and 'is not empty and holds no report (thesis.tex)' in r.stderr and '--force' in r.stderr
    assert [p.name for p in (tmp_path/'mine').iterdir()] == ['thesis.tex'] and len(list(tmp_path.iterdir())) == 2

def _tree(p:Path) -> dict: return {str(f.relative_to(p)): f.read_bytes() for f in sorted(p.rglob('*')) if f.is_file()}

@pytest.mark.parametrize('command', [['demo'], ['train', '--data', '{text}'], ['memory', '--quick']])
def test_no_command_writes_into_a_folder_of_other_files(command, tmp_path):
    "Items 2 and 17 of the newcomer's report: `demo`, `train` and `memory` into a folder of the user's files (with a "
    "figure of a report's name, for `memory`): exit 2 with one line naming the folder and --force, nothing written; "
    "`memory` into its own folder still resumes (tests/test_memory.py)."
    (tmp_path/'text.txt').write_text('some words of the user ' * 50)
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'notes.md').write_text('a file of the user'); (mine/'memory.png').write_bytes(b'x')
    before = _tree(tmp_path)
    r = cli(*[a.format(text=tmp_path/'text.txt') for a in command], '--out', str(mine))
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1 and err[0].startswith(f'awd-fastai: error: {mine} '), r.stderr
    assert '(memory.png, notes.md)' in err[0] or '(notes.md)' in err[0], err
    assert 'pass --force' in err[0] and 'choose another --out' in err[0]
    assert _tree(tmp_path) == before

def test_explore_never_replaces_a_file_without_force(tmp_path):
    "`explore --out FILE` with FILE existing (a script of the user's, or a page it wrote before): exit 2, the file untouched, "
    "until --force; a page bound too small is said in the command's own option, --max-mb, with what fits."
    rec = tmp_path/'old.npz'; shutil.copy(Path(__file__).parent/'data'/'masks_v0.2.0.npz', rec)
    script = tmp_path/'api.py'; script.write_text('print("my script")\n')
    r = cli('explore', str(rec), '--out', str(script))
    assert r.returncode == 2 and r.stderr == f'awd-fastai: error: {script} already exists: pass --force to replace it, or choose another --out\n'
    assert script.read_text() == 'print("my script")\n' and sorted(p.name for p in tmp_path.iterdir()) == ['api.py', 'old.npz']
    r = cli('explore', str(rec), '--out', str(script), '--force')
    assert r.returncode == 0 and script.read_text().lstrip().lower().startswith('<!doctype html'), r.stderr[-2000:]
    r = cli('explore', str(rec), '--out', str(tmp_path/'small.html'), '--max-mb', '0.01')
    m = re.fullmatch(r'awd-fastai: error: --max-mb 0\.01 is too small for one recorded iteration of each recording, even '
                     r'with the masks cropped: pass --max-mb ([\d.]+) or more\n', r.stderr)
    assert r.returncode == 2 and m and 'max_bytes' not in r.stderr and 'crop`' not in r.stderr, r.stderr
    r = cli('explore', str(rec), '--out', str(tmp_path/'small.html'), '--max-mb', m.group(1))
    assert r.returncode == 0 and (tmp_path/'small.html').stat().st_size <= float(m.group(1)) * 2**20, r.stderr[-2000:]

def test_help_texts_give_one_time_for_each_memory_preset():
    "Item 9: every help text that names a memory preset's time gives the same one (`MEMORY_TIMES`, measured)."
    from awd_fastai.cli import _parser, MEMORY_TIMES
    sub = _parser()._subparsers._group_actions[0].choices
    texts = {c: ' '.join(sub[c].format_help().split()) for c in ('demo', 'train', 'memory')}
    for c, t in texts.items():
        assert f"quick: a smoke run, {MEMORY_TIMES['quick']}" in t or f"--quick a smoke run, {MEMORY_TIMES['quick']}" in t, (c, t)
        assert 'about a minute' not in t and 'of seconds' not in t
        assert t.count(MEMORY_TIMES['default']) >= 1 and t.count(MEMORY_TIMES['full']) >= 1, (c, t)
    assert MEMORY_TIMES['quick'] == 'about 15 s'

def test_train_help_says_how_a_file_becomes_documents_and_the_out_rule():
    "`train --help` says what a document is (the error for one document says so too) and the one rule of --out."
    from awd_fastai.cli import _parser
    t = ' '.join(_parser()._subparsers._group_actions[0].choices['train'].format_help().split())
    assert 'one document per paragraph (split at blank lines, or at line breaks where there are none)' in t
    assert 'a folder holding a report or other files needs --force' in t and 'never replaced' not in t

def test_the_report_names_still_import_from_cli():
    "The report's names moved to `awd_fastai.report` in 0.3.0; `awd_fastai.cli` still gives them, with a FutureWarning."
    import awd_fastai.report as R
    with pytest.warns(FutureWarning, match='awd_fastai.report.write_figures'):
        from awd_fastai.cli import write_figures
    assert write_figures is R.write_figures
    from awd_fastai import cli
    assert cli._first is R._first and cli._staged_report is R.staged_report   # private names other notebooks read

def test_help_and_bad_input_exit_codes(tmp_path):
    r = cli('--help')
    assert r.returncode == 0 and 'demo' in r.stdout and 'plot' in r.stdout
    (tmp_path/'bin.txt').write_bytes(b'\x00\x01\x02')
    for args, msg in [(('train', '--data', str(tmp_path/'nope')), 'no such file'),
                      (('train', '--data', str(tmp_path/'bin.txt')), 'binary'),
                      (('demo', '--bs', '-3'), 'positive integer'),
                      (('plot', str(tmp_path/'bin.txt')), 'not a MaskRecorder recording'),
                      (('explore', str(tmp_path/'bin.txt')), 'not a MaskRecorder recording')]:
        r = cli(*args)
        assert r.returncode == 2 and msg in r.stderr, (args, r.stderr)

# Every option of `demo`/`train` (issue 12 §2), on a tiny model: each row of the CLI has a test here.
TINY = ['--epochs', '1', '--emb-sz', '16', '--n-hid', '32', '--bs', '8', '--seq-len', '20', '--every', '3']

@pytest.fixture(scope='module')
def text(tmp_path_factory):
    from awd_fastai.data import corpus_texts
    f = tmp_path_factory.mktemp('text')/'notes.txt'
    f.write_text('\n\n'.join(corpus_texts(12)))
    return f

def links(page:Path) -> set:
    "Every file the report points at (images and links)."
    return set(re.findall(r'(?:src|href)="([^"#:]+)"', page.read_text()))

def test_version():
    from awd_fastai import __version__
    r = cli('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'awd-fastai {__version__}'

def test_train_writes_its_own_folder_and_never_replaces_a_report_without_force(text, tmp_path):
    "Default folder awd_train/<name of the text>; a second run there is refused (exit 2, nothing touched) until --force."
    r = cli('train', '--data', str(text), *TINY, '--no-contrast', cwd=tmp_path)
    out = tmp_path/'awd_train'/'notes'
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == 'Open awd_train/notes/index.html'   # the last line: which file to open
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r = cli('train', '--data', str(text), *TINY, '--no-contrast', cwd=tmp_path)
    assert r.returncode == 2 and 'already holds a report' in r.stderr and '--force' in r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before          # refused before writing anything
    r = cli('train', '--data', str(text), *TINY, '--no-contrast', '--force', '--seed', '7', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out/'masks.npz').stat().st_mtime_ns > before['masks.npz']

def test_options_reach_the_training_run(text, tmp_path, monkeypatch):
    "The p's, --min-freq and --threads are what the run used; --no-contrast trains one model and draws no contrast figure; "
    "torch's thread count is restored afterwards (in-process call)."
    import torch
    from awd_fastai import cli as C, report as R
    from awd_fastai.data import lm_dls, read_texts
    from awd_fastai.recorder import MaskRecord
    seen, train, data_kw, make_dls = [], R.train_recorded, {}, R.lm_dls
    def spy(*a, **k): seen.append(torch.get_num_threads()); return train(*a, **k)
    def dls_spy(*a, **k): data_kw.update(k); return make_dls(*a, **k)
    monkeypatch.setattr(R, 'train_recorded', spy)                    # the command runs the report's library functions
    monkeypatch.setattr(R, 'lm_dls', dls_spy)
    threads = torch.get_num_threads()
    want = 1 if threads > 1 else 2
    ps = dict(embed_p=0.05, input_p=0.3, hidden_p=0.25, weight_p=0.15, output_p=0.35)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in ps.items()]
    assert C.main(['train', '--data', str(text), '--out', str(tmp_path/'run'), *TINY, *args, '--min-freq', '5',
                   '--no-contrast', '--threads', str(want), '--valid-pct', '0.25']) == 0
    assert data_kw['valid_pct'] == 0.25 and data_kw['min_freq'] == 5                  # the data options reach lm_dls
    assert seen == [want] and torch.get_num_threads() == threads                        # one run, at the asked threads
    rec = MaskRecord.load(tmp_path/'run'/'masks.npz')
    option = {'embedding': 'embed_p', 'input': 'input_p', 'weight': 'weight_p', 'hidden': 'hidden_p', 'output': 'output_p'}
    assert {site.where for site in rec.sites.values()} == set(option)
    for name, site in rec.sites.items():                                                 # each site's p, by where it is
        assert site.p == pytest.approx(ps[option[site.where]]), (name, site)
    assert len(rec.vocab) == len(lm_dls(read_texts(text), bs=8, seq_len=20, min_freq=5).vocab)
    assert len(rec.vocab) < len(lm_dls(read_texts(text), bs=8, seq_len=20).vocab)
    import json
    assert list(json.loads((tmp_path/'run'/'history.json').read_text())) == ['locked']
    assert not (tmp_path/'run'/'masks_naive.npz').exists() and not (tmp_path/'run'/'naive_vs_locked.png').exists()
    assert links(tmp_path/'run'/'index.html') <= {p.name for p in (tmp_path/'run').iterdir()}

def test_bad_option_values(text):
    for args, msg in [(('demo', '--hidden-p', '1'), 'probability in [0, 1)'), (('demo', '--embed-p', '-0.1'), 'probability'),
                      (('demo', '--threads', '0'), 'positive integer'), (('demo', '--min-freq', 'x'), 'positive integer'),
                      (('demo', '--format', 'jpg'), 'invalid choice'), (('demo', '--dpi', '0'), 'positive integer'),
                      (('demo', '--valid-pct', '1'), 'between 0 and 1'), (('train', '--data', 'x', '--valid-pct', 'a'), 'between 0 and 1')]:
        r = cli(*args)
        assert r.returncode == 2 and msg in r.stderr, (args, r.stderr)

def test_odd_text_is_warned_about(tmp_path):
    "A text so short that an epoch is one batch trains, with a warning on stderr naming the problem."
    from awd_fastai.data import corpus_texts
    words = ' '.join(corpus_texts(20)).split()
    (tmp_path/'short.txt').write_text('\n\n'.join(' '.join(words[i:i+25]) for i in range(0, 250, 25)))
    r = cli('train', '--data', str(tmp_path/'short.txt'), '--out', str(tmp_path/'run'), *TINY[:6], '--bs', '24',
            '--seq-len', '20', '--no-contrast')
    assert r.returncode == 0, r.stderr[-3000:]
    said = [l for l in r.stderr.splitlines() if 'an epoch is one batch' in l]
    assert said and said[0].startswith('awd-fastai: warning: ') and said[0].endswith('(OddTextWarning)'), r.stderr
    assert 'warnings.warn(' not in r.stderr and '.py:' not in r.stderr     # one line: no file:line, no source line

def test_plot_elsewhere_keeps_the_report_self_contained(text, tmp_path):
    "`plot --out OTHER` copies the recordings beside the figures: every link of the new report is a file in its folder."
    r = cli('train', '--data', str(text), '--out', str(tmp_path/'run'), *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    r = cli('plot', str(tmp_path/'run'/'masks.npz'), '--out', str(tmp_path/'other'))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == f"Open {tmp_path/'other'/'index.html'}"
    files = {p.name for p in (tmp_path/'other').iterdir()}
    assert {'masks.npz', 'masks_naive.npz'} <= files and links(tmp_path/'other'/'index.html') <= files
    assert 'Cannot draw' not in r.stdout                                    # a new recording: the word figures too
    np.testing.assert_array_equal(plt.imread(tmp_path/'run'/'word_neighbours.png'), plt.imread(tmp_path/'other'/'word_neighbours.png'))
    assert (tmp_path/'other'/'masks.npz').read_bytes() == (tmp_path/'run'/'masks.npz').read_bytes()

def test_plot_never_replaces_a_report_without_force(text, tmp_path):
    "`plot REC` writes beside the recording (REC_report), never over the report it came from; an existing report folder "
    "is refused (exit 2, nothing touched) until --force, and redrawing in place keeps the recordings."
    run = tmp_path/'run'
    assert cli('train', '--data', str(text), '--out', str(run), *TINY).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    r = cli('plot', str(run/'masks.npz'))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == f"Open {run/'masks_report'/'index.html'}"
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()} == before     # the run's report untouched
    r = cli('plot', str(run/'masks.npz'))
    assert r.returncode == 2 and 'already holds a report' in r.stderr and '--force' in r.stderr
    r = cli('plot', str(run/'masks.npz'), '--out', str(run))
    assert r.returncode == 2 and 'already holds a report' in r.stderr
    r = cli('plot', str(run/'masks.npz'), '--out', str(run), '--force')
    assert r.returncode == 0, r.stderr[-3000:]
    assert (run/'masks.npz').read_bytes() and (run/'masks_naive.npz').stat().st_size > 0      # in place: both recordings kept
    assert links(run/'index.html') <= {p.name for p in run.iterdir()}

def _has_figure_options():
    import inspect
    from awd_fastai.report import write_figures
    return {'fmt', 'dpi'} <= set(inspect.signature(write_figures).parameters)

@pytest.mark.skipif(not _has_figure_options(), reason="write_figures(fmt=, dpi=) comes with the report branch (issue 12 §1)")
def test_format_and_dpi(text, tmp_path):
    "--format svg writes SVG figures and the report shows them; --dpi scales PNGs."
    r = cli('train', '--data', str(text), '--out', str(tmp_path/'svg'), *TINY, '--no-contrast', '--format', 'svg')
    assert r.returncode == 0, r.stderr[-3000:]
    imgs = set(re.findall(r'<img src="([^"]+)"', (tmp_path/'svg'/'index.html').read_text()))
    stills = {i for i in imgs if not i.endswith('.gif')}
    assert stills and all(i.endswith('.svg') and (tmp_path/'svg'/i).read_text().lstrip().startswith('<?xml') for i in stills)
    for dpi in (50, 100):
        r = cli('train', '--data', str(text), '--out', str(tmp_path/f'd{dpi}'), *TINY, '--no-contrast', '--dpi', str(dpi))
        assert r.returncode == 0, r.stderr[-3000:]
    small, big = (plt.imread(tmp_path/f'd{d}'/'drop_rates.png') for d in (50, 100))
    assert big.shape[0] == pytest.approx(2 * small.shape[0], rel=0.05)

def test_memory_option_reruns_the_experiment_for_the_report(text, tmp_path):
    "`--memory quick` runs the memory experiment into OUT/memory and the report's 'Does it matter?' shows those results, "
    "labelled as this run's (without it: the committed results, labelled with their own command and date)."
    out = tmp_path/'run'
    r = cli('train', '--data', str(text), '--out', str(out), *TINY, '--no-contrast', '--memory', 'quick')
    assert r.returncode == 0, r.stderr[-3000:]
    import json
    res = json.loads((out/'memory'/'memory.json').read_text())
    import html
    page = html.unescape((out/'index.html').read_text())
    from awd_fastai.report import _shown_command
    assert "This run's memory experiment" in page and _shown_command(res['command']) in page
    assert "memory experiment's committed results" not in page               # the memory part is this run's (the LM part stays committed)
    assert '1 seeds' not in page and '1 seed,' in page                       # counts in words: the quick run has one seed
    assert str(out) not in page                                                # the command as a reader types it: no machine path
    r = cli('train', '--data', str(text), '--out', str(tmp_path/'plain'), *TINY, '--no-contrast')
    assert r.returncode == 0 and "memory experiment's committed results" in html.unescape((tmp_path/'plain'/'index.html').read_text())
