"""``python -m labkit``: the command line (see :mod:`labkit.cli`)."""

import sys

from labkit_cli import main

sys.exit(main())
