"""Language-model data: `lm_dls`'s default cache (every document numericalized once) against fastai's `cache=2` (each
document numericalized again whenever a batch row comes back to it: about once per row, every epoch).

Variants, on the demo's model (emb 64, hidden 160, 2 layers, batch 32 × 35 tokens, the embedded corpus) and data:
- `fastai cache=2`: `lm_dls(cache=2)`, fastai's `LMDataLoader` default;
- `lm_dls default`: `lm_dls()`, every document kept after its first reading.
Each round trains one epoch of each (after a warm-up epoch), the order alternating (A B, B A, ...); the table gives the
median epoch time, its IQR, the ratio of the medians, and the median (min–max) of the per-round ratios. The epoch's
losses must be equal: the script checks it first.

    python benchmarks/lm_cache.py             # about 2 minutes on 2 CPU cores
    python benchmarks/lm_cache.py --rounds 1  # a smoke run
"""
from __future__ import annotations
import argparse, sys, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore', message=r'`torch.jit.script` is deprecated')   # raised by fastai's import (this script only)
import torch
from fastai.torch_core import set_seed
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, quartiles, table
from awd_fastai.core import DEMO_P
from awd_fastai.data import lm_dls
from awd_fastai.learner import awd_learner

VARIANTS = {'fastai cache=2': dict(cache=2), 'lm_dls default': {}}

def learner(**kw):
    "The demo's model on the embedded corpus, seeded, with `lm_dls(**kw)`."
    set_seed(0)
    learn = awd_learner(lm_dls(bs=32, seq_len=35, **kw), emb_sz=64, n_hid=160, n_layers=2, **DEMO_P)
    return learn

def epoch(learn) -> float:
    "Seconds of one epoch of `fit` (training and validation)."
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return time.perf_counter() - t

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rounds', type=positive_int, default=5, help='epochs of each variant (after one warm-up epoch)')
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1)')
    a = p.parse_args(argv)
    set_threads(a.threads)
    print(machine_info())
    learns = {k: learner(**kw) for k, kw in VARIANTS.items()}
    for l in learns.values(): set_seed(1); epoch(l)              # warm-up, the same batches and masks: the check below
    losses = [tuple(round(float(v), 5) for v in l.recorder.values[-1]) for l in learns.values()]
    assert losses[0] == losses[1], f"the variants trained differently: {losses}"
    times = {k: [] for k in learns}
    for r in range(a.rounds):
        for k in (list(learns) if r % 2 == 0 else list(learns)[::-1]): times[k].append(epoch(learns[k]))
    ref = list(times)[0]
    rows = []
    for k, ts in times.items():
        q1, q3 = quartiles(ts); ratios = [t / t0 for t, t0 in zip(ts, times[ref])]
        rows.append({'variant': k, 'median s/epoch': f'{median(ts):.2f}', 'IQR': f'{q1:.2f}–{q3:.2f}',
                     f'ratio to {ref}': f'{median(ts) / median(times[ref]):.2f}',
                     'per-round ratio, median (min–max)': f'{median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})'})
    print(f'\n{a.rounds} round(s); the epoch losses of the two variants are equal: {losses[0]}\n')
    print(table(rows, list(rows[0])))

if __name__ == '__main__': main()
