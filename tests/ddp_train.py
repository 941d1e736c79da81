"""Train a small `awd_learner` with a `MaskRecorder` under `learn.distrib_ctx()`; launched by `tests/test_distributed.py` as
`torchrun --standalone --nproc_per_node 2 tests/ddp_train.py OUT_DIR`. Each rank saves its recording and a JSON of facts to OUT_DIR."""
import json, random, sys
from pathlib import Path
import torch, torch.distributed as dist
from fastai.callback.core import Callback
from fastai.torch_core import set_seed, rank_distrib, num_distrib
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner
from awd_fastai.recorder import MaskRecorder
import awd_fastai.distributed  # noqa: F401  (fixes fastai's DistributedTrainer for our learners)

class Facts(Callback):
    "Collect, on this rank, the local loss of each training batch, the wrapper of the model and each epoch's document order."
    order = 95
    def __init__(self): self.losses, self.wrappers, self.doc_orders, self.loaders = [], set(), [], set()
    def before_batch(self):
        if self.training and self.iter == 0: self.doc_orders.append(list(self.dl.dl.items.idxs))  # after this epoch's shuffle
    def after_batch(self):
        if not self.training: return
        self.losses.append(float(self.loss))                     # this rank's own batch loss (not gathered)
        self.wrappers.add(type(self.learn.model).__name__); self.loaders.add(type(self.dl).__name__)

def main(out:Path):
    rank = rank_distrib()
    set_seed(42)                    # same initial weights on every rank, and (without the fix) the same dropout masks
    random.seed(1000 + rank)        # but Python's `random` differs per rank: the shared document shuffle must not depend on it
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20, seed=0)
    learn = awd_learner(dls, emb_sz=16, n_hid=32, n_layers=2, cbs=MaskRecorder())
    facts = Facts()
    with learn.distrib_ctx():       # under torchrun, fastai gathers metrics across ranks: validate inside the context too
        valid_before = float(learn.validate()[0])
        learn.fit(2, 1e-2, cbs=facts)
        valid_after = float(learn.validate()[0])
    saved = learn.mask_recorder.record.save(out/'masks.npz')
    params = torch.cat([p.detach().flatten() for p in learn.model.parameters()])
    facts_out = dict(rank=rank, world_size=num_distrib(), losses=facts.losses, wrappers=sorted(facts.wrappers),
                     loaders=sorted(facts.loaders), doc_orders=facts.doc_orders, valid_before=valid_before,
                     valid_after=valid_after, params=params.double().tolist()[:2000], param_sum=float(params.double().sum()),
                     saved=saved.name, train_batches=len(dls.train))
    (out/f'facts{rank}.json').write_text(json.dumps(facts_out))
    if dist.is_initialized(): dist.destroy_process_group()

if __name__ == '__main__': main(Path(sys.argv[1]))
