"""Write README.md from nbs/index.ipynb without Quarto (`--check`: exit 1 if README.md is out of date).

Markdown cells are copied; code cells become fenced Python; plain-text results follow as fenced text.
Printed output (progress bars, warnings), HTML outputs and figures are left out (a figure's plain text is only its
`<Figure size ...>` repr, which says nothing and goes stale; the docs show the figure itself)."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _text(out):
    "The plain text of one cell output, or None."
    if out.get('output_type') == 'stream': return None   # progress bars and warnings
    data = out.get('data', {})
    if 'text/markdown' in data or any(k.startswith('image/') for k in data): return None
    if 'text/plain' in data and 'text/html' not in data: return ''.join(data['text/plain'])
    return None

def _directive(line): return line.startswith('#|')

def _nb_links(md:str) -> str:
    "Relative links to notebooks are relative to nbs/; from the README they need the `nbs/` prefix."
    return re.sub(r'\]\((?!https?:|#|/|nbs/)([^)]+\.ipynb[^)]*)\)', r'](nbs/\1)', md)

def readme(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    "The README text for the notebook at `nb_path`."
    nb = json.loads(Path(nb_path).read_text())
    parts = ['<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->']
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown': parts.append(_nb_links(src.strip())); continue
        lines = src.splitlines()
        if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
        code = '\n'.join(l for l in lines if not _directive(l)).strip()
        if code: parts.append(f'```python\n{code}\n```')
        for out in cell.get('outputs', []):
            t = _text(out)
            if t and t.strip(): parts.append(f'```\n{t.rstrip()}\n```')
    return '\n\n'.join(parts) + '\n'

def main(argv=sys.argv[1:]):
    text, dest = readme(), ROOT/'README.md'
    if '--check' in argv:
        if not dest.exists() or dest.read_text() != text:
            print('README.md is out of date: run `python tools/make_readme.py`'); return 1
        return 0
    tmp = dest.with_suffix('.md.tmp'); tmp.write_text(text); tmp.replace(dest)
    return 0

if __name__ == '__main__': sys.exit(main())
