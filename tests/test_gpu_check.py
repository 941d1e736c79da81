"""`benchmarks/gpu_check.py`, the GPU check of issue 10: its CPU dry run executes every part that does not need CUDA and
says, for each CUDA-only check, that it was skipped and why (the GPU run itself needs a GPU and is not a unit test)."""
import os, subprocess, sys
from pathlib import Path
import pytest, torch

ROOT = Path(__file__).resolve().parents[1]

def run(*args, timeout=600):
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT/'benchmarks'/'gpu_check.py'), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)

def test_dry_run_checks_every_cpu_path_and_skips_cuda_with_a_reason():
    "The dry run passes its CPU checks (one fused oneDNN call per layer, no per-step cell, no warning, no weight-sized copy "
    "beyond the masked W_hh product), times every variant and runs bf16 autocast; each CUDA-only part says it was skipped."
    r = run('--dry-run')
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    for part in ('1. kernels: one fused RNN call per layer', '2. warnings: 0 on the CPU', '3. copies, awd: weight-sized copies/cats in one forward 0',
                 '3. copies, awd-copy', '4. step time', '5. peak memory', '6. bf16 autocast (cpu)', 'all checks passed'):
        assert part in out, (part, out[-3000:])
    assert 'weight-sized products 3 (masked W_hh: 3)' in out          # the masked product is the only weight-sized work
    for v in ('plain', 'fastai', 'awd', 'awd+rec', 'awd-copy'): assert f'\n| {v} ' in out
    skipped = [l for l in out.splitlines() if 'skipped' in l and not l.startswith('device ')]
    assert len(skipped) >= 4 and all('skipped: needs CUDA (this is the dry run on the CPU)' in l for l in skipped), skipped
    assert 'losses finite: True' in out or "this CPU's oneDNN has no bf16 LSTM kernel" in out   # torch's kernel, on some CPUs

@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU: the full check would run')
def test_without_a_gpu_the_full_check_refuses_clearly():
    r = run(timeout=300)
    assert r.returncode != 0 and 'no CUDA device here' in r.stderr and '--dry-run' in r.stderr, r.stderr[-2000:]
