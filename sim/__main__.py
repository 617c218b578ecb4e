"""``python -m sim`` is the ``dialsim`` command."""

from .cli import console

console()
