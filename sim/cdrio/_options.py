"""The reader's options as both of its callers spell them, for messages.

A CDR file is read by :func:`sim.read_cdrs` (keywords: ``format=``, ``mapping=``, ...)
and by every ``dialsim`` command that takes a CDR file (options: ``--format``,
``--map``, ...), and the same error reaches both. A message that tells the user what to
give names the option both ways, the command line's first: ``--format/format=``, so
that neither reader is told to use the other's interface. (``dialsim audit`` reads two
files with ``--ours-...`` and ``--theirs-...`` options and respells these itself:
:func:`sim.audit.reading.read_side`.)
"""

from __future__ import annotations

__all__ = ["CLI_OPTIONS", "option"]

#: keyword of :func:`sim.read_cdrs` -> the ``dialsim`` option that sets it.
CLI_OPTIONS: dict[str, str] = {"format": "--format", "mapping": "--map", "where": "--where",
                               "tz": "--tz", "direction": "--direction",
                               "strict": "--strict"}


def option(keyword: str, value: str | None = None) -> str:
    """The option and the keyword, for a message: ``--format/format=`` for
    ``"format"``; with a ``value``, ``--tz Area/City / tz='Area/City'``. A keyword no
    command sets is given alone."""
    cli = CLI_OPTIONS.get(keyword)
    if value is None:
        return f"{cli}/{keyword}=" if cli else f"{keyword}="
    return f"{cli} {value} / {keyword}={value!r}" if cli else f"{keyword}={value!r}"
