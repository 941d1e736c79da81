"""`AWDLearner`'s predictions and generation, against fastai's `LMLearner` as the reference: `get_preds()` with its defaults
(fastai: IndexError), validation averaged per token, `predict` at any temperature (fastai: fails at low temperature),
`generate` carrying the hidden state; and why a language model must not be bidirectional."""
import pytest, torch, torch.nn.functional as F
from fastai.callback.training import ShortEpochCallback
from fastai.text.all import (LMLearner, CrossEntropyLossFlat, accuracy, Perplexity, get_language_model, noop,
                             text_classifier_learner, TextDataLoaders, awd_lstm_clas_config)
import fastai.text.models.awdlstm as fa
from awd_fastai.data import lm_dls, corpus_texts
from awd_fastai.learner import awd_learner, sample_next
from awd_fastai.model import AWD_LSTM, awd_lstm_lm_config

@pytest.fixture(scope='module')
def learn():
    "A small learner, trained a little, whose validation loader ends with a shorter batch (1 of 20 tokens per row)."
    torch.manual_seed(0)
    dls = lm_dls(corpus_texts(n_docs=20), bs=8, seq_len=20, valid_pct=0.2)
    assert dls.valid.last_len != dls.valid.seq_len
    learn = awd_learner(dls, emb_sz=16, n_hid=24, n_layers=2)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2, cbs=ShortEpochCallback(0.25, short_valid=False))
    return learn

@pytest.fixture(scope='module')
def fastai_learn(learn):
    "fastai's `LMLearner` on the same model and data."
    return LMLearner(learn.dls, learn.model, loss_func=CrossEntropyLossFlat(), metrics=[accuracy, Perplexity()])

def test_get_preds_with_defaults(learn, fastai_learn):
    "fastai's raises IndexError; ours returns the text's predictions along time: (bs, total_len, vocab), rows contiguous."
    with pytest.raises(IndexError): fastai_learn.get_preds()
    with learn.no_bar(): x, p, t, d, l = learn.get_preds(with_input=True, with_decoded=True, with_loss=True)
    vl = learn.dls.valid
    assert p.shape == (vl.bs, vl.bl, len(learn.dls.vocab)) and t.shape == x.shape == d.shape == l.shape == (vl.bs, vl.bl)
    torch.testing.assert_close(p.sum(-1), torch.ones(vl.bs, vl.bl))
    assert torch.equal(x[:, 1:], t[:, :-1])                  # each row is one stretch of text: target t = input t+1
    assert torch.equal(d, p.argmax(-1))
    torch.testing.assert_close(l, -p.gather(-1, t[..., None])[..., 0].log(), rtol=1e-4, atol=1e-4)   # loss per token

def test_predictions_agree_with_validate(learn, fastai_learn):
    "Loss, accuracy and perplexity from `get_preds` are `validate()`'s (averaged per token); fastai's, per batch, differ."
    with learn.no_bar(): scores, t = learn.get_preds(act=noop)
    loss = F.cross_entropy(scores.flatten(0, 1), t.flatten())
    v = learn.validate()
    torch.testing.assert_close(torch.tensor(v[0]), loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(v[1]), (scores.argmax(-1) == t).float().mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(v[2]), loss.exp(), rtol=1e-4, atol=1e-4)
    assert abs(fastai_learn.validate()[0] - loss) > 1e-4      # fastai weighs the short last batch's tokens more

def test_get_preds_reorder_means_text_order():
    "On the (shuffled) training loader, `reorder=True` predicts the text in its order: the same as an unshuffled loader."
    learn = awd_learner(lm_dls(corpus_texts(n_docs=20), bs=4, seq_len=10), emb_sz=16, n_hid=24, n_layers=2)
    with learn.no_bar():
        _, t = learn.get_preds(ds_idx=0, with_preds=False)
        _, t_plain = learn.get_preds(dl=learn.dls.train.new(shuffle=False, drop_last=False), with_preds=False)
    assert torch.equal(t, t_plain)

def test_predict_at_low_temperature(learn, fastai_learn):
    "fastai's fails at T=0.01 (p**(1/T) underflows); ours draws the words, T=0 is greedy, and where fastai works both draw the same."
    prompt = 'The assert statement'
    with pytest.raises(RuntimeError, match='multinomial'): fastai_learn.predict(prompt, 5, temperature=0.01, no_bar=True)
    for T in (0.01, 1e-6):
        out = learn.predict(prompt, 5, temperature=T, no_bar=True)
        assert out.startswith(prompt) and len(out) > len(prompt)
    greedy = learn.predict(prompt, 5, temperature=0, no_bar=True)
    torch.manual_seed(1)
    assert learn.predict(prompt, 5, temperature=0, no_bar=True) == greedy          # T=0: no randomness at all
    for kw in (dict(temperature=1.), dict(temperature=0.5, min_p=0.01)):
        torch.manual_seed(3); a = fastai_learn.predict('The assert statement', 5, no_bar=True, **kw)
        torch.manual_seed(3); assert learn.predict('The assert statement', 5, no_bar=True, **kw) == a

def test_low_temperature_draws_the_most_likely_word():
    "As T -> 0, softmax(logits/T) concentrates on the argmax: with a gap of 1 over the runner-up, T=0.01 always draws the best word."
    torch.manual_seed(0)
    logits = torch.randn(2000, 300)                                  # (rows, vocab)
    best = torch.randint(0, 300, (2000,))
    logits[torch.arange(2000), best] = logits.max(-1).values + 1.     # P(another word) <= 300·e^-100 per row
    assert torch.equal(sample_next(logits, 0.01), best)
    assert torch.equal(sample_next(logits, 0), best)

@pytest.mark.parametrize('T', [0.05, 0.5, 1., 3.])
def test_sample_next_follows_softmax_over_temperature(T):
    torch.manual_seed(0)
    logits = torch.randn(1, 6) * 3
    freq = torch.bincount(sample_next(logits.expand(40_000, -1), T), minlength=6) / 40_000
    torch.testing.assert_close(freq, (logits[0]/T).softmax(-1), atol=0.01, rtol=0)

def test_generate_carries_the_state(learn):
    "`generate` (one step per word, a batch of prompts) gives `predict`'s words at T=0, for prompts of several lengths."
    prompts = ['The assert statement', 'A class', 'The with statement is used to', 'import']
    gen = learn.generate(prompts, 8, temperature=0)
    assert gen == [learn.predict(p, 8, temperature=0, no_bar=True) for p in prompts]
    assert learn.generate(prompts[2], 8, temperature=0) == gen[2]
    start = learn.generate(prompts, 0)                        # the prompts as the vocabulary reads them (rare words: xxunk)
    assert all(g.startswith(p) and len(g.split()) > len(p.split()) for g, p in zip(learn.generate(prompts, 4), start))

def test_generate_restores_the_model(learn):
    "`generate` runs in eval mode without gradients, then gives the model back in its mode, with a reset (zero) state."
    learn.model.train()
    learn.generate(['The assert statement', 'A class'], 3)
    assert learn.model.training
    assert all((h == 0).all() for layer in learn.model[0].hidden for h in layer)

def test_bidirectional_lm_sees_its_target():
    "Why `awd_lm` refuses `bidir=True`: built with fastai's pieces, a bidirectional LM's prediction for token 6 (made at "
    "position 5) changes when token 6 changes; a forward one's does not."
    def leak(arch, bidir):
        torch.manual_seed(0)
        lm = get_language_model(arch, 50, dict(fa.awd_lstm_lm_config, emb_sz=16, n_hid=24, n_layers=2, bidir=bidir)).eval()
        x = torch.randint(2, 50, (1, 10)); x2 = x.clone(); x2[0, 6] += 1
        lm.reset(); a = lm(x)[0]; lm.reset(); b = lm(x2)[0]
        return not torch.allclose(a[0, 5], b[0, 5])
    assert leak(fa.AWD_LSTM, True) and leak(AWD_LSTM, True) and not leak(AWD_LSTM, False)

def test_bidirectional_encoder_in_a_classifier():
    "A classifier may be bidirectional: fastai's `text_classifier_learner` with our `AWD_LSTM` and `bidir=True` trains."
    import random, pandas as pd
    random.seed(0)
    w = "good bad the a movie film plot great awful is was very".split()
    df = pd.DataFrame([(' '.join(random.choice(w) for _ in range(20)), random.choice('pn')) for _ in range(32)], columns=['text', 'label'])
    dls = TextDataLoaders.from_df(df, text_col='text', label_col='label', valid_pct=0.25, bs=8, seed=1)
    learn = text_classifier_learner(dls, AWD_LSTM, config=dict(awd_lstm_clas_config, emb_sz=16, n_hid=24, n_layers=2, bidir=True),
                                    pretrained=False, seq_len=8)
    assert learn.model[0].module.rnns[0].module.bidirectional
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)

# ## Monte Carlo dropout: which learners take `mc_samples`

def _nb_text(name, kind):
    "The joined sources of the `kind` cells ('markdown' or 'code') of notebook `nbs/name`."
    import json
    from pathlib import Path
    cells = json.loads((Path(__file__).parents[1]/'nbs'/name).read_text())['cells']
    return '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == kind)

def test_mc_samples_is_ours_and_mc_preds_is_for_any_learner():
    "fastai's own classifier learner has no `get_preds(mc_samples=...)` (we do not patch fastai): `mc_preds(learn, N)` "
    "samples it; the docs say which learners take `mc_samples`, and the ULMFiT notebook uses `mc_preds` on its classifier."
    import random, pandas as pd
    from awd_fastai.learner import awd_classifier_learner
    from awd_fastai.mc import mc_preds
    random.seed(0)
    w = "good bad the a movie film plot great awful is was very".split()
    df = pd.DataFrame([(' '.join(random.choice(w) for _ in range(12)), random.choice('pn')) for _ in range(32)],
                      columns=['text', 'label'])
    dls = TextDataLoaders.from_df(df, text_col='text', label_col='label', valid_pct=0.25, bs=8, seed=1)
    theirs = text_classifier_learner(dls, AWD_LSTM, config=dict(awd_lstm_clas_config, emb_sz=16, n_hid=24, n_layers=2),
                                     pretrained=False, seq_len=8)
    ours = awd_classifier_learner(dls, emb_sz=16, n_hid=24, n_layers=2, seq_len=8)
    with theirs.no_bar(), ours.no_bar():
        with pytest.raises(TypeError, match='mc_samples'): theirs.get_preds(mc_samples=2)
        for mean, std, _ in (mc_preds(theirs, 2), ours.get_preds(mc_samples=2)): assert mean.shape == (8, 2) == std.shape
    mc = _nb_text('02a_mc_dropout.ipynb', 'markdown')
    assert ("The learners of `awd_learner` and `awd_classifier_learner` (`AWDLearner`, `AWDTextLearner`) take "
            "`get_preds(..., mc_samples=N)`") in mc
    assert "Any other fastai `Learner`, e.g. one from fastai's `text_classifier_learner`" in mc and "`mc_preds(learn, N)`" in mc
    assert 'mc_preds(clas, 10)' in _nb_text('08_ulmfit.ipynb', 'code')        # `clas`: fastai's `text_classifier_learner`

# ## help(): what the public classes' docstrings say

def test_public_docstrings_name_their_paper_shapes_scaling_and_errors():
    "`help()` does not show nbdev's docments: each dropout layer's and `AWD_LSTM`'s docstring gives its source paper, the "
    "input -> output shapes, the 1/(1-p) scaling and the `ValueError`; `get_preds` says what `mc_samples` returns."
    import inspect
    from awd_fastai.dropout import (RNNDropout, PerStepDropout, EmbeddingDropout, PerStepEmbeddingDropout,
                                    WeightDropout, PerStepWeightDropout, PerStepStateDropout)
    from awd_fastai.learner import AWDLearner, AWDTextLearner
    papers = {RNNDropout: 'Gal & Ghahramani 2016', PerStepDropout: 'Zaremba et al. 2014',
              EmbeddingDropout: 'Gal & Ghahramani 2016', PerStepEmbeddingDropout: 'Gal & Ghahramani 2016',
              WeightDropout: 'Wan et al. 2013', PerStepWeightDropout: 'Wan et al. 2013',
              PerStepStateDropout: 'Gal & Ghahramani 2016', AWD_LSTM: 'Merity et al. 2017'}
    for cls, paper in papers.items():
        doc = " ".join(inspect.getdoc(cls).split())
        assert paper in doc, (cls.__name__, doc)
        assert '(bs, seq_len' in doc and '1/(1-' in doc and 'ValueError' in doc, (cls.__name__, doc)
        if cls is not PerStepStateDropout: assert '->' in doc, (cls.__name__, doc)     # input -> output
        assert 'Define the computation' not in inspect.getdoc(cls.forward), cls.__name__   # not torch's generic text
    for cls in (AWDLearner, AWDTextLearner):
        assert 'mc_samples=N` returns `(inputs,) mean, std, targets, (decoded,)`' in cls.get_preds.__doc__
