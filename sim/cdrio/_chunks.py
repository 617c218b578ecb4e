"""Reading a CDR file chunk by chunk: :func:`iter_cdrs`.

A file of tens of millions of calls need not be held whole to be rated
(:func:`sim.billing.rate_chunks`): a Parquet file is read one row group at a time, and
a native CSV with its sidecar one block of lines at a time (the reader's own blocks,
checks and derivations, :mod:`._read`), each in memory bounded by ``rows`` and a
block. Other CSVs (foreign exports, native files without a sidecar) are read whole
by :func:`read_cdrs` -- their epoch is the first call's day and their call ids their
positions, known only from the whole file -- and then handed out in slices: the
same chunks, not bounded memory. Convert such a file to Parquet once
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
from ._options import option
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
        ``excluded`` (reason -> rows), ``rejected`` (how many) and, for a CSV,
        ``rejections`` (each with its line and reason) and ``notes``: every row is
        accounted for (rows read = accepted + rejected + excluded).
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
            raise CDRFormatError(f"{path}: {', '.join(map(option, unsupported))}: not used "
                                 "for a Parquet CDR table")
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
    if set(options) <= {"format", "where", "strict"} and options.get("format") in (None,
                                                                                "native"):
        native = _iter_native(path, rows, direction, account, **options)
        if native is not None:
            yield from native
            return
    from ._read import read_cdrs

    imported = read_cdrs(path, direction=direction, **options)  # type: ignore[arg-type]
    table, report = imported.cdrs, imported.report
    if account is not None:
        account.update(rows_read=report.rows_read, accepted=report.accepted,
                       rejected=len(report.rejected), excluded=dict(report.excluded),
                       rejections=list(report.rejected), notes=dict.fromkeys(report.notes))
    for lo in range(0, len(table), rows):
        yield table.select(np.arange(lo, min(lo + rows, len(table))))


def _iter_native(path: Path, rows: int, direction: str, account: dict[str, Any] | None,
                 *, format: str | None = None, where: Any = (), strict: bool = False
                 ) -> Iterator[CDRTable] | None:
    """A native CSV with its sidecar (zone, epoch) and call ids, chunk by chunk through
    the reader's own blocks; None for any other file (then read whole)."""
    from ._build import Assembler, RowChecks, derive
    from ._direction import OUT, parse_where
    from ._read import _comment_meta, _detect, _json, _setup_header, split_head
    from ._report import Rejections
    from ._sidecar import read_sidecar
    from ._text import Block, gc_paused, iter_blocks
    from ._values import Factorizer

    if path.is_dir() or not path.is_file():
        return None
    rej = Rejections(str(path), strict)
    comments, content = split_head(path)
    if not content or (format is None and _detect(path, content) != "native"):
        return None
    file_meta: dict[str, Any] = {**_comment_meta(comments), **read_sidecar(path, rej)}
    asm = Assembler()
    setup = _setup_header(path, "native", None, content, file_meta, None, rej, asm)
    if setup.epoch is None or "call_id" not in setup.mapping:
        return None  # epoch and call ids would come from the whole file
    selection = Selection(direction, parse_where(str(path), where, setup.names,
                                                 setup.names_from))
    meta: dict[str, Any] = {}
    loaded = _json(file_meta.get("meta"), "meta", rej)
    if isinstance(loaded, dict):
        meta.update(loaded)
    meta.update(source=str(path), source_format="native")
    tally = {} if account is None else account
    tally.update(rows_read=0, accepted=0, rejected=0, excluded=selection.excluded,
                 rejections=rej.items, notes={})

    def flush() -> CDRTable:
        table = asm.finish(tz=setup.zone.key, epoch=setup.epoch, meta=dict(meta),
                           vocabularies=setup.vocabularies, transforms=setup.transforms)
        tally["accepted"] += len(table)
        asm.blocks, asm.sizes, asm.n = [], [], 0
        asm.factorizers = {k: Factorizer() for k in asm.factorizers}
        return table

    def chunks() -> Iterator[CDRTable]:
        for block in iter_blocks(path, rej, setup.first_line):
            assert isinstance(block, Block)
            before = len(rej.items)
            with gc_paused():
                if not block.rows:
                    rej.check_strict()
                    continue
                checks = RowChecks(block.lines, rej)
                raw = setup.converter(block.rows, checks)
                derive(raw, checks, rej)
                if "direction" not in raw:
                    raw["direction"] = np.full(len(checks.lines), OUT, dtype=np.int8)
                raw["direction"] = np.where(raw["direction"] < 0, OUT, raw["direction"]
                                            ).astype(np.int8)
                keep = selection.keep(raw["direction"], block.rows, ~checks.bad)
                asm.add(raw, keep)
                rej.check_strict()
            tally["rejected"] += len(rej.items) - before
            tally["rows_read"] = (tally["accepted"] + asm.n + tally["rejected"]
                                  + sum(selection.excluded.values()))
            while asm.n >= rows:
                table = flush()
                for lo in range(0, len(table), rows):
                    yield _view(table, lo, lo + rows)
        tally["notes"] = dict.fromkeys(rej.notes())
        if asm.n:
            yield flush()

    return chunks()


def _view(t: CDRTable, lo: int, hi: int) -> CDRTable:
    if lo == 0 and hi >= len(t):
        return t
    return CDRTable({k: v[lo:hi] for k, v in t.columns.items()}, t.categories, t.epoch,
                    t.tz, t.meta)
