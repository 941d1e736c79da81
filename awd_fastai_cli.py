"""The `awd-fastai` command's entry point (`[project.scripts]` in pyproject.toml): `awd_fastai.cli.main`, imported without
showing fastai's import-time warning.

Importing fastai makes torch warn that `torch.jit.script` is deprecated (a `FutureWarning` that prints the venv's own path)
at the start of every command, `--help` included. The command is our program, so it may silence that one known warning
for its own process; importing `awd_fastai` from Python must not (the warning is fastai's to give), and a command imports
fastai when it runs. So the entry point lives outside the package: it runs the command line with `warnings.showwarning`
wrapped to leave out that one warning (by category and message) and puts it back afterwards. No warning filter is added or removed: the filters are what the imports made them, as in Python.
This file is written by hand (nbdev exports only `awd_fastai/`)."""
import sys, warnings

__all__ = ['main', 'worker_init']

JIT_WARNING = '`torch.jit.script` is deprecated'   # the start of the one message left out, a FutureWarning

def _is_jit_warning(message, category) -> bool: return issubclass(category, FutureWarning) and str(message).startswith(JIT_WARNING)

def _without_jit_warning(show):
    "`warnings.showwarning` that passes every warning to `show` but the one known `torch.jit.script` FutureWarning."
    def _show(message, category, *args, **kwargs):
        if not _is_jit_warning(message, category): show(message, category, *args, **kwargs)
    return _show

def main(argv:list|None=None) -> int:
    """Run `awd-fastai` (`awd_fastai.cli.main`) without showing torch's `torch.jit.script` FutureWarning: the command
    imports fastai only when it runs (not for `--help`), so the wrapper stays around the whole command."""
    show = warnings.showwarning
    warnings.showwarning = _without_jit_warning(show)
    try:
        from awd_fastai.cli import main as cli_main
        return cli_main(argv)
    finally: warnings.showwarning = show

def worker_init():
    """Start a worker process of the experiments' runner (`awd_fastai.memory.run_configs`): one torch thread, and the
    worker's own import of fastai without the `torch.jit.script` FutureWarning (printed once per worker otherwise).
    It lives here, outside the package, because a spawned worker imports its initializer before anything else: importing
    it from `awd_fastai` would import fastai, and warn, first. The worker runs only the runner's code, so the wrapper stays."""
    warnings.showwarning = _without_jit_warning(warnings.showwarning)
    import torch
    torch.set_num_threads(1)   # one thread per process: 2 threads on 2 busy cores is ~10x slower

if __name__ == '__main__': sys.exit(main())
