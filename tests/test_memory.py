"The memory experiment's committed results ship inside the package: a wheel holds them and an installed copy loads them."
import json, os, subprocess, sys, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = ['awd_fastai/data/memory_default.json', 'awd_fastai/data/memory_full.json']

@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q',
                        '-w', str(out), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return next(out.glob('awd_fastai-*.whl'))

def test_wheel_holds_the_results(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for f in FILES: assert f in names, f"{f} missing from {wheel.name} (package-data in pyproject.toml?)"

def test_installed_copy_loads_them(wheel, tmp_path):
    "Installed from the wheel into a folder of its own, `load_results` reads the results through importlib.resources."
    site = tmp_path/'site'
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target', str(site), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    code = ("import json, awd_fastai.memory as m; from importlib.resources import files; "
            "print(json.dumps(dict(where=str(files('awd_fastai')), n={k: len(m.load_results(k)['runs']) for k in ('default', 'full')})))")
    env = dict(os.environ, PYTHONPATH=str(site))
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(got['where']).resolve().is_relative_to(site.resolve())   # the installed copy, not the source tree
    assert got['n']['default'] > 0 and got['n']['full'] > got['n']['default']

def test_cli_memory_quick(tmp_path, capsys):
    "`awd-fastai memory --quick` trains the v2 smoke preset, writes results, figure and log; run again it resumes (trains "
    "nothing); a log of another protocol version is refused in one line naming it; bad options fail in one line."
    from awd_fastai.cli import main
    from awd_fastai.memory import load_results, v2_configs, V2_VERSION
    out = tmp_path/'m'
    assert main(['memory', '--quick', '--out', str(out), '--workers', '1']) == 0
    res = load_results(out/'memory.json')
    assert res['preset'] == 'quick' and res['protocol_version'] == V2_VERSION and len(res['runs']) == len(v2_configs('quick'))
    assert res['command'] == 'awd-fastai memory --quick --workers 1' and str(tmp_path) not in (out/'runs.jsonl').read_text()
    assert (out/'memory.png').stat().st_size > 10_000
    capsys.readouterr()
    assert main(['memory', '--quick', '--out', str(out), '--workers', '1']) == 0
    assert f"{len(res['runs'])} already in runs.jsonl, 0 to run" in capsys.readouterr().out
    assert len((out/'runs.jsonl').read_text().splitlines()) == len(res['runs'])      # nothing retrained, nothing appended
    old = tmp_path/'v1.jsonl'; old.write_text((out/'runs.jsonl').read_text().replace(V2_VERSION, 'memory-v1'))
    assert main(['memory', '--quick', '--out', str(tmp_path/'m2'), '--log', str(old)]) != 0
    assert "v1.jsonl holds runs of protocol version(s) ['memory-v1']" in capsys.readouterr().err
    with pytest.raises(SystemExit): main(['memory', '--quick', '--full'])     # one preset at a time
    with pytest.raises(SystemExit): main(['memory', '--full', '--rerun'])
    with pytest.raises(SystemExit): main(['memory', '--workers', '0'])
