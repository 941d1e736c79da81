"""`python -m awd_fastai ...`: the `awd-fastai` command. Written by hand, not by nbdev (nbs/05_cli.ipynb, after `main`, says why)."""
import sys
from awd_fastai.cli import main

if __name__ == '__main__': sys.exit(main())
