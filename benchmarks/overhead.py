"""Where does awd_fastai's step time go beyond the plain LSTM stack? Switch the dropout sites off one at a time and time
the step (interleaved medians), and time the mask sampling and the MaskRecorder's snapshot on their own.

A plain training loop (forward, loss, backward, Adam step) without fastai's Learner, to see the model's own cost.

    python benchmarks/overhead.py --config fastai --prototypes
"""
from __future__ import annotations
import argparse, math, sys, time, warnings
from pathlib import Path
import torch
from fastai.losses import CrossEntropyLossFlat
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, table
from step_time import CONFIGS, PlainLM, make_model, FloorMasks
from awd_fastai.model import awd_lm
import awd_fastai.dropout as D
from awd_fastai.dropout import dropout_mask

ABLATIONS = {  # name -> awd_lm overrides: every dropout of fastai's default config, then one site off at a time
    'awd (all dropouts)':      {},
    "awd, rng='fastai' (fastai's bernoulli_ masks)": dict(rng='fastai'),
    'weight dropout off':      dict(modes={'weight': 'off'}),
    'embedding dropout off':   dict(modes={'embed': 'off'}),
    'locked dropouts off':     dict(modes={'input': 'off', 'hidden': 'off', 'output': 'off'}),
    'all dropouts off':        dict(modes={s: 'off' for s in ('embed', 'input', 'weight', 'hidden', 'output')}),
}

def rand_mask(x, sz, p, rng=None):
    "Prototype: `torch.rand(sz) >= p`, then a copy to x's dtype (the library's default does the same in place)."
    return (torch.rand(sz, dtype=x.dtype, device=x.device) >= p).to(x.dtype).div_(1-p)

def bits16_mask(x, sz, p, rng=None):
    "Prototype: keep-mask from 16 random bits per element (p rounded to 1/65536), 3 elements per 64-bit draw."
    n = math.prod(sz)
    r = torch.empty(((n+2)//3, 4), dtype=torch.int16, device=x.device)
    r.view(torch.int64).random_()                        # uniform in [0, 2**63): the top 16 bits are not uniform, skip them
    keep = r[:, :3].reshape(-1)[:n].view(sz) >= -32768 + round(p*65536)
    return keep.to(x.dtype).div_(1-p)

PROTOTYPES = {'awd, masks from rand >= p (prototype)': rand_mask, 'awd, masks from 16-bit draws (prototype)': bits16_mask}

def with_mask_fn(step, fn):
    "Run `step` with `awd_fastai.dropout.dropout_mask` swapped for `fn`."
    def _inner():
        orig, D.dropout_mask = D.dropout_mask, fn
        try: step()
        finally: D.dropout_mask = orig
    return _inner

def step_fn(model, cfg:dict):
    "One training step of `model` on a fixed random batch: forward, loss, backward, Adam step, zero_grad."
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = (torch.randint(2, cfg['vocab'], (cfg['bs'], cfg['bptt'])) for _ in range(2))   # (bs, bptt)
    loss_func = CrossEntropyLossFlat()
    def step():
        loss = loss_func(model(x)[0], y)
        loss.backward(); opt.step(); opt.zero_grad()
    return step

def time_steps(cfg:dict, rounds:int, prototypes:bool=False, clock=time.perf_counter) -> dict:
    "Name -> per-step times of the plain stack and of each ablation, interleaved."
    shapes = dict(emb_sz=cfg['emb_sz'], n_hid=cfg['n_hid'], n_layers=cfg['n_layers'])
    models = {'plain stack': PlainLM(cfg['vocab'], **shapes)}
    models.update({k: awd_lm(cfg['vocab'], **shapes, **kw) for k,kw in ABLATIONS.items()})
    steps = {k: step_fn(m.train(), cfg) for k,m in models.items()}
    steps['floor (awd, masks at the speed of raw random bits)'] = with_mask_fn(step_fn(awd_lm(cfg['vocab'], **shapes).train(), cfg), FloorMasks())
    if prototypes:
        for k,fn in PROTOTYPES.items(): steps[k] = with_mask_fn(step_fn(awd_lm(cfg['vocab'], **shapes).train(), cfg), fn)
    for s in steps.values(): s()                                  # warmup
    times = {k: [] for k in steps}
    for r in range(rounds):
        for k in (list(steps) if r % 2 == 0 else list(steps)[::-1]):
            t0 = clock(); steps[k](); times[k].append(clock() - t0)
    return times

def time_masks(cfg:dict, reps:int) -> list:
    "Time sampling the weight-dropout masks of one step: fastai's stream, the library's default, and prototypes."
    p, n_out = 0.2, lambda l: cfg['n_hid'] if l < cfg['n_layers']-1 else cfg['emb_sz']
    ws = [torch.randn(4*n_out(l), n_out(l)) for l in range(cfg['n_layers'])]          # each (4·nh, nh)
    ways = {"dropout_mask rng='fastai' (bernoulli_ + div_), then w * noise": lambda w: w * dropout_mask(w, w.shape, p, 'fastai'),
            "dropout_mask default (31 random bits per element, in place), then w * noise": lambda w: w * dropout_mask(w, w.shape, p),
            'keep = rand >= p, then w * keep * 1/(1-p)':        lambda w: w * (torch.rand(w.shape) >= p) * (1/(1-p)),
            '16-bit draws (prototype), then w * noise':          lambda w: w * bits16_mask(w, w.shape, p),
            'torch.rand only (the random numbers)':             lambda w: torch.rand(w.shape)}
    times = {k: [] for k in ways}
    for r in range(reps):
        for k,f in ways.items():
            t0 = time.perf_counter()
            for w in ws: f(w)
            times[k].append(time.perf_counter() - t0)
    n = sum(w.numel() for w in ws)
    return [{'W_hh masks of one step': k, 'elements': f"{n/1e6:.2f} M", 'median ms': f"{1e3*median(ts[1:]):.1f}",
             'ns / element': f"{1e9*median(ts[1:])/n:.1f}"} for k,ts in times.items()]

def time_snapshot(cfg:dict, reps:int) -> float:
    "Median seconds inside a MaskRecorder per batch (before_batch, its hooks packing every mask, after_batch), around a real forward."
    from fastai.learner import Learner
    from fastai.data.core import DataLoaders
    from awd_fastai.recorder import MaskRecorder
    from recorder_time import instrument
    model = make_model('awd', cfg).train()
    rec = MaskRecorder(tokens=False)
    spent = instrument(rec)
    learn = Learner(DataLoaders([], []), model, loss_func=CrossEntropyLossFlat(), cbs=rec)
    rec.before_fit()
    x = torch.randint(2, cfg['vocab'], (cfg['bs'], cfg['bptt']))
    learn.training, learn.epoch, learn.xb = True, 0, (x,)
    with torch.no_grad():
        for _ in range(reps):
            rec.before_batch(); model(x); rec.after_batch()        # new masks, packed by the recorder's hooks
    return median(spent[1:])

def profile_ops(cfg:dict, steps:int) -> str:
    "Self CPU time per training step of each op, for the plain stack, the floor and awd (torch.profiler, `steps` steps each, "
    "interleaved): the ops where awd spends more than the plain stack, i.e. the gap part by part."
    from torch.profiler import profile, ProfilerActivity
    shapes = dict(emb_sz=cfg['emb_sz'], n_hid=cfg['n_hid'], n_layers=cfg['n_layers'])
    fns = {'plain': step_fn(PlainLM(cfg['vocab'], **shapes).train(), cfg),
           'floor': with_mask_fn(step_fn(awd_lm(cfg['vocab'], **shapes).train(), cfg), FloorMasks()),
           'awd': step_fn(awd_lm(cfg['vocab'], **shapes).train(), cfg)}
    for f in fns.values(): f()                                     # warmup
    ms = {k: {} for k in fns}
    for r in range(steps):
        for k in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            with profile(activities=[ProfilerActivity.CPU]) as prof: fns[k]()
            for e in prof.key_averages():
                ms[k][e.key] = ms[k].get(e.key, 0.) + e.self_cpu_time_total / 1e3 / steps
    keys = set().union(*ms.values())
    diff = lambda k: ms['awd'].get(k, 0.) - ms['plain'].get(k, 0.)
    rows = [{'op': k[:60], 'plain ms': f"{ms['plain'].get(k, 0.):.1f}", 'floor ms': f"{ms['floor'].get(k, 0.):.1f}",
             'awd ms': f"{ms['awd'].get(k, 0.):.1f}", 'awd - plain ms': f"{diff(k):+.1f}"}
            for k in sorted(keys, key=diff, reverse=True) if abs(diff(k)) >= 0.5]
    tot = {k: sum(v.values()) for k,v in ms.items()}
    rows.append({'op': 'all ops (self CPU time per step)', **{f'{k} ms': f"{t:.1f}" for k,t in tot.items()},
                 'awd - plain ms': f"{tot['awd']-tot['plain']:+.1f}"})
    return (f"Self CPU time per training step by op ({steps} profiled steps each, interleaved); ops where awd and the plain stack "
            f"differ by 0.5 ms or more, largest extra first (op times move by a few % between steps: read the small rows as noise)\n"
            + table(rows, ['op', 'plain ms', 'floor ms', 'awd ms', 'awd - plain ms']))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--config', default='fastai', choices=list(CONFIGS), help='shape configuration (see step_time.py)')
    p.add_argument('--rounds', type=positive_int, default=8, help='interleaved rounds')
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    p.add_argument('--prototypes', action='store_true', help='also time faster mask-drawing prototypes (not in the library)')
    p.add_argument('--clock', default='wall', choices=['wall', 'thread'],
                   help="'wall' or 'thread' (this thread's CPU time: with 1 thread, the step's work without the time other processes take)")
    p.add_argument('--profile', type=int, default=0, metavar='STEPS', help='also profile STEPS steps each of plain, floor and awd, op by op')
    args = p.parse_args(argv)
    set_threads(args.threads)
    warnings.simplefilter('ignore')
    cfg = CONFIGS[args.config]
    print(machine_info())
    print(f"config {args.config}: {cfg}; clock {args.clock}\n")
    times = time_steps(cfg, args.rounds, args.prototypes, time.thread_time if args.clock == 'thread' else time.perf_counter)
    base = median(times['plain stack'])
    print(table([{'model': k, 'median ms': f"{1e3*median(ts):.1f}", 'x plain': f"{median(ts)/base:.3f}"} for k,ts in times.items()],
                ['model', 'median ms', 'x plain']) + '\n')
    print(table(time_masks(cfg, args.rounds), ['W_hh masks of one step', 'elements', 'median ms', 'ns / element']) + '\n')
    print(f"MaskRecorder, time inside it per batch (every mask, tokens off): {1e3*time_snapshot(cfg, args.rounds):.1f} ms")
    if args.profile: print('\n' + profile_ops(cfg, args.profile))

if __name__ == '__main__': main()
