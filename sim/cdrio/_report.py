"""What an import did with every row: accepted, or rejected with its line and reason.

A CDR import is an audit as much as a parse: a business that prices its own traffic has
to see that nothing was dropped. The report therefore keeps the invariant
``rows_read == accepted + len(rejected) + excluded`` (rows left out on purpose: legs of
a direction not selected, rows not matching a ``where`` term, each group counted with
its reason), names each rejected row by its 1-based line in the file, and carries
one-off notes about the file (quirks seen, values derived, assumptions made)
so the user can judge the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cdr import CDRTable
from ..errors import CDRFormatError

__all__ = ["CDRImport", "ImportReport", "Rejection", "Rejections"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """One row that was not imported.

    Parameters
    ----------
    line
        1-based physical line of the row in the file.
    reason
        Why: the column, what was expected and what was found.
    """

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Outcome of reading one CDR file.

    Parameters
    ----------
    path
        The file read.
    format
        Format used: ``native``, ``asterisk``, ``freeswitch`` or ``mapped``.
    rows_read
        Records found (blank lines and header/comment lines are not records).
    accepted
        Rows in the resulting table.
    rejected
        The other rows, in file order, each with its line and reason.
    notes
        One line per file-level remark: quirks seen, derived values, assumptions.
    mapping
        ``(our column, file column)`` pairs used, for header CSVs.
    tz, epoch
        Time zone and epoch of the resulting table.
    excluded
        ``(reason, rows)`` of the rows left out by the selection (direction, where).
    directions
        ``(direction, rows)`` among the readable rows (accepted or excluded).
    selected
        The direction selected: ``outbound``, ``inbound``, ``internal`` or ``all``.
    warnings
        What the user must know before trusting the result (e.g. rows whose
        direction cannot be told, priced anyway).
    """

    path: str
    format: str
    rows_read: int
    accepted: int
    rejected: tuple[Rejection, ...]
    notes: tuple[str, ...] = ()
    mapping: tuple[tuple[str, str], ...] = ()
    tz: str = "UTC"
    epoch: str = "1970-01-01T00:00:00"
    excluded: tuple[tuple[str, int], ...] = ()
    directions: tuple[tuple[str, int], ...] = ()
    selected: str = "all"
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rows_read != self.accepted + len(self.rejected) + self.n_excluded:
            raise ValueError(f"import report of {self.path}: rows_read {self.rows_read} != "
                             f"accepted {self.accepted} + rejected {len(self.rejected)} "
                             f"+ excluded {self.n_excluded}")

    @property
    def n_excluded(self) -> int:
        """Rows left out by the selection."""
        return sum(n for _, n in self.excluded)

    def counts_line(self) -> str:
        """``N rows read = A accepted + R rejected + E excluded``."""
        return (f"{self.rows_read:,} rows read = {self.accepted:,} accepted + "
                f"{len(self.rejected):,} rejected + {self.n_excluded:,} excluded")

    def to_dict(self, max_rejections: int | None = None) -> dict[str, Any]:
        """The report as JSON-able data (all rejections unless ``max_rejections``)."""
        rejected = self.rejected if max_rejections is None else self.rejected[:max_rejections]
        return {
            "path": self.path, "format": self.format, "rows_read": self.rows_read,
            "accepted": self.accepted, "rejected": len(self.rejected),
            "excluded": self.n_excluded, "selected_direction": self.selected,
            "excluded_by_reason": [{"reason": r, "rows": n} for r, n in self.excluded],
            "directions": dict(self.directions), "warnings": list(self.warnings),
            "notes": list(self.notes), "mapping": dict(self.mapping), "tz": self.tz,
            "epoch": self.epoch,
            "rejections": [{"line": r.line, "reason": r.reason} for r in rejected],
        }

    def summary(self, max_rejections: int = 10) -> str:
        """Human-readable account: counts, the first ``max_rejections`` rejections, notes."""
        lines = [f"{self.path}: {self.format} CDRs, {self.rows_read} rows read, "
                 f"{self.accepted} accepted, {len(self.rejected)} rejected, "
                 f"{self.n_excluded} excluded (tz {self.tz}, epoch {self.epoch})"]
        lines.extend(f"  WARNING: {w}" for w in self.warnings)
        lines.extend(f"  excluded {n} rows: {r}" for r, n in self.excluded)
        for rej in self.rejected[:max_rejections]:
            lines.append(f"  rejected {rej}")
        if len(self.rejected) > max_rejections:
            lines.append(f"  ... and {len(self.rejected) - max_rejections} more rejected rows")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CDRImport:
    """A CDR table read from a file, with the report of what happened to each row.

    ``source_line`` (int64) is the 1-based file line of each row of ``cdrs`` and
    ``source_id`` the export's own call id of that row (``uniqueid``, ``Unique ID``,
    ``uuid``, ``AcctId``; ``''`` where the file has none; for dialsim's own files the
    call_id), so results join back to the export on ``(source_line, source_id)``.
    """

    cdrs: CDRTable
    report: ImportReport
    source_line: np.ndarray | None = None
    source_id: np.ndarray | None = None


@dataclass(slots=True)
class Rejections:
    """Collects rejections and notes while a file is read; raises early under ``strict``.

    Parameters
    ----------
    path
        File being read (named in every error).
    strict
        Raise :class:`CDRFormatError` at the first rejected row.
    """

    path: str
    strict: bool = False
    items: list[Rejection] = field(default_factory=list)
    entries: dict[str, int | None] = field(default_factory=dict)

    def note(self, text: str) -> None:
        """Record a file-level remark once."""
        self.entries.setdefault(text, None)

    def tally(self, template: str, count: int) -> None:
        """Add ``count`` to a remark counted over the whole file; ``template`` holds
        ``{n}`` for the total."""
        if count:
            self.entries[template] = (self.entries.get(template) or 0) + int(count)

    def notes(self) -> tuple[str, ...]:
        """All remarks, counted ones with their totals, in order of first occurrence."""
        return tuple(t if k is None else t.format(n=k) for t, k in self.entries.items())

    def add(self, line: int, reason: str) -> None:
        """Reject one row."""
        self.items.append(Rejection(int(line), reason))

    def add_rows(self, lines: np.ndarray, reasons: Iterable[str]) -> None:
        """Reject several rows (``lines`` 1-based, one reason each)."""
        self.items.extend(Rejection(int(ln), r) for ln, r in zip(lines, reasons, strict=True))

    def check_strict(self) -> None:
        """Under ``strict``, raise for the earliest rejection collected so far."""
        if self.strict and self.items:
            first = min(self.items, key=lambda r: r.line)
            raise CDRFormatError(f"{self.path}:{first.line}: row rejected: {first.reason} "
                                 "(strict mode: no rejected rows allowed)")

    def sorted(self) -> tuple[Rejection, ...]:
        """All rejections in file order."""
        return tuple(sorted(self.items, key=lambda r: r.line))
