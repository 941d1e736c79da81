"""Text generation: `AWDLearner.generate` (reads each prompt once, then one step per word, all prompts in one batch)
against `predict` (fastai's method: for every new word it resets the model and re-reads the whole text), on the same model.

Variants, each continuing the same prompts by the same number of words (temperature 1, `no_unk`):
- `fastai predict`: fastai's own `LMLearner.predict`, one prompt after the other (the reference);
- `predict`: `AWDLearner.predict` (the same method, sampling in log space);
- `generate, 1 prompt`: `generate([p])`, one prompt after the other (the carried state, no batching);
- `generate, batch`: `generate(prompts)`, all prompts at once.
Variants take turns (A B C D, D C B A, ...) after a warmup; the table gives the median time of a turn (all prompts),
its IQR, the ratio of the medians to fastai's predict, and the median (IQR) of the per-round ratios. At temperature 0
`generate` and `predict` give the same words: the script checks it first.

    python benchmarks/generate.py            # about 3 minutes on 2 CPU cores
    python benchmarks/generate.py --quick    # a smoke run
"""
from __future__ import annotations
import argparse, sys, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore', message=r'`torch.jit.script` is deprecated')   # raised by fastai's import (this script only)
import torch
from fastai.text.learner import LMLearner
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, quartiles, table
from awd_fastai.data import lm_dls
from awd_fastai.learner import awd_learner

PROMPTS = ['The assert statement', 'A class definition defines a class object', 'The import statement',
           'Exceptions are raised', 'The with statement is used to wrap the execution of a block',
           'Names refer to objects', 'A function definition', 'The for statement is used to iterate over the elements of a sequence']

def make_learner(emb_sz:int, n_hid:int, n_layers:int):
    "An awd_learner on the embedded corpus, briefly trained (speed does not depend on training; sensible text helps the check)."
    torch.manual_seed(0)
    dls = lm_dls(bs=32, seq_len=35)
    learn = awd_learner(dls, emb_sz=emb_sz, n_hid=n_hid, n_layers=n_layers)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    return learn

def variants(learn, prompts:list, n_words:int) -> dict:
    "name -> function generating `n_words` after every prompt."
    fastai_predict = lambda p: LMLearner.predict(learn, p, n_words, no_bar=True)
    return {
        'fastai predict':     lambda: [fastai_predict(p) for p in prompts],
        'predict':            lambda: [learn.predict(p, n_words, no_bar=True) for p in prompts],
        'generate, 1 prompt': lambda: [learn.generate([p], n_words)[0] for p in prompts],
        'generate, batch':    lambda: learn.generate(prompts, n_words),
    }

def measure(fns:dict, rounds:int) -> dict:
    "Interleaved turns: name -> list of seconds, one per round."
    names, times = list(fns), {n: [] for n in fns}
    for n in names: fns[n]()                                   # warmup
    for r in range(rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            t = time.perf_counter(); fns[n](); times[n].append(time.perf_counter() - t)
    return times

def report(times:dict, ref:str='fastai predict') -> str:
    rows = []
    for n, ts in times.items():
        q1, q3 = quartiles(ts)
        per_round = [t/r for t, r in zip(ts, times[ref])]
        p1, p3 = quartiles(per_round)
        rows.append({'variant': n, 'rounds': len(ts), 'median s': f'{median(ts):.3f}', 'IQR s': f'{q1:.3f}–{q3:.3f}',
                     'x fastai predict': f'{median(ts)/median(times[ref]):.3f}',
                     'speed-up': f'{median(times[ref])/median(ts):.1f}x',
                     'per-round x: median (IQR)': f'{median(per_round):.3f} ({p1:.3f}–{p3:.3f})'})
    return table(rows, list(rows[0]))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1, see benchmarks/README.md)')
    ap.add_argument('--rounds', type=positive_int, default=8, help='interleaved rounds (default 8)')
    ap.add_argument('--n-words', type=positive_int, default=40, help='words generated after each prompt (default 40)')
    ap.add_argument('--prompts', type=positive_int, default=8, help=f'number of prompts, at most {len(PROMPTS)} (default 8)')
    ap.add_argument('--size', default='200,400,3', help='emb_sz,n_hid,n_layers of the model (default 200,400,3)')
    ap.add_argument('--quick', action='store_true', help='a smoke run: 2 rounds, 10 words, 4 prompts')
    a = ap.parse_args(argv)
    if a.quick: a.rounds, a.n_words, a.prompts = 2, 10, 4
    threads = set_threads(a.threads)
    emb_sz, n_hid, n_layers = (int(v) for v in a.size.split(','))
    learn = make_learner(emb_sz, n_hid, n_layers)
    prompts = PROMPTS[:a.prompts]
    lens = [len(t) for t in learn.dls.test_dl(prompts).items]
    greedy_same = learn.generate(prompts, a.n_words, temperature=0) == [learn.predict(p, a.n_words, temperature=0, no_bar=True) for p in prompts]
    print(machine_info())
    print(f'model: vocab {len(learn.dls.vocab)}, emb {emb_sz}, hidden {n_hid}, {n_layers} layers · {len(prompts)} prompts of '
          f'{min(lens)}–{max(lens)} tokens · {a.n_words} words each · temperature 1 · torch threads {threads} · {a.rounds} rounds')
    print(f'check: at temperature 0, generate gives the words of predict for every prompt: {greedy_same}')
    times = measure(variants(learn, prompts, a.n_words), a.rounds)
    print(report(times))
    return 0 if greedy_same else 1

if __name__ == '__main__': sys.exit(main())
