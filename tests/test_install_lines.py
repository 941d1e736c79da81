"`.ci/cpu_install` runs the README's CPU-only install lines: they are read from README.md, whole and in order (the script itself needs the network and is run by hand)."
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from install_lines import cpu_install_lines, CPU_INDEX

def test_the_readmes_cpu_lines_install_torch_and_torchvision_from_the_cpu_index_then_the_package():
    lines = cpu_install_lines((ROOT/'README.md').read_text())
    assert lines[0].startswith('python -m venv .venv') and '. .venv/bin/activate' in lines[0]   # a fresh venv, activated
    torch_line = next(l for l in lines if CPU_INDEX in l)
    assert torch_line.split()[:2] == ['pip', 'install'] and {'torch', 'torchvision'} <= set(torch_line.split())
    assert lines.index(torch_line) < lines.index('pip install -e .') == len(lines) - 1      # the package last

def test_extraction_takes_the_one_cpu_block_verbatim_without_comments():
    md = ("text\n```sh\npip install -e .\n```\n\n```sh\n# a comment\npython -m venv v && . v/bin/activate\n"
          f"pip install torch torchvision --index-url {CPU_INDEX}   # why\n\npip install -e .\n```\n")
    assert cpu_install_lines(md) == ['python -m venv v && . v/bin/activate', f'pip install torch torchvision --index-url {CPU_INDEX}',
                                     'pip install -e .']
    with pytest.raises(ValueError, match='found 0'): cpu_install_lines('```sh\npip install -e .\n```\n')
    with pytest.raises(ValueError, match='found 2'): cpu_install_lines(md + md)

def test_the_script_runs_those_lines_and_checks_a_cpu_build():
    script = ROOT/'.ci'/'cpu_install'
    text = script.read_text()
    assert os.access(script, os.X_OK)
    assert 'tools/install_lines.py' in text and 'torch.version.cuda is not None' in text and 'pip check' in text
    assert 'cpu_install' not in (ROOT/'.ci'/'run').read_text()                             # needs the network: not in CI
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'install_lines.py')], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.splitlines() == cpu_install_lines((ROOT/'README.md').read_text())
