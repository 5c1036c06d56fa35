"""``python -m auditbench``: the command line."""

import sys

from auditbench.cli import main

sys.exit(main())
