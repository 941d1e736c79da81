"""Memory experiment v2 (issue 20; protocol: experiments/memory/PROTOCOL-v2.md): run a preset, resuming from the log.

    python experiments/memory/v2/run.py                    # the grid ('full'), 2 worker processes, one thread each
    python experiments/memory/v2/run.py --preset rerun     # then the pre-registered 3x-budget rerun
    python experiments/memory/v2/run.py --preset quick --log /tmp/q.jsonl   # a smoke run of seconds

Every finished run is appended to the log (default experiments/memory/runs-v2.jsonl) with its protocol version; a rerun
of the command skips what is logged. The results of the preset (logged runs included) are written to --out.
"""
import argparse, json, shlex, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))                    # this checkout's awd_fastai, whatever the working directory
from awd_fastai.core import atomic_write
from awd_fastai.memory import run_v2, v2_configs, v2_progress, logged_runs, V2_VERSION

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--preset', default='full', choices=('quick', 'default', 'full', 'rerun'))
    a.add_argument('--workers', type=int, default=2, help='worker processes, one torch thread each')
    a.add_argument('--log', type=Path, default=ROOT/'experiments'/'memory'/'runs-v2.jsonl')
    a.add_argument('--out', type=Path, default=None, help='results JSON (default: beside the log, memory-v2-PRESET.json)')
    args = a.parse_args(argv)
    try: done = logged_runs(args.log, V2_VERSION)
    except ValueError as e: sys.exit(f'error: {e}')
    configs = v2_configs(args.preset, args.log)
    left = sum(json.dumps(c.__dict__, sort_keys=True) not in done for c in configs)
    print(f"Memory v2, preset {args.preset!r}: {len(configs)} runs, {len(configs) - left} already logged, {left} to run "
          f"in {args.workers} worker(s)", flush=True)
    command = 'python experiments/memory/v2/run.py ' + shlex.join(argv)   # no machine paths: the script's repository path
    res = run_v2(args.preset, args.workers, args.log, command, v2_progress(args.workers))
    out = args.out or args.log.with_name(f'memory-v2-{args.preset}.json')
    atomic_write(out, json.dumps(res, indent=1) + '\n')
    print(f'Wrote {out}')

if __name__ == '__main__': main()
