"""MaskRecorder memory: bytes stored per recorded iteration against the theoretical bit-packed size, and process memory over a long run.

Model: awd_fastai's AWD-LSTM at fastai's default size (emb 400, hidden 1152, 3 layers) with a 60k vocabulary, batch size 64,
bptt 72 (fastai's defaults). The recorder is driven without the model's matrix products (2,000 real training batches of
this model would take hours on two CPU cores; they change nothing in what the recorder stores): every batch, the recorder's
`before_batch` runs, then each dropout layer of the real model makes its forward call as the recorder sees it: the
embedding layer's forward pre-hooks get the batch's token ids (a random (64, 72) batch), the layer draws a fresh mask with
awd_fastai's `dropout_mask`, exactly the call and shape its forward uses (W_hh (4·nh, nh), embedding (vocab, 1), locked
(bs, 1, n)), and its forward hooks run as torch runs them; then `after_batch`. Process memory is measured against a
baseline, the largest RSS of 10 warmup batches and of as many control batches as the run has (`--control`), all with the
recorder idle (masks drawn, nothing recorded), so the memory of mask drawing is not charged to the recorder: glibc serves
the 21 MB float W_hh masks from its heap, whose size wanders by tens of MiB from batch to batch with nothing recorded, and
10 batches do not see its range. The ratios against the 10 warmup batches alone are printed too.

    python benchmarks/recorder_memory.py               # 2,000 batches (and 2,000 control batches), default 256 MiB budget, about 7 minutes
    python benchmarks/recorder_memory.py --control 0   # the baseline of 10 warmup batches only (as before 0.3.0)
    python benchmarks/recorder_memory.py --quick       # 300 batches, 32 MiB budget
    python benchmarks/recorder_memory.py --mmap-threshold 65536   # the same with glibc's dynamic mmap threshold off
"""
from __future__ import annotations
import argparse, math, resource, sys, time, warnings
from pathlib import Path
import numpy as np, torch
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, positive_float, table
from awd_fastai.model import awd_lm
from awd_fastai.dropout import KeepsMask, WeightDropout, EmbeddingDropout, dropout_mask
from awd_fastai.recorder import MaskRecorder

CONFIG = dict(vocab=60_000, emb_sz=400, n_hid=1152, n_layers=3, bs=64, bptt=72)
RSS_TARGET = 1.25   # issue 25: the process grows by at most 1.25x the budget (RSS over the baseline, sampled after every batch)

def rss_bytes() -> int:
    "Current resident set size of this process."
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * resource.getpagesize()

def peak_rss_bytes() -> int:
    "Peak resident set size of this process since it started (Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def fix_mmap_threshold(nbytes:int):
    "glibc only: a fixed `M_MMAP_THRESHOLD` (as `MALLOC_MMAP_THRESHOLD_` would set), which turns off its dynamic raising."
    import ctypes, ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library('c'))
    if not hasattr(libc, 'mallopt') or libc.mallopt(-3, nbytes) != 1: sys.exit("--mmap-threshold needs glibc's mallopt")

def malloc_trim():
    "glibc only: a function that hands the heap's free memory back to the system (`malloc_trim(0)`); it returns what it freed."
    import ctypes, ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library('c'))
    if not hasattr(libc, 'malloc_trim'): sys.exit("--malloc-trim needs glibc's malloc_trim")
    return lambda: libc.malloc_trim(0)

def recorder_setup(cfg:dict, budget:int, every:int=1):
    """The model, a `MaskRecorder` attached to a minimal `Learner` (its fit started: hooks registered), and
    `batch(i) -> seconds`, one training batch as the recorder sees it, returning the time spent in the recorder."""
    model = awd_lm(cfg['vocab'], emb_sz=cfg['emb_sz'], n_hid=cfg['n_hid'], n_layers=cfg['n_layers']).train()
    rec = MaskRecorder(every=every, budget=budget)
    learn = Learner(DataLoaders([], []), model, loss_func=CrossEntropyLossFlat(), cbs=rec)
    learn.training, learn.epoch = True, 0
    rec.before_fit(); rec.before_train()                 # the fit's first training epoch: the recorder's hooks go on
    assert rec._hooks, "MaskRecorder registered no hook: nothing would be recorded"
    enc = model[0]
    unused = enc.hidden_dps[enc.n_layers-1]             # AWD_LSTM.forward never calls the last hidden dropout
    layers = [m for m in model.modules() if isinstance(m, KeepsMask) and m is not unused]   # the embedding first, as in a forward
    def draw(m):
        "A fresh mask, drawn as `m`'s forward draws it."
        with torch.no_grad():
            if isinstance(m, WeightDropout): m._weight_noise(1)                        # each (4·nh, nh): the forward's own call
            elif isinstance(m, EmbeddingDropout):                                     # (vocab, 1)
                m._last_noise = dropout_mask(m.emb.weight.data, (m.emb.weight.size(0), 1), m.embed_p, m.rng)
            else: m.forward(torch.zeros(cfg['bs'], 1, feature_size(model, m)))        # (bs, 1, n); `forward` runs no hook: called below
    def batch(i:int) -> float:
        "One training batch: `before_batch`, every layer's call (pre-hooks, mask, hooks), `after_batch`; seconds in the recorder."
        tokens = torch.randint(2, cfg['vocab'], (cfg['bs'], cfg['bptt']))          # the batch's token ids, (bs, bptt)
        learn.xb, learn.iter = (tokens,), i
        t0 = time.perf_counter(); rec.before_batch(); spent = time.perf_counter() - t0
        for m in layers:
            t0 = time.perf_counter()
            for h in list(m._forward_pre_hooks.values()): h(m, (tokens,))
            spent += time.perf_counter() - t0
            draw(m)
            t0 = time.perf_counter()
            for h in list(m._forward_hooks.values()): h(m, (), None)
            spent += time.perf_counter() - t0
        t0 = time.perf_counter(); rec.after_batch(); spent += time.perf_counter() - t0
        return spent
    return model, rec, batch

def feature_size(model, m) -> int:
    "Features of the activations that the locked dropout `m` of an `awd_lm` model sees."
    enc = model[0]
    if m is enc.input_dp or m is model[1].output_dp: return enc.emb_sz
    return enc._n_out(list(enc.hidden_dps).index(m)) * enc.n_dir

def iteration_table(rec:MaskRecorder) -> tuple:
    "Per-mask rows of one recorded iteration: shape, elements, theoretical packed bytes and bytes stored; and the totals."
    r = rec.record
    b = r._batches[r.iterations[-1]]
    rows, tot_n, tot_theory, tot_stored = [], 0, 0, 0
    for m in b.masks:
        n = math.prod(m.shape)
        rows.append({'mask': r._sites[m.site][0], 'shape': 'x'.join(map(str, m.shape)), 'elements': f"{n:,}", 'packed (n/8) B': f"{n/8:,.0f}",
                     'stored B': f"{m.nbytes:,}", 'stored / packed': f"{m.nbytes/(n/8):.4f}"})
        tot_n, tot_theory, tot_stored = tot_n + n, tot_theory + n/8, tot_stored + m.nbytes
    assert tot_stored == b.data.nbytes                                                # one buffer, exactly the packed masks
    rows.append({'mask': 'all masks', 'elements': f"{tot_n:,}", 'packed (n/8) B': f"{tot_theory:,.0f}",
                 'stored B': f"{tot_stored:,}", 'stored / packed': f"{tot_stored/tot_theory:.4f}"})
    return rows, tot_n, tot_theory, tot_stored, b

def long_run(rec:MaskRecorder, batch, n_batches:int, report_every:int, trim=None, control:int=0) -> dict:
    """Drive the recorder through `n_batches` training batches; track stored bytes and RSS (after `trim()` if given), against
    the largest RSS of 10 warmup batches and `control` more with the recorder idle (masks drawn, nothing recorded)."""
    rec.active = False                               # warmup and control: masks drawn, nothing recorded
    warm_rss, idle = 0, []
    for i in range(10): batch(i); warm_rss = max(warm_rss, rss_bytes())
    for i in range(control):
        batch(10 + i)
        if trim: trim()
        idle.append(rss_bytes())
    base_rss = max([warm_rss] + idle)
    rec.active = True
    max_stored, max_rss, over_budget, trace, spent, grown = 0, 0, 0, [], [], []
    t0 = time.time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for i in range(n_batches):
            spent.append(batch(i))
            if trim: trim()
            stored, rss = rec.record.stored_bytes, rss_bytes()
            max_stored, max_rss = max(max_stored, stored), max(max_rss, rss)
            over_budget += stored > rec.budget
            grown.append(rss - base_rss)
            if (i+1) % report_every == 0 or i+1 == n_batches:
                trace.append({'batch': i+1, 'iterations kept': len(rec.record), 'stride': rec.record.stride,
                              'stored MiB': f"{stored/2**20:.1f}", 'RSS - baseline MiB': f"{(rss-base_rss)/2**20:.1f}",
                              '/ budget': f"{(rss-base_rss)/rec.budget:.2f}"})
    return dict(base_rss=base_rss, warm_rss=warm_rss, idle=idle, max_stored=max_stored, max_rss=max_rss, peak_rss=peak_rss_bytes(), over_budget=over_budget, grown=grown,
                trace=trace, seconds=time.time()-t0, spent=spent,
                warnings=sorted({str(w.message)[:110] for w in caught if 'MaskRecorder' in str(w.message)}))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--batches', type=positive_int, default=2000, help='training batches to record')
    p.add_argument('--budget-mib', type=positive_float, default=256, help="MaskRecorder budget in MiB (default: the recorder's, 256)")
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    p.add_argument('--control', type=int, default=None, metavar='N',
                   help='batches with the recorder idle after the 10 warmup batches, part of the baseline (default: as many as --batches; 0: none)')
    p.add_argument('--quick', action='store_true', help='300 batches with a 32 MiB budget')
    p.add_argument('--mmap-threshold', type=int, default=None, metavar='BYTES',
                   help="glibc: fix malloc's mmap threshold (e.g. 65536) to see how much of the RSS growth is the allocator's")
    p.add_argument('--malloc-trim', action='store_true',
                   help="glibc: malloc_trim(0) after every batch: RSS that it returns was free memory glibc kept, not a leak")
    args = p.parse_args(argv)
    if args.quick: args.batches, args.budget_mib = 300, 32
    if args.control is None: args.control = args.batches
    set_threads(args.threads)
    if args.mmap_threshold: fix_mmap_threshold(args.mmap_threshold)
    budget = int(args.budget_mib * 2**20)
    print(machine_info())
    cfg = CONFIG
    print(f"model: awd_lm, vocab {cfg['vocab']:,}, emb {cfg['emb_sz']}, hidden {cfg['n_hid']}, {cfg['n_layers']} layers; "
          f"batches of {cfg['bs']}x{cfg['bptt']}; MaskRecorder(budget={args.budget_mib:g} MiB), every mask, tokens on"
          + (f"; glibc M_MMAP_THRESHOLD fixed at {args.mmap_threshold} B" if args.mmap_threshold else '')
          + ("; malloc_trim(0) after every batch" if args.malloc_trim else '') + '\n')
    rss0 = rss_bytes()
    model, rec, batch = recorder_setup(cfg, budget)
    print(f"RSS before the model: {rss0/2**20:.0f} MiB; with the model: {rss_bytes()/2**20:.0f} MiB\n")
    res = long_run(rec, batch, args.batches, max(1, args.batches // 8), malloc_trim() if args.malloc_trim else None, args.control)
    rows, n, theory, stored, b = iteration_table(rec)
    tok = b.tokens.nbytes
    print("1. One recorded iteration (one training batch): bytes stored per mask vs the theoretical bit-packed size")
    print(table(rows, ['mask', 'shape', 'elements', 'packed (n/8) B', 'stored B', 'stored / packed']))
    w = sum(math.prod(m.shape) for m in b.masks if rec.record._sites[m.site][1].kind == 'weight')
    print(f"total per iteration: {n/1e6:.2f} M mask elements -> {stored/1e6:.3f} MB packed in one buffer ({8*stored/n:.4f} bits per element; "
          f"+ {tok/1e3:.1f} kB of int32 token ids); W_hh masks are {100*w/n:.1f} % of the elements; float32 masks would take {4*n/1e6:.1f} MB\n")
    mib = lambda b: f"{b/2**20:+.0f}"
    if res['idle']:
        idle = np.array(res['idle']) - res['warm_rss']
        print(f"2. Long run. Baseline: the largest RSS of 10 warmup batches, {res['warm_rss']/2**20:.0f} MiB, then {args.control:,} control "
              f"batches with the recorder idle (the model's own mask drawing): RSS {mib(idle.min())} to {mib(idle.max())} MiB around "
              f"the warmup's (median {mib(np.median(idle))}); baseline = the largest of all, {res['base_rss']/2**20:.0f} MiB")
    else: print(f"2. Long run. Baseline: the largest RSS of 10 warmup batches, {res['base_rss']/2**20:.0f} MiB (no control batches)")
    print(f"Recording: {args.batches:,} training batches, budget {args.budget_mib:g} MiB ({res['seconds']:.0f} s)")
    print(table(res['trace'], list(res['trace'][0])))
    print(f"max stored bytes {res['max_stored']/2**20:.1f} MiB (budget {args.budget_mib:g} MiB; batches over budget: {res['over_budget']})")
    print(f"baseline RSS {res['base_rss']/2**20:.0f} MiB; max RSS sampled after a recorded batch {res['max_rss']/2**20:.0f} MiB "
          f"(+{(res['max_rss']-res['base_rss'])/2**20:.0f} MiB); process peak RSS (ru_maxrss) {res['peak_rss']/2**20:.0f} MiB "
          f"(+{(res['peak_rss']-res['base_rss'])/2**20:.0f} MiB over the baseline)")
    print(f"kept {len(rec.record)} iterations, recording every {rec.every*rec.record.stride}-th batch after thinning {rec.record.thinned} times")
    for w in res['warnings']: print(f"warning: {w}...")
    bound = res['max_stored'] <= budget
    print(f"bounded as stated (stored bytes <= budget at every batch): {'yes' if bound and not res['over_budget'] else 'NO'}")
    ratio, g = (res['max_rss'] - res['base_rss']) / budget, np.array(res['grown']) / budget
    for what, gg in [('baseline', g)] + ([('10 warmup batches alone', g + (res['base_rss'] - res['warm_rss']) / budget)] if res['idle'] else []):
        print(f"RSS over {what} / budget, after each of the {len(gg):,} recorded batches: median {np.median(gg):.2f}, 99th percentile "
              f"{np.percentile(gg, 99):.2f}, max {gg.max():.2f} (batch {int(gg.argmax())+1}); batches above {RSS_TARGET}x: {int((gg > RSS_TARGET).sum())}")
    print(f"process memory (RSS over the baseline <= {RSS_TARGET}x the budget at every batch): {ratio:.2f}x -> {'met' if ratio <= RSS_TARGET else 'MISSED'}")

if __name__ == '__main__': main()
