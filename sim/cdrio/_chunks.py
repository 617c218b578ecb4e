"""Reading a CDR file chunk by chunk: :func:`iter_cdrs`.

A file of tens of millions of calls need not be held whole to be rated
(:func:`sim.billing.rate_chunks`): a Parquet file is read one batch of row groups at a
time, in memory bounded by ``rows``. CSV exports are read whole by :func:`read_cdrs` (its
checks, derivations and import report span the file) and then handed out in slices:
the same chunks, but not yet bounded memory -- convert a large CSV to Parquet once
(``sim.write_cdrs(sim.read_cdrs(path).cdrs, "calls.parquet", format="parquet")``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..cdr import CDRTable
from ..errors import CDRFormatError
from ._direction import Selection
from ._parquet import ROW_GROUP, is_parquet, iter_parquet

__all__ = ["iter_cdrs"]


def iter_cdrs(path: str | Path, rows: int = ROW_GROUP, *, direction: str = "outbound",
              account: dict[str, Any] | None = None, **options: Any) -> Iterator[CDRTable]:
    """The CDRs of ``path`` as tables of at most ``rows`` rows, in file order.

    Parameters
    ----------
    path
        A Parquet CDR file (read ``rows`` at a time: memory bounded by ``rows``), or
        any CSV :func:`~sim.cdrio.read_cdrs` reads (read whole, then sliced).
    rows
        Rows per chunk (>= 1). Chunks hold ``rows`` rows of the file; for Parquet, the
        legs not selected by ``direction`` are then left out, so a chunk may be shorter.
    direction
        Legs kept, as for :func:`~sim.cdrio.read_cdrs`.
    account
        If given, filled as the chunks are read: ``rows_read``, ``accepted``,
        ``excluded`` (reason -> rows) and ``rejected`` (CSV: the import's rejections),
        so that every row is accounted for (rows read = accepted + rejected + excluded).
    options
        Further :func:`~sim.cdrio.read_cdrs` options (CSV files only).

    Yields
    ------
    CDRTable
        Every chunk has the file's zone, epoch and categories.
    """
    if rows < 1:
        raise ValueError(f"rows: must be >= 1 (got {rows})")
    path = Path(path)
    if is_parquet(path) or options.get("format") == "parquet":
        unsupported = sorted(k for k, v in options.items()
                             if v not in (None, (), [], False, "auto", "parquet"))
        if unsupported:
            raise CDRFormatError(f"{path}: {', '.join(unsupported)}: not used for a Parquet "
                                 "CDR table")
        selection = Selection(direction, [])
        account = {} if account is None else account
        account.update(rows_read=0, accepted=0, rejected=0, excluded=selection.excluded)
        for chunk in iter_parquet(path, rows):
            keep = selection.keep(chunk["direction"], None, np.ones(len(chunk), dtype=bool))
            account["rows_read"] += len(chunk)
            if not keep.all():
                chunk = chunk.select(keep)
            account["accepted"] += len(chunk)
            yield chunk
        return
    from ._read import read_cdrs

    imported = read_cdrs(path, direction=direction, **options)  # type: ignore[arg-type]
    table, report = imported.cdrs, imported.report
    if account is not None:
        account.update(rows_read=report.rows_read, accepted=report.accepted,
                       rejected=len(report.rejected), excluded=dict(report.excluded))
    for lo in range(0, len(table), rows):
        yield table.select(np.arange(lo, min(lo + rows, len(table))))
