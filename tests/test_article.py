"""One text for the tutorial and the report (issue 23): the tutorial notebook is the one source of the article's prose,
the package ships it (`awd_fastai/data/article.json`, made by tools/make_article.py) and the report renders it.

Concept: every paragraph the report shows as prose is a paragraph of the tutorial's text, written in exactly one file of
the repository (the tutorial notebook) and in no Python file; the report has the article's title and every section in
the article's order; the shipped copy is what the notebook says; the page loads nothing from the network."""
import json, re, subprocess, sys, tempfile
from pathlib import Path
import pytest
from awd_fastai.article import load_article, article_from_notebook, render_markdown
from awd_fastai.report import write_report, Caption, Figures, REPORT_SECTIONS, REPORT_SITES, ARTICLE, TUTORIAL

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL_NB = ROOT/'nbs'/'tutorials'/'visualizing_dropout.ipynb'

@pytest.fixture(scope='module')
def page(tmp_path_factory):
    "A report with one figure per figure section (no training: the prose and the layout are what is tested here)."
    out = tmp_path_factory.mktemp('article_report')
    caps = Figures({f'{k}.png': Caption(f'Caption of `{k}`.', k, f'Reading of {k}.') for k in REPORT_SITES})
    return write_report(out, caps, 'A test run.').read_text()

def _sources() -> dict:
    "Every text file git tracks (notebooks as their cells' sources joined), except the generated copy of the article."
    files = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    out = {}
    for f in files:
        p = ROOT/f
        if f == 'awd_fastai/data/article.json' or not p.is_file() or p.suffix not in {'.py', '.ipynb', '.md', '.j2', '.html', '.txt', '.toml', '.yml'}: continue
        text = p.read_text(errors='replace')
        if p.suffix == '.ipynb': text = '\n'.join(''.join(c['source']) for c in json.loads(text)['cells'])
        out[f] = text
    return out

def test_the_shipped_article_is_the_tutorials_text():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'make_article.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert load_article() == article_from_notebook(TUTORIAL_NB) == ARTICLE

def test_every_prose_paragraph_lives_in_one_file_the_tutorial():
    "Each paragraph of the article is written once, in the tutorial notebook; no module, template or other notebook repeats it."
    sources = _sources()
    for s in ARTICLE.sections:
        for para in s.paragraphs:
            where = [f for f, text in sources.items() if para in text]
            assert where == [str(TUTORIAL_NB.relative_to(ROOT))], (s.id, para[:80], where)
    rel = str(TUTORIAL_NB.relative_to(ROOT))
    for f, text in sources.items():                                          # and no sentence of it in Python source
        if not f.endswith('.py'): continue
        for s in ARTICLE.sections:
            for para in s.paragraphs:
                for sentence in re.findall(r'[A-Z][^.!?]{60,}[.!?]', para):
                    assert sentence not in text, (f, sentence)

def test_the_report_renders_the_articles_prose_and_nothing_else(page):
    prose = re.findall(r'<section id="([\w-]+)"[^>]*>.*?(?:<div class="prose">\n(.*?)</div>\n)?(?:<figure|<p class="none"|</section>)', page, re.S)
    assert [k for k, _ in prose] == ARTICLE.ids                               # every section, in the article's order
    for (k, html), s in zip(prose, ARTICLE.sections):
        assert html == render_markdown(s.markdown), k                         # the section's prose is the article's, rendered
    for k in ('motivation', 'recurrent', 'closing'): assert ARTICLE[k].paragraphs, k

def test_the_report_has_the_articles_title_and_sections_in_its_order(page):
    assert f'<title>{ARTICLE.title}</title>' in page and f'<h1>{ARTICLE.title}</h1>' in page and TUTORIAL[0] == ARTICLE.title
    assert re.findall(r'<section id="([\w-]+)"', page) == ARTICLE.ids == list(REPORT_SECTIONS)
    assert re.findall(r'<nav>.*?</nav>', page, re.S)[0].count('<li') == len(ARTICLE.ids)   # the table of contents
    for k in REPORT_SITES: assert f'src="{k}.png"' in page.split(f'<section id="{k}"')[1].split('</section>')[0], k
    want = ['motivation', 'dropout', 'embeddings', 'embedding-dropout', 'recurrent', 'hidden', 'state', 'between-layers',
            'dropconnect', 'together', 'bptt', 'matter', 'memory', 'language-model', 'closing', 'references']
    assert ARTICLE.ids == want                                                # issue 23's order; memory its own subsection
    assert (ARTICLE['memory'].level, ARTICLE['language-model'].level) == (3, 3)

def test_the_report_states_the_thesis_and_cites_the_papers(page):
    text = re.sub(r'<[^>]+>', '', page)
    for words in ('long-term dependencies', 'cuDNN', 'oneDNN'): assert words in text, words
    for paper in ('arxiv.org/abs/1708.02182', 'arxiv.org/abs/1512.05287', 'arxiv.org/abs/1409.2329', 'arxiv.org/abs/1603.05118',
                  '10.1109/ASRU.2015.7404775', 'v28/wan13.html', 'v15/srivastava14a.html'):   # Merity, Gal, Zaremba, Semeniuta, Moon, Wan, Srivastava
        assert f'href="http' in page and paper in ARTICLE['motivation'].markdown and paper in page, paper

def test_the_report_uses_no_network(page):
    "Nothing is loaded from another host: no script, stylesheet link or remote source; external addresses only as links to follow."
    assert '<script' not in page and '<link' not in page and 'url(' not in page and '@import' not in page
    for tag, attr, url in re.findall(r'<(\w+)[^>]*?\s(src|data|href)="([^"]*)"', page):
        if re.match(r'https?:|//', url): assert (tag, attr) == ('a', 'href'), (tag, attr, url)
    assert '<math' in page and '$' not in re.sub(r'<[^>]+>', '', page)        # maths drawn as MathML by the browser, no TeX left

def test_the_report_names_no_repository_path(page):
    "The article's prose, as the report shows it, names no bare repository path (a pip user has none of them)."
    text = re.sub(r'<[^>]+>', '', page)
    assert not re.search(r'(?<![\w.])(nbs|benchmarks|experiments|tools)/|\.ipynb\b', text)

def test_the_article_names_no_tracker_issue():
    "The article is read by pip users: no reference to the project's internal issue tracker ('issue 24')."
    for s in load_article().sections: assert not re.search(r'\bissues? \d+', s.markdown, re.I), (s.id, re.search(r'.{40}\bissues? \d+', s.markdown, re.I))
