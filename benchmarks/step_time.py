"""Training step time of an AWD-LSTM language model: awd_fastai against a plain LSTM stack, fastai and the naive scheme.

Every variant is trained by the same fastai `LMLearner` loop (Adam, `RNNCallback`, `ModelResetter`, no AR/TAR, no progress
bar) on the same synthetic token stream; a pair of callbacks times each training batch from `before_batch` to the end of
`after_batch` (forward, loss, backward, optimizer step, zero_grad and every callback, the MaskRecorder's included).
Variants take turns (A B C D E, E D C B A, ...), a few batches each, after one warmup turn each. The table gives the
median time per batch, its ratio to the plain stack, and the median of the per-round ratios (each variant's turn
against the plain stack's turn of the same round), whose spread shows the noise of the machine.

    python benchmarks/step_time.py --check-fused    # both configurations, about 7 minutes on 2 CPU cores
    python benchmarks/step_time.py --quick          # a smoke run (about 3 minutes: the naive loop is slow)
    python benchmarks/step_time.py --device cuda --check-fused   # on a machine with an NVIDIA GPU
"""
from __future__ import annotations
import argparse, math, sys, time, warnings
from pathlib import Path
import torch, torch.nn as nn
from fastai.callback.core import Callback, CancelValidException
from fastai.callback.progress import ProgressCallback
from fastai.data.core import DataLoaders
from fastcore.basics import noop
from fastai.losses import CrossEntropyLossFlat
from fastai.text.data import LMDataLoader
from fastai.text.learner import LMLearner
from fastai.text.models.core import get_language_model
from fastai.text.models.awdlstm import AWD_LSTM as FastaiAWD_LSTM, awd_lstm_lm_config as fastai_lm_config
from fastai.torch_core import Module, to_detach
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, quartiles, table
from awd_fastai.model import awd_lm
import awd_fastai.dropout as D
from awd_fastai.dropout import dropout_mask as _dropout_mask
from awd_fastai.recorder import MaskRecorder

CONFIGS = {  # shapes of each configuration; dropouts are fastai's defaults (`awd_lstm_lm_config`)
    'small':  dict(vocab=10_000, emb_sz=200, n_hid=400,  n_layers=3, bs=32, bptt=35),
    'fastai': dict(vocab=10_000, emb_sz=400, n_hid=1152, n_layers=3, bs=16, bptt=35),
}
VARIANTS = {  # name -> description (the table's rows, in this order)
    'plain':    'plain nn.LSTM stack, no dropout',
    'floor':    'awd_fastai, every mask a fixed one, after drawing its raw random bits (32 per element)',
    'fastai':   "fastai AWD_LSTM, default dropouts",
    'awd':      'awd_fastai AWD_LSTM, same dropouts',
    'awd-fastai-rng': "awd_fastai, rng='fastai' (masks from fastai's bernoulli_ stream, the default before 0.2.0)",
    'awd+rec':  'awd_fastai + MaskRecorder() (every mask, every batch)',
    'awd-copy': 'awd_fastai without the flat weight buffer (cuDNN warns and copies every weight, as 0.1.0 did)',
    'naive':    "awd_fastai, modes={'weight': 'naive'} (per-step W_hh mask, lstm_cell loop)",
}

DEFAULT_VARIANTS = ['plain', 'floor', 'fastai', 'awd', 'awd+rec', 'naive']

# ---------------------------------------------------------------- the floor
class FloorMasks:
    """Stand-in for `awd_fastai.dropout.dropout_mask` that does only the unavoidable work of drawing a mask: the raw random
    bits (32 per element, `int64 random_()`, the cheapest exact source in `sampler.py`), then it returns a fixed mask of the
    right shape, drawn once. The model still multiplies by every mask, forward and backward: the floor is awd_fastai with
    mask sampling at the speed of raw random numbers."""
    def __init__(self): self.fixed = {}
    def __call__(self, x, sz, p, rng='fast'):
        n = math.prod(sz)
        torch.empty((n+1)//2, dtype=torch.int64, device=x.device).random_()      # (n/2,): 32 random bits per element
        key = (tuple(sz), p, x.dtype, x.device)
        if key not in self.fixed: self.fixed[key] = _dropout_mask(x, sz, p)
        return self.fixed[key]

class UseFloorMasks(Callback):
    "During this learner's `fit` only, the dropout layers draw their masks from `FloorMasks` (restored after the fit)."
    def __init__(self): self.masks = FloorMasks()
    def before_fit(self): D.dropout_mask = self.masks
    def after_fit(self): D.dropout_mask = _dropout_mask

# ---------------------------------------------------------------- models
class PlainLM(Module):
    "Embedding, a stack of `nn.LSTM` and a tied linear decoder, no dropout; stateful across batches like AWD_LSTM."
    def __init__(self, vocab:int, emb_sz:int, n_hid:int, n_layers:int):
        self.encoder = nn.Embedding(vocab, emb_sz, padding_idx=1)
        self.rnns = nn.ModuleList([nn.LSTM(emb_sz if l == 0 else n_hid, n_hid if l < n_layers-1 else emb_sz, batch_first=True)
                                   for l in range(n_layers)])
        self.decoder = nn.Linear(emb_sz, vocab)
        self.decoder.weight = self.encoder.weight
        self.reset()

    def reset(self): self.hidden = [None]*len(self.rnns)

    def forward(self, x):                                   # x: (bs, sl)
        out, new_h = self.encoder(x), []                    # (bs, sl, emb_sz)
        for rnn, h in zip(self.rnns, self.hidden):
            out, h = rnn(out, h)                            # (bs, sl, n_out)
            new_h.append(h)
        self.hidden = to_detach(new_h, cpu=False, gather=False)
        return self.decoder(out), out, out                  # the (logits, raw, dropped) triple `RNNCallback` expects

def make_model(variant:str, cfg:dict) -> nn.Module:
    "The model of `variant` for the shapes in `cfg`, all with fastai's default dropouts (except the plain stack)."
    shapes = dict(emb_sz=cfg['emb_sz'], n_hid=cfg['n_hid'], n_layers=cfg['n_layers'])
    if variant == 'plain': return PlainLM(cfg['vocab'], **shapes)
    if variant == 'fastai':
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return get_language_model(FastaiAWD_LSTM, cfg['vocab'], config=dict(fastai_lm_config, **shapes))
    modes = {'weight': 'naive'} if variant == 'naive' else None
    rng = 'fastai' if variant == 'awd-fastai-rng' else 'fast'
    model = awd_lm(cfg['vocab'], modes=modes, rng=rng, **shapes)
    if variant == 'awd-copy':
        for m in model.modules():
            if isinstance(m, D.WeightDropout): m._on_flat_buffer = _never
    return model

def _never(x): return False

# ---------------------------------------------------------------- data and learner
def synthetic_dls(cfg:dict, n_batches:int, seed:int=0) -> DataLoaders:
    "LM `DataLoaders` over a random token stream that gives exactly `n_batches` full (bs, bptt) training batches."
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(2, cfg['vocab'], (cfg['bs']*cfg['bptt']*n_batches + 1,), generator=g)
    dl = lambda: LMDataLoader([toks], bs=cfg['bs'], seq_len=cfg['bptt'], shuffle=False)
    return DataLoaders(dl(), dl())

class SkipValidation(Callback):
    "No validation: only training steps are measured."
    def before_validate(self): raise CancelValidException()

CLOCKS = {'wall': time.perf_counter, 'thread': time.thread_time}   # seconds; see `--clock`

class StartTimer(Callback):
    "Start the clock before every other callback's `before_batch`."
    order = -10_000
    def __init__(self, sync, clock=time.perf_counter): self.sync, self.clock = sync, clock
    def before_batch(self):
        self.sync()
        self.t0 = self.clock()

class StopTimer(Callback):
    "Stop the clock after every other callback's `after_batch` (the MaskRecorder's included) and keep the time."
    order = 10_000
    def __init__(self, start:StartTimer): self.start, self.times = start, []
    def after_batch(self):
        if not self.training: return
        self.start.sync()
        self.times.append(self.start.clock() - self.start.t0)

def make_learner(variant:str, cfg:dict, dls:DataLoaders, device:str, clock:str='wall') -> LMLearner:
    "The same fastai loop for every variant; `awd+rec` adds a `MaskRecorder`, `floor` draws its masks from `FloorMasks`."
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    start = StartTimer(sync, CLOCKS[clock])
    cbs = [SkipValidation(), start, StopTimer(start)] + ([MaskRecorder()] if variant == 'awd+rec' else [])
    if variant == 'floor': cbs.append(UseFloorMasks())
    learn = LMLearner(dls, make_model(variant, cfg), loss_func=CrossEntropyLossFlat(), alpha=0., beta=0., cbs=cbs,
                      metrics=[])
    learn.model.to(device)
    dls.to(device)
    learn.remove_cb(ProgressCallback)
    learn.logger = noop
    return learn

def batch_times(learn:LMLearner) -> list:
    "Times recorded so far by `learn`'s `StopTimer`."
    return next(cb for cb in learn.cbs if isinstance(cb, StopTimer)).times

# ---------------------------------------------------------------- measurement
def measure(cfg:dict, variants:list, rounds:int, per_turn:int, device:str, seed:int=0, clock:str='wall') -> dict:
    "Variant -> one list of per-batch times per turn: `rounds` interleaved turns of `per_turn` batches, after a warmup turn."
    torch.manual_seed(seed)
    learners = {v: make_learner(v, cfg, synthetic_dls(cfg, per_turn, seed), device, clock) for v in variants}
    turns = {v: [] for v in variants}
    for r in range(-1, rounds):                                  # round -1: warmup (allocator, oneDNN/cuDNN plans, Adam state)
        for v in (variants if r % 2 == 0 else variants[::-1]):   # alternate the order so no variant always follows another
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')                  # e.g. the recorder's "budget reached" notice on long runs
                learners[v].fit(1, 1e-3)
            ts = batch_times(learners[v])
            if r >= 0: turns[v].append(list(ts))
            ts.clear()
    return turns

def pooled(turns:list) -> list: return [t for turn in turns for t in turn]

def paired_ratios(turns:dict, v:str, ref:str) -> list:
    "Per round, the median batch time of `v` over that of `ref` in the same round (drift on the machine cancels out)."
    return [median(a)/median(b) for a,b in zip(turns[v], turns[ref])]

def step_table(cfg_name:str, turns:dict) -> str:
    "Median ms per training batch, its interquartile range, and the ratio to the plain stack (pooled and per round)."
    base = median(pooled(turns['plain'])) if 'plain' in turns else None
    rows = []
    for v, tv in turns.items():
        ts = pooled(tv)
        q1, q3 = quartiles(ts)
        row = {'variant': v, 'what': VARIANTS[v], 'batches': len(ts), 'median ms': f"{1e3*median(ts):.1f}",
               'IQR ms': f"{1e3*q1:.0f}–{1e3*q3:.0f}", 'x plain': '-', 'per-round x plain: median (IQR)': '-'}
        if base:
            pr = paired_ratios(turns, v, 'plain')
            r1, r3 = quartiles(pr)
            row.update({'x plain': f"{median(ts)/base:.3f}", 'per-round x plain: median (IQR)': f"{median(pr):.3f} ({r1:.2f}–{r3:.2f})"})
        if 'floor' in turns:
            pf = paired_ratios(turns, v, 'floor')
            f1, f3 = quartiles(pf)
            row['per-round x floor: median (IQR)'] = f"{median(pf):.3f} ({f1:.2f}–{f3:.2f})"
        rows.append(row)
    c = CONFIGS[cfg_name]
    head = (f"config {cfg_name}: vocab {c['vocab']}, emb {c['emb_sz']}, hidden {c['n_hid']}, {c['n_layers']} layers, "
            f"bs {c['bs']}, bptt {c['bptt']}")
    cols = ['variant', 'what', 'batches', 'median ms', 'IQR ms', 'x plain', 'per-round x plain: median (IQR)']
    return head + '\n' + table(rows, cols + (['per-round x floor: median (IQR)'] if 'floor' in turns else []))

def check(name:str, turns:dict, v:str, ref:str, target:float) -> str:
    "One target `v <= target x ref`, judged on the pooled medians, with the per-round ratios' IQR as the noise level."
    r = median(pooled(turns[v])) / median(pooled(turns[ref]))
    q1, q3 = quartiles(paired_ratios(turns, v, ref))
    status = 'met' if r <= target else ('MISSED, within noise' if q1 <= target else 'MISSED')
    return f"{name}: {r:.3f} (per-round IQR {q1:.2f}–{q3:.2f}) -> {status}"

def verdict(turns:dict) -> str:
    "The issue's targets (issue 10), checked on this run: awd <= 1.03x plain, or within 1 % of the floor where the floor is above that."
    out, vs = [], set(turns)
    if {'plain', 'floor'} <= vs:
        fl = median(pooled(turns['floor'])) / median(pooled(turns['plain']))
        q1, q3 = quartiles(paired_ratios(turns, 'floor', 'plain'))
        out.append(f"(floor) floor vs plain, for information: {fl:.3f} (per-round IQR {q1:.2f}–{q3:.2f})")
    else: fl = None
    if {'plain', 'awd'} <= vs:
        if fl is not None and fl > 1.03: out.append(check('awd <= 1.01x floor (the floor is above 1.03x plain)', turns, 'awd', 'floor', 1.01))
        else: out.append(check('awd <= 1.03x plain', turns, 'awd', 'plain', 1.03))
    if {'floor', 'awd'} <= vs: out.append(check('(sampling) awd vs floor, for information', turns, 'awd', 'floor', float('inf')).replace(' -> met', ''))
    if {'fastai', 'awd'} <= vs:
        out.append(check('awd <= 0.95x fastai', turns, 'awd', 'fastai', 0.95))
        if 'floor' in vs:
            ff = median(pooled(turns['floor'])) / median(pooled(turns['fastai']))
            if ff > 0.95: out.append(f"   (0.95x fastai is below the floor here: the floor is {ff:.3f}x fastai; only a faster model, not faster masks, could meet it)")
    if {'awd', 'awd+rec'} <= vs: out.append(check('awd+rec <= 1.02x awd (MaskRecorder, every batch)', turns, 'awd+rec', 'awd', 1.02))
    if {'awd', 'awd-fastai-rng'} <= set(turns): out.append(check("(sampler) awd vs awd with rng='fastai', for information", turns, 'awd', 'awd-fastai-rng', float('inf')).replace(' -> met', ''))
    return '\n'.join(out)

# ---------------------------------------------------------------- fused-kernel check
def check_fused(cfg:dict, device:str) -> str:
    "Profile one training step of awd_fastai's model: which RNN kernels ran, any per-step cell loop or weight-layout warning."
    from torch.profiler import profile, ProfilerActivity
    torch.manual_seed(0)
    model = make_model('awd', cfg).to(device).train()
    x = torch.randint(2, cfg['vocab'], (cfg['bs'], cfg['bptt']), device=device)
    model(x)[0].sum().backward()                                     # warmup
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith('cuda') else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')                              # overrides awd_fastai's filter for this warning
        with profile(activities=acts) as prof:
            model(x)[0].sum().backward()
            if device.startswith('cuda'): torch.cuda.synchronize()
    names = {}
    for e in prof.key_averages(): names[e.key] = e.count
    rnn_ops = {k: n for k,n in names.items() if any(s in k.lower() for s in ('rnn', 'lstm', 'cudnn'))}
    cells = {k: n for k,n in rnn_ops.items() if 'cell' in k.lower()}
    layout = [str(w.message) for w in caught if 'contiguous chunk' in str(w.message)]
    lines = [f"fused-kernel check on {device}: one forward+backward of awd_fastai's model ({cfg['n_layers']} layers)",
             "RNN ops and calls: " + ', '.join(f"{k} x{n}" for k,n in sorted(rnn_ops.items())),
             f"per-step cell ops: {cells or 'none'} -> {'a per-step loop ran' if cells else 'no per-step loop'}",
             f"copies (aten::copy_) in the step: {names.get('aten::copy_', 0)}",
             f"'weights are not part of single contiguous chunk' warnings: {len(layout)}"]
    if device.startswith('cuda'):
        fused = any('cudnn' in k.lower() for k in rnn_ops)
        lines.append(f"cuDNN fused RNN kernel used: {fused}")
    return '\n'.join(lines)

# ---------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS), help='shape configurations to run')
    p.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS, choices=list(VARIANTS),
                   help=f"variants to compare (default: {' '.join(DEFAULT_VARIANTS)})")
    p.add_argument('--rounds', type=positive_int, default=None, help='interleaved turns per variant (after one warmup turn)')
    p.add_argument('--per-turn', type=positive_int, default=3, help='training batches per turn')
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    p.add_argument('--clock', default='wall', choices=list(CLOCKS),
                   help="'wall' (perf_counter) or 'thread' (CPU time of this thread: with 1 torch thread on the CPU, all of "
                        "the step's work, and not the time other processes take the core away; for a shared machine)")
    p.add_argument('--quick', action='store_true', help='few rounds: a smoke run')
    p.add_argument('--check-fused', action='store_true', help='also profile one step for the fused RNN kernel')
    return p.parse_args(argv)

def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    if not (args.device == 'cpu' or args.device.startswith('cuda')): sys.exit(f"--device must be 'cpu' or 'cuda[:N]'; got {args.device!r}")
    if args.device.startswith('cuda') and not torch.cuda.is_available(): sys.exit("--device cuda: this machine has no CUDA device")
    if args.clock == 'thread' and (args.device != 'cpu' or args.threads != 1):
        sys.exit("--clock thread measures only this thread: use it with --device cpu --threads 1")
    default_rounds = {'small': 16, 'fastai': 8}
    print(machine_info(args.device))
    print(f"device {args.device}; clock {args.clock}; times are per training batch (forward, loss, backward, Adam step, callbacks); "
          f"medians of interleaved turns of {args.per_turn} batches\n")
    for name in args.configs:
        rounds = args.rounds or (2 if args.quick else default_rounds[name])
        t0 = time.time()
        turns = measure(CONFIGS[name], args.variants, rounds, args.per_turn, args.device, clock=args.clock)
        print(step_table(name, turns))
        print(verdict(turns))
        print(f"({rounds} rounds, {time.time()-t0:.0f} s)\n")
        if args.check_fused: print(check_fused(CONFIGS[name], args.device) + '\n')

if __name__ == '__main__': main()
