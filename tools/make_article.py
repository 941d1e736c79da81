"""Write awd_fastai/data/article.json from the tutorial notebook (`--check`: exit 1 if it is out of date).

The tutorial nbs/tutorials/visualizing_dropout.ipynb is the one source of the article's prose: its markdown cells marked
`<!-- article: ID -->` are the sections that the demo report renders too (`awd_fastai.article`). Edit the notebook, then
run this script; never edit the JSON."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                 # this checkout's awd_fastai, whatever is installed
from awd_fastai.article import article_from_notebook

SOURCE, DEST = ROOT/'nbs'/'tutorials'/'visualizing_dropout.ipynb', ROOT/'awd_fastai'/'data'/'article.json'

def main(argv=sys.argv[1:]):
    text = article_from_notebook(SOURCE).to_json()
    if '--check' in argv:
        if not DEST.exists() or DEST.read_text() != text:
            print(f'{DEST.relative_to(ROOT)} is out of date: run `python tools/make_article.py`'); return 1
        return 0
    tmp = DEST.with_suffix('.json.tmp'); tmp.write_text(text); tmp.replace(DEST)
    return 0

if __name__ == '__main__': sys.exit(main())
