"""`python -m awd_fastai ...`: the `awd-fastai` command, through its entry point `awd_fastai_cli.main` (its warnings, as
the command shows them). Written by hand, not by nbdev (nbs/05_cli.ipynb, after `main`, says why)."""
import sys
from awd_fastai_cli import main

if __name__ == '__main__': sys.exit(main())
