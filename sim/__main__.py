"""``python -m sim`` is the ``dialsim`` command."""

import sys

from .cli import main

sys.exit(main())
