"""The explorer page and the TensorBoard callback at the demo's size: bytes and time.

1. `write_explorer` on the demo's two recordings (`awd-fastai demo`: 336 iterations each, AWD-LSTM's dropouts and the
   per-step contrast), or on recordings of the same shapes filled with random masks when none is given: the page's size,
   the time to write it (median of `--rounds`), and, with Chromium, the time from navigation to the first drawing.
2. `MaskTensorBoardCallback(every=1)` over one epoch of the demo's model (84 batches, every site pictured): the event
   file's size, its bytes per logged batch, and the callback's own time per batch (its `after_batch`, timed directly),
   next to the training step; and the picture of a fastai-size W_hh (4608 x 1152, cropped to 128 rows per gate block).

    python benchmarks/explorer.py                                  # random masks of the demo's shapes; about 2 minutes here
    python benchmarks/explorer.py --recordings awd_demo/masks.npz awd_demo/masks_naive.npz
"""
from __future__ import annotations
import argparse, math, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np, torch
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, table, median, quartiles
from awd_fastai.core import DEMO_P
from awd_fastai.dropout import DropoutSite
from awd_fastai.recorder import MaskRecord, MaskRecorder, pack_mask, _Batch, _Mask
from awd_fastai.explorer import write_explorer
from awd_fastai.tensorboard import mask_picture, _png, MaskTensorBoardCallback

def demo_shaped(seed:int) -> dict:
    "Two recordings of the demo's shapes (vocab 1960, bs 32 x 35, emb 64, hidden 160, 2 layers), 336 iterations of random masks."
    g = np.random.default_rng(seed)
    locked = {'0.encoder_dp': (DropoutSite('embedding', 'embedding', label='embedding', p=0.1), (1960, 1)),
              '0.input_dp': (DropoutSite('locked', 'input', label='input', p=0.6), (32, 1, 64)),
              '0.rnns.0.weight_hh_l0': (DropoutSite('weight', 'weight', 0, tuple('ifgo'), 'W_hh, layer 1', 0.5), (640, 160)),
              '0.hidden_dps.0': (DropoutSite('locked', 'hidden', 0, label='between layers 1 and 2', p=0.2), (32, 1, 160)),
              '0.rnns.1.weight_hh_l0': (DropoutSite('weight', 'weight', 1, tuple('ifgo'), 'W_hh, layer 2', 0.5), (256, 64)),
              '1.output_dp': (DropoutSite('locked', 'output', label='output', p=0.4), (32, 1, 64))}
    naive = {n: ((DropoutSite('per_step', s.where, s.layer, label=s.label, p=s.p), (32, 35, shape[2])) if s.kind == 'locked' else
                 (DropoutSite('embedding_per_step', 'embedding', label='embedding', p=0.1), (32, 35, 64)) if s.kind == 'embedding' else (s, shape))
             for n, (s, shape) in locked.items()}
    out = {}
    for label, sites in (("AWD-LSTM's dropouts", locked), ('per-step contrast', naive)):
        rec = MaskRecord(); rec.vocab = [f'w{i}' for i in range(1960)]
        idx = {n: rec._add_site(n, s) for n, (s, _) in sites.items()}
        for it in range(336):
            parts, masks, off = [], [], 0
            for n, (s, shape) in sites.items():
                q = pack_mask(torch.from_numpy(g.random(shape) >= s.p)).numpy()
                masks.append(_Mask(idx[n], 0, 0, off, shape, s.p)); parts.append(q); off += len(q)
            rec._add(_Batch(it, it // 84, np.concatenate(parts), tuple(masks), g.integers(0, 1960, 32*35).astype(np.int32), ((32, 35),)))
        out[label] = rec
    return out

def page_load_ms(path:Path, n:int) -> list:
    "Milliseconds from navigation to the page's first drawing, `n` fresh loads in headless Chromium ([] without it)."
    sys.path.insert(0, str(Path(__file__).parents[1]/'tests'))
    try: from test_docs import chromium, chromium_path
    except ImportError: return []
    exe = chromium_path()
    if not exe: return []
    out = []
    with chromium(exe) as b:
        for i in range(n):
            b.open(path.as_uri() + f'?{i}')
            out.append(float(b.wait_js('document.body.dataset.ready')))
    return out

def tensorboard_run(tmp:Path) -> dict:
    "One epoch of the demo's model with MaskRecorder and MaskTensorBoardCallback(every=1): file bytes, callback and step times."
    from awd_fastai.data import lm_dls, corpus_texts
    from awd_fastai.learner import awd_learner
    from fastai.callback.core import Callback
    dls = lm_dls(corpus_texts(), bs=32, seq_len=35)
    learn = awd_learner(dls, emb_sz=64, n_hid=160, n_layers=2, **DEMO_P)
    tb, cb_s, step_s = MaskTensorBoardCallback(tmp), [], []
    inner = tb.after_batch
    def timed():
        t = time.perf_counter(); inner(); cb_s.append(time.perf_counter() - t)
    tb.after_batch = timed
    class Step(Callback):
        order = -10
        def before_batch(self): self.t = time.perf_counter()
        def after_batch(self):
            if self.training: step_s.append(time.perf_counter() - self.t)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 5e-3, cbs=[MaskRecorder(), tb, Step()])
    return dict(file=tb.event_file.stat().st_size, logged=len(cb_s), cb=cb_s, step=step_s)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--recordings', type=Path, nargs='*', help='recordings to put in one page (default: random masks of the demo\'s shapes)')
    ap.add_argument('--rounds', type=positive_int, default=5, help='writes (and page loads) timed (default: %(default)s)')
    ap.add_argument('--threads', type=positive_int, default=1, help='torch threads (default: %(default)s)')
    ap.add_argument('--no-tensorboard', action='store_true', help='skip part 2')
    a = ap.parse_args()
    set_threads(a.threads); warnings.filterwarnings('ignore', message=r'`torch.jit.script` is deprecated')
    print(machine_info())
    recs = {p.name: MaskRecord.load(p) for p in a.recordings} if a.recordings else demo_shaped(0)
    tmp = Path(tempfile.mkdtemp())
    times = []
    for _ in range(a.rounds):
        t = time.perf_counter(); path = write_explorer(tmp/'explorer.html', recs); times.append(time.perf_counter() - t)
    loads = page_load_ms(path, a.rounds)
    q1, q3 = quartiles(times)
    print(f"\n## 1. Explorer page ({'the given recordings' if a.recordings else 'random masks of the demo shapes'}: "
          + ', '.join(f'{k} {len(r)} iterations, {r.stored_bytes/2**20:.2f} MiB' for k, r in recs.items()) + ')\n')
    rows = [dict(what='page size', value=f'{path.stat().st_size/2**20:.2f} MiB ({path.stat().st_size} bytes; bound 8 MiB)'),
            dict(what='write_explorer', value=f'median {median(times):.2f} s (IQR {q1:.2f}-{q3:.2f}, {a.rounds} writes)')]
    if loads: rows.append(dict(what='Chromium: navigation to first drawing', value=f'median {median(loads):.0f} ms ({a.rounds} loads)'))
    print(table(rows, ['what', 'value']))
    if a.no_tensorboard: return
    r = tensorboard_run(tmp/'runs')
    cb, step = [1e3*s for s in r['cb']], [1e3*s for s in r['step']]
    w = DropoutSite('weight', 'weight', 0, tuple('ifgo'), 'W_hh', 0.5)
    big = torch.rand(4608, 1152) >= 0.5
    png = _png(mask_picture(big, w, 128))
    print(f"\n## 2. TensorBoard (demo model, one epoch, every batch logged, every site pictured)\n")
    print(table([dict(what='event file', value=f"{r['file']/2**20:.2f} MiB for {r['logged']} logged batches, {r['file']/r['logged']/1024:.1f} KiB per batch"),
                 dict(what='callback after_batch', value=f'median {median(cb):.2f} ms (IQR {quartiles(cb)[0]:.2f}-{quartiles(cb)[1]:.2f})'),
                 dict(what='training step (for scale)', value=f'median {median(step):.1f} ms'),
                 dict(what='fastai-size W_hh picture', value=f'4608 x 1152 mask -> 512 x 128 PNG, {len(png)} bytes ({(big.numel()+7)//8} bytes bit-packed)')],
                ['what', 'value']))

if __name__ == '__main__': main()
