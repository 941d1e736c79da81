"End to end: `awd-fastai demo` from a fresh process writes every figure and the report; `plot` in another process redraws them identically."
import os, re, shutil, stat, subprocess, sys
from pathlib import Path
import matplotlib.pyplot as plt
import numpy as np
import pytest

FIGURES = ['cnn_dropout.png', 'embedding.png', 'state_dropout.png', 'masks.gif', 'naive_vs_locked.png', 'dropconnect.png',
           'dropconnect_batches.png', 'all_masks.png', 'mask_grid.png', 'drop_rates.png', 'bptt.png', 'memory.png', 'ablation.png',
           'learning_curve.png']          # what `plot` redraws from the saved recordings
DEMO_ONLY = ['word_neighbours.png']      # needs the trained embedding, which a recording does not hold

def cli(*args, cwd=None):
    exe = Path(sys.executable).parent/'awd-fastai'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-c', 'import sys; from awd_fastai.cli import main; sys.exit(main())']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, timeout=900)

@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    r = cli('demo', '--out', str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    return out

def test_demo_writes_every_figure_and_the_report(demo):
    for f in FIGURES + ['masks.npz', 'masks_naive.npz', 'history.json', 'index.html']:
        assert (demo/f).stat().st_size > 0, f
    page = (demo/'index.html').read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == set(FIGURES + DEMO_ONLY)   # the report shows every figure
    assert page.count('<figcaption>') == len(FIGURES + DEMO_ONLY)
    assert 'href="explorer.html"' in page                                  # the report links the explorer page
    assert (demo/'explorer.html').stat().st_size < 10 * 2**20             # one self-contained page, both runs, under 10 MB

def test_plot_in_a_new_process_redraws_identically(demo, tmp_path):
    r = cli('plot', str(demo/'masks.npz'), '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
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

def test_plot_a_recording_written_by_0_1_0(tmp_path):
    "`plot` redraws the figures of a 0.1.0 recording (no naive run or history beside it: those figures are left out)."
    shutil.copy(Path(__file__).parent/'data'/'masks_v0.1.0.npz', tmp_path/'old.npz')
    r = cli('plot', str(tmp_path/'old.npz'), '--out', str(tmp_path/'figs'))
    assert r.returncode == 0, r.stderr[-3000:]
    page = (tmp_path/'figs'/'index.html').read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == set(FIGURES) - {'naive_vs_locked.png', 'learning_curve.png'}

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
