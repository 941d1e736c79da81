"""The language-model ablation's results, in the papers' form: per scheme, the best validation and the test perplexity
(mean and min–max over seeds), the change against AWD-LSTM, the AWD-LSTM paper's ablation deltas beside, and the mean
per-epoch curves. Runs whose best epoch is their last are "still improving" (PROTOCOL.md): listed apart, not ranked.
Writes the results JSON shipped with the package (`awd_fastai/data/lm_ablation.json`, read by
`awd_fastai.plots.lm_results`) and prints the table.

    python experiments/lm/results.py                 # experiments/lm/runs.jsonl -> awd_fastai/data/lm_ablation.json
    python experiments/lm/results.py --log FILE --out FILE
"""
from __future__ import annotations
import argparse, json, sys
from collections import Counter
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))                      # this checkout's awd_fastai, whatever the working directory
from awd_fastai.core import atomic_write

OUT = ROOT/'awd_fastai'/'data'/'lm_ablation.json'
FORMAT, VERSION = 'awd_fastai.lm_ablation', 1
ORDER = ('none', 'awd', 'no_weight', 'no_embed', 'no_locked', 'no_artar', 'zaremba', 'gal', 'state_step', 'cell_step')
SHORT = {'none': 'no dropout', 'awd': 'AWD-LSTM', 'no_weight': 'without weight dropping', 'no_embed': 'without embedding dropout',
         'no_locked': 'without locked dropout', 'no_artar': 'without AR/TAR', 'zaremba': 'Zaremba et al.',
         'gal': 'Gal & Ghahramani', 'state_step': 'per step on h(t-1)', 'cell_step': 'per step on c(t-1)'}   # the figure's names
PAPER = {'awd': 68.6, 'no_weight': 78.4, 'no_embed': 71.1, 'no_artar': 73.2}   # Merity et al. 2017, Table 4: WikiText-2 validation
PAPERS = {
    'merity2017': dict(
        cite='Merity, Keskar & Socher 2017, Regularizing and Optimizing LSTM Language Models, Table 4 (ablation)',
        metric='WikiText-2 validation perplexity', valid=PAPER,
        scale='emb 400, hidden 1150, 3 layers (33 M parameters), about 2 M training tokens, up to 750 epochs on a GPU',
        note="fastai's embed_p is 0.02, the paper's 0.1"),
    'gal2016': dict(
        cite='Gal & Ghahramani 2016, A Theoretically Grounded Application of Dropout in Recurrent Neural Networks',
        metric='Penn Treebank perplexity', better='gal', worse='zaremba',
        claim="locked (variational) dropout, with a mask on the recurrent state, beats Zaremba et al.'s per-step dropout "
              "between layers (no recurrent dropout)"),
}
MIN_SEEDS = 2   # ranked seeds a scheme (and AWD-LSTM) needs before it is called worse, better or within the seed range

def load(log:Path) -> list:
    "The finished runs of `log` (JSON lines; a pilot stopped by hand, logged with `killed`, is left out)."
    return [r for r in (json.loads(l) for l in Path(log).read_text().splitlines() if l.strip()) if 'killed' not in r]

def _stats(v:list) -> dict|None:
    return dict(mean=round(float(np.mean(v)), 3), min=round(float(min(v)), 3), max=round(float(max(v)), 3)) if v else None

def verdict(a:dict|None, b:dict|None, na:int, nb:int) -> str|None:
    "`a`'s best validation perplexity against `b`'s: 'worse' or 'better' when the seed ranges do not overlap, else 'within'; None with too few seeds."
    if a is None or b is None or min(na, nb) < MIN_SEEDS: return None
    return 'worse' if a['min'] > b['max'] else 'better' if a['max'] < b['min'] else 'within'

def _curves(rs:list) -> dict:
    "Per-epoch means over the runs that reached each epoch: training (dropout off; and the epoch's mean with masks on) and validation perplexity."
    E = max(r['epochs_run'] for r in rs)
    at = lambda k, e: [r[k][e] for r in rs if len(r[k]) > e]
    mean = lambda k: [round(float(np.mean(at(k, e))), 3) for e in range(E)]
    return dict(epoch=list(range(1, E+1)), train=mean('train_eval_ppl'), train_masks=mean('train_ppl'), valid=mean('valid_ppl'),
                n=[len(at('valid_ppl', e)) for e in range(E)])

def _overfits(r:dict) -> bool:
    "After its best epoch, validation perplexity rose while training perplexity (dropout off) kept falling."
    b = r['best_epoch']
    return r['epochs_run'] > b and r['valid_ppl'][-1] > r['best_valid'] and r['train_eval_ppl'][-1] < r['train_eval_ppl'][b-1]

def _protocol() -> tuple:
    "The protocol's `SCHEMES` and `SEEDS`, from experiments/lm/run.py (imported once, as the tests do, under the name `lm_run`)."
    import importlib.util
    m = sys.modules.get('lm_run')
    if m is None:
        spec = importlib.util.spec_from_file_location('lm_run', HERE/'run.py')
        m = sys.modules['lm_run'] = importlib.util.module_from_spec(spec)   # registered first: its dataclass needs its module
        spec.loader.exec_module(m)
    return m.SCHEMES, m.SEEDS

def summarize(runs:list, log:str='experiments/lm/runs.jsonl') -> dict:
    "The results JSON: setup, the papers' numbers, and per scheme (in `ORDER`) the seeds, stats, change against AWD-LSTM and curves."
    SCHEMES, SEEDS = _protocol()
    by = {}
    for r in runs: by.setdefault(r['config']['scheme'], []).append(r)
    for rs in by.values(): rs.sort(key=lambda r: r['config']['seed'])
    ranked = {s: [r for r in rs if not r['still_improving']] for s, rs in by.items()}
    ref = _stats([r['best_valid'] for r in ranked.get('awd', [])])
    ref_test = _stats([r['test_ppl'] for r in ranked.get('awd', [])])
    n_ref = len(ranked.get('awd', []))
    pct = lambda x, y: round(100 * (x - y) / y, 2)
    schemes = []
    for s in sorted(set(ORDER) | set(by), key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER)):
        rs, ok = by.get(s, []), ranked.get(s, [])
        v, t = _stats([r['best_valid'] for r in ok]), _stats([r['test_ppl'] for r in ok])
        schemes.append(dict(
            key=s, label=SCHEMES[s][0] if s in SCHEMES else rs[0]['label'], short=SHORT.get(s, s),
            planned_seeds=list(SEEDS.get(s, (0, 1))), seeds=[r['config']['seed'] for r in rs], n=len(rs), n_ranked=len(ok),
            best_valid=v, test_ppl=t, best_epoch=_stats([r['best_epoch'] for r in ok]), epochs_run=[r['epochs_run'] for r in rs],
            still_improving=[dict(seed=r['config']['seed'], best_valid=r['best_valid'], best_epoch=r['best_epoch'],
                                  epochs_run=r['epochs_run'], test_ppl=r['test_ppl']) for r in rs if r['still_improving']],
            overfit_runs=sum(map(_overfits, rs)),
            valid_change_pct=pct(v['mean'], ref['mean']) if v and ref else None,
            test_change_pct=pct(t['mean'], ref_test['mean']) if t and ref_test else None,
            vs_awd='reference' if s == 'awd' else verdict(v, ref, len(ok), n_ref),
            paper_valid=PAPER.get(s), paper_change_pct=pct(PAPER[s], PAPER['awd']) if s in PAPER else None,
            curves=_curves(rs) if rs else None))
    get = {d['key']: d for d in schemes}
    g, z = get['gal'], get['zaremba']
    first = runs[0] if runs else {}
    commands = Counter(r['command'] for r in runs)
    return dict(
        format=FORMAT, version=VERSION, protocol=first.get('protocol'), log=log, protocol_doc='experiments/lm/PROTOCOL.md',
        regenerate='python experiments/lm/results.py', command=commands.most_common(1)[0][0] if runs else None,
        first_run=min((r['date'] for r in runs), default=None), last_run=max((r['date'] for r in runs), default=None),
        n_runs=len(runs), worker_hours=round(sum(r['seconds'] for r in runs) / 3600, 2),
        setup=dict({k: v for k, v in first.get('config', {}).items() if k not in ('scheme', 'seed')}, vocab=first.get('vocab'),
                   train_tokens=first.get('train_tokens'), valid_tokens=first.get('valid_tokens'), state_p=0.2),
        data="WikiText-2: the first 90 % of valid.txt's lines train (the first half of them) and the last 10 % validate; "
             "test.txt tests, once per run with the best epoch's weights. Validation and test are different articles: "
             "compare schemes within a column, never validation with test.",
        metric='perplexity (best validation over epochs; test from that epoch)', papers=PAPERS,
        comparisons=dict(gal_vs_zaremba=verdict(g['best_valid'], z['best_valid'], g['n_ranked'], z['n_ranked'])),
        min_seeds=MIN_SEEDS, schemes=schemes)

def _fmt(s:dict|None, d:int=1) -> str:
    if not s: return '–'
    return f"{s['mean']:.{d}f}" + (f" ({s['min']:.{d}f}–{s['max']:.{d}f})" if s['min'] != s['max'] else '')

def _pct(x:float) -> str: return '±0.0 %' if abs(x) < 0.05 else f'{x:+.1f} %'   # a change that rounds to zero has no sign

def table(runs:list) -> str:
    "A markdown table: one row per scheme run, the ranked runs' numbers, and the runs still improving."
    rows = ['| scheme | runs (seeds) | best valid ppl | test ppl | best epoch | valid vs AWD-LSTM | paper: valid vs full | still improving (best valid at epoch) |',
            '|---|---|---|---|---|---|---|---|']
    for d in summarize(runs)['schemes']:
        if not d['n']: continue
        delta = '0' if d['key'] == 'awd' and d['n_ranked'] else (_pct(d['valid_change_pct']) if d['valid_change_pct'] is not None else '–')
        paper = '68.6' if d['key'] == 'awd' else (_pct(d['paper_change_pct']) if d['paper_change_pct'] is not None else '')
        still = '; '.join(f"seed {x['seed']}: {x['best_valid']:.1f} at {x['best_epoch']}" for x in d['still_improving'])
        rows.append(f"| {d['label']} | {d['n']} ({', '.join(map(str, d['seeds']))}) | {_fmt(d['best_valid'])} | {_fmt(d['test_ppl'])} | "
                    f"{_fmt(d['best_epoch'])} | {delta} | {paper} | {still} |")
    return '\n'.join(rows)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--log', type=Path, default=HERE/'runs.jsonl', help='the runs (JSON lines)')
    p.add_argument('--out', type=Path, default=OUT, help='the results JSON (default: the one shipped with the package)')
    a = p.parse_args(argv)
    if not a.log.is_file(): print(f"no runs yet: {a.log} does not exist", file=sys.stderr); return 1
    runs = load(a.log)
    try: shown = str(a.log.resolve().relative_to(ROOT))
    except ValueError: shown = a.log.name
    res = summarize(runs, shown)
    atomic_write(a.out, json.dumps(res, indent=1, ensure_ascii=False) + '\n')
    print(table(runs))
    print(f"\n{len(runs)} runs, {res['worker_hours']:.2f} h of worker time; fastai's embed_p is 0.02, the paper's 0.1; "
          f"validation and test are different articles (compare schemes within a column)\nwritten: {a.out}")
    return 0

if __name__ == '__main__': sys.exit(main())
