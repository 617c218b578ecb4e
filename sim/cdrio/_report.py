"""What an import did with every row: accepted, or rejected with its line and reason.

A CDR import is an audit as much as a parse: a business that prices its own traffic has
to see that nothing was dropped. The report therefore keeps the invariant
``rows_read == accepted + len(rejected)``, names each rejected row by its 1-based line
in the file, and carries one-off notes about the file (quirks seen, values derived,
assumptions made) so the user can judge the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        if self.rows_read != self.accepted + len(self.rejected):
            raise ValueError(f"import report of {self.path}: rows_read {self.rows_read} != "
                             f"accepted {self.accepted} + rejected {len(self.rejected)}")

    def summary(self, max_rejections: int = 10) -> str:
        """Human-readable account: counts, the first ``max_rejections`` rejections, notes."""
        lines = [f"{self.path}: {self.format} CDRs, {self.rows_read} rows read, "
                 f"{self.accepted} accepted, {len(self.rejected)} rejected "
                 f"(tz {self.tz}, epoch {self.epoch})"]
        for rej in self.rejected[:max_rejections]:
            lines.append(f"  rejected {rej}")
        if len(self.rejected) > max_rejections:
            lines.append(f"  ... and {len(self.rejected) - max_rejections} more rejected rows")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CDRImport:
    """A CDR table read from a file, with the report of what happened to each row."""

    cdrs: CDRTable
    report: ImportReport


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
