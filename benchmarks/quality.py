"""Quality: awd_fastai's `awd_learner` against fastai's `language_model_learner(dls, AWD_LSTM)` on real text, same
config, seed, data and schedule (its job: awd_fastai vs fastai at an equal budget); then a one-epoch ablation that
removes each regulariser in turn (the model underfits there; the ablation in a regime that over-fits is experiments/lm).

Data: train on WikiText-2's `valid.txt` (90 % of its paragraphs; the other 10 % give the validation perplexity) and
report perplexity on `test.txt`, from `../shared/data/wikitext-2` beside the project (or `--data`). When that folder is
absent the script falls back to awd_fastai's embedded corpus (Python's help topics) and says so; test perplexity is then
not available. WikiText is already tokenised, so the DataLoaders split on spaces (fastai's `BaseTokenizer`, plus
fastai's default rules: `xxbos`, `xxmaj`, lowercase); both learners get the very same `DataLoaders`.

    python benchmarks/quality.py            # all runs, about 8 minutes on 2 CPU cores
    python benchmarks/quality.py --quick    # a fraction of the data: a smoke run (about a minute)
"""
from __future__ import annotations
import argparse, math, sys, time, warnings
from pathlib import Path
import pandas as pd, torch
from fastai.text.all import (BaseTokenizer, language_model_learner, AWD_LSTM, accuracy, Perplexity, set_seed,
                             ProgressCallback)
from fastai.text.models.awdlstm import awd_lstm_lm_config as fastai_lm_config
from fastcore.basics import noop
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, table
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner

WIKITEXT = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'wikitext-2'
SHAPES = dict(emb_sz=128, n_hid=256, n_layers=3)     # a model small enough for 2 CPU cores; dropouts: fastai's defaults
RUNS = {  # name -> (library, awd_learner options): the comparison first, then the ablation (one regulariser off each)
    'fastai AWD_LSTM':                 ('fastai', {}),
    'awd_fastai (all regularisers)':   ('awd', {}),
    'no weight dropout (DropConnect)': ('awd', dict(modes={'weight': 'off'})),
    'no embedding dropout':            ('awd', dict(modes={'embed': 'off'})),
    'no AR/TAR (alpha = beta = 0)':    ('awd', dict(alpha=0., beta=0.)),
    'naive per-step weight dropout':   ('awd', dict(modes={'weight': 'naive'})),
}
PAPER = {  # Merity et al. 2017, Table 4: WikiText-2 validation perplexity, full training (750 epochs, GPU)
    'awd_fastai (all regularisers)': 68.6, 'no weight dropout (DropConnect)': 78.4, 'no embedding dropout': 71.1,
    'no AR/TAR (alpha = beta = 0)': 73.2,
}

def read_lines(path:Path, frac:float=1.) -> list:
    "Non-empty lines (WikiText paragraphs and headings) of `path`, the first `frac` of them."
    lines = [l.strip() for l in path.read_text(encoding='utf-8').splitlines() if l.strip()]
    return lines[:max(2, int(len(lines)*frac))]

def load_data(data:Path, bs:int, bptt:int, frac:float, seed:int):
    "The DataLoaders (train / validation from `valid.txt`), the test paragraphs, and a line saying where they came from."
    if (data/'valid.txt').is_file() and (data/'test.txt').is_file():
        train, test = read_lines(data/'valid.txt', frac), read_lines(data/'test.txt', frac)
        src = f"WikiText-2 from {data}: {len(train):,} paragraphs of valid.txt (90 % train, 10 % validation), test.txt for test"
    else:
        train, test = corpus_texts(), None
        src = f"FALLBACK: {data} not found; the embedded corpus (Python's help topics), 90 % train / 10 % validation, no test set"
    dls = lm_dls(train, bs=bs, seq_len=bptt, valid_pct=0.1, seed=seed, min_freq=3, tok_tfm=BaseTokenizer())
    # min_freq 3: what every committed run used (before 0.2.0 fastai's `from_df` ignored `lm_dls`'s min_freq and kept its own 3)
    return dls, test, src

def make_learner(lib:str, dls, seed:int, **opts):
    "fastai's `language_model_learner` or awd_fastai's `awd_learner`, same shapes, dropouts, AR/TAR, metrics and seed."
    set_seed(seed, reproducible=True)
    metrics = [accuracy, Perplexity()]
    if lib == 'fastai':
        learn = language_model_learner(dls, AWD_LSTM, config=dict(fastai_lm_config, **SHAPES), pretrained=False, metrics=metrics)
    else: learn = awd_learner(dls, metrics=metrics, **SHAPES, **opts)
    learn.remove_cb(ProgressCallback)
    learn.logger = noop
    return learn

def train_eval(lib:str, dls, test_dl, epochs:int, lr:float, seed:int, **opts) -> dict:
    "Train one learner with `fit_one_cycle` and return its validation and test perplexity and the time taken."
    learn = make_learner(lib, dls, seed, **opts)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        set_seed(seed, reproducible=True)
        learn.fit_one_cycle(epochs, lr)
    train_s = time.time() - t0
    val_loss = learn.validate()[0]
    test_loss = learn.validate(dl=test_dl)[0] if test_dl is not None else float('nan')
    return dict(val=math.exp(val_loss), test=math.exp(test_loss), train_s=train_s)

def result_table(res:dict) -> str:
    "One row per run: validation and test perplexity, ratio to awd_fastai, and the paper's figure where it has one."
    ref = res.get('awd_fastai (all regularisers)')
    rows = []
    for name, r in res.items():
        rows.append({'run': name, 'val ppl': f"{r['val']:.1f}", 'test ppl': f"{r['test']:.1f}" if r['test'] == r['test'] else 'n/a',
                     'val / awd_fastai': f"{r['val']/ref['val']:.3f}" if ref else '-',
                     'train s': f"{r['train_s']:.0f}", 'paper val ppl': PAPER.get(name, '')})
    return table(rows, ['run', 'val ppl', 'test ppl', 'val / awd_fastai', 'train s', 'paper val ppl'])

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--data', type=Path, default=WIKITEXT, help='folder with WikiText-2 valid.txt and test.txt')
    p.add_argument('--epochs', type=positive_int, default=1, help='epochs of fit_one_cycle')
    p.add_argument('--lr', type=float, default=3e-3, help='maximum learning rate')
    p.add_argument('--bs', type=positive_int, default=32, help='batch size')
    p.add_argument('--bptt', type=positive_int, default=35, help='sequence length')
    p.add_argument('--seed', type=int, default=42, help='seed of the split, the initialisation and the training')
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads (default 1: see README, "Threads")')
    p.add_argument('--runs', nargs='+', default=list(RUNS), choices=list(RUNS), metavar='RUN', help=f'runs, among {list(RUNS)}')
    p.add_argument('--quick', action='store_true', help='a fifth of the data: a smoke run')
    args = p.parse_args(argv)
    set_threads(args.threads)
    print(machine_info())
    t0 = time.time()
    dls, test, src = load_data(args.data, args.bs, args.bptt, 0.2 if args.quick else 1., args.seed)
    test_dl = dls.test_dl(pd.DataFrame({'text': test})) if test else None
    print(src)
    print(f"vocab {len(dls.vocab):,}; {len(dls.train)} training batches of {args.bs}x{args.bptt} per epoch, "
          f"{len(dls.valid)} validation" + (f", {len(test_dl)} test" if test_dl else '') + f" ({time.time()-t0:.0f} s to build)")
    print(f"model {SHAPES} with fastai's default dropouts {({k: v for k,v in fastai_lm_config.items() if k.endswith('_p')})}, "
          f"AR alpha 2, TAR beta 1; fit_one_cycle({args.epochs}, {args.lr}), Adam, seed {args.seed}\n")
    res = {}
    for name in args.runs:
        lib, opts = RUNS[name]
        res[name] = train_eval(lib, dls, test_dl, args.epochs, args.lr, args.seed, **opts)
        print(f"  {name}: val ppl {res[name]['val']:.1f}, test ppl {res[name]['test']:.1f} ({res[name]['train_s']:.0f} s)".replace('nan', 'n/a'), flush=True)
    print('\n' + result_table(res))
    if {'fastai AWD_LSTM', 'awd_fastai (all regularisers)'} <= set(res):
        a, f = res['awd_fastai (all regularisers)']['val'], res['fastai AWD_LSTM']['val']
        print(f"awd_fastai vs fastai validation perplexity: {a:.2f} vs {f:.2f} ({100*(a/f-1):+.2f} %) -> "
              f"{'within' if abs(a/f-1) <= 0.02 else 'NOT within'} 2 %")
    print(f"total {time.time()-t0:.0f} s")

if __name__ == '__main__': main()
