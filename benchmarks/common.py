"""Helpers shared by the benchmark scripts: the machine line, threads, argument types, medians and tables."""
from __future__ import annotations
import argparse, os, platform, statistics, time
import torch

def cpu_model() -> str:
    "The CPU's model name (from /proc/cpuinfo where there is one)."
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()

def machine_info(device:str='cpu') -> str:
    "One line describing the machine, torch threads and library versions, to print next to every table."
    import fastai
    try: import awd_fastai; awd = awd_fastai.__version__
    except Exception: awd = '?'
    dev = torch.cuda.get_device_name() if device.startswith('cuda') and torch.cuda.is_available() else 'no GPU used'
    return (f"{time.strftime('%Y-%m-%d')} · {cpu_model()} · {os.cpu_count()} CPUs · torch threads {torch.get_num_threads()} · "
            f"{dev} · Python {platform.python_version()} · torch {torch.__version__} · fastai {fastai.__version__} · "
            f"awd_fastai {awd}")

def set_threads(n:int|None) -> int:
    "Use `n` torch threads (all variants of a run use the same number); return the number in use."
    if n: torch.set_num_threads(n)
    return torch.get_num_threads()

def positive_int(s:str) -> int:
    "argparse type: an integer >= 1, or a clear error naming the value."
    try: v = int(s)
    except ValueError: v = 0
    if v < 1: raise argparse.ArgumentTypeError(f"must be a positive integer; got {s!r}")
    return v

def positive_float(s:str) -> float:
    "argparse type: a number > 0, or a clear error naming the value."
    try: v = float(s)
    except ValueError: v = 0.
    if not v > 0: raise argparse.ArgumentTypeError(f"must be a positive number; got {s!r}")
    return v

def median(xs) -> float:
    "Median of `xs` (NaN when empty)."
    xs = list(xs)
    return statistics.median(xs) if xs else float('nan')

def quartiles(xs) -> tuple:
    "First and third quartiles of `xs`."
    xs = sorted(xs)
    if len(xs) < 2: return (xs[0], xs[0]) if xs else (float('nan'),)*2
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]

def table(rows:list, cols:list) -> str:
    "A plain-text table (GitHub markdown) of `rows` (dicts) with columns `cols`."
    cells = [[str(r.get(c, '')) for c in cols] for r in rows]
    w = [max(len(c), *(len(r[i]) for r in cells)) for i,c in enumerate(cols)]
    line = lambda vals: '| ' + ' | '.join(v.ljust(w[i]) for i,v in enumerate(vals)) + ' |'
    return '\n'.join([line(cols), '|' + '|'.join('-'*(x+2) for x in w) + '|', *map(line, cells)])
