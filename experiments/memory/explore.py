"""Exploration driver of the memory experiment: train a grid of `MemoryConfig`s and append every result to the protocol
log `experiments/memory/runs.jsonl` (command, date, config, result). Used to choose the protocol from no-dropout runs
before any dropout run; the final runs are made by `awd-fastai memory`.

    python experiments/memory/explore.py --cells rnn gru lstm --schemes none --Ts 10 20 40 --seeds 0 1 --note "..."
"""
import argparse, shlex, sys, time
from dataclasses import fields
from pathlib import Path
from awd_fastai.memory import MemoryConfig, run_configs

LOG = Path(__file__).parent/'runs.jsonl'

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--cells', nargs='+', default=['gru'])
    p.add_argument('--schemes', nargs='+', default=['none'])
    p.add_argument('--ps', nargs='+', type=float, default=[0.])
    p.add_argument('--Ts', nargs='+', type=int, default=[20])
    p.add_argument('--seeds', nargs='+', type=int, default=[0])
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--note', required=True, help='why these runs are made')
    for f in fields(MemoryConfig):   # any other field of the config: --steps, --lr, --bs, --n-hid, ...
        if f.name not in ('cell', 'scheme', 'p', 'T', 'seed'): p.add_argument('--' + f.name.replace('_', '-'), type=type(f.default), default=f.default)
    a = p.parse_args()
    rest = {f.name: getattr(a, f.name) for f in fields(MemoryConfig) if f.name not in ('cell', 'scheme', 'p', 'T', 'seed')}
    configs = [MemoryConfig(cell=c, scheme=s, p=(0. if s == 'none' else q), T=T, seed=seed, **rest)
               for c in a.cells for T in a.Ts for s in a.schemes for q in (a.ps if s != 'none' else [0.]) for seed in a.seeds]
    t0 = time.time()
    def show(i, n, r):
        c = r['config']
        print(f"[{i}/{n}] {c['cell']:4} {c['scheme']:12} p={c['p']:.2f} T={c['T']:3} seed={c['seed']} recall={r['recall']:.3f} "
              f"masked={r['recall_masked']:.3f} loss={r['losses'][-1] if r['losses'] else float('nan'):.3f} {r['seconds']:.0f}s", flush=True)
    run_configs(configs, a.workers, LOG, 'python ' + ' '.join(map(shlex.quote, sys.argv)), a.note, show)
    print(f"{len(configs)} runs in {time.time()-t0:.0f}s")

if __name__ == '__main__': main()
