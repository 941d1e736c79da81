"""Print the layout of the package, per module of awd_fastai/ (issue 21's measure of the presentation layer).

Per module: lines, names in `__all__`, the longest `#| export` cell of its notebook (lines, notebook), lines over 120
characters (count and %), private reads of the record from outside `recorder.py`, and the modules it imports. Then:
how many names reach `from awd_fastai import *`, whether `import awd_fastai` imports matplotlib (and whether fastai's
own `fastai.text.all` does), and each private read with its line.

A *private read* is, in a module other than `recorder.py`, a use of a private name (one starting with `_`) that
`recorder.py` defines: a module-level one imported from it (`_popcount`, `_site_from_v1`), or a private member of
`MaskRecord`/`MaskRecorder` read as an attribute (`rec._batches`, `self._iters_of(...)`). Found with `ast`; an attribute
whose name the reading module defines for its own classes (`self._x = ...`, `def _x`) is not counted.

    python tools/layout_stats.py           # the table
    python tools/layout_stats.py --json    # the same numbers as JSON
    python tools/layout_stats.py --no-run  # skip the two subprocess checks (they import fastai: slow)
"""
import argparse, ast, json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG, NBS = ROOT/'awd_fastai', ROOT/'nbs'
RECORD_MODULE, RECORD_CLASSES = 'recorder', ('MaskRecord', 'MaskRecorder')
WIDE = 120   # characters: lines longer than this are counted

def modules() -> dict:
    "Module name -> path of every module of the package but the generated index `_modidx.py`."
    return {p.stem: p for p in sorted(PKG.glob('*.py')) if p.stem != '_modidx'}

def exported_names(tree:ast.Module) -> list:
    "The names of the module's `__all__` (a literal list or tuple), [] without one."
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '__all__' for t in node.targets):
            try: return list(ast.literal_eval(node.value))
            except ValueError: return []
    return []

def _patched_class(fn:ast.FunctionDef) -> str|None:
    "The class a fastcore `@patch`ed function is added to (its first argument's annotation), or None."
    if not any(isinstance(d, ast.Name) and d.id == 'patch' for d in fn.decorator_list) or not fn.args.args: return None
    ann = fn.args.args[0].annotation
    if isinstance(ann, ast.Name): return ann.id
    if isinstance(ann, ast.BinOp): return next((n.id for n in ast.walk(ann) if isinstance(n, ast.Name)), None)   # A|B
    return None

def _own_members(tree:ast.Module, classes=None) -> set:
    "Private members the module gives to its classes (all of them, or only `classes`): methods, class attributes, `self._x = ...`, `@patch`ed functions."
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and (classes is None or node.name in classes):
            for n in ast.walk(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith('_'): out.add(n.name)
                if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr.startswith('_'): out.add(n.attr)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id.startswith('_'): out.add(n.id)
        if isinstance(node, ast.FunctionDef) and node.name.startswith('_'):
            c = _patched_class(node)
            if c is not None and (classes is None or c in classes): out.add(node.name)
    return {n for n in out if n != '_' and not (n.startswith('__') and n.endswith('__'))}

def record_privates(tree:ast.Module) -> tuple:
    "(module-level private names, private members of MaskRecord/MaskRecorder) that `recorder.py` defines."
    top = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith('_') and _patched_class(node) is None: top.add(node.name)
        if isinstance(node, ast.Assign):
            top |= {t.id for t in node.targets if isinstance(t, ast.Name) and t.id.startswith('_') and not t.id.startswith('__')}
    return top, _own_members(tree, RECORD_CLASSES)

def private_reads(tree:ast.Module, top:set, members:set) -> list:
    "(line, text) of each private read of the record in `tree` (see the module docstring)."
    imported, out = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[-1] == RECORD_MODULE:
            for a in node.names:
                if a.name in top:
                    imported.add(a.asname or a.name); out.append((node.lineno, f'from .{RECORD_MODULE} import {a.name}'))
    own = _own_members(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in members and node.attr not in own:
            out.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in imported:
            out.append((node.lineno, node.id))
    return sorted(set(out))

def imports(tree:ast.Module, names:set) -> dict:
    "Module of the package -> 'top' (imported when the module is) or 'lazy' (only inside a function)."
    out = {}
    def visit(node, lazy):
        for ch in ast.iter_child_nodes(node):
            inner = lazy or isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets = []
            if isinstance(ch, ast.ImportFrom):
                mod = ch.module or ''
                if ch.level >= 1 and mod: targets = [mod.split('.')[0]]
                elif ch.level >= 1: targets = [a.name for a in ch.names]            # from . import x
                elif mod.startswith('awd_fastai.'): targets = [mod.split('.')[1]]
                elif mod == 'awd_fastai': targets = [a.name for a in ch.names]
            elif isinstance(ch, ast.Import):
                targets = [a.name.split('.')[1] for a in ch.names if a.name.startswith('awd_fastai.')]
            for t in targets:
                if t in names and out.get(t) != 'top': out[t] = 'lazy' if inner else 'top'
            visit(ch, inner)
    visit(tree, False)
    return out

def cycles(graph:dict) -> list:
    "Import cycles among top-level imports (`graph`: module -> {module: 'top'|'lazy'}), each as a list of modules."
    out, state = [], {}
    def dfs(m, path):
        state[m] = 1
        for n, how in graph.get(m, {}).items():
            if how != 'top': continue
            if state.get(n) == 1: out.append(path[path.index(n):] + [n])
            elif n not in state: dfs(n, path + [n])
        state[m] = 2
    for m in graph:
        if m not in state: dfs(m, [m])
    return out

def export_cells() -> dict:
    "Module -> (lines, notebook) of the longest `#| export` cell of the notebooks that export to it."
    out = {}
    for nb in sorted(NBS.rglob('*.ipynb')):
        if '.ipynb_checkpoints' in nb.parts or any(p.startswith('_') for p in nb.relative_to(NBS).parts): continue
        cells = json.loads(nb.read_text())['cells']
        src = lambda c: ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        default = None
        for c in cells:
            if c['cell_type'] != 'code': continue
            for line in src(c).splitlines():
                if line.replace(' ', '').startswith('#|default_exp'): default = line.split()[-1]
        if default is None: continue
        for c in cells:
            if c['cell_type'] != 'code': continue
            lines = src(c).splitlines()
            flags = [l.replace(' ', '') for l in lines if l.startswith('#|')]
            if not any(f.startswith(('#|export', '#|exports')) for f in flags): continue
            mod = next((f.split()[-1] for f in (l for l in lines if l.startswith('#|')) if f.replace(' ', '').startswith('#|export')
                        and len(f.split()) > 2), default)   # `#| export other_module`
            n = len([l for l in lines if not l.startswith('#|')])
            if n > out.get(mod, (0, ''))[0]: out[mod] = (n, str(nb.relative_to(ROOT)))
    return out

def _run(code:str) -> str:
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       env={**__import__('os').environ, 'PYTHONPATH': str(ROOT)})
    if r.returncode: return f'error: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}'
    return r.stdout.strip()

def fastai_imports() -> list:
    "The fastai and fastcore modules the package imports at the top of its modules (the command line `cli` aside)."
    out = set()
    for m, p in modules().items():
        if m in ('cli', '__main__'): continue
        for n in ast.parse(p.read_text()).body:
            if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module.split('.')[0] in ('fastai', 'fastcore'): out.add(n.module)
            if isinstance(n, ast.Import): out |= {a.name for a in n.names if a.name.split('.')[0] in ('fastai', 'fastcore')}
    return sorted(out)

MPL_CODE = """import importlib, json, sys
mpl = lambda: {k for k in sys.modules if k.split('.')[0] == 'matplotlib'}
for m in %r: importlib.import_module(m)
before = mpl()
import awd_fastai
print(json.dumps(dict(by_fastai=len(before), added=sorted(mpl() - before))))"""

def matplotlib_added() -> dict:
    "Matplotlib modules `import awd_fastai` loads beyond those its fastai imports load (`fastai.imports` imports pyplot)."
    out = _run(MPL_CODE % fastai_imports())
    return json.loads(out.splitlines()[-1]) if out.startswith('{') else dict(error=out)

def run_checks() -> dict:
    "Subprocesses: names that `from awd_fastai import *` brings, whether matplotlib is imported, and what of it is ours."
    star = _run("import sys; ns = {}; exec('from awd_fastai import *', ns); "
                "print(len([k for k in ns if k != '__builtins__']), 'matplotlib' in sys.modules)").split()
    fa = _run("import sys, fastai.torch_core; print('matplotlib' in sys.modules)")
    return dict(star_names=int(star[0]) if star and star[0].isdigit() else star, imports_matplotlib=star[-1] if star else '?',
                fastai_torch_core_imports_matplotlib=fa, matplotlib_added=matplotlib_added())

def stats(run:bool=True) -> dict:
    "Every number the script prints."
    mods = modules()
    trees = {m: ast.parse(p.read_text(), str(p)) for m, p in mods.items()}
    top, members = record_privates(trees[RECORD_MODULE])
    cells = export_cells()
    per = {}
    for m, p in mods.items():
        lines = p.read_text().splitlines()
        wide = sum(len(l) > WIDE for l in lines)
        reads = [] if m == RECORD_MODULE else private_reads(trees[m], top, members)
        per[m] = dict(lines=len(lines), all=len(exported_names(trees[m])), longest_export_cell=cells.get(m, (0, ''))[0],
                      longest_in=cells.get(m, (0, ''))[1], wide=wide, wide_pct=round(100*wide/max(len(lines), 1), 1),
                      private_reads=len(reads), reads=[f'{m}.py:{n}: {t}' for n, t in reads],
                      imports={k: v for k, v in sorted(imports(trees[m], set(mods)).items()) if k != m})
    lines = sum(d['lines'] for d in per.values())
    total = dict(lines=lines, all=sum(d['all'] for d in per.values()), wide=sum(d['wide'] for d in per.values()),
                 private_reads=sum(d['private_reads'] for d in per.values()))
    total['wide_pct'] = round(100*total['wide']/max(lines, 1), 1)
    longest = max(per.items(), key=lambda kv: kv[1]['longest_export_cell'])
    total['longest_export_cell'] = f"{longest[1]['longest_export_cell']} lines ({longest[1]['longest_in']})"
    total['import_cycles'] = [' -> '.join(c) for c in cycles({m: d['imports'] for m, d in per.items()})]
    out = dict(modules=per, total=total, record_private_members=sorted(members), record_private_names=sorted(top))
    if run: out.update(run_checks())
    return out

def report(s:dict) -> str:
    "The numbers as a plain-text table."
    head = f"{'module':<12}{'lines':>6}{'__all__':>8}{'export cell':>12}  {'>120 chars':>11}{'private':>8}  imports (lazy*)"
    rows = [head, '-'*len(head)]
    for m, d in s['modules'].items():
        imp = ', '.join(k + ('*' if v == 'lazy' else '') for k, v in d['imports'].items()) or '-'
        rows.append(f"{m:<12}{d['lines']:>6}{d['all']:>8}{d['longest_export_cell'] or '-':>12}  "
                    f"{d['wide']:>4} {d['wide_pct']:>5.1f}%{d['private_reads']:>8}  {imp}")
    t = s['total']
    rows += ['-'*len(head), f"{'total':<12}{t['lines']:>6}{t['all']:>8}{'':>12}  {t['wide']:>4} {t['wide_pct']:>5.1f}%{t['private_reads']:>8}",
             '', f"import cycles (top-level imports): {'; '.join(t['import_cycles']) or 'none'}",
             f"longest export cell: {t['longest_export_cell']}"]
    for m, d in s['modules'].items():
        if d['longest_in']: rows.append(f"  {m}: {d['longest_export_cell']} lines in {d['longest_in']}")
    if 'star_names' in s:
        rows += ['', f"names reaching `from awd_fastai import *`: {s['star_names']}",
                 f"`import awd_fastai` imports matplotlib: {s['imports_matplotlib']} "
                 f"(`import fastai.torch_core` alone: {s['fastai_torch_core_imports_matplotlib']}); matplotlib modules it adds "
                 f"beyond the {s['matplotlib_added'].get('by_fastai', '?')} its fastai imports load: "
                 f"{s['matplotlib_added'].get('added', s['matplotlib_added'])}"]
    reads = [r for d in s['modules'].values() for r in d['reads']]
    rows += ['', f"private reads of the record from outside {RECORD_MODULE}.py: {len(reads)}"] + [f"  {r}" for r in reads]
    return '\n'.join(rows)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--json', action='store_true', help='print the numbers as JSON')
    ap.add_argument('--no-run', action='store_true', help='skip the subprocess checks (star import, matplotlib)')
    a = ap.parse_args()
    s = stats(run=not a.no_run)
    print(json.dumps(s, indent=1) if a.json else report(s))
