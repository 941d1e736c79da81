"""MaskRecorder's own work per training batch, timed directly: the time spent inside the recorder (its `before_batch`, every
call of its forward hooks and pre-hooks, its `after_batch`), not a ratio of step times.

1. fastai's default size (emb 400, hidden 1152, 3 layers, vocab 60k, batches 64 x 72), driven as in `recorder_memory.py`:
   no matrix products, each dropout layer draws its mask as its forward does and the recorder's hooks run as torch runs
   them. Variants: every batch recorded (`every=1`, budget large enough to never thin), and a batch that is *not* recorded
   (`every=1000`: the hooks return at once), each with and without token ids. Mask drawing is not counted.
2. Real fastai training loops, the recorder's methods wrapped with timers: a small language model (`awd_learner`, emb 64,
   hidden 160, 2 layers, bs 32 x 35, the demo's size) and fastai's text classifier on our AWD_LSTM (the encoder runs once
   per 8-token chunk: several calls per batch). The whole training step is timed too, for scale.

Every figure: median over batches, IQR, min and max, one torch thread unless `--threads`.

    python benchmarks/recorder_time.py            # about 3 minutes here
    python benchmarks/recorder_time.py --quick    # fewer batches
"""
from __future__ import annotations
import argparse, random, statistics, sys, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, table, median, quartiles
from recorder_memory import CONFIG, recorder_setup
from fastai.callback.core import Callback
from awd_fastai.recorder import MaskRecorder

def row(what:str, secs:list, extra:dict=None) -> dict:
    "A table row: median, IQR, min and max in ms."
    ms = [1e3*s for s in secs]
    q1, q3 = quartiles(ms)
    return {'what': what, 'batches': len(ms), 'median ms': f"{median(ms):.2f}", 'IQR ms': f"{q1:.2f}–{q3:.2f}",
            'min–max ms': f"{min(ms):.2f}–{max(ms):.2f}", **(extra or {})}

def simulated(n:int, every:int, tokens:bool) -> list:
    "Seconds in the recorder per batch, fastai-size model without matrix products (after 3 warmup batches)."
    _, rec, batch = recorder_setup(CONFIG, budget=2**40, every=every)
    rec.record_tokens = tokens
    if not tokens: rec.before_fit()                 # again, without the token pre-hooks
    return [batch(i) for i in range(n + 3)][3:]

class StepTimer(Callback):
    "Wall time of each training batch, from the first `before_batch` to the last `after_batch`."
    order, run_valid = -100, False
    def __init__(self): self.times = []
    def before_batch(self): self.t0 = time.perf_counter()
    def after_batch(self): self.times.append(time.perf_counter() - self.t0)

def instrument(rec:MaskRecorder) -> list:
    "Wrap the recorder's methods that run during a batch with timers; return the list that gets the seconds of each batch."
    per_batch, cur = [], [0.]
    def timed(f, start=False, end=False):
        def g(*args):
            if start: cur[0] = 0.
            t0 = time.perf_counter()
            try: return f(*args)
            finally:
                cur[0] += time.perf_counter() - t0
                if end: per_batch.append(cur[0])
        return g
    rec.before_batch = timed(rec.before_batch, start=True)     # instance attributes: fastai's events and the hooks find them
    rec.after_batch = timed(rec.after_batch, end=True)
    rec._after_call, rec._before_embedding = timed(rec._after_call), timed(rec._before_embedding)
    return per_batch

def real_lm(n_epochs:int) -> tuple:
    from awd_fastai.core import DEMO_P
    from awd_fastai.data import lm_dls
    from awd_fastai.learner import awd_learner
    dls = lm_dls(bs=32, seq_len=35)
    rec, steps = MaskRecorder(), StepTimer()
    spent = instrument(rec)
    learn = awd_learner(dls, emb_sz=64, n_hid=160, n_layers=2, **DEMO_P)
    with learn.no_bar(), learn.no_logging(): learn.fit(n_epochs, 3e-3, cbs=[rec, steps])
    calls = rec.record.calls()
    return spent[3:], steps.times[3:], calls.groupby('iteration').size().median(), 8*sum(b.data.nbytes for b in rec.record._batches.values()) / sum(np.prod(s) for s in calls['shape'])

def real_classifier(n_epochs:int) -> tuple:
    from fastai.text.all import TextDataLoaders, text_classifier_learner, awd_lstm_clas_config
    from awd_fastai.model import AWD_LSTM
    rnd = random.Random(0)
    words = "good bad the a movie film plot great awful is was very".split()
    df = pd.DataFrame([(' '.join(rnd.choice(words) for _ in range(rnd.randint(10, 120))), rnd.choice('pn')) for _ in range(400)],
                      columns=['text', 'label'])
    dls = TextDataLoaders.from_df(df, text_col='text', label_col='label', valid_pct=0.1, bs=32, seed=1)
    learn = text_classifier_learner(dls, AWD_LSTM, config=dict(awd_lstm_clas_config, emb_sz=64, n_hid=160, n_layers=2),
                                    pretrained=False, seq_len=8)
    rec, steps = MaskRecorder(), StepTimer()
    spent = instrument(rec)
    with learn.no_bar(), learn.no_logging(): learn.fit(n_epochs, 1e-3, cbs=[rec, steps])
    calls = rec.record.calls()
    return spent[3:], steps.times[3:], calls.groupby('iteration').size().median() / len(rec.record.names)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--batches', type=positive_int, default=60, help='batches per fastai-size variant')
    p.add_argument('--epochs', type=positive_int, default=2, help='epochs of the real training loops')
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    p.add_argument('--quick', action='store_true', help='15 batches per variant, 1 epoch')
    args = p.parse_args(argv)
    if args.quick: args.batches, args.epochs = 15, 1
    set_threads(args.threads)
    warnings.simplefilter('ignore')
    print(machine_info())
    print(f"\n1. fastai's default size ({CONFIG}), no matrix products: seconds inside the recorder per batch")
    rows = [row('recorded, every mask + token ids', simulated(args.batches, 1, True)),
            row('recorded, every mask, no token ids', simulated(args.batches, 1, False)),
            row('not recorded (every=1000): hooks return at once', simulated(args.batches, 1000, True))]
    print(table(rows, list(rows[0])))
    print(f"\n2. Real fastai training loops ({args.epochs} epochs): seconds inside the recorder per batch, and the whole step")
    spent, steps, n_masks, bits = real_lm(args.epochs)
    spent_c, steps_c, calls = real_classifier(args.epochs)
    rows = [row('LM (emb 64, hidden 160, 2 layers, 32x35): recorder', spent, {'share of step': f"{median(spent)/median(steps):.1%}"}),
            row('LM: whole training step', steps),
            row(f'text classifier ({calls:.0f} encoder calls per batch, median): recorder', spent_c,
                {'share of step': f"{median(spent_c)/median(steps_c):.1%}"}),
            row('text classifier: whole training step', steps_c)]
    print(table(rows, list(rows[0])))
    print(f"LM: {n_masks:.0f} masks per recorded batch, stored at {bits:.4f} bits per mask element")

if __name__ == '__main__': main()
