"""Train a small `awd_learner` with a `MaskRecorder` under `learn.distrib_ctx()` through fastai's plain API, and optionally an
`awd_classifier_learner`; launched by `tests/test_distributed.py` as
`torchrun --standalone --nproc_per_node 2 tests/ddp_train.py OUT_DIR ORDER WHAT` (or with `accelerate launch --multi_gpu`).
ORDER: `awd_first` (our imports, then `from fastai.distributed import *`) or `fastai_first`; WHAT: `lm`, `lm+clas` or
`lm1` (one epoch). Each rank saves its recording and a JSON of facts to OUT_DIR."""
import hashlib, json, random, sys
ORDER, WHAT = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else ('awd_first', 'lm')
if ORDER == 'fastai_first': from fastai.distributed import *   # noqa: F403  (fastai's own API, before ours)
from pathlib import Path
import pandas as pd, torch, torch.distributed as dist
from fastai.callback.core import Callback
from fastai.metrics import accuracy
from fastai.text.all import TextDataLoaders
from fastai.torch_core import set_seed, rank_distrib, num_distrib
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner, awd_classifier_learner
from awd_fastai.recorder import MaskRecorder
if ORDER == 'awd_first': from fastai.distributed import *      # noqa: F403  (after ours: nothing of ours depends on the order)

class Facts(Callback):
    "Collect, on this rank, the local loss of each training batch, the wrapper of the model and each epoch's document order."
    order = 95
    def __init__(self, wd=None): self.losses, self.wrappers, self.doc_orders, self.loaders, self.masks, self.wd = [], set(), [], set(), [], wd
    def before_batch(self):
        if self.training and self.iter == 0 and hasattr(self.dl.dl, 'chunks'): self.doc_orders.append(list(self.dl.dl.items.idxs))
    def after_batch(self):
        if not self.training: return
        self.losses.append(float(self.loss))                     # this rank's own batch loss (not gathered)
        self.wrappers.add(type(self.learn.model).__name__); self.loaders.add(type(self.dl).__name__)
        if self.wd is not None:                                  # a fingerprint of the W_hh mask drawn last, and its drop rate
            m = self.wd.last_mask['weight_hh_l0'].cpu()
            self.masks.append((hashlib.sha1(m.numpy().tobytes()).hexdigest(), float((~m).float().mean())))

def param_facts(model):
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    return dict(params=params.double().tolist()[:2000], param_sum=float(params.double().sum()))

def train_lm(out:Path, rank:int, epochs:int) -> dict:
    from fastai.distributed import DistributedTrainer
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20, seed=0)
    learn = awd_learner(dls, emb_sz=16, n_hid=32, n_layers=2, cbs=MaskRecorder())
    facts = Facts()
    with learn.distrib_ctx():       # under torchrun, fastai gathers metrics across ranks: validate inside the context too
        valid_before = float(learn.validate()[0])
        learn.fit(epochs, 1e-2, cbs=facts)
        valid_after = float(learn.validate()[0])
        trainers = [type(cb).__name__ for cb in learn.cbs if isinstance(cb, DistributedTrainer)]
    saved = learn.mask_recorder.record.save(out/'masks.npz')
    return dict(losses=facts.losses, wrappers=sorted(facts.wrappers), loaders=sorted(facts.loaders), doc_orders=facts.doc_orders,
                valid_before=valid_before, valid_after=valid_after, saved=saved.name, train_batches=len(dls.train),
                trainers=trainers, **param_facts(learn.model))

def train_classifier(rank:int) -> dict:
    "The second half of ULMFiT: a classifier of reviews made of neutral words and three good, or three bad, ones."
    rng = random.Random(0)
    good, bad, other = ['good', 'great', 'fine'], ['bad', 'awful', 'poor'], 'the a movie film plot is was very and it'.split()
    rows = []
    for _ in range(96):
        pos = rng.random() < 0.5
        words = [rng.choice(good if pos else bad) for _ in range(3)] + [rng.choice(other) for _ in range(20)]
        rng.shuffle(words)
        rows.append((' '.join(words), 'pos' if pos else 'neg'))
    dls = TextDataLoaders.from_df(pd.DataFrame(rows, columns=['text', 'label']), text_col='text', label_col='label',
                                  valid_pct=0.25, bs=8, seed=1)
    learn = awd_classifier_learner(dls, emb_sz=16, n_hid=32, n_layers=2, seq_len=8, metrics=accuracy)
    facts = Facts(wd=learn.model[0].module.rnns[0])
    with learn.distrib_ctx():
        valid_before = [float(v) for v in learn.validate()]
        learn.fit(12, 2e-2, cbs=facts)
        valid_after = [float(v) for v in learn.validate()]
    return dict(losses=facts.losses, wrappers=sorted(facts.wrappers), loaders=sorted(facts.loaders), masks=facts.masks,
                valid_before=valid_before, valid_after=valid_after, train_batches=len(dls.train), **param_facts(learn.model))

def main(out:Path):
    rank = rank_distrib()
    set_seed(42)                    # same initial weights on every rank, and (without the fix) the same dropout masks
    random.seed(1000 + rank)        # but Python's `random` differs per rank: the shared document shuffle must not depend on it
    facts = dict(rank=rank, world_size=num_distrib(), order=ORDER, lm=train_lm(out, rank, 1 if WHAT == 'lm1' else 2))
    if 'clas' in WHAT:
        set_seed(43); random.seed(2000 + rank)
        facts['clas'] = train_classifier(rank)
    (out/f'facts{rank}.json').write_text(json.dumps(facts))
    if dist.is_initialized(): dist.destroy_process_group()

if __name__ == '__main__': main(Path(sys.argv[1]))
