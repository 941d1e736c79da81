"""The GPU check of awd_fastai, in one run of under 5 minutes on one GPU (issue 10, §5).

1. kernels: one fused cuDNN RNN call per layer per forward (`aten::_cudnn_rnn`, and its backward), no per-step cell op or
   cell kernel (`lstm_cell`, `_thnn_fused_lstm_cell`), from the profiler's op and kernel names;
2. warnings: no "RNN module weights are not part of single contiguous chunk of memory" during training steps (and, as a
   control showing the warning would be seen, a plain `nn.LSTM` whose weights are not in one buffer does warn);
3. copies: no weight copy in a forward beyond the masked product (`aten::copy_` / `aten::cat` of a weight's size, and cuDNN's
   own copy, which comes with the warning of 2), against awd_fastai without the flat buffer (`awd-copy`);
4. step time: plain / fastai / awd / awd+rec (and awd-copy) per training batch, interleaved turns, medians and per-round ratios;
5. peak memory of one training step per variant (`torch.cuda.max_memory_allocated`);
6. bf16 autocast: training steps under `torch.autocast('cuda', torch.bfloat16)`: finite loss, the fused kernel, the warning
   count, and the step time against float32.

    python benchmarks/gpu_check.py              # on a machine with an NVIDIA GPU
    python benchmarks/gpu_check.py --dry-run    # anywhere: every part that does not need CUDA, tiny sizes, on the CPU

The dry run executes the same code on the CPU (the oneDNN kernel instead of cuDNN) and says, for each CUDA-only check,
that it was skipped and why; `tests/test_gpu_check.py` runs it in CI.
"""
from __future__ import annotations
import argparse, math, sys, time, warnings
from collections import Counter
from pathlib import Path
import torch, torch.nn as nn
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, set_threads, positive_int, median, quartiles, table
import step_time as S
from awd_fastai.dropout import WeightDropout

WARN = 'contiguous chunk of memory'
CELL_OPS = ('lstm_cell', 'gru_cell', 'rnn_tanh_cell', 'rnn_relu_cell', '_thnn_fused')   # a per-step loop would run these
DRY = dict(vocab=500, emb_sz=16, n_hid=24, n_layers=3, bs=4, bptt=8)                   # the dry run's shapes
SKIP = 'skipped: needs CUDA (this is the dry run on the CPU)'

def is_cuda(device:str) -> bool: return device.startswith('cuda')

def sync(device:str):
    if is_cuda(device): torch.cuda.synchronize()

def train_step(model, x, y, opt=None):
    "Forward, loss, backward (and an optimizer step if `opt`) of a language model returning `(logits, ...)`."
    out = model(x)[0]                                               # (bs, bptt, vocab)
    loss = nn.functional.cross_entropy(out.flatten(0, 1).float(), y.flatten())
    loss.backward()
    if opt is not None: opt.step(); opt.zero_grad()
    return loss

def batch(cfg:dict, device:str):
    "A random batch of token ids and targets, each (bs, bptt)."
    return [torch.randint(2, cfg['vocab'], (cfg['bs'], cfg['bptt']), device=device) for _ in range(2)]

# ---------------------------------------------------------------- 1 and 3: kernels and copies, from the profiler
def profile_step(model, cfg:dict, device:str, backward:bool=True, autocast=None):
    "Profile one training step (or only the forward); return the profiler (ops with their input shapes)."
    from torch.profiler import profile, ProfilerActivity
    x, y = batch(cfg, device)
    ctx = autocast or _null()
    with ctx: train_step(model, x, y)                               # warmup: the flat buffer, cuDNN plans
    model.zero_grad()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if is_cuda(device) else [])
    with profile(activities=acts, record_shapes=True) as prof, ctx:
        if backward: train_step(model, x, y)
        else:
            with torch.no_grad(): model(x)
        sync(device)
    model.zero_grad()
    return prof

class _null:
    def __enter__(self): return self
    def __exit__(self, *a): return False

def op_counts(prof) -> Counter:
    "CPU-side op name -> calls."
    return Counter({e.key: e.count for e in prof.key_averages()})

def kernel_counts(prof) -> Counter:
    "CUDA kernel name -> launches (empty on the CPU)."
    c = Counter()
    for e in prof.events():
        if getattr(e, 'device_type', None) is not None and str(e.device_type).endswith('CUDA'): c[e.name] += 1
    return c

def kernel_report(model, cfg:dict, device:str, autocast=None) -> tuple:
    "Lines on the RNN calls of one training step, and whether the check passed."
    prof = profile_step(model, cfg, device, autocast=autocast)
    ops, kernels = op_counts(prof), kernel_counts(prof)
    L = cfg['n_layers']
    rnn_ops = {k: n for k,n in ops.items() if any(s in k.lower() for s in ('rnn', 'lstm', 'cudnn'))}
    cells = {k: n for k,n in {**ops, **kernels}.items() if any(s in k.lower() for s in CELL_OPS)}
    lines = ["RNN ops and calls: " + ', '.join(f"{k} x{n}" for k,n in sorted(rnn_ops.items())),
             f"per-step cell ops or kernels: {cells or 'none'}"]
    ok = not cells
    if is_cuda(device):
        fwd, bwd = ops.get('aten::_cudnn_rnn', 0), ops.get('aten::_cudnn_rnn_backward', 0)
        lines.append(f"aten::_cudnn_rnn x{fwd}, aten::_cudnn_rnn_backward x{bwd} for {L} layers (one each per layer: {fwd == L == bwd})")
        rnn_k = {k: n for k,n in kernels.items() if any(s in k.lower() for s in ('rnn', 'lstm', 'persist', 'elemwise'))}
        lines.append("cuDNN RNN kernels and launches (all inside those calls): " +
                     (', '.join(f"{k[:70]} x{n}" for k,n in sorted(rnn_k.items(), key=lambda kv: -kv[1])) or 'none named so'))
        ok = ok and fwd == L == bwd
    else:
        fwd = ops.get('aten::mkldnn_rnn_layer', 0)
        lines.append(f"aten::mkldnn_rnn_layer x{fwd} for {L} layers (oneDNN's fused kernel on the CPU: {fwd == L}); "
                     f"cuDNN kernel names: {SKIP}")
        ok = ok and fwd == L
    return lines, ok

def weight_shapes(model) -> set:
    "Shapes of every RNN weight matrix of `model` (W_ih, W_hh; biases are too small to matter and too easy to confuse with masks)."
    shapes = set()
    for m in model.modules():
        if isinstance(m, nn.RNNBase):
            for n in m._flat_weights_names:
                if getattr(m, n).dim() == 2: shapes.add(tuple(getattr(m, n).shape))
    return shapes

def copies_report(model, cfg:dict, device:str) -> tuple:
    "Weight-sized copies and products in one forward (no backward): what the masked product costs and what else is copied."
    from torch.profiler import profile, ProfilerActivity
    shapes = weight_shapes(model)
    x, _ = batch(cfg, device)
    model.train(); model(x); sync(device)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if is_cuda(device) else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        with profile(activities=acts, record_shapes=True) as prof:
            model(x); sync(device)
    copies = products = inside = 0
    for e in prof.events():
        if e.device_type is not None and str(e.device_type).endswith('CUDA'): continue
        ins = [tuple(s) for s in (e.input_shapes or []) if s]
        if e.name in ('aten::copy_', 'aten::cat', 'aten::clone') and any(s in shapes for s in ins): copies += 1
        if e.name == 'aten::mul' and any(s in shapes for s in ins): products += 1
        if e.name == 'aten::copy_' and _inside(e, 'aten::_cudnn_rnn'): inside += 1
    warned = sum(WARN in str(w.message) for w in caught)
    n_dropped = sum(len(m.layer_names) for m in model.modules() if isinstance(m, WeightDropout))
    return copies, products, inside, warned, n_dropped

def _inside(e, name:str) -> bool:
    "Whether profiler event `e` ran inside a call of op `name`."
    while e is not None:
        if e.name == name: return True
        e = e.cpu_parent
    return False

# ---------------------------------------------------------------- 2: the warning
def warning_report(cfg:dict, device:str, steps:int=3) -> tuple:
    "Warnings counted over `steps` training steps of awd_fastai's model, eval forwards included; and the control."
    torch.manual_seed(0)
    model = S.make_model('awd', cfg).to(device)
    x, y = batch(cfg, device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for _ in range(steps): model.train(); train_step(model, x, y)
        (model(x)[0].float().mean() + model(x)[0].float().mean()).backward()   # two forwards, one backward: the busy-slot path
        model.eval()
        with torch.no_grad(): model(x)
    ours = sum(WARN in str(w.message) for w in caught)
    ctrl = nn.LSTM(8, 8, batch_first=True).to(device)
    ctrl.weight_hh_l0.data = ctrl.weight_hh_l0.data.clone()          # a weight outside the layer's flat buffer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ctrl(torch.randn(2, 3, 8, device=device))
    control = sum(WARN in str(w.message) for w in caught)
    return ours, control

# ---------------------------------------------------------------- 4 and 5: step time and peak memory
def peak_memory(variant:str, cfg:dict, device:str) -> float:
    "MiB: the largest allocation of one training step (after a warmup step) of `variant`, model and optimizer state included."
    base = torch.cuda.memory_allocated()                            # whatever else is alive, not counted
    torch.manual_seed(0)
    model = S.make_model(variant, cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = batch(cfg, device)
    train_step(model, x, y, opt); sync(device)
    torch.cuda.reset_peak_memory_stats()
    train_step(model, x, y, opt); sync(device)
    return (torch.cuda.max_memory_allocated() - base) / 2**20

def step_times(cfg:dict, variants:list, rounds:int, per_turn:int, device:str) -> str:
    "The step-time table of `step_time.py` (the same fastai loop) for these variants, with its verdict lines."
    turns = S.measure(cfg, variants, rounds, per_turn, device)
    name = next((k for k,v in S.CONFIGS.items() if v == cfg), None)
    if name is None: S.CONFIGS['dry'] = cfg; name = 'dry'
    return S.step_table(name, turns) + '\n' + S.verdict(turns) + (
        '\n' + S.check('(flat buffer) awd vs awd-copy, for information', turns, 'awd', 'awd-copy', float('inf')).replace(' -> met', '')
        if {'awd', 'awd-copy'} <= set(turns) else '')

# ---------------------------------------------------------------- 6: bf16 autocast
def _no_cpu_bf16_lstm() -> str|None:
    "Why a plain nn.LSTM cannot run under CPU bf16 autocast here (torch's own kernel, not ours), or None if it can."
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16): nn.LSTM(4, 4, batch_first=True)(torch.randn(2, 3, 4))
    except RuntimeError as e: return str(e).split('.')[0]
    return None

def autocast_report(cfg:dict, device:str, steps:int) -> list:
    "bf16 autocast: losses finite, warnings, fused kernel, and the step time against float32 (interleaved)."
    dev = 'cuda' if is_cuda(device) else 'cpu'
    if dev == 'cpu' and (why := _no_cpu_bf16_lstm()):                # some CPUs' oneDNN builds have no bf16 LSTM kernel
        return [f"bf16 autocast (cpu): not run, this CPU's oneDNN has no bf16 LSTM kernel ({why})"]
    torch.manual_seed(0)
    model = S.make_model('awd', cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = batch(cfg, device)
    ac = lambda: torch.autocast(dev, dtype=torch.bfloat16)
    times, losses = {'float32': [], 'bf16 autocast': []}, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for r in range(steps + 1):
            for k in (times if r % 2 else list(times)[::-1]):
                model.reset()                                       # the carried state would keep the other dtype
                sync(device); t0 = time.perf_counter()
                if k == 'float32': train_step(model, x, y, opt)
                else:
                    with ac(): losses.append(train_step(model, x, y, opt).item())
                sync(device)
                if r: times[k].append(time.perf_counter() - t0)
    warned = sum(WARN in str(w.message) for w in caught)
    wd = next(m for m in model.modules() if isinstance(m, WeightDropout))
    seen = []                                                       # the dtype the recurrent layer computes in under autocast
    h = wd.register_forward_hook(lambda mod, args, out: seen.append(out[0].dtype))
    model.reset()
    with ac(), torch.no_grad(): model(x)
    h.remove()
    model.reset()
    lines, ok = kernel_report(model, cfg, device, autocast=ac())
    t32, t16 = median(times['float32']), median(times['bf16 autocast'])
    ratios = [b/a for a,b in zip(times['float32'], times['bf16 autocast'])]
    q1, q3 = quartiles(ratios)
    return [f"bf16 autocast ({dev}): {steps} steps, losses finite: {all(math.isfinite(l) for l in losses)} "
            f"(last {losses[-1]:.3f}); 'contiguous chunk' warnings: {warned}; the LSTM layers output {seen[0]}",
            f"step time: float32 {1e3*t32:.1f} ms, bf16 autocast {1e3*t16:.1f} ms, bf16 / float32 {t16/t32:.3f} "
            f"(per-step IQR {q1:.2f}–{q3:.2f})"] + ['under autocast: ' + l for l in lines]

# ---------------------------------------------------------------- main
def check_config(name:str, cfg:dict, device:str, rounds:int, per_turn:int, dry:bool, failures:list):
    "Parts 1-6 for one configuration; failed checks (and parts that raised) are appended to `failures`."
    def part(n, fn):
        try: fn()
        except Exception as e:                                      # one GPU run is precious: report it and go on
            import traceback; traceback.print_exc()
            print(f"{n}. ERROR: {type(e).__name__}: {e}")
            failures.append(f'{name}: part {n} raised {type(e).__name__}')
    def kernels():
        torch.manual_seed(0)
        lines, ok = kernel_report(S.make_model('awd', cfg).to(device), cfg, device)
        print('1. kernels: ' + ('one fused RNN call per layer, no per-step cells' if ok else 'FAILED') + '\n   ' + '\n   '.join(lines))
        if not ok: failures.append(f'{name}: kernels')
    def warns():
        ours, control = warning_report(cfg, device)
        if is_cuda(device):
            good = ours == 0 and control > 0
            print(f"2. warnings: 'contiguous chunk' warnings in 3 training steps, 2 forwards before 1 backward, an eval forward: {ours} (expected 0); "
                  f"control (a plain nn.LSTM with a weight outside its buffer): {control} (expected > 0) -> {'ok' if good else 'FAILED'}")
            if not good: failures.append(f'{name}: warnings')
        else:
            print(f"2. warnings: {ours} on the CPU (expected 0: oneDNN takes any weights); the cuDNN warning itself: {SKIP}")
            if ours: failures.append(f'{name}: warnings')
    def copies():
        for v in ('awd', 'awd-copy'):
            torch.manual_seed(0)
            c, prods, inside, warned, n = copies_report(S.make_model(v, cfg).to(device), cfg, device)
            print(f"3. copies, {v}: weight-sized copies/cats in one forward {c}, weight-sized products {prods} "
                  f"(masked W_hh: {n}), " + (f"copy_ calls inside _cudnn_rnn {inside}, 'contiguous chunk' warnings {warned}"
                  if is_cuda(device) else f"cuDNN's internal copy: {SKIP}"))
            if v == 'awd' and (c or inside or warned): failures.append(f'{name}: copies')
    variants = ['plain', 'fastai', 'awd', 'awd+rec', 'awd-copy']
    def steps():
        print('4. step time (per training batch, the fastai loop of step_time.py):')
        print(step_times(cfg, variants, rounds, per_turn, device))
    def memory():
        if not is_cuda(device): print(f"5. peak memory: {SKIP}"); return
        mem = {v: peak_memory(v, cfg, device) for v in variants if v != 'awd+rec'}   # the recorder keeps its masks on the CPU
        print('5. peak GPU memory of one training step (model, Adam state, activations; awd+rec = awd: the recorder packs on the CPU): ' +
              ', '.join(f"{v} {m:.0f} MiB ({m/mem['plain']:.2f}x plain)" for v,m in mem.items()))
    def bf16(): print('6. ' + '\n   '.join(autocast_report(cfg, device, steps=2 if dry else 10)))
    for n, fn in enumerate((kernels, warns, copies, steps, memory, bf16), 1): part(n, fn)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    p.add_argument('--dry-run', action='store_true', help='on the CPU, tiny sizes: every part that does not need CUDA')
    p.add_argument('--device', default='cuda', help="the GPU to check (default 'cuda')")
    p.add_argument('--rounds', type=positive_int, default=None, help='interleaved turns per variant (default 10; dry run 1)')
    p.add_argument('--per-turn', type=positive_int, default=None, help='training batches per turn (default 5; dry run 1)')
    p.add_argument('--threads', type=positive_int, default=1, help='torch threads on the CPU side')
    args = p.parse_args(argv)
    set_threads(args.threads)
    device = 'cpu' if args.dry_run else args.device
    if not args.dry_run and not (is_cuda(device) and torch.cuda.is_available()):
        sys.exit(f"--device {device!r}: no CUDA device here; `--dry-run` checks every part that does not need one")
    cfgs = {'dry': DRY} if args.dry_run else {'small': S.CONFIGS['small'], 'fastai': S.CONFIGS['fastai']}
    rounds, per_turn = args.rounds or (1 if args.dry_run else 10), args.per_turn or (1 if args.dry_run else 5)
    t_start, failures = time.time(), []
    print(machine_info(device))
    print(f"device {device}{' (DRY RUN: CUDA-only checks are skipped and say so)' if args.dry_run else ''}; "
          f"cuDNN {torch.backends.cudnn.version() if is_cuda(device) else '-'}\n")
    for name, cfg in cfgs.items():
        print(f"== config {name}: {cfg}")
        check_config(name, cfg, device, rounds, per_turn, args.dry_run, failures)
        print()
    print(f"total {time.time()-t_start:.0f} s; " + (f"FAILED: {failures}" if failures else 'all checks passed'))
    return 1 if failures else 0

if __name__ == '__main__': sys.exit(main())
