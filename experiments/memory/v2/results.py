"""The memory experiment v2's results as the package ships them (issue 20; protocol: experiments/memory/PROTOCOL-v2.md):
the grid ('full' preset) and its pre-registered 3x-budget rerun ('rerun', under the key `rerun`), built from the log
alone (`awd_fastai.memory.logged_results`: nothing is trained), dated by the last run logged. Read with
`awd_fastai.memory.load_results('v2')`.

    python experiments/memory/v2/results.py      # experiments/memory/runs-v2.jsonl -> awd_fastai/data/memory_v2.json
    python experiments/memory/v2/results.py --log FILE --out FILE
"""
import argparse, json, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))                    # this checkout's awd_fastai, whatever the working directory
from awd_fastai.core import atomic_write
from awd_fastai.memory import logged_results

LOG, OUT = ROOT/'experiments'/'memory'/'runs-v2.jsonl', ROOT/'awd_fastai'/'data'/'memory_v2.json'

def build(log:Path=LOG) -> dict:
    "The grid's logged results with its rerun's under `rerun`."
    return logged_results('full', log) | dict(rerun=logged_results('rerun', log))

def main(argv=None):
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--log', type=Path, default=LOG)
    a.add_argument('--out', type=Path, default=OUT)
    args = a.parse_args(argv)
    res = build(args.log)
    atomic_write(args.out, json.dumps(res, indent=1) + '\n')
    print(f"Wrote {args.out}: grid {len(res['runs'])} runs ({res['missing']} missing), "
          f"rerun {len(res['rerun']['runs'])} runs ({res['rerun']['missing']} missing), last run {res['date']}")

if __name__ == '__main__': main()
