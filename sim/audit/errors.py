"""The audit's input error (a :class:`~sim.errors.SimError`: the CLI exits 2)."""

from __future__ import annotations

from sim.errors import SimError

__all__ = ["AuditError"]


class AuditError(SimError):
    """The two sides cannot be audited: no overlap, currencies differ, a charge is
    unreadable, ..."""
