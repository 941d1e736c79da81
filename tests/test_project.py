"Project-level checks: the README is generated from index.ipynb, CI runs the README's test command verbatim."
import json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_in_sync_with_index_notebook():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

def test_readme_leaves_out_a_figures_repr_but_keeps_plain_results(tmp_path):
    "A figure's text is only `<Figure size ...>`: the README would show a stale, meaningless line for it."
    sys.path.insert(0, str(ROOT/'tools'))
    from make_readme import readme
    fig = {'output_type': 'display_data', 'data': {'image/png': 'iVBO', 'text/plain': ['<Figure size 780x880 with 6 Axes>']}}
    res = {'output_type': 'execute_result', 'data': {'text/plain': ['MaskRecord: 21 training iterations']}}
    nb = {'cells': [{'cell_type': 'code', 'source': ['rec.plot_all_masks();'], 'outputs': [fig]},
                    {'cell_type': 'code', 'source': ['rec'], 'outputs': [res]}]}
    (tmp_path/'index.ipynb').write_text(json.dumps(nb))
    text = readme(tmp_path/'index.ipynb')
    assert 'rec.plot_all_masks();' in text and 'MaskRecord: 21 training iterations' in text
    assert 'Figure size' not in text

def readme_command(heading):
    "The first shell block after `heading` in the README."
    text = (ROOT/'README.md').read_text()
    section = text.split(heading, 1)[1]
    return re.search(r'```sh\n(.*?)\n```', section, re.S).group(1).strip()

def test_ci_runs_readme_commands_verbatim():
    ci = (ROOT/'.ci'/'run').read_text()
    assert readme_command('## Develop and test') in ci.splitlines()
    user = readme_command('## Install').splitlines()
    assert 'pip install -e .' in user and user[-1] == 'awd-fastai demo'        # the user install, then the main job
    dev = readme_command('To develop').splitlines()[-1]                         # the developer install is what CI runs
    assert dev == 'pip install -e ".[dev]"' and dev in ci.splitlines()

def test_package_metadata():
    import awd_fastai
    from importlib.metadata import version
    assert version('awd_fastai') == awd_fastai.__version__

def test_wheel_builds_without_setuptools_dropping_a_folder(tmp_path):
    """`pip install .` must not greet a user with setuptools' "Package would be ignored" warnings: the shipped folders
    (data/, templates/, assets/) are listed as packages, and the wheel holds every file they ship."""
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(ROOT), '--no-deps', '--no-build-isolation', '-q',
                        '-w', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'would be ignored' not in r.stdout + r.stderr, r.stderr[-2000:]
    import zipfile
    names = set(zipfile.ZipFile(next(tmp_path.glob('*.whl'))).namelist())
    shipped = {p.relative_to(ROOT).as_posix() for d in ('data', 'templates', 'assets')
               for p in (ROOT/'awd_fastai'/d).iterdir() if p.is_file()}
    assert shipped and shipped <= names, sorted(shipped - names)

def test_readme_lists_only_options_the_demo_takes():
    "Every `--option` the README lists as the demo's is one `awd-fastai demo` accepts (it listed `--version`, which is the command's)."
    from awd_fastai.cli import _parser
    text = (ROOT/'README.md').read_text()
    listed = text.split('Options (`awd-fastai demo --help`):', 1)[1].split('The output folder', 1)[0]
    listed = re.sub(r'`awd-fastai [^`]*`', '', listed)                  # a whole other command quoted in passing
    opts = set(re.findall(r'`(--[a-z][a-z-]*)', listed))
    demo = next(a for a in _parser()._subparsers._group_actions[0].choices.items() if a[0] == 'demo')[1]
    known = {o for a in demo._actions for o in a.option_strings}
    assert len(opts) > 5 and opts <= known, sorted(opts - known)
