"""Bad input: each row of the table in `nbs/07_errors.ipynb` is one test here. The concept: a mistake gets an error (or, for
a model with no dropout layer, a warning) of a clear type whose message names the problem, and nothing is left half-done."""
import io, json, re, struct, zipfile
from pathlib import Path
import numpy as np, pytest, torch, torch.nn as nn
from fastai.callback.core import Callback, CancelFitException
from fastai.data.core import DataLoaders
from awd_fastai.dropout import (RNNDropout, PerStepDropout, EmbeddingDropout, PerStepEmbeddingDropout, WeightDropout,
                                PerStepWeightDropout)
from awd_fastai.model import AWD_LSTM, LinearDecoder, awd_lm, dropout_modes
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner, AWDLearner, awd_classifier_learner
from awd_fastai.recorder import MaskRecorder, MaskRecord

SMALL = dict(emb_sz=16, n_hid=32, n_layers=2)

@pytest.fixture(scope='module')
def dls(): return lm_dls(corpus_texts(20), bs=8, seq_len=20)

@pytest.fixture(scope='module')
def recording(dls, tmp_path_factory):
    "A real recording file, from 5 training batches."
    learn = awd_learner(dls, **SMALL, cbs=MaskRecorder())
    learn.fit(1, 1e-2, cbs=StopAfter(5))
    return learn.mask_recorder.record.save(tmp_path_factory.mktemp('rec')/'masks.npz')

class StopAfter(Callback):
    "Cancel the fit after `n` training batches (or before the first one with n=0)."
    order = 100
    def __init__(self, n): self.n = n
    def before_fit(self):
        if self.n == 0: raise CancelFitException()
    def after_batch(self):
        if self.training and self.train_iter >= self.n: raise CancelFitException()

# ## Dropout probabilities outside [0, 1) or not numbers

BAD_P = [-0.1, 1, 1.0, 1.5, float('nan'), float('inf'), '0.5', None, True, [0.1], torch.tensor(0.5)]

def layer_makers():
    "Each dropout layer and model entry point, with the name of its probability argument."
    lstm = lambda: nn.LSTM(4, 4, batch_first=True)
    return {
        'RNNDropout': (lambda p: RNNDropout(p), 'p'),
        'PerStepDropout': (lambda p: PerStepDropout(p), 'p'),
        'EmbeddingDropout': (lambda p: EmbeddingDropout(nn.Embedding(5, 4), p), 'embed_p'),
        'PerStepEmbeddingDropout': (lambda p: PerStepEmbeddingDropout(nn.Embedding(5, 4), p), 'embed_p'),
        'WeightDropout': (lambda p: WeightDropout(lstm(), p), 'weight_p'),
        'PerStepWeightDropout': (lambda p: PerStepWeightDropout(lstm(), p), 'weight_p'),
        'LinearDecoder': (lambda p: LinearDecoder(5, 4, output_p=p), 'output_p'),
        **{f'AWD_LSTM.{k}': ((lambda k: lambda p: AWD_LSTM(5, 4, 4, 1, **{k: p}))(k), k)
           for k in ('hidden_p', 'input_p', 'embed_p', 'weight_p')},
        'awd_lm.output_p': (lambda p: awd_lm(5, emb_sz=4, n_hid=4, n_layers=1, output_p=p), 'output_p'),
        'awd_lm.hidden_p': (lambda p: awd_lm(5, emb_sz=4, n_hid=4, n_layers=1, hidden_p=p), 'hidden_p'),
    }

def bad_p_cases():
    for layer in layer_makers():
        for p in BAD_P:
            yield pytest.param(layer, p, id=f'{layer}-{p!r}')

@pytest.mark.parametrize('layer, p', list(bad_p_cases()))
def test_dropout_probability_outside_0_1_or_not_a_number(layer, p):
    "Every probability argument refuses values outside [0, 1) and non-numbers, naming the argument and the value."
    make, arg = layer_makers()[layer]
    with pytest.raises(ValueError, match=rf"`{arg}` must be a dropout probability, a number in \[0, 1\); got"):
        make(p)

@pytest.mark.parametrize('layer', list(layer_makers()))
@pytest.mark.parametrize('p', [0, 0.0, 0.5, 0.999, np.float32(0.3), np.float64(0.3)], ids=repr)
def test_dropout_probability_in_range_is_accepted(layer, p):
    "The same arguments accept any real number in [0, 1), numpy scalars included."
    make, _ = layer_makers()[layer]
    make(p)

@pytest.mark.parametrize('drop_mult', [-1, float('nan'), '2', None, True])
def test_drop_mult_not_a_non_negative_number(drop_mult):
    with pytest.raises(ValueError, match='`drop_mult` must be a number >= 0'): awd_lm(5, emb_sz=4, n_hid=4, n_layers=1, drop_mult=drop_mult)

def test_drop_mult_pushing_a_probability_to_1_names_it():
    "A `drop_mult` that pushes a probability to 1 or more: the message names `drop_mult` and the probabilities it pushed."
    with pytest.raises(ValueError, match=r"`drop_mult=5.0` makes a dropout probability 1 or more: \{'input_p': 1.25"):
        awd_lm(5, emb_sz=4, n_hid=4, n_layers=1, drop_mult=5.)   # input_p 0.25*5

# ## WeightDropout on a module without the named weights

def test_weight_dropout_on_module_without_the_weight():
    "The message names the missing weight and lists the weights the module has."
    with pytest.raises(ValueError, match=r"Linear has no weight named 'weight_hh_l0' \(it has \['weight', 'bias'\]\)"):
        WeightDropout(nn.Linear(3, 3), 0.5)
    with pytest.raises(ValueError, match="LSTM has no weight named 'weight_hh_l1'"):
        WeightDropout(nn.LSTM(3, 3), 0.5, layer_names=['weight_hh_l0', 'weight_hh_l1'])

def test_weight_dropout_failure_leaves_the_module_intact():
    "A refused WeightDropout leaves the module as it was (its weights still parameters)."
    lstm = nn.LSTM(3, 3)
    with pytest.raises(ValueError): WeightDropout(lstm, 0.5, layer_names=['weight_hh_l0', 'nope'])
    assert isinstance(lstm.weight_hh_l0, nn.Parameter)

def test_per_step_weight_dropout_on_unsupported_module():
    with pytest.raises(ValueError, match='PerStepWeightDropout needs a single-layer, batch-first'):
        PerStepWeightDropout(nn.LSTM(3, 3, num_layers=2, batch_first=True), 0.5)

# ## Unknown rnn_type, dropout site or mode; sizes

@pytest.mark.parametrize('rnn_type', ['transformer', 'LSTM', '', None, 1])
def test_unknown_rnn_type(rnn_type):
    with pytest.raises(ValueError, match=r"`rnn_type` must be one of \('lstm', 'gru', 'rnn'\); got"):
        AWD_LSTM(5, 4, 4, 1, rnn_type=rnn_type)

def test_unknown_rnn_type_through_the_learner(dls):
    with pytest.raises(ValueError, match='`rnn_type` must be one of'): awd_learner(dls, **SMALL, rnn_type='lstmm')

def test_unknown_dropout_site_or_mode():
    with pytest.raises(ValueError, match="unknown dropout site 'embedd'"): dropout_modes({'embedd': 'off'})
    with pytest.raises(ValueError, match="unknown mode 'per-step' for 'hidden'"): dropout_modes({'hidden': 'per-step'})

@pytest.mark.parametrize('size', [0, -1, 2.5, '4', True])
def test_sizes_must_be_positive_integers(size):
    with pytest.raises(ValueError, match='`n_hid` must be a positive integer'): AWD_LSTM(5, 4, size, 1)

def test_unknown_model_option(dls):
    "`awd_lm` and `awd_learner` name the unknown option and list the model options (`awd_learner`: the rest go to `Learner`)."
    with pytest.raises(ValueError, match=r"unknown model option\(s\) \['nhid'\]; options are"): awd_lm(5, emb_sz=4, nhid=4)
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['nhid'\]; model options are"): awd_learner(dls, **SMALL, nhid=32)

# ## awd_learner on DataLoaders that are not language-model DataLoaders

def test_awd_learner_on_non_lm_dataloaders(dls):
    "Plain DataLoaders, a classifier's DataLoaders, None or a list: the message says language-model DataLoaders are needed."
    from fastai.text.all import TextDataLoaders
    import pandas as pd
    df = pd.DataFrame(dict(text=corpus_texts(20), label=[i % 2 for i in range(20)]))
    clas = TextDataLoaders.from_df(df, text_col='text', label_col='label', bs=4, seq_len=20)
    for bad in (DataLoaders(dls.train.dataset, dls.valid.dataset), clas, None, [dls.train, dls.valid]):
        with pytest.raises(ValueError, match='`dls` must be language-model DataLoaders'): awd_learner(bad, **SMALL)

# ## Bidirectional language models

def test_bidirectional_language_model_is_refused(dls):
    "A language model must not be bidirectional (each prediction would see its target): refused by `awd_lm`, `awd_learner`, "
    "`AWDLearner` and, at its first fit, fastai's `language_model_learner` with our `AWD_LSTM`; the message says why."
    from fastai.text.all import get_language_model, language_model_learner
    from awd_fastai.model import awd_lstm_lm_config
    why = 'cannot be bidirectional: the reverse direction reads the text from its end'
    with pytest.raises(ValueError, match=why): awd_lm(50, **SMALL, bidir=True)
    with pytest.raises(ValueError, match=why): awd_learner(dls, **SMALL, bidir=True)
    cfg = dict(awd_lstm_lm_config, **SMALL, bidir=True)
    with pytest.raises(ValueError, match=why): AWDLearner(dls, get_language_model(AWD_LSTM, len(dls.vocab), cfg))
    with pytest.raises(ValueError, match=why): language_model_learner(dls, AWD_LSTM, config=cfg, pretrained=False).fit(1)

# ## Predictions and generation

def test_get_preds_too_large_is_refused_before_running(dls):
    "A probability tensor larger than `max_gb` (default: half the memory available) is refused with its size and what to do."
    learn = awd_learner(dls, **SMALL)
    with pytest.raises(MemoryError, match=r"tensor of [0-9.]+ GB, more than `max_gb=1e-05`.*with_preds=False, with_loss=True"):
        learn.get_preds(max_gb=1e-5)

def test_mc_preds_on_a_loader_with_no_batch(dls):
    "Monte Carlo dropout on a loader with no batch (two short prompts at bs=8) is refused with the sizes and a `bs` that "
    "fits, through `mc_preds` and `get_preds(mc_samples=...)`; plain `get_preds` keeps fastai's `(None, None)`."
    from awd_fastai.mc import mc_preds
    learn = awd_learner(dls, **SMALL)
    texts = ['The assert statement', 'a class']
    short = learn.dls.test_dl(texts)
    n_tok = sum(short.lens)
    why = (rf"the loader has no batch: 2 texts of {n_tok} tokens in all for a batch size of 8 .*"
           rf"use a smaller bs, e.g. `test_dl\(texts, bs={n_tok-1}\)`")
    with learn.no_bar():
        assert learn.get_preds(dl=short) == (None, None)
        with pytest.raises(ValueError, match=why): learn.get_preds(dl=short, mc_samples=3)
        with pytest.raises(ValueError, match=why): mc_preds(learn, 3, dl=short)
        mean, std, targs = learn.get_preds(dl=learn.dls.test_dl(texts, bs=n_tok-1), mc_samples=2)   # the bs it gives
    assert mean.shape[:2] == targs.shape == (n_tok-1, 1)

@pytest.mark.parametrize('t', [-1, -0.5, float('nan'), float('inf'), '1', None, True])
def test_temperature_not_a_number_at_least_0(dls, t):
    learn = awd_learner(dls, **SMALL)
    with pytest.raises(ValueError, match='`temperature` must be a number >= 0'): learn.predict('The', 2, temperature=t, no_bar=True)
    with pytest.raises(ValueError, match='`temperature` must be a number >= 0'): learn.generate('The', 2, temperature=t)

def test_generate_bad_n_words_or_prompts(dls):
    learn = awd_learner(dls, **SMALL)
    for n in (-1, 2.5, '3', None):
        with pytest.raises(ValueError, match='`n_words` must be an integer >= 0'): learn.generate('The', n)
    with pytest.raises(TypeError, match='`prompts` must be a string or a list of strings'): learn.generate(['The', 3], 2)

def test_min_p_above_every_probability_warns(dls):
    "As fastai: a warning, and the word is drawn from all words (not an error: generation goes on)."
    learn = awd_learner(dls, **SMALL)
    with pytest.warns(UserWarning, match=r'There is no item with probability >= 0.9, try a lower value'):
        out = learn.generate(['The', 'A class'], 2, min_p=0.9)
    assert len(out) == 2

def test_awd_classifier_learner_on_lm_dataloaders(dls):
    with pytest.raises(ValueError, match='language-model DataLoaders; a classifier needs labelled ones'): awd_classifier_learner(dls)

# ## Vocabulary size mismatch when loading a checkpoint

@pytest.fixture(scope='module')
def checkpoint(dls, tmp_path_factory):
    "A checkpoint saved by a learner on `dls`, and a learner whose DataLoaders have another vocabulary."
    tmp = tmp_path_factory.mktemp('ckpt')
    awd_learner(dls, **SMALL, path=tmp).save('lm')
    other = awd_learner(lm_dls(corpus_texts(30), bs=8, seq_len=20), **SMALL, path=tmp)
    assert len(other.dls.vocab) != len(dls.vocab)
    return tmp, len(dls.vocab), other

def test_checkpoint_with_another_vocab_size_is_refused(checkpoint):
    "The error names the embedding and both vocabulary sizes (today it is torch's `size mismatch` error)."
    _, n_ckpt, other = checkpoint
    with pytest.raises((RuntimeError, ValueError)) as e: other.load('lm')
    msg = str(e.value)
    assert ('encoder' in msg or 'vocabulary' in msg) and str(n_ckpt) in msg and str(len(other.dls.vocab)) in msg, msg

def test_checkpoint_with_another_vocab_size_leaves_model_unchanged(checkpoint):
    _, _, other = checkpoint
    before = {k: v.clone() for k, v in other.model.state_dict().items()}
    with pytest.raises(ValueError, match='vocabulary'): other.load('lm')
    for k, v in other.model.state_dict().items(): assert torch.equal(v, before[k]), k

# ## MaskRecorder: no dropout layer, unknown names, every / budget <= 0

def test_mask_recorder_on_model_without_dropout_layers(dls):
    "Documented choice: a warning (not an error), so that a recorder left in a list of callbacks never stops a training run."
    from fastai.text.all import language_model_learner, AWD_LSTM as FastaiAWD, awd_lstm_lm_config
    learn = language_model_learner(dls, FastaiAWD, pretrained=False, config=dict(awd_lstm_lm_config, **SMALL))
    rec = MaskRecorder()
    with pytest.warns(UserWarning, match='the model has no awd_fastai dropout layer'):   # when training starts (issue 18)
        learn.fit(1, cbs=[rec, StopAfter(1)])
    assert rec.record.names == [] and len(rec.record) == 0

def test_mask_recorder_unknown_name(dls):
    "The message names the unknown name and lists the model's names; the learner stays usable."
    learn = awd_learner(dls, **SMALL)
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['0.rnns.9.weight_hh_l0'\]; the model's names are \['0.encoder_dp'"):
        learn.fit(1, cbs=MaskRecorder(names=['0.rnns.9.weight_hh_l0']))
    rec = MaskRecorder(names=['0.input_dp'])
    learn.fit(1, 1e-3, cbs=[rec, StopAfter(2)])
    assert rec.record.names == ['0.input_dp']

def test_mask_recorder_names_given_as_one_string(dls):
    learn = awd_learner(dls, **SMALL)
    rec = MaskRecorder(names='0.input_dp')
    learn.fit(1, 1e-3, cbs=[rec, StopAfter(1)])
    assert rec.record.names == ['0.input_dp']

@pytest.mark.parametrize('arg', ['every', 'budget', 'crop'])
@pytest.mark.parametrize('value', [0, -1, 1.5, '2', True])
def test_mask_recorder_every_budget_crop_not_positive_integers(arg, value):
    with pytest.raises(ValueError, match=rf"`{arg}` must be a positive integer; got"): MaskRecorder(**{arg: value})

def test_mask_recorder_on_another_model(dls):
    "A record holds one model's sites: a later fit on a model whose sites differ (here GRU gates for the same names) is refused."
    rec = MaskRecorder()
    awd_learner(dls, **SMALL).fit(1, 1e-3, cbs=[rec, StopAfter(1)])
    gru = awd_learner(dls, **SMALL, rnn_type='gru')
    with pytest.raises(ValueError, match=r"site '0.rnns.0.weight_hh_l0' is now .*gates=\('r', 'z', 'n'\).* but this record holds masks of .*"
                                         r"gates=\('i', 'f', 'g', 'o'\).*record another model with a new MaskRecorder"):
        gru.fit(1, 1e-3, cbs=rec)
    assert len(rec.record) == 1 and not any(m._forward_hooks for m in gru.model.modules())
    gru.fit(1, 1e-3, cbs=[MaskRecorder(), StopAfter(1)])                  # the learner is fine

def test_reading_an_iteration_call_or_site_not_recorded(dls):
    rec = MaskRecorder(every=2)
    awd_learner(dls, **SMALL).fit(1, 1e-3, cbs=[rec, StopAfter(5)])
    r = rec.record
    assert r.iterations == [0, 2, 4]
    with pytest.raises(KeyError, match=r"training iteration 3 is not recorded \(3 recorded, from 0 to 4; the nearest is 2\)"): r.at(3)
    with pytest.raises(IndexError, match='only 3 iterations recorded'): r.at(-4)
    with pytest.raises(TypeError, match='`iteration` must be an integer'): r.at('2')
    with pytest.raises(IndexError, match=r"'0.input_dp' has 1 call\(s\) in iteration 4; there is no call 1"): r.at(-1).mask('0.input_dp', 1)
    with pytest.raises(IndexError, match='there is no call 2'): r.mask('0.input_dp', 2, call=2)
    with pytest.raises(KeyError, match=r"no masks recorded for site '0.nope'; recorded sites: \['0.encoder_dp'"): r.masks('0.nope')
    with pytest.raises(KeyError, match="no site '0.nope'"): r.at(0).mask('0.nope')
    with pytest.raises(AttributeError, match='what it recorded is `.record`, e.g. `recorder.record.at`'): rec.at(0)

class Bypass(nn.Module):
    "Calls the wrapped layer as `layer.forward(x)`, which runs none of its hooks."
    def __init__(self, inner): super().__init__(); self.inner = inner
    def forward(self, x): return self.inner.forward(x)

def test_layer_called_without_hooks_warns(dls):
    "A layer called as `layer.forward(x)` draws masks no hook sees: one warning names it, the other sites are recorded."
    learn = awd_learner(dls, **SMALL)
    learn.model[0].input_dp = Bypass(learn.model[0].input_dp)
    rec = MaskRecorder()
    with pytest.warns(UserWarning, match=r"0.input_dp.inner drew 1 masks in training iteration 0, but its forward hook saw 0") as w:
        learn.fit(1, 1e-3, cbs=[rec, StopAfter(3)])
    assert sum('forward hook saw' in str(x.message) for x in w) == 1
    assert '0.input_dp.inner' not in rec.record.names and len(rec.record.names) == 5 and len(rec.record) == 3

def test_budget_smaller_than_one_iteration_records_nothing(dls):
    rec = MaskRecorder(budget=100)
    with pytest.warns(UserWarning, match=r"one training iteration needs .* MiB, more than the budget .*: recording nothing") as w:
        awd_learner(dls, **SMALL).fit(1, 1e-3, cbs=[rec, StopAfter(3)])
    assert sum('recording nothing' in str(x.message) for x in w) == 1 and len(rec.record) == 0

def test_stacking_masks_of_several_shapes():
    "0.1.0's `rec[name]` stacked one site's masks; masks of several shapes (a per-step site's short last batch) cannot be stacked."
    dls = lm_dls(corpus_texts(10), bs=8, seq_len=17)                   # the epoch's last batch has 5 steps
    rec = MaskRecorder(names='0.hidden_dps.0')
    awd_learner(dls, **SMALL, modes={'hidden': 'per_step'}).fit(1, 1e-3, cbs=rec)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=r"masks of '0.hidden_dps.0' have several shapes .* use `rec.masks"):
        rec.record['0.hidden_dps.0']

def test_weight_mask_plot_with_gates_that_do_not_split_the_rows():
    from awd_fastai.plots import plot_weight_mask
    with pytest.raises(ValueError, match=r"10 rows cannot be split into the 3 gate blocks \('r', 'z', 'n'\)"):
        plot_weight_mask(torch.ones(10, 4, dtype=torch.bool), gates=('r', 'z', 'n'))

# ## Loading a missing, truncated, corrupted or foreign recording file

BAD_FILE = 'is not a MaskRecorder recording, or it is truncated or corrupted'

def npz_bytes(**arrays) -> bytes:
    bio = io.BytesIO(); np.savez(bio, **arrays); return bio.getvalue()

def header(**h): return np.frombuffer(json.dumps(h).encode(), np.uint8)

def test_load_missing_file_or_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='no recording at'): MaskRecord.load(tmp_path/'nope.npz')
    with pytest.raises(FileNotFoundError, match='no recording at'): MaskRecord.load(tmp_path)

@pytest.mark.parametrize('frac', [0, 0.001, 0.3, 0.7, 0.999])
def test_load_truncated_file(recording, tmp_path, frac):
    data = recording.read_bytes()
    (tmp_path/'t.npz').write_bytes(data[:int(frac*len(data))])
    with pytest.raises(ValueError, match=BAD_FILE): MaskRecord.load(tmp_path/'t.npz')

@pytest.mark.parametrize('name, content', [
    ('text', b'hello, not a recording'),
    ('zip without header', None),
    ('npz without header', npz_bytes(x=np.zeros(3))),
    ('another format', npz_bytes(header=header(format='something else'))),
    ('header not JSON', npz_bytes(header=np.frombuffer(b'\xff\xfe{', np.uint8))),
    ('header not numbers', npz_bytes(header=np.zeros(3))),
    ('object array', npz_bytes(header=np.array([{'format': 'awd_fastai.MaskRecord'}], dtype=object))),
    ('mask shape disagrees with header', npz_bytes(
        header=header(format='awd_fastai.MaskRecord', version=1, vocab=None, stride=1, thinned=0,
                      tracks={'a': dict(layer='RNNDropout', shape=[8], crop=None, iters=[0, 1], epochs=[0, 0], ps=[.1, .1])}),
        **{'mask/a': np.zeros((1, 1), np.uint8)})),
])
def test_load_foreign_file(tmp_path, name, content):
    if content is None:
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, 'w') as z: z.writestr('a.txt', 'hi')
        content = bio.getvalue()
    (tmp_path/'f.npz').write_bytes(content)
    with pytest.raises(ValueError, match=BAD_FILE) as e: MaskRecord.load(tmp_path/'f.npz')
    assert 'pickle' not in str(e.value)          # never advice to load a foreign file unsafely (numpy's own message does)

def test_load_file_from_a_newer_version(tmp_path):
    np.savez(tmp_path/'n.npz', header=header(format='awd_fastai.MaskRecord', version=99))
    with pytest.raises(ValueError, match=r'written by a newer awd_fastai \(format version 99\)'): MaskRecord.load(tmp_path/'n.npz')

@pytest.mark.parametrize('h', [[1, 2], 'text', {'format': 'awd_fastai.MaskRecord', 'version': 1, 'vocab': None, 'stride': 1,
                                                 'thinned': 0, 'tracks': 'x'}], ids=['list', 'string', 'tracks not a dict'])
def test_load_header_of_the_wrong_json_type(tmp_path, h):
    np.savez(tmp_path/'h.npz', header=np.frombuffer(json.dumps(h).encode(), np.uint8))
    with pytest.raises(ValueError, match=BAD_FILE): MaskRecord.load(tmp_path/'h.npz')

def member_data_offset(data:bytes, name:str) -> int:
    "Where the (compressed) data of zip member `name` starts in `data`."
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    o = info.header_offset
    n_name, n_extra = struct.unpack('<HH', data[o+26:o+30])   # local file header: 30 bytes, then name and extra field
    return o + 30 + n_name + n_extra

def test_load_file_with_a_corrupted_checksum(recording, tmp_path):
    "Bit rot in the zip's central directory: the member's CRC-32 no longer matches its data."
    data = bytearray(recording.read_bytes())
    i = data.rfind(b'PK\x01\x02', 0, data.rfind(b'header.npy'))   # central directory entry of the header member
    data[i+16] ^= 0xFF                                             # its CRC-32
    (tmp_path/'c.npz').write_bytes(bytes(data))
    with pytest.raises(ValueError, match=BAD_FILE): MaskRecord.load(tmp_path/'c.npz')

def test_load_file_with_corrupted_data(recording, tmp_path):
    "Zeroed bytes at the start of a mask's compressed data (a deflate stream that no longer decodes)."
    data = bytearray(recording.read_bytes())
    name = next(n for n in zipfile.ZipFile(recording).namelist() if n.startswith('masks'))
    i = member_data_offset(bytes(data), name)
    data[i:i+64] = bytes(64)
    (tmp_path/'c.npz').write_bytes(bytes(data))
    with pytest.raises(ValueError, match=BAD_FILE): MaskRecord.load(tmp_path/'c.npz')

def rewritten(recording, tmp_path, change) -> Path:
    "A copy of `recording` with its arrays and header passed through `change(arrays, header)`."
    with np.load(recording) as z: arrays = {k: z[k] for k in z.files}
    h = json.loads(arrays['header'].tobytes())
    change(arrays, h)
    arrays['header'] = np.frombuffer(json.dumps(h).encode(), np.uint8)
    np.savez(tmp_path/'r.npz', **arrays)
    return tmp_path/'r.npz'

@pytest.mark.parametrize('change', [
    lambda a, h: a.update(masks=a['masks'][:-3]),                            # masks missing at the end
    lambda a, h: a.update(tokens=np.concatenate([a['tokens'], a['tokens'][:5]])),   # more token ids than described
    lambda a, h: h['batches'][1][2][0].__setitem__(0, 99),                   # a mask of site 99
    lambda a, h: h['batches'][0][2][0].__setitem__(2, 7),                    # token ids of call 7
    lambda a, h: a.update(masks=a['masks'].astype(np.int16)),                # masks not bytes
], ids=['masks short', 'tokens long', 'unknown site', 'unknown token call', 'masks not uint8'])
def test_load_file_whose_index_disagrees_with_its_arrays(recording, tmp_path, change):
    with pytest.raises(ValueError, match=BAD_FILE): MaskRecord.load(rewritten(recording, tmp_path, change))

class _Marker:
    "Unpickling this creates a file: proof that loading ran code."
    def __init__(self, path): self.path = path
    def __reduce__(self): return (Path.touch, (Path(self.path),))

def test_load_never_unpickles(tmp_path):
    "A file with a pickled payload is refused without running it."
    marker = tmp_path/'ran'
    arr = np.empty((1, 1), dtype=object); arr[0, 0] = _Marker(marker)
    h = header(format='awd_fastai.MaskRecord', version=1, vocab=None, stride=1, thinned=0,
               tracks={'a': dict(layer='RNNDropout', shape=[8], crop=None, iters=[0], epochs=[0], ps=[.1])})
    np.savez(tmp_path/'p.npz', header=h, **{'mask/a': arr, 'tokens/0': arr})   # np.savez pickles object arrays
    with pytest.raises(ValueError): MaskRecord.load(tmp_path/'p.npz')
    assert not marker.exists()

def test_save_to_missing_folder_or_a_folder(recording, tmp_path):
    rec = MaskRecord.load(recording)
    with pytest.raises(FileNotFoundError, match='does not exist'): rec.save(tmp_path/'no'/'m.npz')
    with pytest.raises(IsADirectoryError, match='is a folder'): rec.save(tmp_path)
    assert list(tmp_path.iterdir()) == []

def test_load_per_rank_recordings_without_a_rank_or_incomplete(recording, tmp_path):
    "A distributed run's files: `load` without `rank=` says which ranks exist; `load_ranks` refuses an incomplete set."
    rec = MaskRecord.load(recording)
    for r in (0, 1, 2):
        rec.rank, rec.world_size = r, 3
        rec.save(tmp_path/'masks.npz')
    with pytest.raises(FileNotFoundError, match=r'one file per rank \(ranks \[0, 1, 2\]\): pass `rank=`'):
        MaskRecord.load(tmp_path/'masks.npz')
    (tmp_path/'masks.rank1.npz').unlink()
    with pytest.raises(ValueError, match=r'incomplete or mixed set of per-rank recordings .* found ranks \[0, 2\]'):
        MaskRecord.load_ranks(tmp_path/'masks.npz')
    with pytest.raises(FileNotFoundError, match='no recording at'): MaskRecord.load(tmp_path/'masks.npz', rank=1)
    with pytest.raises(FileNotFoundError, match='no per-rank recordings'): MaskRecord.load_ranks(tmp_path/'other.npz')

def test_error_table_names_existing_tests():
    "Every test named in the docs' table of errors (nbs/07_errors.ipynb) exists in tests/."
    root = Path(__file__).resolve().parents[1]
    table = ''.join(''.join(c['source']) for c in json.loads((root/'nbs'/'07_errors.ipynb').read_text())['cells'])
    found = re.findall(r'`(?:tests/\w+\.py::)?(test_\w+)(\*?)`', table)   # `test_x`, `tests/f.py::test_x`, `test_save_*`
    named, prefixes = {n for n, star in found if not star}, {n for n, star in found if star}
    defined = set(re.findall(r'^def (test_\w+)', ''.join(f.read_text() for f in (root/'tests').glob('test_*.py')), re.M))
    assert named <= defined, sorted(named - defined)
    assert prefixes and all(any(d.startswith(p) for d in defined) for p in prefixes)
    assert len(named) >= 25

# ## Dropout on the recurrent state and the memory experiment

def test_state_dropout_on_unsupported_module():
    "A state dropout needs what the step loop can run: one layer, batch first, no projection, and the W_hh of every direction."
    from awd_fastai.dropout import LockedStateDropout
    with pytest.raises(ValueError, match='needs a single-layer, batch-first'):
        WeightDropout(nn.LSTM(3, 3, num_layers=2, batch_first=True), 0.5, state_dp=LockedStateDropout(0.2))
    with pytest.raises(ValueError, match='needs a single-layer, batch-first'):
        WeightDropout(nn.GRU(3, 3), 0.5, state_dp=LockedStateDropout(0.2))                      # not batch-first
    with pytest.raises(ValueError, match="can only drop the recurrent weights"):
        WeightDropout(nn.LSTM(3, 3, batch_first=True), 0.5, 'weight_ih_l0', state_dp=LockedStateDropout(0.2))
    with pytest.raises(ValueError, match="can only drop the recurrent weights"):
        PerStepWeightDropout(nn.LSTM(3, 3, batch_first=True), 0.5, ['weight_ih_l0'])   # it used to leave W_ih untouched
    with pytest.raises(ValueError, match='`p` must be a dropout probability'): LockedStateDropout(1.)

def test_carried_state_site_on_a_cell_without_it():
    "A carried-state site the cell does not have, a zoneout on a missing cell state, or a p outside [0, 1): a ValueError naming it."
    from awd_fastai.dropout import (LockedCellDropout, PerStepCellDropout, PerStepCandidateDropout, LockedGRUCarryDropout,
                                    PerStepGRUEverywhereDropout, Zoneout)
    with pytest.raises(ValueError, match=r"`state_dp`: LockedCellDropout masks c\(t-1\) \(kind 'cell_locked'\), which GRU does not have"):
        WeightDropout(nn.GRU(3, 3, batch_first=True), 0.5, state_dp=LockedCellDropout(0.2))
    with pytest.raises(ValueError, match="`state_dp`: PerStepCandidateDropout masks candidate .* which RNN does not have"):
        WeightDropout(nn.RNN(3, 3, batch_first=True), 0.5, state_dp=PerStepCandidateDropout(0.2))
    for cls in (LockedGRUCarryDropout, PerStepGRUEverywhereDropout):
        with pytest.raises(ValueError, match=f"`state_dp`: {cls.__name__} masks .* which LSTM does not have: it fits nn.GRU"):
            WeightDropout(nn.LSTM(3, 3, batch_first=True), 0.5, state_dp=cls(0.2))
    with pytest.raises(ValueError, match='`p_c`: zoneout on the cell state c needs an nn.LSTM; GRU has no c'):
        WeightDropout(nn.GRU(3, 3, batch_first=True), 0.5, state_dp=Zoneout(0.1, 0.3))
    for bad in (1., -0.1, float('nan')):
        with pytest.raises(ValueError, match='`p` must be a dropout probability'): PerStepCellDropout(bad)
        with pytest.raises(ValueError, match='`p` must be a dropout probability'): Zoneout(0.1, bad)
    with pytest.raises(ValueError, match="the state mode 'gru_carry_locked' masks h\\(t-1\\) in the carry, which rnn_type='lstm' does not have"):
        AWD_LSTM(10, 4, 4, 1, state_p=0.2, modes={'state': 'gru_carry_locked'})
    with pytest.raises(ValueError, match='`state_p` must be a dropout probability'):
        AWD_LSTM(10, 4, 4, 1, state_p=1., modes={'state': 'zoneout'})

def test_state_site_options():
    "`state_p` is checked like every probability; 'batch' is a mode of the state site only."
    with pytest.raises(ValueError, match='`state_p` must be a dropout probability'): AWD_LSTM(10, 4, 4, 1, state_p=1.5)
    with pytest.raises(ValueError, match="unknown mode 'batch' for 'hidden'"): dropout_modes({'hidden': 'batch'})
    assert dropout_modes({'state': 'batch'})['state'] == 'batch'

def test_memory_experiment_bad_input(tmp_path):
    from awd_fastai.memory import load_results, preset_configs, MemoryNet
    with pytest.raises(FileNotFoundError, match='no memory results at'): load_results(tmp_path/'nothing.json')
    (tmp_path/'x.json').write_text('{"format": "awd_fastai.MaskRecord"}')
    with pytest.raises(ValueError, match='is not a memory results file'): load_results(tmp_path/'x.json')
    (tmp_path/'y.json').write_text('not json')
    with pytest.raises(ValueError, match='is not a memory results file'): load_results(tmp_path/'y.json')
    with pytest.raises(ValueError, match="`preset` must be one of"): preset_configs('huge')
    with pytest.raises(ValueError, match="`scheme` must be one of"): MemoryNet(16, 8, 12, 'gru', 'dropout', 0.2)

def test_memory_command_never_writes_into_a_folder_of_other_files(tmp_path):
    "`memory_command` into a folder holding files it did not write (here a report's): refused before anything is written, "
    "naming the folder, its files and --force; its own files (a rerun) are not in the way."
    from awd_fastai.memory import memory_command
    out = tmp_path/'report'; out.mkdir()
    (out/'index.html').write_text('a report'); (out/'memory.png').write_bytes(b'the committed figure')
    with pytest.raises(ValueError, match=r"report holds files that are not the memory experiment's own \(index.html\): pass --force"):
        memory_command(out, 'quick', workers=1, argv=['memory', '--quick'])
    assert sorted(p.name for p in out.iterdir()) == ['index.html', 'memory.png'] and (out/'memory.png').read_bytes() == b'the committed figure'

def test_explorer_bound_too_small_says_what_fits(recording):
    "A page bound below one iteration of each recording: a `PageSizeError` (a `ValueError`) with the bytes that fit, which fit."
    from awd_fastai.explorer import explorer_html, PageSizeError
    recording = MaskRecord.load(recording)
    with pytest.raises(PageSizeError, match=r'`max_bytes`=1000 is too small') as e: explorer_html(recording, max_bytes=1000)
    assert isinstance(e.value, ValueError) and 'crop' not in str(e.value).split('raise it')[-1]
    assert len(explorer_html(recording, max_bytes=e.value.need).encode()) <= e.value.need

def test_plots_of_an_empty_recording_say_why(dls):
    "A recording with every p = 0 holds no mask: each plot says so by name (not an IndexError or matplotlib's `rows` error)."
    import warnings
    import awd_fastai.plots  # noqa: F401  (the `plot_*` methods of `MaskRecord`)
    zero = {k: 0. for k in ('embed_p', 'input_p', 'weight_p', 'hidden_p', 'output_p')}
    with warnings.catch_warnings(): warnings.simplefilter('ignore'); learn = awd_learner(dls, **SMALL, **zero, cbs=MaskRecorder())
    with warnings.catch_warnings(): warnings.simplefilter('ignore'); learn.fit(1, 1e-2, cbs=StopAfter(2))
    rec = learn.mask_recorder.record
    with pytest.raises(IndexError, match='no dropout layer drew a mask'): rec.plot_all_masks()
    with pytest.raises(ValueError, match='no drop rate to plot'): rec.plot_drop_rates()

def test_mask_grid_needs_a_positive_count(recording):
    "`plot_mask_grid(name, n=0)`: a ValueError naming `n`, not a ZeroDivisionError."
    import awd_fastai.plots  # noqa: F401
    rec = MaskRecord.load(recording)
    with pytest.raises(ValueError, match='`n`'): rec.plot_mask_grid(rec.names[0], n=0)

def test_modes_must_be_a_dict_of_sites(dls):
    "`modes='per_step'` (a mode alone names no site): a TypeError naming `modes` and the form it takes."
    with pytest.raises(TypeError, match="`modes` must be a dict of site -> mode"): dropout_modes('per_step')
    with pytest.raises(TypeError, match="`modes` must be a dict"): awd_learner(dls, **SMALL, modes=['hidden'])

def test_a_site_in_two_spellings_is_refused():
    "`{'embed': 'off', 'embedding': 'locked'}` names one site twice (0.2.0's spelling and 0.3.0's): refused, not one kept."
    with pytest.warns(FutureWarning, match="use 'embedding'"), pytest.raises(ValueError, match='names a site twice'):
        dropout_modes({'embed': 'off', 'embedding': 'locked'})
