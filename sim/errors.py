"""The exception tree of dialsim.

Every error a user can cause with bad input derives from :class:`SimError`; the CLI
prints its message and exits with code 2, never a traceback::

    SimError
    ├── ScenarioError     a scenario file or override is malformed
    ├── PlanError         a billing-plan file is malformed
    ├── CDRFormatError    a CDR file cannot be read (or a row is rejected under --strict)
    ├── SweepError        a sweep grid / range is malformed
    └── OutputError       an output location cannot be written (read-only, not a folder)
        └── OutputExistsError an output folder exists and --force was not given

Warnings about a run's results (not about its input) derive from :class:`SimWarning`:
:class:`ListExhaustedWarning` says the call list ran out before the last shift ended.

Errors that collect several problems keep them in ``problems`` (one line each, in the
form ``file: dotted.key: must be X (got Y)``) so all of them are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CDRFormatError",
    "ListExhaustedWarning",
    "OutputError",
    "OutputExistsError",
    "PlanError",
    "ScenarioError",
    "SimError",
    "SimWarning",
    "SweepError",
]


class SimError(Exception):
    """Base class of every dialsim error caused by input (exit code 2 in the CLI)."""

    def __init__(self, message: str | None = None, problems: Iterable[str] = ()) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        if message is None:
            message = "\n".join(self.problems) if self.problems else type(self).__name__
        super().__init__(message)


class ScenarioError(SimError):
    """A scenario file, or an override applied to it, is malformed."""


class PlanError(SimError):
    """A billing-plan file is malformed."""


class CDRFormatError(SimError):
    """A CDR file cannot be read, or (under ``strict``) one of its rows was rejected."""


class SweepError(SimError):
    """A sweep's grid, ranges or options are malformed."""


class OutputError(SimError):
    """An output location cannot be written: read-only, not a folder, no permission."""


class OutputExistsError(OutputError):
    """The output folder already exists and overwriting was not allowed."""


class SimWarning(UserWarning):
    """A run's results need a caution (the run itself succeeded)."""


class ListExhaustedWarning(SimWarning):
    """The call list ran out before the campaign's last shift ended: agents sat idle, so
    per-hour KPIs and occupancy are diluted (``sim.run`` warns; the CLI prints a note)."""
