"""`awd-fastai demo` wall time, end to end in a fresh process (training both runs, every figure, the explorer page and the
report), for each number of torch threads (`--threads`), optionally with one core kept busy by a spinning process.

    python benchmarks/demo_time.py                        # 1 and 2 threads, 2 runs each, interleaved
    python benchmarks/demo_time.py --threads 1 --busy 1   # one core busy: the "at most 2x" case

Target (issue 12): at most 90 s on 2 quiet CPU cores, at most 2x that with one core busy. The machine line gives the
load average before and after, since a shared machine is rarely quiet."""
from __future__ import annotations
import argparse, multiprocessing as mp, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from common import machine_info, positive_int

def demo_cmd() -> list:
    "The installed `awd-fastai` of this Python, or the same entry point through `python -c`."
    exe = Path(sys.executable).parent/'awd-fastai'
    return [str(exe)] if exe.exists() else [sys.executable, '-c', 'import sys; from awd_fastai.cli import main; sys.exit(main())']

def spin():
    "Keep one core busy (the 'one core busy' case)."
    while True: pass

def time_demo(threads:int, extra:list, timeout:float) -> float:
    "Wall seconds of one `awd-fastai demo --threads N` into a new temporary folder (raises if it fails)."
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        r = subprocess.run(demo_cmd() + ['demo', '--out', str(Path(d)/'demo'), '--threads', str(threads), *extra],
                           capture_output=True, text=True, timeout=timeout)
        t = time.perf_counter() - t0
        if r.returncode: raise RuntimeError(f"demo failed ({r.returncode}):\n{r.stderr[-2000:]}")
        assert (Path(d)/'demo'/'index.html').is_file()
    return t

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--threads', type=positive_int, nargs='+', default=[1, 2], help='torch thread counts (default: 1 2)')
    ap.add_argument('--runs', type=positive_int, default=2, help='runs per thread count, interleaved (default: 2)')
    ap.add_argument('--busy', type=int, default=0, help='spinning processes that keep cores busy meanwhile (default: 0)')
    ap.add_argument('--timeout', type=float, default=1200, help='seconds before one demo run is abandoned (default: 1200)')
    ap.add_argument('demo_args', nargs='*', help='more arguments for `awd-fastai demo` (after --), e.g. -- --no-contrast')
    a = ap.parse_args()
    print(machine_info())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; busy spinners: {a.busy}; "
          f"demo args: {' '.join(a.demo_args) or '(defaults)'}", flush=True)
    spinners = [mp.Process(target=spin, daemon=True) for _ in range(a.busy)]
    for s in spinners: s.start()
    times = {n: [] for n in a.threads}
    try:
        for i in range(a.runs):
            for n in a.threads:
                times[n].append(time_demo(n, a.demo_args, a.timeout))
                print(f"run {i+1}, {n} thread(s): {times[n][-1]:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        for s in spinners: s.terminate(); s.join()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print('\n| torch threads | busy cores | runs | median s | min–max s |\n|---|---|---|---|---|')
    for n, ts in times.items():
        print(f"| {n} | {a.busy} | {len(ts)} | {statistics.median(ts):.1f} | {min(ts):.1f}–{max(ts):.1f} |")
    base = statistics.median(times[a.threads[0]])
    for n in a.threads[1:]: print(f"{n} threads / {a.threads[0]}: {statistics.median(times[n]) / base:.2f}x")

if __name__ == '__main__': main()
