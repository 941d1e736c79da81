"""Print the README's CPU-only install lines (the ```sh block that installs from PyTorch's CPU index), for `.ci/cpu_install`.

The script runs what this prints, so the README and the check cannot drift apart."""
import re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = 'https://download.pytorch.org/whl/cpu'

def sh_blocks(md:str) -> list:
    "The contents of every ```sh fenced block of the Markdown text `md`, in order."
    return re.findall(r'^```sh\n(.*?)^```', md, re.M | re.S)

def cpu_install_lines(md:str) -> list:
    "The command lines of the one ```sh block of `md` that installs from PyTorch's CPU index (comments and blank lines left out)."
    blocks = [b for b in sh_blocks(md) if CPU_INDEX in b]
    if len(blocks) != 1: raise ValueError(f"expected one ```sh block installing from {CPU_INDEX}, found {len(blocks)}")
    lines = [l.split(' #')[0].rstrip() for l in blocks[0].splitlines()]
    return [l for l in lines if l and not l.startswith('#')]

if __name__ == '__main__':
    print('\n'.join(cpu_install_lines((ROOT/'README.md').read_text())))
