"""`python -m goroutines ...`: the same as the `goroutines` command (cli.py)."""

import sys

from .cli import main

sys.exit(main())
