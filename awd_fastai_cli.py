"""The `awd-fastai` command's entry point (`[project.scripts]` in pyproject.toml): `awd_fastai.cli.main`, imported without
showing fastai's import-time warning, and showing awd_fastai's own warnings as one line each.

Importing fastai makes torch warn that `torch.jit.script` is deprecated (a `FutureWarning` that prints the venv's own path)
at the start of every command, `--help` included. The command is our program, so it may silence that one known warning
for its own process; importing `awd_fastai` from Python must not (the warning is fastai's to give), and a command imports
fastai when it runs. So the entry point lives outside the package: it runs the command line with `warnings.showwarning`
wrapped to leave out that one warning (by category and message), and to print a warning of awd_fastai's (its category
defined in the package, or raised from its files) as one line, `awd-fastai: warning: ...`, not Python's file:line and
source line; and it puts `showwarning` back afterwards. No warning filter is added or removed: the filters are what the
imports made them, as in Python, so what shows and what does not is as before; only the form of ours changes.
`python -m awd_fastai` imports the package, and so fastai, before it runs `awd_fastai/__main__.py`: the package's
`__init__` calls `package_import()` first, which wraps `showwarning` only when Python is locating `awd_fastai` or
`awd_fastai.cli` to run it as the command.
This file is written by hand (nbdev exports only `awd_fastai/`)."""
import os, sys, warnings

__all__ = ['main', 'worker_init', 'package_import']

JIT_WARNING = '`torch.jit.script` is deprecated'   # the start of the one message left out, a FutureWarning
COMMAND_MODULES = ('awd_fastai', 'awd_fastai.cli')   # `python -m` of these runs the `awd-fastai` command

def _is_jit_warning(message, category) -> bool: return issubclass(category, FutureWarning) and str(message).startswith(JIT_WARNING)

def _is_ours(category, filename) -> bool:
    "Whether a warning is awd_fastai's: its category defined in the package, or raised from one of its files."
    if (category.__module__ or '').split('.')[0] == 'awd_fastai': return True
    pkg = getattr(sys.modules.get('awd_fastai'), '__file__', None)
    return pkg is not None and os.path.abspath(str(filename)).startswith(os.path.dirname(os.path.abspath(pkg)) + os.sep)

def _without_jit_warning(show):
    "`warnings.showwarning` that passes every warning to `show` but the one known `torch.jit.script` FutureWarning."
    def _show(message, category, *args, **kwargs):
        if not _is_jit_warning(message, category): show(message, category, *args, **kwargs)
    return _show

def _command_warnings(show):
    """`warnings.showwarning` of the command: the `torch.jit.script` FutureWarning left out (`_without_jit_warning`),
    awd_fastai's own warnings as one line on stderr (`awd-fastai: warning: MESSAGE (CATEGORY)`), every other passed to
    `show` unchanged."""
    rest = _without_jit_warning(show)
    def _show(message, category, filename, lineno, file=None, line=None):
        if not _is_ours(category, filename): return rest(message, category, filename, lineno, file, line)
        text = ' '.join(str(message).split())                 # one line
        try: print(f"awd-fastai: warning: {text} ({category.__name__})", file=file or sys.stderr, flush=True)
        except OSError: pass                                  # as Python's: a closed stderr loses the warning
    return _show

def main(argv:list|None=None) -> int:
    """Run `awd-fastai` (`awd_fastai.cli.main`) with the command's warnings (`_command_warnings`): the command imports
    fastai only when it runs (not for `--help`), so the wrapper stays around the whole command."""
    show = warnings.showwarning
    warnings.showwarning = _command_warnings(show)
    try:
        from awd_fastai.cli import main as cli_main
        return cli_main(argv)
    finally: warnings.showwarning = show

def _module_run() -> str|None:
    """The module `python -m` is locating, while it locates it (then `sys.argv[0]` is '-m', as Python's docs of `-m`
    say), read from `sys.orig_argv`; else None."""
    if sys.argv[:1] != ['-m']: return None
    args = getattr(sys, 'orig_argv', [])[1:]
    for i, a in enumerate(args):
        if a == '-m': return args[i + 1] if i + 1 < len(args) else None
        if a.startswith('-m'): return a[2:]
    return None

def package_import():
    """Called first by `awd_fastai/__init__.py`: when Python is locating `awd_fastai` or `awd_fastai.cli` to run it
    (`python -m awd_fastai ...`), the process is the `awd-fastai` command, so its `warnings.showwarning` is the command's
    (`_command_warnings`) from here on, the package's own import of fastai included; otherwise (any import) nothing."""
    if _module_run() in COMMAND_MODULES: warnings.showwarning = _command_warnings(warnings.showwarning)

def worker_init():
    """Start a worker process of the experiments' runner (`awd_fastai.memory.run_configs`): one torch thread, and the
    worker's own import of fastai without the `torch.jit.script` FutureWarning (printed once per worker otherwise).
    It lives here, outside the package, because a spawned worker imports its initializer before anything else: importing
    it from `awd_fastai` would import fastai, and warn, first. The worker runs only the runner's code, so the wrapper stays."""
    warnings.showwarning = _without_jit_warning(warnings.showwarning)
    import torch
    torch.set_num_threads(1)   # one thread per process: 2 threads on 2 busy cores is ~10x slower

if __name__ == '__main__': sys.exit(main())
