"""``python -m bot``: the ``mot`` command line."""

import sys

from bot.cli import main

sys.exit(main())
