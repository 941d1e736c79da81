"""Drawing a dropout mask: every candidate sampler in one table, timed as the layers use it.

For each mask size that matters (the W_hh of fastai's default size, 4608x1152; the W_hh of the small configuration,
1600x400; a locked mask (bs, 1, n) on a (bs, bptt, n) activation) and each candidate, two things are timed:

- `mask`: producing what the layer multiplies by (a float mask 0 or 1/(1-p), or a bool keep-mask for the candidates that
  fold the scale into the product);
- `as used`: that, then the product with the weight (or activation), then its backward (the gradient of the product).

Candidates take turns (A B C ..., then ... C B A), `--rounds` rounds after a warmup turn each; a turn repeats a call
enough times to last about 50 ms. The table gives the median ns per mask element over the rounds, the median of the
per-round ratios to fastai's sampler (each candidate's turn against fastai's turn of the same round), and their IQR.
`keep z` checks each candidate's keep rate on one fastai-size mask: (kept - n(1-p)) / sd, within a few units when exact.
Floors: the random numbers alone (`torch.rand`), raw random bits alone, and the product with a fixed mask.

    python benchmarks/sampler.py            # about 2 minutes on 2 CPU cores
    python benchmarks/sampler.py --quick    # 3 rounds: a smoke run
"""
from __future__ import annotations
import argparse, math, sys, time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
import torch
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, quartiles, table
from awd_fastai.dropout import dropout_mask

SIZES = {  # name -> (mask size, size of what the mask multiplies)
    'W_hh 4608x1152': ((4608, 1152), (4608, 1152)),     # fastai's default size: 4·1152 gate rows, 1152 hidden units
    'W_hh 1600x400':  ((1600, 400), (1600, 400)),       # the small configuration (hidden 400)
    'locked 64x1x1152': ((64, 1, 1152), (64, 72, 1152)), # (bs, 1, n) on a (bs, bptt, n) activation, fastai's bs 64, bptt 72
}

# ---------------------------------------------------------------- candidates
def mul(w, m, p): return w * m                           # the layer's product with a float mask: w * noise

@dataclass
class Candidate:
    name:str              # what it does, as the table shows it
    exact:str             # resolution of the keep probability ('no' when coarser than 2^-24)
    draw:Callable         # (x, sz, p) -> the mask: float 0 or 1/(1-p), or a bool keep-mask
    apply:Callable=mul    # (w, mask, p) -> the masked product, differentiable in w
    p:float|None=None     # a fixed p for candidates that only work at one p

def bern_scalar(x, sz, p): return x.new_empty(*sz).bernoulli_(1-p).div_(1-p)
def bern_tensor(x, sz, p): return torch.bernoulli(torch.full(sz, 1-p, dtype=x.dtype, device=x.device)).div_(1-p)
def rand_ge_to(x, sz, p): return (torch.rand(sz, device=x.device) >= p).to(x.dtype).div_(1-p)
def rand_ge_mulscal(x, sz, p): return (torch.rand(sz, device=x.device) >= p) * (1/(1-p))
def rand_where(x, sz, p): return torch.where(torch.rand(sz, device=x.device) >= p, 1/(1-p), 0.)
def rand_inplace_div(x, sz, p): return torch.rand(sz, dtype=x.dtype, device=x.device).ge_(p).div_(1-p)
def rand_inplace_mul(x, sz, p): return torch.rand(sz, dtype=x.dtype, device=x.device).ge_(p).mul_(1/(1-p))
def rand_bf16(x, sz, p): return torch.rand(sz, dtype=torch.bfloat16, device=x.device).ge_(p).div_(1-p)

def int32_thr(x, sz, p):
    "31 random bits per element (int32 `random_` draws in [0, 2^31)) against round(p·2^31)."
    return (torch.empty(sz, dtype=torch.int32, device=x.device).random_() >= round(p*2**31)).to(x.dtype).div_(1-p)

def randint24_thr(x, sz, p):
    return (torch.randint(0, 2**24, sz, dtype=torch.int32, device=x.device) >= round(p*2**24)).to(x.dtype).div_(1-p)

def int64_pairs(x, sz, p):
    "Two elements per 64-bit draw: int64 `random_` is uniform in [0, 2^63); each int32 half, top bit cleared, has 31 bits."
    n = math.prod(sz)
    r = torch.empty((n+1)//2, dtype=torch.int64, device=x.device).random_().view(torch.int32)[:n].bitwise_and_(2**31-1)
    return torch.ge(r, round(p*2**31), out=torch.empty(n, dtype=x.dtype, device=x.device)).div_(1-p).view(sz)

def int64_pairs_inplace(x, sz, p):
    "As `int64_pairs`, every step in place in the one buffer: ge_ (int 0/1), copied to float32 over its own memory, div_."
    n = math.prod(sz)
    r = torch.empty((n+1)//2, dtype=torch.int64, device=x.device).random_().view(torch.int32)[:n].bitwise_and_(2**31-1)
    r.ge_(round(p*2**31))                                                          # int32 1 (kept) / 0
    return r.view(torch.float32).copy_(r).view(sz).to(x.dtype).div_(1-p)

def int16_thr(x, sz, p):
    "15 random bits per element (int16 `random_`): p rounded to 2^-15."
    return (torch.empty(sz, dtype=torch.int16, device=x.device).random_() >= round(p*2**15)).to(x.dtype).div_(1-p)

def bits16(x, sz, p):
    "16 random bits per element, 3 elements per 64-bit draw (the prototype of benchmarks/overhead.py): p rounded to 2^-16."
    n = math.prod(sz)
    r = torch.empty(((n+2)//3, 4), dtype=torch.int16, device=x.device)
    r.view(torch.int64).random_()                       # uniform in [0, 2^63): the top 16 bits are not uniform, skip them
    return (r[:, :3].reshape(-1)[:n].view(sz) >= -32768 + round(p*65536)).to(x.dtype).div_(1-p)

_BITS = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8)
def half_bits(x, sz, p):
    "p = 1/2 only: one random bit per element, 8 elements per random byte, unpacked to bools."
    assert p == 0.5, "the bit trick draws p = 1/2 only"
    n = math.prod(sz)
    b = torch.randint(0, 256, ((n+7)//8, 1), dtype=torch.uint8, device=x.device)     # one byte per 8 elements
    keep = (b & _BITS.to(x.device)).view(-1)[:n].view(sz) != 0                         # (sz) bool
    return keep.to(x.dtype).mul_(2)

def keep_rand(x, sz, p): return torch.rand(sz, device=x.device) >= p   # bool keep-mask; the scale goes into the product

CANDIDATES = [
    Candidate("fastai: new_empty(sz).bernoulli_(1-p).div_(1-p) (rng='fastai')", 'exact', bern_scalar),
    Candidate("torch.bernoulli(full(sz, 1-p)).div_(1-p) (tensor p)", 'exact', bern_tensor),
    Candidate("(rand(sz) >= p).to(dtype).div_(1-p)", '2^-24', rand_ge_to),
    Candidate("(rand(sz) >= p) * (1/(1-p))", '2^-24', rand_ge_mulscal),
    Candidate("where(rand(sz) >= p, 1/(1-p), 0)", '2^-24', rand_where),
    Candidate("rand(sz, dtype).ge_(p).div_(1-p) (in place, in the product's dtype)", '2^-24', rand_inplace_div),
    Candidate("rand(sz, dtype).ge_(p).mul_(1/(1-p)) (in place)", '2^-24', rand_inplace_mul),
    Candidate("int32 random_() >= round(p*2^31), .to(dtype).div_(1-p)", '2^-31', int32_thr),
    Candidate("randint(2^24, int32) >= round(p*2^24), .to(dtype).div_(1-p)", '2^-24', randint24_thr),
    Candidate("int64 random_(), 2 int32 halves & (2^31-1) >= thr, ge into dtype", '2^-31', int64_pairs),
    Candidate("int64 random_(), as above, all in place (ge_, copy_ to float32 over it, div_)", '2^-31', int64_pairs_inplace),
    Candidate("int16 random_() >= round(p*2^15), .to(dtype).div_(1-p)", 'no (2^-15)', int16_thr),
    Candidate("16-bit draws, 3 per int64 random_(), .to(dtype).div_(1-p)", 'no (2^-16)', bits16),
    Candidate("rand(sz, bfloat16).ge_(p).div_(1-p) (straight into bf16)", 'no (2^-8)', rand_bf16),
    Candidate("p = 1/2: random bytes -> 8 bools each (bit unpacking), *2", 'p = 1/2 only', half_bits, p=0.5),
    Candidate("fastai's, at p = 1/2 (reference for the row above)", 'exact', bern_scalar, p=0.5),
    Candidate("keep = rand >= p (bool); w * keep * (1/(1-p))", '2^-24', keep_rand, lambda w, k, p: w * k * (1/(1-p))),
    Candidate("keep = rand >= p (bool); (w * keep).mul_(1/(1-p))", '2^-24', keep_rand, lambda w, k, p: (w * k).mul_(1/(1-p))),
    Candidate("keep = rand >= p (bool); addcmul(0, w, keep, value=1/(1-p))", '2^-24', keep_rand,
              lambda w, k, p: torch.addcmul(w.new_zeros(()), w, k, value=1/(1-p))),
    Candidate("keep = rand >= p (bool); where(keep, w, 0) * (1/(1-p))", '2^-24', keep_rand,
              lambda w, k, p: torch.where(k, w, 0.) * (1/(1-p))),
    Candidate("awd_fastai: dropout_mask(x, sz, p) (the library's default)", '2^-31', lambda x, sz, p: dropout_mask(x, sz, p)),
]

FLOORS = [  # what any sampler must pay; 'as used': their draw, then the product with a fixed mask and its backward
    Candidate("floor: torch.rand(sz) alone (24 random bits per element)", '-',
              lambda x, sz, p: torch.rand(sz, device=x.device)),
    Candidate("floor: raw random bits, 32 per element (int64 random_)", '-',
              lambda x, sz, p: torch.empty((math.prod(sz)+1)//2, dtype=torch.int64, device=x.device).random_()),
    Candidate("floor: raw random bits, 1 per element (random bytes)", '-',
              lambda x, sz, p: torch.randint(0, 256, ((math.prod(sz)+7)//8,), dtype=torch.uint8, device=x.device)),
    Candidate("floor: no sampling (product with a fixed mask)", '-', lambda x, sz, p: None),
]

# ---------------------------------------------------------------- measurement
def is_floor(c:Candidate) -> bool: return c in FLOORS

def keep_z(c:Candidate, sz:tuple, p:float) -> float:
    "(kept - n(1-p)) / sd of one mask of size `sz`: a few units at most for an exact sampler (NaN for the floors)."
    if is_floor(c): return float('nan')
    m = c.draw(torch.empty(0), sz, p)
    keep = m if m.dtype == torch.bool else m != 0
    n = keep.numel()
    return (int(keep.sum()) - n*(1-p)) / math.sqrt(n*p*(1-p))

def make_call(c:Candidate, mask_sz:tuple, x_sz:tuple, p:float, mode:str):
    "A function doing one call of candidate `c` in `mode` ('mask' or 'as used')."
    p = c.p or p
    w = torch.randn(x_sz, requires_grad=True)            # the raw weight (or the activation)
    g = torch.randn(x_sz)                                # the gradient flowing back into the product
    if mode == 'mask': return lambda: c.draw(w, mask_sz, p)
    fixed = bern_scalar(w, mask_sz, p)                   # the floors' product: a mask drawn once
    def call():
        m = c.draw(w, mask_sz, p)
        y = w * fixed if is_floor(c) else c.apply(w, m, p)
        y.backward(g)
        w.grad = None
    return call

def measure(cands:list, mask_sz:tuple, x_sz:tuple, p:float, mode:str, rounds:int, target_s:float=0.05) -> dict:
    "Candidate name -> seconds per call in each round (interleaved turns, after a warmup turn)."
    calls = {c.name: make_call(c, mask_sz, x_sz, p, mode) for c in cands}
    reps = {}
    for k, f in calls.items():                           # warmup, and the number of calls that fills a turn
        f(); t0 = time.perf_counter(); f(); dt = time.perf_counter() - t0
        reps[k] = max(1, min(200, round(target_s / max(dt, 1e-6))))
    times, names = {k: [] for k in calls}, list(calls)
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            f, n = calls[k], reps[k]
            t0 = time.perf_counter()
            for _ in range(n): f()
            times[k].append((time.perf_counter() - t0) / n)
    return times

def cells(ts:list, ref:list, n:int) -> tuple:
    "(ns per element: median (IQR), ratio to the reference: median of the per-round ratios (IQR)) as table text."
    q1, q3 = quartiles(ts)
    pr = [a/b for a, b in zip(ts, ref)]
    r1, r3 = quartiles(pr)
    return f"{1e9*median(ts)/n:.2f} ({1e9*q1/n:.2f}–{1e9*q3/n:.2f})", f"{median(pr):.2f} ({r1:.2f}–{r3:.2f})"

COLS = ['size', 'candidate', 'exact to', 'keep z', 'mask ns/el (IQR)', 'mask x fastai (IQR)', 'as used ns/el (IQR)',
        'as used x fastai (IQR)']

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--p', type=float, default=0.2, help="dropout probability (fastai's weight_p: 0.2)")
    ap.add_argument('--rounds', type=positive_int, default=12, help='interleaved rounds (after one warmup turn)')
    ap.add_argument('--sizes', nargs='+', default=list(SIZES), choices=list(SIZES), help='mask sizes to time')
    ap.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    ap.add_argument('--quick', action='store_true', help='3 rounds: a smoke run')
    ap.add_argument('--only', nargs='+', metavar='TEXT', help="time only the candidates whose name contains one of these "
                    "(fastai's rows are always timed: they are the reference)")
    args = ap.parse_args(argv)
    if not 0 < args.p < 1: sys.exit(f"--p must be a dropout probability in (0, 1); got {args.p}")
    set_threads(args.threads)
    rounds = 3 if args.quick else args.rounds
    torch.manual_seed(0)
    t_start = time.time()
    print(machine_info())
    print(f"p = {args.p} (rows marked p = 1/2: 0.5); {rounds} interleaved rounds. ns per mask element: median over rounds "
          f"(IQR); x fastai: median (IQR) of the per-round ratios to fastai's sampler at the same p.\n"
          f"mask: produce what the layer multiplies by; as used: the mask, its product with the weight (activation for "
          f"the locked mask), and the product's backward.\n")
    cands = [c for c in CANDIDATES + FLOORS if not args.only or c.draw is bern_scalar or any(t in c.name for t in args.only)]
    ref = {c.p: c.name for c in cands if c.draw is bern_scalar}          # fastai's row at each p
    z_sz = SIZES['W_hh 4608x1152'][0]
    zs = {c.name: keep_z(c, z_sz, c.p or args.p) for c in cands}
    rows = []
    for size in args.sizes:
        mask_sz, x_sz = SIZES[size]
        n = math.prod(mask_sz)
        times = {mode: measure(cands, mask_sz, x_sz, args.p, mode, rounds) for mode in ('mask', 'as used')}
        for c in cands:
            row = {'size': size, 'candidate': c.name, 'exact to': c.exact,
                   'keep z': '' if math.isnan(zs[c.name]) else f"{zs[c.name]:+.1f}"}
            for mode in ('mask', 'as used'):
                ns, ratio = cells(times[mode][c.name], times[mode][ref[c.p]], n)
                row.update({f'{mode} ns/el (IQR)': ns, f'{mode} x fastai (IQR)': ratio})
            rows.append(row)
        print(f"({size}: done after {time.time()-t_start:.0f} s)", file=sys.stderr)
    print(table(rows, COLS))
    print(f"\nkeep z: (kept - n(1-p)) / sqrt(n p (1-p)) on one {z_sz[0]}x{z_sz[1]} mask ({math.prod(z_sz):,} elements), "
          f"|z| < 5 expected; masks: {', '.join(f'{k} {SIZES[k][0]} on {SIZES[k][1]}' for k in args.sizes)}")
    print(f"(total {time.time()-t_start:.0f} s)")

if __name__ == '__main__': main()
