"""Distributed training: an `awd_learner` with a `MaskRecorder`, and an `awd_classifier_learner`, train under fastai's plain
`learn.distrib_ctx()` with PyTorch DDP in 2 CPU processes (gloo, launched with torchrun, or `accelerate launch --multi_gpu`),
whatever the order of the imports; each rank records its own masks. Nothing is patched on fastai's classes.
`DataParallel` and `.to(...)` keep working."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from fastai.distributed import DistributedTrainer
from fastai.callback.core import Callback, CancelFitException
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner
from awd_fastai.model import awd_lm
from awd_fastai.recorder import MaskRecorder, MaskRecord, mask_layers
from awd_fastai.distributed import AWDDistributedTrainer

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)
NAMES = ['0.encoder_dp', '0.rnns.0.weight_hh_l0', '0.rnns.1.weight_hh_l0', '0.input_dp', '0.hidden_dps.0', '1.output_dp']

TORCHRUN = (sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2')

def _launch(out:Path, *args, launcher=TORCHRUN):
    "Run `tests/ddp_train.py out *args` in 2 processes started by `launcher`; return each rank's facts."
    env = {k: v for k, v in os.environ.items() if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')}
    env.update(OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    r = subprocess.run([*launcher, str(ROOT/'tests'/'ddp_train.py'), str(out), *args], capture_output=True, text=True,
                       timeout=600, env=env, cwd=ROOT)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    return [json.loads((out/f'facts{k}.json').read_text()) for k in range(2)]

@pytest.fixture(scope='module')
def ddp_all(tmp_path_factory):
    "torchrun, our imports first: the language model (2 epochs) and the classifier; the output folder and each rank's facts."
    out = tmp_path_factory.mktemp('ddp')
    return out, _launch(out, 'awd_first', 'lm+clas')

@pytest.fixture(scope='module')
def ddp(ddp_all):
    out, facts = ddp_all
    return out, [dict(f['lm'], rank=f['rank'], world_size=f['world_size']) for f in facts]

@pytest.fixture(scope='module')
def clas(ddp_all): return [f['clas'] for f in ddp_all[1]]

def _check_lm_run(facts):
    for k, f in enumerate(facts):
        assert (f['rank'], f['world_size']) == (k, 2)
        assert f['lm']['trainers'] == ['AWDDistributedTrainer']
        assert f['lm']['wrappers'] == ['DistributedDataParallel'] and f['lm']['loaders'] == ['LMDistributedDL']
        assert f['lm']['valid_after'] < f['lm']['valid_before']
    assert facts[0]['lm']['params'] == facts[1]['lm']['params']

def test_ddp_import_order_fastai_first(tmp_path):
    "`from fastai.distributed import *` *before* our imports: the same plain path works (nothing depends on import order)."
    facts = _launch(tmp_path, 'fastai_first', 'lm1')
    assert [f['order'] for f in facts] == ['fastai_first']*2
    _check_lm_run(facts)

@pytest.mark.skipif(shutil.which('accelerate') is None, reason='the `accelerate` command is not installed')
def test_ddp_through_accelerate_launch(tmp_path):
    "`accelerate launch --multi_gpu --num_processes 2` starts 2 processes through torch's launcher (on CPU here, gloo)."
    launcher = (shutil.which('accelerate'), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
                '--mixed_precision', 'no', '--dynamo_backend', 'no')
    facts = _launch(tmp_path, 'awd_first', 'lm1', launcher=launcher)
    _check_lm_run(facts)

def test_ddp_trains_through_fastai_distrib_ctx(ddp):
    "fastai's `distrib_ctx` added our trainer, wrapped the model in DDP and the loaders in our `LMDistributedDL`, on both ranks."
    _, facts = ddp
    for k, f in enumerate(facts):
        assert (f['rank'], f['world_size']) == (k, 2)
        assert f['trainers'] == ['AWDDistributedTrainer']
        assert f['wrappers'] == ['DistributedDataParallel'] and f['loaders'] == ['LMDistributedDL']

def test_ddp_each_rank_trains_half_of_each_epoch(ddp):
    "Whole batches per rank: ceil(n_batches / 2) per rank and epoch (2 epochs)."
    _, facts = ddp
    for f in facts: assert len(f['losses']) == 2 * -(-f['train_batches'] // 2)

def test_ddp_loss_falls(ddp):
    "On every rank, the loss of its own batches falls, and so does the validation loss (gathered over both ranks)."
    _, facts = ddp
    for f in facts:
        assert np.mean(f['losses'][-5:]) < np.mean(f['losses'][:5]) - 0.3
        assert f['valid_after'] < f['valid_before']
    assert facts[0]['valid_after'] == facts[1]['valid_after']

def test_ddp_ranks_keep_identical_weights(ddp):
    "DDP averages the gradients: both ranks end with the same weights."
    _, facts = ddp
    assert facts[0]['params'] == facts[1]['params'] and facts[0]['param_sum'] == facts[1]['param_sum']

def test_ddp_ranks_share_the_document_order(ddp):
    "Each epoch, all ranks cut their batches from one document shuffle, though Python's `random` differs per rank."
    _, facts = ddp
    assert facts[0]['doc_orders'] == facts[1]['doc_orders']
    a, b = facts[0]['doc_orders']
    assert a != b                                            # reshuffled each epoch

@pytest.fixture(scope='module')
def ranks(ddp):
    out, _ = ddp
    return MaskRecord.load_ranks(out/'masks.npz')

def test_ddp_one_recording_file_per_rank(ddp, ranks):
    out, facts = ddp
    assert sorted(p.name for p in out.glob('masks*')) == ['masks.rank0.npz', 'masks.rank1.npz']
    assert [f['saved'] for f in facts] == ['masks.rank0.npz', 'masks.rank1.npz']
    assert [(r.rank, r.world_size) for r in ranks] == [(0, 2), (1, 2)]
    assert MaskRecord.load(out/'masks.npz', rank=1).rank == 1
    with pytest.raises(FileNotFoundError, match='pass `rank=`'): MaskRecord.load(out/'masks.npz')

def test_ddp_each_rank_records_every_batch_under_the_usual_names(ddp, ranks):
    "The same names as in one process (no `module.` prefix from the DDP wrapper), every site in every batch of the rank."
    _, facts = ddp
    for r, f in zip(ranks, facts):
        assert r.names == NAMES
        assert r.iterations == list(range(len(f['losses'])))
        assert all(set(r.at(it).masks) == set(NAMES) for it in r.iterations)

def test_ddp_ranks_draw_independent_masks(ranks):
    "Design: each rank draws its own masks, W_hh included (not shared per step): they differ at every recorded step."
    r0, r1 = ranks
    for n in NAMES:
        differ = torch.tensor([not torch.equal(a, b) for a, b in zip(r0.masks(n).values(), r1.masks(n).values())])   # per iteration
        if r0.sites[n].kind == 'weight': assert differ.all(), n
        else: assert differ.float().mean() > 0.9, n         # (tiny masks may coincide by chance)
    for n in NAMES:                                          # and each rank's drop rate is p
        for r in ranks:
            g = r.drop_rates().query('name == @n')
            k, p = sum(int(np.prod(s)) for s in g['shape']), g.p.iloc[0]
            assert abs(g.drop_rate.mean() - p) <= 5*np.sqrt(p*(1-p)/k) + 1e-3

def test_ddp_ranks_see_different_batches(ranks):
    r0, r1 = ranks
    assert all(not torch.equal(r0.at(i).tokens_of('0.input_dp'), r1.at(i).tokens_of('0.input_dp')) for i in r0.iterations)

# ## The classifier (the second half of ULMFiT)

def test_ddp_classifier_trains_through_fastai_distrib_ctx(clas):
    "`awd_classifier_learner` trains on 2 CPU processes through `distrib_ctx` (fastai's `text_classifier_learner` fails there): "
    "DDP, our loader on both ranks, the loss falls and validation accuracy rises, the same on both ranks."
    for f in clas:
        assert f['wrappers'] == ['DistributedDataParallel'] and f['loaders'] == ['BackendDistributedDL']
        assert 12 * (f['train_batches'] // 2) <= len(f['losses']) <= 12 * -(-f['train_batches'] // 2)  # each rank: half of each epoch
        assert np.mean(f['losses'][-4:]) < np.mean(f['losses'][:4]) - 0.3
        assert f['valid_after'][0] < f['valid_before'][0] and f['valid_after'][1] >= 0.85   # (chance: 0.5)
    assert clas[0]['valid_after'] == clas[1]['valid_after']
    assert clas[0]['params'] == clas[1]['params'] and clas[0]['param_sum'] == clas[1]['param_sum']

def test_ddp_classifier_ranks_draw_their_own_masks(clas):
    "Each rank draws its own W_hh masks at every step (the same seed everywhere would give the same masks), at rate p."
    (h0, r0), (h1, r1) = (zip(*f['masks']) for f in clas)
    assert len(h0) == len(h1) == len(clas[0]['losses']) and all(a != b for a, b in zip(h0, h1))
    p = 0.5 * 0.5                                            # fastai's classifier weight_p, times drop_mult
    assert abs(np.mean(r0 + r1) - p) < 0.02

# ## In one process

@pytest.fixture(scope='module')
def dls(): return lm_dls(corpus_texts(20), bs=8, seq_len=20)

def test_to_distributed_uses_our_trainer_only_for_our_learners(dls):
    "Our learners get `AWDDistributedTrainer` (CPU by default without CUDA); fastai's learners, even with our model, fastai's."
    from fastai.text.all import language_model_learner, AWD_LSTM as FastaiAWD, awd_lstm_lm_config
    from awd_fastai.model import AWD_LSTM
    ours = awd_learner(dls, **SMALL).to_distributed()
    theirs = language_model_learner(dls, FastaiAWD, pretrained=False, config=dict(awd_lstm_lm_config, **SMALL)).to_distributed(cpu=True)
    plain = language_model_learner(dls, AWD_LSTM, pretrained=False, config=dict(awd_lstm_lm_config, **SMALL)).to_distributed(cpu=True)
    t = [cb for cb in ours.cbs if isinstance(cb, DistributedTrainer)]
    assert len(t) == 1 and type(t[0]) is AWDDistributedTrainer
    with pytest.warns(FutureWarning, match='use `AWDDistributedTrainer`'): from awd_fastai.distributed import LMDistributedTrainer
    assert LMDistributedTrainer is AWDDistributedTrainer                 # 0.1.0's name (awd_fastai.compat)
    assert t[0].accelerator.device.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    for learn in (theirs, plain): assert [type(cb) for cb in learn.cbs if isinstance(cb, DistributedTrainer)] == [DistributedTrainer]

_LEARNER_ATTRS = """
import sys, fastai.text.all
for m in sys.argv[1:]: __import__(m)
import fastai.distributed
print(sorted(f"{c.__name__}.{k}:{getattr(v, '__module__', '')}" for c in (fastai.learner.Learner, fastai.text.learner.LMLearner,
      fastai.text.learner.TextLearner) for k, v in vars(c).items()))
"""

def test_importing_awd_fastai_patches_nothing_on_fastai():
    "The attributes of fastai's `Learner`, `TextLearner` and `LMLearner` (`to_distributed`, `get_preds`, `predict`...) are "
    "fastai's, the same whether awd_fastai is imported (before fastai.distributed) or not."
    def attrs(*mods):
        r = subprocess.run([sys.executable, '-c', _LEARNER_ATTRS, *mods], capture_output=True, text=True, cwd=ROOT,
                           env=dict(os.environ, PYTHONWARNINGS='ignore'))
        assert r.returncode == 0, r.stderr[-3000:]
        return set(eval(r.stdout))
    base = attrs()
    assert {'Learner.to_distributed:fastai.distributed', 'LMLearner.predict:fastai.text.learner'} <= base
    for mods in (['awd_fastai'], ['awd_fastai.learner', 'awd_fastai.distributed'], ['awd_fastai.report']):
        assert attrs(*mods) == base, mods                    # none replaced, none added

def test_data_parallel(dls):
    "Under fastai's `parallel_ctx` (DataParallel; on a machine without GPU it runs the module directly) the recorder "
    "sees the usual names and records every batch."
    learn, rec = awd_learner(dls, **SMALL), MaskRecorder()
    with learn.parallel_ctx(): learn.fit(1, 1e-2, cbs=rec)
    assert type(learn.model).__name__ == 'SequentialRNN'      # unwrapped again after the fit
    assert rec.record.names == NAMES and len(rec.record) == len(dls.train)

def test_mask_names_ignore_parallel_wrappers():
    model = awd_lm(10, **SMALL)
    dp = torch.nn.DataParallel(model)
    assert list(mask_layers(dp)) == list(mask_layers(model))
    assert set(mask_layers(model)) == set(NAMES) | {'0.hidden_dps.1'}   # (fastai's encoder has one hidden dropout it never calls)

@pytest.mark.parametrize('dtype', [torch.float64, torch.bfloat16])
def test_masks_follow_the_model_dtype(dtype):
    "After `model.to(dtype)`, every multiplicative mask has the dtype of what it multiplies (`dropout_mask` follows `x`)."
    model = awd_lm(10, **SMALL).to(dtype)
    model.reset(); model.train()
    model(torch.randint(0, 10, (3, 5)))
    sites = {n: s for n, s in mask_layers(model).items() if n in NAMES}   # the layers the model calls
    for name, (m, pn) in sites.items():
        noise = m._last_noise[pn] if pn else m._last_noise
        assert noise.dtype == dtype, name
        assert (m.last_mask[pn] if pn else m.last_mask).dtype == torch.bool

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU: masks following the model to CUDA')
def test_masks_follow_the_model_to_cuda(dls):
    learn, rec = awd_learner(dls, **SMALL), MaskRecorder()
    learn.fit(1, 1e-2, cbs=rec)
    assert next(learn.model.parameters()).is_cuda
    for name in NAMES:
        m, pn = mask_layers(learn.model)[name]
        assert (m.last_mask[pn] if pn else m.last_mask).is_cuda, name
    assert rec.record.names == NAMES and len(rec.record) == len(dls.train)
    learn.model.cpu(); learn.model.reset()
    learn.model(torch.randint(0, 10, (2, 4)))                 # and back on the CPU
    assert not learn.model[0].input_dp.last_mask.is_cuda
