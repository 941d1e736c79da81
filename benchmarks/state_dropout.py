"""Speed of dropout on the recurrent state: the per-batch mask on h(t-1) on the fused kernel against the per-example
(locked) and per-step masks, which step through time in Python, and the carried-state sites (the LSTM's cell c, the
candidate update, the GRU's carried h(t-1) and h(t-1) everywhere, zoneout), which step through time too. One training
step (forward + backward) of a single `WeightDropout`-wrapped RNN layer, DropConnect on W_hh active in every variant;
each site only on the cells that have it.

    python benchmarks/state_dropout.py                # LSTM, GRU and RNN, two sizes (3.5 min of CPU)
    python benchmarks/state_dropout.py --quick        # a smoke run (too few rounds to judge by)
"""
from __future__ import annotations
import argparse, sys, time
from pathlib import Path
import torch, torch.nn as nn
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, quartiles, table
from awd_fastai.dropout import (WeightDropout, PerStepWeightDropout, PerStepStateDropout, LockedStateDropout, BatchStateDropout,
    PerStepCellDropout, LockedCellDropout, PerStepCandidateDropout, LockedCandidateDropout, PerStepGRUCarryDropout,
    LockedGRUCarryDropout, PerStepGRUEverywhereDropout, LockedGRUEverywhereDropout, Zoneout)

SIZES = {  # name -> (bs, seq_len, n_in, n_hid)
    'memory task': (64, 30, 32, 64),        # the size of the memory experiment (09_memory)
    'small LM layer': (32, 35, 200, 400),   # one layer of benchmarks' small language model
}
def _state(cls, *ps): return lambda rnn: WeightDropout(rnn, 0.5, state_dp=cls(*ps))
ALL, GATED = ('lstm', 'gru', 'rnn'), ('lstm', 'gru')
VARIANTS = {  # name -> (what, layer factory, cells that have the site)
    'fused':         ('W_hh DropConnect only, fused kernel (the floor)', lambda rnn: WeightDropout(rnn, 0.5), ALL),
    'state batch':   ('+ one h(t-1) mask per batch = W_hh columns, fused kernel', _state(BatchStateDropout, 0.25), ALL),
    'state locked':  ('+ one h(t-1) mask per example, loop over steps', _state(LockedStateDropout, 0.25), ALL),
    'state step':    ('+ a fresh h(t-1) mask per step, loop over steps', _state(PerStepStateDropout, 0.25), ALL),
    'W_hh per step': ('per-step DropConnect, no state mask, loop (PerStepWeightDropout)', lambda rnn: PerStepWeightDropout(rnn, 0.5), ALL),
    'cell locked':   ("+ one mask on the LSTM's c(t-1) per example, loop", _state(LockedCellDropout, 0.25), ('lstm',)),
    'cell step':     ("+ a fresh mask on the LSTM's c(t-1) per step, loop", _state(PerStepCellDropout, 0.25), ('lstm',)),
    'cand. locked':  ('+ one mask on the candidate (g, n) per example, loop', _state(LockedCandidateDropout, 0.25), GATED),
    'cand. step':    ('+ a fresh mask on the candidate (g, n) per step, loop', _state(PerStepCandidateDropout, 0.25), GATED),
    'carry locked':  ("+ one mask on the GRU's carried h(t-1) per example, loop", _state(LockedGRUCarryDropout, 0.25), ('gru',)),
    'carry step':    ("+ a fresh mask on the GRU's carried h(t-1) per step, loop", _state(PerStepGRUCarryDropout, 0.25), ('gru',)),
    'everyw. locked': ("+ one mask on the GRU's h(t-1), gates and carry, per example, loop", _state(LockedGRUEverywhereDropout, 0.25), ('gru',)),
    'everyw. step':  ("+ a fresh mask on the GRU's h(t-1), gates and carry, per step, loop", _state(PerStepGRUEverywhereDropout, 0.25), ('gru',)),
    'zoneout':       ('+ zoneout on h (and the LSTM\'s c), per step, loop', lambda rnn: WeightDropout(rnn, 0.5, state_dp=Zoneout(0.1, 0.25 if rnn.mode == 'LSTM' else None)), ALL),
}
CELLS = {'lstm': nn.LSTM, 'gru': nn.GRU, 'rnn': nn.RNN}

def step(layer, x):
    "One training step of the layer alone: forward, a loss on every output, backward."
    out, _ = layer(x)
    out.pow(2).mean().backward()

def bench(cell:str, size:str, rounds:int, reps:int) -> list:
    "Interleaved turns (ABC.., then ..CBA); per variant the median ms per step and its ratio to `fused`, pooled and per round."
    bs, sl, n_in, nh = SIZES[size]
    torch.manual_seed(0)
    x = torch.randn(bs, sl, n_in)
    layers = {k: f(CELLS[cell](n_in, nh, batch_first=True)) for k,(_, f, cells) in VARIANTS.items() if cell in cells}
    times = {k: [] for k in layers}
    for k, l in layers.items(): step(l, x)                       # warmup turn
    for r in range(rounds):
        for k in (list(layers) if r % 2 == 0 else list(layers)[::-1]):
            t0 = time.perf_counter()
            for _ in range(reps): step(layers[k], x)
            times[k].append((time.perf_counter() - t0) / reps * 1000)
    base = median(times['fused'])
    rows = []
    for k, ts in times.items():
        per_round = [t / f for t, f in zip(ts, times['fused'])]
        q1, q3 = quartiles(per_round)
        rows.append(dict(cell=cell, size=size, variant=k, what=VARIANTS[k][0], **{'median ms': f'{median(ts):.2f}',
                         'x fused': f'{median(ts)/base:.2f}', 'per-round x fused: median (IQR)': f'{median(per_round):.2f} ({q1:.2f}–{q3:.2f})'}))
    return rows

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rounds', type=positive_int, default=6, help='interleaved rounds (default: %(default)s)')
    p.add_argument('--reps', type=positive_int, default=3, help='steps per turn (default: %(default)s)')
    p.add_argument('--cells', nargs='+', choices=list(CELLS), default=list(CELLS))
    p.add_argument('--sizes', nargs='+', choices=list(SIZES), default=list(SIZES))
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default: %(default)s)')
    p.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS), help="variants to time ('fused' always)")
    p.add_argument('--quick', action='store_true', help='2 rounds of 1 step: a smoke run')
    a = p.parse_args(argv)
    if a.quick: a.rounds, a.reps = 2, 1
    set_threads(a.threads)
    print(machine_info())
    print(f"{a.rounds} interleaved rounds of {a.reps} steps; p(state) 0.25, p(W_hh) 0.5, zoneout p(h) 0.1, p(c) 0.25; sizes (bs, seq_len, n_in, n_hid): "
          + ', '.join(f'{k} {v}' for k,v in SIZES.items() if k in a.sizes))
    for k in set(VARIANTS) - set(a.variants) - {'fused'}: del VARIANTS[k]
    rows = [r for size in a.sizes for cell in a.cells for r in bench(cell, size, a.rounds, a.reps)]
    print(table(rows, ['cell', 'size', 'variant', 'what', 'median ms', 'x fused', 'per-round x fused: median (IQR)']))

if __name__ == '__main__': main()
