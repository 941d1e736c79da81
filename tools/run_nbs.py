"""Execute notebooks in place in a real Jupyter kernel and save their outputs (figures, fastai's HTML progress tables).

Usage: python tools/run_nbs.py nbs/04_plots.ipynb [more.ipynb ...]   then `nbdev-clean`.
`nbdev-test` checks notebooks; this only refreshes the outputs that the docs show. Each notebook is written atomically."""
import os, sys, tempfile
from pathlib import Path
import nbformat
from nbclient import NotebookClient

def run(path:Path, timeout:int=900):
    "Execute the notebook at `path` in its own folder and write it back with its outputs."
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    fd, tmp = tempfile.mkstemp(suffix='.ipynb', dir=path.parent)
    with os.fdopen(fd, 'w') as f: nbformat.write(nb, f)
    os.chmod(tmp, 0o644); os.replace(tmp, path)

if __name__ == '__main__':
    for p in sys.argv[1:]:
        print('running', p, flush=True); run(Path(p))
