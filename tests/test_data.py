"`lm_dls` against fastai's `TextDataLoaders.from_df`: the same data by default, and `min_freq`/`max_vocab` that take effect."
import warnings
import pandas as pd, pytest, torch
from fastai.text.all import TextDataLoaders
from awd_fastai.data import lm_dls, corpus_texts, odd_text, OddTextWarning, read_texts

def _tokens(ds): return [x[0] for x in ds]

@pytest.mark.parametrize('tok', ['default', 'base'])
def test_default_is_fastais_from_df(tok):
    "With its defaults (min_freq 3, fastai's), `lm_dls` gives fastai's vocabulary, split and numericalised documents "
    "(with fastai's default tokenizer, and with a `tok_tfm` passed through)."
    from fastai.text.all import BaseTokenizer
    texts, kw = corpus_texts(20), ({} if tok == 'default' else dict(tok_tfm=BaseTokenizer()))
    ours = lm_dls(texts, bs=8, seq_len=20, seed=1, **kw)
    with torch.random.fork_rng():
        ref = TextDataLoaders.from_df(pd.DataFrame({'text': texts}), text_col='text', is_lm=True, valid_pct=0.1, seed=1,
                                      bs=8, seq_len=20, num_workers=0, **kw)
    assert list(ours.vocab) == list(ref.vocab)
    for a, b in zip(_tokens(ours.train_ds) + _tokens(ours.valid_ds), _tokens(ref.train_ds) + _tokens(ref.valid_ds)):
        assert torch.equal(a, b)

def test_min_freq_and_max_vocab_reach_the_vocabulary():
    "fastai's `from_df` drops `min_freq`/`max_vocab`; ours applies them: a higher `min_freq` keeps fewer words, `max_vocab` caps the size."
    texts = corpus_texts(20)
    sizes = {mf: len(lm_dls(texts, bs=8, seq_len=20, min_freq=mf).vocab) for mf in (1, 3, 10)}
    assert sizes[1] > sizes[3] > sizes[10]
    assert len(lm_dls(texts, bs=8, seq_len=20, max_vocab=100).vocab) <= 100 + 8    # fastai pads the vocabulary to a multiple of 8

def test_odd_text_warns_once_per_problem_and_not_for_ordinary_text():
    words = ' '.join(corpus_texts(20)).split()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        tiny = lm_dls([' '.join(words[i:i+25]) for i in range(0, 250, 25)], bs=24, seq_len=20)
        unk = lm_dls(corpus_texts(20), bs=8, seq_len=20, min_freq=300)
        lm_dls(corpus_texts(20), bs=8, seq_len=20)
    odd = [str(x.message) for x in w if x.category is OddTextWarning]
    assert len(odd) == 2 and len(tiny.train) == 1
    assert odd[0].startswith('an epoch is one batch') and 'of the training tokens are `xxunk`' in odd[1]
    share = int(odd[1].split('%')[0]) / 100                                     # the message's share of unknown tokens...
    toks = torch.cat([x[0] for x in unk.train_ds])
    assert share == pytest.approx(float((toks == unk.vocab.index('xxunk')).float().mean()), abs=0.005)   # ...is the data's

# ## Arguments that must not be silently ignored (issue 18, fault 2)

def test_backwards_reverses_each_document_as_fastais_from_df():
    "`backwards=True`: each document's tokens in reverse order, the same numericalised documents as fastai's `from_df`."
    texts = corpus_texts(20)
    fwd, bwd = (lm_dls(texts, bs=8, seq_len=20, seed=1, backwards=b) for b in (False, True))
    with torch.random.fork_rng():
        ref = TextDataLoaders.from_df(pd.DataFrame({'text': texts}), text_col='text', is_lm=True, valid_pct=0.1, seed=1,
                                      bs=8, seq_len=20, num_workers=0, backwards=True)
    assert list(bwd.vocab) == list(fwd.vocab) == list(ref.vocab)
    for f, b, r in zip(_tokens(fwd.train_ds) + _tokens(fwd.valid_ds), _tokens(bwd.train_ds) + _tokens(bwd.valid_ds),
                       _tokens(ref.train_ds) + _tokens(ref.valid_ds)):
        assert torch.equal(b, f.flip(0)) and torch.equal(b, r)
    xb, yb = bwd.valid.one_batch()
    assert torch.equal(xb[:, 1:], yb[:, :-1])                   # still a language model: the target is the next token

def test_text_vocab_is_used_as_given():
    "`text_vocab=V`: numericalised with `V` (as fastai's `from_df(text_vocab=...)`), whatever `min_freq` would keep."
    first = lm_dls(corpus_texts(20), bs=8, seq_len=20)
    other = corpus_texts(40)[20:]
    again = lm_dls(other, bs=8, seq_len=20, text_vocab=first.vocab, min_freq=1)
    assert list(again.vocab) == list(first.vocab)
    assert len(lm_dls(other, bs=8, seq_len=20, min_freq=1).vocab) != len(first.vocab)   # without it: its own vocabulary
    assert max(int(t.max()) for t in _tokens(again.train_ds)) < len(first.vocab)

def test_unknown_keyword_is_refused_naming_it():
    "A keyword neither `lm_dls` nor fastai's `DataLoaders` take is a `TypeError` naming it, not silently ignored."
    with pytest.raises(TypeError, match='bakwards'): lm_dls(corpus_texts(20), bs=8, seq_len=20, bakwards=True)
    with pytest.raises(TypeError, match='label_col'): lm_dls(corpus_texts(20), bs=8, seq_len=20, label_col='y')
    dls = lm_dls(corpus_texts(20), bs=8, seq_len=20, path='models_here', val_bs=4)   # fastai's `DataLoaders` arguments pass
    assert str(dls.path) == 'models_here' and dls.valid.bs == 4

def test_batch_too_large_says_so_and_prints_nothing(capsys):
    "A batch larger than the text: our `ValueError` naming `bs`, and no half message from fastai's one-pass check on stdout."
    with pytest.raises(ValueError, match='too little text for batches of 100000'): lm_dls(bs=100000)   # the whole corpus
    assert capsys.readouterr().out == ''
    with pytest.raises(ValueError, match='too little text'): lm_dls(corpus_texts(20), bs=8, seq_len=20, val_bs=100000)

def test_one_document_error_says_what_a_document_is_and_what_to_do(tmp_path):
    "A file of one long paragraph on one line is one document: the error says how a file is split, and to split it."
    f = tmp_path/'one_paragraph.txt'; f.write_text(' '.join(['A sentence of the only paragraph.']*50))
    assert len(read_texts(f)) == 1
    for source in (f, read_texts(f)):                 # the path, or its documents as `awd-fastai train` passes them
        with pytest.raises(ValueError, match=r"got 1: a document is one string of a list of texts, or one paragraph of "
                           r"a file \(a file is split at blank lines, or at each line break when it has no blank line\); "
                           r"split a single long paragraph into several"):
            lm_dls(source)
    assert 'blank lines' in read_texts.__doc__ and 'line break' in read_texts.__doc__

@pytest.mark.parametrize('text', ['just one string here', 'two lines\nof text', 'word ' * 100])
def test_text_where_a_path_goes_says_texts_go_in_a_list(text):
    with pytest.raises(FileNotFoundError, match=r"reads as text, not a path: pass texts in a list, `lm_dls\(\[text, \.\.\.\]\)`"):
        lm_dls(text)

@pytest.mark.parametrize('name', ['missing.txt', 'notes for today.txt', 'data/some missing folder'])
def test_a_missing_path_is_still_a_missing_path(name):
    with pytest.raises(FileNotFoundError, match='no such file or folder') as e: lm_dls(name)
    assert 'reads as text' not in str(e.value)
