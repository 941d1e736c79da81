"""MaskRecorder memory: bytes stored per snapshot against the theoretical bit-packed size, and process memory over a long run.

Model: awd_fastai's AWD-LSTM at fastai's default size (emb 400, hidden 1152, 3 layers) with a 60k vocabulary, batch size 64,
bptt 72 (fastai's defaults). The recorder is fed directly, without the model's matrix products (2,000 real training
batches of this model would take hours on two CPU cores; they change nothing in what the recorder stores): every batch,
each dropout layer of the real model gets a fresh mask drawn with awd_fastai's `dropout_mask`, exactly the call its
forward makes, and of the shape its forward draws (W_hh (4·nh, nh), embedding (vocab, 1), locked (bs, 1, n): the
locked layers are simply called on a zero (bs, 1, n) input); the batch's token ids are a random (64, 72) batch. The
recorder is then driven as fastai drives it: `before_fit` once, `after_batch` after every training batch. Process memory
is measured against the largest RSS of 10 warmup batches (masks drawn, recorder idle), so the tensors of mask drawing
are not charged to the recorder.

    python benchmarks/recorder_memory.py               # 2,000 batches with the default 256 MiB budget, about 4 minutes
    python benchmarks/recorder_memory.py --quick       # 300 batches, 32 MiB budget
    python benchmarks/recorder_memory.py --mmap-threshold 65536   # the same with glibc's dynamic mmap threshold off
"""
from __future__ import annotations
import argparse, resource, sys, time, warnings
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

def recorder_setup(cfg:dict, budget:int):
    "The model, a `MaskRecorder` attached to a minimal `Learner`, and a function that makes one training batch's masks."
    model = awd_lm(cfg['vocab'], emb_sz=cfg['emb_sz'], n_hid=cfg['n_hid'], n_layers=cfg['n_layers']).train()
    rec = MaskRecorder(budget=budget)
    learn = Learner(DataLoaders([], []), model, loss_func=CrossEntropyLossFlat(), cbs=rec)
    rec.before_fit()
    learn.training, learn.epoch = True, 0
    enc = model[0]
    unused = enc.hidden_dps[enc.n_layers-1]             # AWD_LSTM.forward never calls the last hidden dropout
    drops = [m for m in model.modules() if isinstance(m, KeepsMask) and m is not unused]
    def new_batch(i:int):
        "Give every dropout layer a fresh mask, drawn as its forward would draw it, and set `learn.xb`."
        with torch.no_grad():
            for m in drops:
                if isinstance(m, WeightDropout):                                          # each (4·nh, nh)
                    m._last_noise = {n: dropout_mask(w.data, w.shape, m.weight_p)
                                     for n,w in ((n, getattr(m, f'{n}_raw')) for n in m.layer_names)}
                elif isinstance(m, EmbeddingDropout):                                     # (vocab, 1)
                    m._last_noise = dropout_mask(m.emb.weight.data, (m.emb.weight.size(0), 1), m.embed_p)
                else: m(torch.zeros(cfg['bs'], 1, feature_size(model, m)))                # (bs, 1, n)
        learn.xb = (torch.randint(2, cfg['vocab'], (cfg['bs'], cfg['bptt'])),)              # the batch's tokens, (bs, bptt)
        learn.iter = i
    return model, rec, new_batch

def feature_size(model, m) -> int:
    "Features of the activations that the locked dropout `m` of an `awd_lm` model sees."
    enc = model[0]
    if m is enc.input_dp or m is model[1].output_dp: return enc.emb_sz
    return enc._n_out(list(enc.hidden_dps).index(m)) * enc.n_dir

def snapshot_table(rec:MaskRecorder) -> tuple:
    "Per-mask rows: shape, elements, theoretical packed bytes and bytes stored per snapshot; and the totals."
    rows, tot_n, tot_theory, tot_stored = [], 0, 0, 0
    for name in rec.names:
        t = rec._tracks[name]
        n = int(np.prod(t.shape))
        theory = n / 8
        rows.append({'mask': name, 'shape': 'x'.join(map(str, t.shape)), 'elements': f"{n:,}", 'packed (n/8) B': f"{theory:,.0f}",
                     'stored B': f"{t.nbytes_row:,}", 'stored / packed': f"{t.nbytes_row/theory:.4f}"})
        tot_n, tot_theory, tot_stored = tot_n + n, tot_theory + theory, tot_stored + t.nbytes_row
    rows.append({'mask': 'all masks', 'elements': f"{tot_n:,}", 'packed (n/8) B': f"{tot_theory:,.0f}",
                 'stored B': f"{tot_stored:,}", 'stored / packed': f"{tot_stored/tot_theory:.4f}"})
    return rows, tot_n, tot_theory, tot_stored

def long_run(rec:MaskRecorder, new_batch, n_batches:int, report_every:int) -> dict:
    "Drive the recorder through `n_batches` training batches; track stored bytes, allocated bytes and RSS."
    rec.active = False                               # warmup: masks drawn, nothing recorded
    base_rss = 0
    for i in range(10): new_batch(i); rec.after_batch(); base_rss = max(base_rss, rss_bytes())
    rec.active = True
    max_stored, max_alloc, max_rss, over_budget, trace = 0, 0, 0, 0, []
    t0 = time.time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for i in range(n_batches):
            new_batch(i)
            rec.after_batch()
            stored, alloc, rss = rec.stored_bytes, rec.nbytes, rss_bytes()
            max_stored, max_alloc, max_rss = max(max_stored, stored), max(max_alloc, alloc), max(max_rss, rss)
            over_budget += stored > rec.budget
            if (i+1) % report_every == 0 or i+1 == n_batches:
                trace.append({'batch': i+1, 'snapshots': len(rec), 'stride': rec.stride, 'stored MiB': f"{stored/2**20:.1f}",
                              'allocated MiB': f"{alloc/2**20:.1f}", 'RSS - warmup MiB': f"{(rss-base_rss)/2**20:.1f}"})
    return dict(base_rss=base_rss, max_stored=max_stored, max_alloc=max_alloc, max_rss=max_rss, peak_rss=peak_rss_bytes(),
                over_budget=over_budget, trace=trace, seconds=time.time()-t0,
                warnings=sorted({str(w.message)[:110] for w in caught if 'MaskRecorder' in str(w.message)}))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--batches', type=positive_int, default=2000, help='training batches to record')
    p.add_argument('--budget-mib', type=positive_float, default=256, help="MaskRecorder budget in MiB (default: the recorder's, 256)")
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    p.add_argument('--quick', action='store_true', help='300 batches with a 32 MiB budget')
    p.add_argument('--mmap-threshold', type=int, default=None, metavar='BYTES',
                   help="glibc: fix malloc's mmap threshold (e.g. 65536) to see how much of the RSS growth is the allocator's")
    args = p.parse_args(argv)
    if args.quick: args.batches, args.budget_mib = 300, 32
    set_threads(args.threads)
    if args.mmap_threshold: fix_mmap_threshold(args.mmap_threshold)
    budget = int(args.budget_mib * 2**20)
    print(machine_info())
    cfg = CONFIG
    print(f"model: awd_lm, vocab {cfg['vocab']:,}, emb {cfg['emb_sz']}, hidden {cfg['n_hid']}, {cfg['n_layers']} layers; "
          f"batches of {cfg['bs']}x{cfg['bptt']}; MaskRecorder(budget={args.budget_mib:g} MiB), every mask, tokens on"
          + (f"; glibc M_MMAP_THRESHOLD fixed at {args.mmap_threshold} B" if args.mmap_threshold else '') + '\n')
    rss0 = rss_bytes()
    model, rec, new_batch = recorder_setup(cfg, budget)
    print(f"RSS before the model: {rss0/2**20:.0f} MiB; with the model: {rss_bytes()/2**20:.0f} MiB\n")
    res = long_run(rec, new_batch, args.batches, max(1, args.batches // 8))
    rows, n, theory, stored = snapshot_table(rec)
    tok = cfg['bs'] * cfg['bptt'] * 4
    print("1. One snapshot (one training batch): bytes stored per mask vs the theoretical bit-packed size")
    print(table(rows, ['mask', 'shape', 'elements', 'packed (n/8) B', 'stored B', 'stored / packed']))
    w = sum(int(np.prod(rec._tracks[k].shape)) for k in rec.names if 'weight_hh' in k)
    print(f"total per batch: {n/1e6:.2f} M mask elements -> {stored/1e6:.3f} MB packed (+ {tok/1e3:.1f} kB of int32 token ids); "
          f"W_hh masks are {100*w/n:.1f} % of the elements; float32 masks would take {4*n/1e6:.1f} MB\n")
    print(f"2. Long run: {args.batches:,} training batches, budget {args.budget_mib:g} MiB ({res['seconds']:.0f} s)")
    print(table(res['trace'], list(res['trace'][0])))
    print(f"max stored bytes {res['max_stored']/2**20:.1f} MiB (budget {args.budget_mib:g} MiB; batches over budget: {res['over_budget']}); "
          f"max allocated (chunks + tokens) {res['max_alloc']/2**20:.1f} MiB")
    print(f"largest RSS in warmup {res['base_rss']/2**20:.0f} MiB; max RSS sampled after a batch {res['max_rss']/2**20:.0f} MiB "
          f"(+{(res['max_rss']-res['base_rss'])/2**20:.0f} MiB); process peak RSS (ru_maxrss) {res['peak_rss']/2**20:.0f} MiB "
          f"(+{(res['peak_rss']-res['base_rss'])/2**20:.0f} MiB over warmup)")
    print(f"kept {len(rec)} snapshots, recording every {rec.every*rec.stride}-th batch after thinning {rec.thinned} times")
    for w in res['warnings']: print(f"warning: {w}...")
    bound = res['max_stored'] <= budget
    print(f"bounded as stated (stored bytes <= budget at every batch): {'yes' if bound and not res['over_budget'] else 'NO'}")

if __name__ == '__main__': main()
