"""The language-model ablation's results so far, in the papers' form: per scheme, the best validation and the test
perplexity (mean and min–max over seeds), the change against AWD-LSTM, and the AWD-LSTM paper's ablation deltas beside.
Runs whose best epoch is their last are "still improving" (PROTOCOL.md) and are listed apart, not ranked.

    python experiments/lm/results.py                 # from experiments/lm/runs.jsonl
    python experiments/lm/results.py --log FILE
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
ORDER = ('none', 'awd', 'no_weight', 'no_embed', 'no_locked', 'no_artar', 'zaremba', 'gal', 'state_step', 'cell_step')
PAPER = {'awd': 68.6, 'no_weight': 78.4, 'no_embed': 71.1, 'no_artar': 73.2}   # Merity et al. 2017, Table 4: WikiText-2 validation

def load(log:Path) -> list:
    "The finished runs of `log` (JSON lines; a pilot stopped by hand, logged with `killed`, is left out)."
    return [r for r in (json.loads(l) for l in Path(log).read_text().splitlines() if l.strip()) if 'killed' not in r]

def _fmt(v:list) -> str:
    return f"{np.mean(v):.1f}" + (f" ({min(v):.1f}–{max(v):.1f})" if len(v) > 1 else '')

def table(runs:list) -> str:
    "A markdown table: one row per scheme with the ranked runs' numbers, and how many runs are still improving."
    by = {}
    for r in runs: by.setdefault(r['config']['scheme'], []).append(r)
    ranked = {s: [r for r in rs if not r['still_improving']] for s, rs in by.items()}
    ref = [r['best_valid'] for r in ranked.get('awd', [])]
    rows = ['| scheme | runs (seeds) | best valid ppl | test ppl | best epoch | valid vs AWD-LSTM | paper: valid vs full | still improving (best valid at epoch) |',
            '|---|---|---|---|---|---|---|---|']
    for s in sorted(by, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER)):
        rs, ok = by[s], ranked[s]
        v = [r['best_valid'] for r in ok]
        delta = f"{np.mean(v) - np.mean(ref):+.1f}" if ok and ref and s != 'awd' else ('0' if s == 'awd' and ok else '–')
        paper = f"{PAPER[s] - PAPER['awd']:+.1f}" if s in PAPER and s != 'awd' else ('68.6' if s == 'awd' else '')
        still = [f"seed {r['config']['seed']}: {r['best_valid']:.1f} at {r['best_epoch']}" for r in rs if r['still_improving']]
        rows.append(f"| {rs[0].get('label', s)} | {len(rs)} ({', '.join(str(r['config']['seed']) for r in rs)}) | "
                    f"{_fmt(v) if ok else '–'} | {_fmt([r['test_ppl'] for r in ok]) if ok else '–'} | "
                    f"{_fmt([r['best_epoch'] for r in ok]) if ok else '–'} | {delta} | {paper} | "
                    f"{'; '.join(still)} |")
    return '\n'.join(rows)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--log', type=Path, default=HERE/'runs.jsonl', help='the runs (JSON lines)')
    a = p.parse_args(argv)
    if not a.log.is_file(): print(f"no runs yet: {a.log} does not exist", file=sys.stderr); return 1
    runs = load(a.log)
    print(table(runs))
    print(f"\n{len(runs)} runs, {sum(r['seconds'] for r in runs)/3600:.2f} h of worker time; fastai's embed_p is 0.02, the paper's 0.1; "
          "validation and test are different articles (compare schemes within a column)")
    return 0

if __name__ == '__main__': sys.exit(main())
