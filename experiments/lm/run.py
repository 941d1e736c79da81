"""Does dropout matter for a language model? An ablation of AWD-LSTM's regularisers and of recurrent dropout schemes in a
regime where a small model over-fits without dropout (issue 24). Protocol: `experiments/lm/PROTOCOL.md`.

Data: WikiText-2's `valid.txt` for training and validation (a fixed split: the first 90 % of its non-empty lines train,
the last 10 % validate) and its `test.txt` for test, from `../shared/data/wikitext-2` beside the repository (or
`--data`). Without that folder the script stops, naming it, and writes nothing. Every finished run is appended to the
log (`experiments/lm/runs.jsonl`) with the command, date, config, per-epoch perplexities, best validation perplexity and
its epoch, test perplexity from the best epoch's weights and wall time; a rerun skips the runs already logged (resume).

    python experiments/lm/run.py                       # the grid (PROTOCOL.md), 2 worker processes, one thread each
    python experiments/lm/run.py --workers 1 --schemes none awd   # a part of it
    python experiments/lm/run.py --quick --log /tmp/q.jsonl       # a one-minute smoke run on the embedded corpus
    python experiments/lm/run.py --pilot --note '...' --train-frac 0.5   # a no-dropout pilot, logged in pilots.jsonl
"""
from __future__ import annotations
import argparse, copy, json, math, os, shlex, sys, time, warnings
from dataclasses import dataclass, asdict, fields
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
import torch, torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))                      # this checkout's awd_fastai, whatever the working directory
from awd_fastai.memory import run_configs, logged_runs, _log_line

HERE = Path(__file__).resolve().parent
WIKITEXT = ROOT.parent/'shared'/'data'/'wikitext-2'
LOG, PILOTS = HERE/'runs.jsonl', HERE/'pilots.jsonl'
PROTOCOL_VERSION = 'lm-1'          # bump when anything below that changes a run's result; a log holds one version only

# name -> (label, awd_learner options): each a full AWD-LSTM (fastai's default probabilities, drop_mult 1, AR 2 / TAR 1)
# with only the named change. STATE_P: the probability of the masks on the recurrent state (h(t-1) or c).
# The names are the keys runs.jsonl records (kept as logged): 'state_step' and 'cell_step' are the per-step kinds
# 'state_per_step' and 'cell_per_step' of awd_fastai's vocabulary (the mode 'per_step', 01_model).
STATE_P = 0.2
_LOCKED_OFF = {'input': 'off', 'hidden': 'off', 'output': 'off'}
SCHEMES = {
    'none':       ('no dropout (and no AR/TAR)', dict(drop_mult=0., alpha=0., beta=0.)),
    'awd':        ('AWD-LSTM', {}),
    'no_weight':  ('without weight dropping (DropConnect)', dict(modes={'weight': 'off'})),
    'no_embed':   ('without embedding dropout', dict(modes={'embedding': 'off'})),
    'no_locked':  ('without the locked dropouts (input, between layers, output)', dict(modes=_LOCKED_OFF)),
    'no_artar':   ('without AR/TAR', dict(alpha=0., beta=0.)),
    'zaremba':    ('Zaremba et al.: per step between layers, no DropConnect',
                   dict(modes={'weight': 'off', 'input': 'per_step', 'hidden': 'per_step', 'output': 'per_step'})),
    'gal':        ('Gal & Ghahramani: locked on h(t-1) and between layers, no DropConnect',
                   dict(modes={'weight': 'off', 'state': 'locked'}, state_p=STATE_P)),
    'state_step': ('per step on h(t-1) into W_hh, no DropConnect',
                   dict(modes={'weight': 'off', 'state': 'per_step'}, state_p=STATE_P)),
    'cell_step':  ("per step on the LSTM's carried cell c(t-1), no DropConnect",          # the cell-state layer of issue 19
                   dict(modes={'weight': 'off', 'state': 'cell_per_step'}, state_p=STATE_P)),
}
SEEDS = {'none': (0, 1, 2), 'awd': (0, 1, 2), 'state_step': (0, 1, 2), 'cell_step': (0, 1, 2)}   # others: (0, 1)
STEPS_THROUGH_TIME = ('gal', 'state_step', 'cell_step')   # masks on the state: the RNN steps in Python (about 2x slower)

@dataclass(frozen=True)
class LMConfig:
    "One training run: the scheme, the seed, the model, the data and the schedule."
    scheme:str='none'        # A key of `SCHEMES`
    seed:int=0               # Seed of the initialisation, the masks and the batch order
    emb_sz:int=128           # Embedding size (= the last layer's output, tied decoder)
    n_hid:int=256            # Hidden size of the inner layers
    n_layers:int=3           # LSTM layers
    train_frac:float=1.      # Fraction of the training lines used (the first ones)
    bs:int=32                # Batch size
    bptt:int=35              # Sequence length
    min_freq:int=3           # Words seen fewer times become xxunk
    lr:float=5e-3            # Peak learning rate (Adam, fastai's defaults: wd 0.01, moms 0.9/0.99)
    schedule:str='one_cycle' # 'one_cycle' (fit_one_cycle over the cap) or 'warm_flat' (warm-up, then constant)
    pct_start:float=0.25     # 'one_cycle': fraction of the cap spent warming up (fastai's default 0.25)
    div_final:float=1e5      # 'one_cycle': the last epoch ends at lr/div_final (fastai's default 1e5: about zero)
    warmup:float=1.          # 'warm_flat': epochs of cosine warm-up from lr/25
    epochs:int=8             # Epoch cap
    patience:int=0           # Stop after this many epochs without a new best validation perplexity (0: never)...
    min_epochs:int=0         # ...but never before this epoch (the unigram plateau of the first epochs is not over-fitting)
    corpus:str='wikitext-2'  # 'wikitext-2', or 'embedded' (Python's help topics: `--quick` and tests only)

# --- data ------------------------------------------------------------------------------------------------------------

def _lines(path:Path) -> list:
    "The non-empty lines of a WikiText file (paragraphs and headings), stripped."
    return [l.strip() for l in path.read_text(encoding='utf-8').splitlines() if l.strip()]

def check_data(data:Path) -> str|None:
    "None if `data` holds WikiText-2's valid.txt and test.txt, else the message to stop with."
    missing = [f for f in ('valid.txt', 'test.txt') if not (Path(data)/f).is_file()]
    if not missing: return None
    what = 'there is no such folder' if not Path(data).is_dir() else f"it has no {' and no '.join(missing)}"
    return (f"WikiText-2 not found in {data}: {what}. Put WikiText-2's valid.txt and test.txt there (../shared/data/wikitext-2 "
            f"beside the repository) or pass --data FOLDER; nothing was run or written.")

def split_texts(c:LMConfig, data:Path|None) -> tuple:
    "(train lines, validation lines, test lines): the first 90 % of valid.txt's lines (of which the first `train_frac`), its last 10 %, test.txt."
    if c.corpus == 'embedded':
        from awd_fastai.data import corpus_texts
        docs = corpus_texts(40)                    # the first 40 help topics: enough for a smoke run
        n = len(docs)
        lines, test = docs[:int(0.8*n)], docs[int(0.8*n):]
    else: lines, test = _lines(Path(data)/'valid.txt'), _lines(Path(data)/'test.txt')
    cut = int(0.9*len(lines))
    train, valid = lines[:cut], lines[cut:]
    return train[:max(1, int(round(c.train_frac*len(train))))], valid, test

_DATA = {}
def get_dls(c:LMConfig, data:Path|None) -> tuple:
    "DataLoaders (fixed split), the test DataLoader and a training subset the size of the validation set (cached per process)."
    key = (c.corpus, c.train_frac, c.bs, c.bptt, c.min_freq)
    if key in _DATA: return _DATA[key]
    import pandas as pd
    from fastai.text.all import DataBlock, TextBlock, ColReader, IndexSplitter, BaseTokenizer
    train, valid, test = split_texts(c, data)
    df = pd.DataFrame({'text': train + valid})
    block = DataBlock(blocks=TextBlock.from_df('text', is_lm=True, seq_len=c.bptt, min_freq=c.min_freq, tok=BaseTokenizer()),
                      get_x=ColReader('text'), splitter=IndexSplitter(list(range(len(train), len(df)))))
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter('ignore')            # fastai's tokenizer warnings; local to this block
        dls = block.dataloaders(df, bs=c.bs, seq_len=c.bptt, num_workers=0)
        test_dl = dls.test_dl(pd.DataFrame({'text': test}))
        n_sub = max(1, int(len(train) * sum(map(len, valid)) / max(1, sum(map(len, train)))))   # ~ as many characters as validation
        sub_dl = dls.test_dl(pd.DataFrame({'text': train[:n_sub]}))
    _DATA[key] = dls, test_dl, sub_dl
    return _DATA[key]

# --- one run ---------------------------------------------------------------------------------------------------------

@torch.no_grad()
def perplexity(model, dl) -> float:
    "Perplexity of `model` (eval mode: dropout off) on `dl`, from a zero state, the loss averaged over tokens."
    model.eval(); model.reset()
    tot, n = 0., 0
    for xb, yb in ((b[0], b[1]) for b in dl):
        out = model(xb)
        out = out[0] if isinstance(out, tuple) else out                               # (bs, sl, vocab)
        tot += F.cross_entropy(out.flatten(0, 1).float(), yb.flatten(), reduction='sum').item(); n += yb.numel()
    model.train()
    return math.exp(tot / n)

def available(scheme:str) -> bool:
    "Whether this awd_fastai has every dropout mode `scheme` uses (the cell-state modes arrive with issue 19)."
    from awd_fastai.model import SITE_MODES
    return all(m in SITE_MODES[site] for site, m in SCHEMES[scheme][1].get('modes', {}).items())

def _learner_options(scheme:str) -> dict:
    if scheme not in SCHEMES: raise ValueError(f"unknown scheme {scheme!r}; schemes are {tuple(SCHEMES)}")
    if not available(scheme): raise ValueError(f"scheme {scheme!r} needs dropout modes this awd_fastai lacks: {SCHEMES[scheme][1]['modes']}")
    return copy.deepcopy(SCHEMES[scheme][1])

def train_lm(c:LMConfig, data:Path|None=None, verbose:bool=True) -> dict:
    "Train one language model; return its config, per-epoch perplexities, best validation and its epoch, test perplexity (best weights), wall time."
    from fastai.text.all import Callback, CancelFitException, ParamScheduler, SchedCos, SchedNo, combine_scheds, set_seed
    from fastcore.basics import noop
    from awd_fastai.learner import awd_learner
    t0, cpu0 = time.time(), time.process_time()
    dls, test_dl, sub_dl = get_dls(c, data)
    dls.loaders[0] = dls.train.new()   # a fresh training loader: fastai's shuffles the texts' order in place, epoch after epoch,
                                       # so a reused one would give a process's later runs another batch order than a first run
    opts = _learner_options(c.scheme)
    set_seed(c.seed, reproducible=True)
    learn = awd_learner(dls, emb_sz=c.emb_sz, n_hid=c.n_hid, n_layers=c.n_layers, metrics=[], **opts)
    from fastai.callback.progress import ProgressCallback
    learn.remove_cb(ProgressCallback); learn.logger = noop
    log, best = dict(train=[], train_eval=[], valid=[], seconds=[], cpu=[]), dict(ppl=float('inf'), epoch=0, state=None)

    class Epochs(Callback):
        "Mean training loss per token (masks on), then validation and training-subset perplexity (dropout off), best weights, patience."
        order = 100
        def before_epoch(self): self.tot, self.n, self.t, self.cpu = 0., 0, time.time(), time.process_time()
        def after_batch(self):
            if not self.training: return
            n = self.learn.yb[0].numel(); self.tot += self.learn.loss.item() * n; self.n += n
        def after_epoch(self):
            model = self.learn.model
            v, te = perplexity(model, dls.valid), perplexity(model, sub_dl)
            log['train'].append(round(math.exp(self.tot / self.n), 3)); log['train_eval'].append(round(te, 3))
            log['valid'].append(round(v, 3)); log['seconds'].append(round(time.time() - self.t, 1))
            log['cpu'].append(round(time.process_time() - self.cpu, 1))     # this process's CPU time: the epoch on a quiet core
            e = len(log['valid'])
            if v < best['ppl']: best.update(ppl=v, epoch=e, state={k: t.detach().clone() for k, t in model.state_dict().items()})
            if verbose: print(f"  {c.scheme} seed {c.seed} epoch {e}/{c.epochs}: train {log['train'][-1]:.1f} (dropout off "
                              f"{te:.1f}), valid {v:.1f}, {log['seconds'][-1]:.0f}s ({log['cpu'][-1]:.0f}s CPU)", flush=True)
            if c.patience and e >= c.min_epochs and e - best['epoch'] >= c.patience: raise CancelFitException()

    set_seed(c.seed, reproducible=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')            # fastai's warnings during fit; local to this run
        if c.schedule == 'one_cycle': learn.fit_one_cycle(c.epochs, c.lr, pct_start=c.pct_start, div_final=c.div_final, cbs=Epochs())
        elif c.schedule == 'warm_flat':
            w = min(c.warmup / c.epochs, 1.)
            sched = combine_scheds([w, 1 - w], [SchedCos(c.lr/25, c.lr), SchedNo(c.lr, c.lr)]) if w < 1 else SchedCos(c.lr/25, c.lr)
            learn.fit(c.epochs, c.lr, cbs=[ParamScheduler({'lr': sched}), Epochs()])
        else: raise ValueError(f"`schedule` must be 'one_cycle' or 'warm_flat'; got {c.schedule!r}")
    train_s = time.time() - t0
    learn.model.load_state_dict(best['state'])
    test = perplexity(learn.model, test_dl)
    n_tok = lambda dl: len(dl) * c.bs * c.bptt
    return dict(protocol=PROTOCOL_VERSION, config=asdict(c), label=SCHEMES[c.scheme][0], epochs_run=len(log['valid']),
                train_ppl=log['train'], train_eval_ppl=log['train_eval'], valid_ppl=log['valid'], epoch_s=log['seconds'], epoch_cpu_s=log['cpu'],
                best_valid=round(best['ppl'], 3), best_epoch=best['epoch'], still_improving=best['epoch'] == len(log['valid']),
                test_ppl=round(test, 3), vocab=len(dls.vocab), train_tokens=n_tok(dls.train), valid_tokens=n_tok(dls.valid),
                train_s=round(train_s, 1), seconds=round(time.time() - t0, 1), cpu_s=round(time.process_time() - cpu0, 1))

# --- the grid --------------------------------------------------------------------------------------------------------

PROTOCOL = dict(train_frac=0.5, bs=32, bptt=35, emb_sz=128, n_hid=256, n_layers=3, min_freq=3, lr=5e-3,   # PROTOCOL.md,
                schedule='one_cycle', pct_start=0.1, div_final=10., epochs=20, patience=3, min_epochs=8)     # from the pilots
QUICK = dict(corpus='embedded', emb_sz=16, n_hid=32, n_layers=2, bs=16, bptt=20, train_frac=0.3, epochs=2, patience=0,
             lr=5e-3, schedule='one_cycle')

def grid_configs(schemes=None, quick:bool=False) -> list:
    "The runs of the protocol (or of `--quick`): every scheme and its seeds, no-dropout and the schemes of most interest with 3."
    schemes = list(schemes or (('none', 'awd', 'state_step') if quick else SCHEMES))
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown: raise ValueError(f"unknown scheme(s) {unknown}; schemes are {tuple(SCHEMES)}")
    if not quick and not PROTOCOL: raise ValueError("the grid's protocol is not fixed yet (PROTOCOL is empty): run --pilot")
    base = QUICK if quick else PROTOCOL
    seeds = lambda s: (0,) if quick else SEEDS.get(s, (0, 1))
    return [LMConfig(scheme=s, seed=seed, **base) for seed in (0, 1, 2) for s in schemes if seed in seeds(s)]   # seed 0 of every scheme first

def _shown(path:Path) -> str:
    "A path as logged: relative to the repository, or its last two parts (no machine paths in the log)."
    try: return str(Path(path).resolve().relative_to(ROOT))
    except ValueError: return '…/' + '/'.join(Path(path).parts[-2:])

def _command(argv:list) -> str:
    "The command line without machine paths: path arguments relative to the repository or shortened."
    out, it = [], iter(argv)
    for a in it:
        if a in ('--data', '--log'): out += [a, _shown(next(it, ''))]
        elif a.startswith(('--data=', '--log=')): k, v = a.split('=', 1); out.append(f"{k}={_shown(v)}")
        else: out.append(a)
    return 'python experiments/lm/run.py ' + ' '.join(map(shlex.quote, out))

def _cost(c:LMConfig) -> float: return 2. if c.scheme in STEPS_THROUGH_TIME else 1.   # relative time per epoch

class Progress:
    "A text progress bar over runs: done/total, runs left and the ETA from the time per unit of cost so far."
    def __init__(self, configs:list, workers:int): self.costs, self.workers, self.t0, self.done = [_cost(c) for c in configs], workers, time.time(), 0.
    def __call__(self, i:int, n:int, r:dict):
        c = LMConfig(**r['config']); self.done += _cost(c)
        left = sum(self.costs) - self.done
        eta = (time.time() - self.t0) / self.done * left
        bar = '#' * round(20 * i / n) + '.' * (20 - round(20 * i / n))
        flag = ' (still improving)' if r['still_improving'] else ''
        print(f"[{bar}] {i}/{n}, {n-i} left, ETA {eta/60:.0f} min | {c.scheme} seed {c.seed}: best valid {r['best_valid']:.1f} "
              f"at epoch {r['best_epoch']}/{r['epochs_run']}{flag}, test {r['test_ppl']:.1f}, {r['seconds']:.0f}s", flush=True)

def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--data', type=Path, default=WIKITEXT, help='folder with WikiText-2 valid.txt and test.txt')
    p.add_argument('--log', type=Path, default=None, help='JSON-lines log (default: runs.jsonl, pilots.jsonl with --pilot, none with --quick)')
    p.add_argument('--workers', type=int, default=2, help='worker processes, one torch thread each')
    p.add_argument('--schemes', nargs='+', default=None, metavar='SCHEME', help=f'a part of the grid, among {list(SCHEMES)}')
    p.add_argument('--quick', action='store_true', help='a one-minute smoke run on the embedded corpus (tiny model, 2 epochs)')
    p.add_argument('--pilot', action='store_true', help='one no-dropout run with the settings below, logged in pilots.jsonl')
    p.add_argument('--note', default='', help='why these runs are made (recorded with each)')
    p.add_argument('--seeds', nargs='+', type=int, default=[0], help='--pilot: seeds')
    for f in fields(LMConfig):
        if f.name not in ('scheme', 'seed'): p.add_argument('--' + f.name.replace('_', '-'), type=type(f.default), default=None)
    a = p.parse_args(argv)
    over = {f.name: getattr(a, f.name) for f in fields(LMConfig) if f.name not in ('scheme', 'seed') and getattr(a, f.name) is not None}
    if a.pilot:
        if not a.note: p.error('--pilot needs --note (why this pilot)')
        configs = [LMConfig(scheme=s, seed=seed, **over) for s in (a.schemes or ['none']) for seed in a.seeds]
        log, note = a.log or PILOTS, 'pilot: ' + a.note
    else:
        if over: p.error(f"the grid's settings are fixed by the protocol; {sorted(over)} only with --pilot")
        try: configs = grid_configs(a.schemes, a.quick)
        except ValueError as e: p.error(str(e))
        log, note = (a.log if a.quick else a.log or LOG), a.note or ('quick smoke run' if a.quick else f'grid, protocol {PROTOCOL_VERSION}')
    version = 'pilot' if a.pilot else ('quick' if a.quick else PROTOCOL_VERSION)
    data = None if all(c.corpus == 'embedded' for c in configs) else a.data
    if data is not None and (msg := check_data(data)): print(msg, file=sys.stderr); return 2
    try: done = set(logged_runs(log, version))   # the configs (as JSON) already logged
    except ValueError as e: print(e, file=sys.stderr); return 2
    todo = [c for c in configs if json.dumps(asdict(c), sort_keys=True) not in done]
    n_done = len(configs) - len(todo)
    if lacking := sorted({c.scheme for c in todo if not available(c.scheme)}):
        print(f"Not run now: {lacking}, whose dropout modes this awd_fastai lacks (the cell-state layer of issue 19); "
              f"rerun the same command once it is merged to add them", flush=True)
        todo = [c for c in todo if c.scheme not in lacking]
    print(f"{len(configs)} runs, {n_done} already in {_shown(log) if log else 'no log'}, {len(todo)} to run "
          f"in {a.workers} worker process(es), one torch thread each", flush=True)
    if not todo: return 0
    fn = partial(_run, data=str(data) if data else None, version=version)
    run_configs(todo, a.workers, log, _command(argv), note, Progress(todo, a.workers), fn=fn)
    return 0

def _run(c:LMConfig, data:str|None, version:str) -> dict:
    "One run, its result tagged with the log's version (pilots and smoke runs are not protocol runs)."
    return train_lm(c, Path(data) if data else None) | dict(protocol=version)

if __name__ == '__main__': sys.exit(main())
