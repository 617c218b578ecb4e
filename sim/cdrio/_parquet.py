"""CDR tables as Parquet: columnar, compressed, read back losslessly, chunk by chunk.

A campaign of tens of millions of calls is too big for CSV to be convenient (a few
hundred bytes a row, parsed text); Parquet stores the same columns at a few dozen bytes
a row and is read by pandas, polars, DuckDB and Spark as it is. Needs pyarrow (the
``[parquet]`` extra: ``pip install 'dialsim[parquet]'``).

Layout
------
One Parquet column per CDR column (:data:`sim.cdr.COLUMNS`), zstd-compressed (a fifth
smaller than snappy, and faster to read), in row groups of :data:`ROW_GROUP` rows, so
that a reader takes one group at a time (:func:`iter_parquet`) with bounded memory.
Times stay float64 seconds from the epoch (NaN = did not happen), ints and bools as
they are, categorical columns as Parquet dictionary columns of their labels (pandas
reads them as categoricals). The file's key-value metadata (the footer's:
``pyarrow.parquet.ParquetFile(path).metadata.metadata``) ``dialsim`` holds JSON:
``format``, ``version``, ``rows``, ``tz``, ``epoch``, ``categories`` (the label order of
each open category, so codes survive a round trip) and the table's JSON-able ``meta``
-- what the sidecar holds for a CSV.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..cdr import COLUMNS, DIRECTIONS, CDRTable
from ..errors import CDRFormatError
from ..output import atomic_write, end_atomic
from ._fields import OPEN_CATEGORIES
from ._options import option
from ._sidecar import _json_able

__all__ = ["FORMAT", "MAGIC", "ROW_GROUP", "AgentParquetWriter", "ParquetCDRWriter",
           "is_parquet", "iter_parquet",
           "read_parquet", "write_agent_parquet", "write_parquet"]

MAGIC = b"PAR1"
FORMAT = "dialsim CDR table"
VERSION = 1
#: Rows per row group: what a chunked reader holds at once (about 8 MB of columns).
ROW_GROUP = 1 << 16
_KEY = b"dialsim"


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise CDRFormatError("Parquet CDRs need pyarrow: pip install 'dialsim[parquet]'"
                             ) from exc
    return pa, pq


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` starts with the Parquet magic bytes ``PAR1``."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


# -- writing ---------------------------------------------------------------------------
def _metadata(rows: int, tz: str, epoch: str, categories: dict[str, list[str]],
              meta: Any) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, "rows": rows, "tz": tz,
                       "epoch": epoch, "categories": categories, "meta": _json_able(meta)},
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


class ParquetCDRWriter:
    """Write CDR tables to one Parquet file as they arrive, in row groups.

    Chunks must share their epoch and zone; their open categories are merged (labels
    in order of first appearance) and the file's metadata (zone, epoch, categories,
    the first chunk's meta) is written at :meth:`close`. The file appears under its
    name only when closed without error (written to a temporary name, then renamed).

    Parameters
    ----------
    path
        The Parquet file.
    row_group
        Rows per row group (chunks are cut to it).
    """

    def __init__(self, path: str | Path, *, row_group: int = ROW_GROUP) -> None:
        self.pa, self.pq = _pyarrow()
        self.path = Path(path)
        self.row_group = row_group
        self.rows = 0
        self.first: CDRTable | None = None
        self.categories: dict[str, dict[str, None]] = {n: {"": None} for n in OPEN_CATEGORIES}
        self._fields = [self.pa.field(c.name, self.pa.dictionary(
            self.pa.from_numpy_dtype(np.dtype(c.dtype)), self.pa.string()))
            if c.kind == "cat" else self.pa.field(c.name, self.pa.from_numpy_dtype(
                np.dtype(c.dtype))) for c in COLUMNS]
        self.schema = self.pa.schema(self._fields)
        self._file = atomic_write(self.path, "wb")
        self._fh = self._file.__enter__()
        self._writer = self.pq.ParquetWriter(self._fh, self.schema, compression="zstd")
        self._held: list[tuple[CDRTable, int, int]] = []  # pieces of the next row group
        self._held_rows = 0

    def write(self, cdrs: CDRTable) -> None:
        """Append the rows of ``cdrs`` (held until they fill a row group)."""
        if self.first is None:
            self.first = cdrs
        elif (cdrs.epoch, cdrs.tz) != (self.first.epoch, self.first.tz):
            raise CDRFormatError(f"{self.path}: a chunk's epoch/zone ({cdrs.epoch}, "
                                 f"{cdrs.tz}) differs from the first's ({self.first.epoch}, "
                                 f"{self.first.tz})")
        for name in OPEN_CATEGORIES:
            self.categories[name].update(dict.fromkeys(cdrs.vocabulary(name)))
        n, pos = len(cdrs), 0
        while pos < n:
            take = min(self.row_group - self._held_rows, n - pos)
            self._held.append((cdrs, pos, pos + take))
            self._held_rows += take
            pos += take
            if self._held_rows == self.row_group:
                self._write_group()
        self.rows += n

    def _write_group(self) -> None:
        """Write the rows held as one row group.

        A categorical column's dictionary is the group's own labels in order of first
        appearance (codes are per table, labels are not): the same rows give the same
        bytes however they were cut into tables, and a group does not carry the labels
        of the whole table (thousands of numbers).
        """
        pa = self.pa
        held, self._held, self._held_rows = self._held, [], 0
        if not held:
            return
        arrays = []
        for c in COLUMNS:
            parts = [t[c.name][lo:hi] for t, lo, hi in held]
            if c.kind != "cat":
                arrays.append(pa.array(parts[0] if len(parts) == 1 else np.concatenate(parts)))
                continue
            joint: dict[str, int] = {}
            index = []
            for (t, _, _), codes in zip(held, parts, strict=True):
                vocab = t.vocabulary(c.name)
                uniq, first = np.unique(codes, return_index=True)
                seen = uniq[np.argsort(first, kind="stable")]  # by first appearance
                remap = np.zeros(max(len(vocab), 1), dtype=np.int64)
                for code in seen.tolist():
                    remap[code] = joint.setdefault(vocab[code], len(joint))
                index.append(remap[codes])
            idx = np.concatenate(index).astype(c.dtype)
            arrays.append(pa.DictionaryArray.from_arrays(
                pa.array(idx), pa.array(list(joint), pa.string())))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema),
                                 row_group_size=self.row_group)

    def close(self, error: BaseException | None = None, *,
              categories: dict[str, tuple[str, ...]] | None = None) -> None:
        """Write the last row group, the metadata and the footer, and rename the file
        into place (or, after an ``error``, remove the temporary file).

        ``categories``: the open categories' label order to record (default: the
        chunks' merged in order of first appearance), e.g. a streaming run's, which
        knows the whole table's order only at the end.
        """
        if error is None:
            try:
                self._write_group()
            except BaseException as exc:
                error = exc
        if error is None:
            first = self.first
            cats = {n: list(v) for n, v in self.categories.items()}
            if categories is not None:
                cats.update({n: list(categories[n]) for n in OPEN_CATEGORIES
                             if n in categories})
            self._writer.add_key_value_metadata({_KEY: _metadata(
                self.rows, first.tz if first is not None else "UTC",
                first.epoch if first is not None else "1970-01-01T00:00:00", cats,
                first.meta if first is not None else {})})
        try:
            self._writer.close()
        except BaseException as exc:
            error = error or exc
        end_atomic(self._file, error)

    def __enter__(self) -> ParquetCDRWriter:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)


def write_parquet(cdrs: CDRTable, path: str | Path, *, row_group: int = ROW_GROUP) -> None:
    """Write ``cdrs`` to ``path`` as Parquet in row groups of ``row_group`` rows,
    atomically (temporary name, then rename). See the module docstring."""
    with ParquetCDRWriter(path, row_group=row_group) as writer:
        writer.write(cdrs)


def write_agent_parquet(log: Any, path: str | Path, *, row_group: int = ROW_GROUP) -> None:
    """The agent log as Parquet: the columns of ``agents.csv`` (agent_id, state as a
    dictionary column of :data:`sim.agentlog.AGENT_STATES`, start_s, end_s, duration_s:
    seconds from the campaign epoch), in row groups, atomically."""
    with AgentParquetWriter(path, row_group=row_group) as writer:
        writer.write(log)


class AgentParquetWriter:
    """agents.parquet written chunk by chunk (a streamed run's agent log:
    :class:`sim.model.agentstream.AgentLogStream`, ``write`` its sink). Rows are held
    until a row group is full, so the file is the same however the log was cut;
    :meth:`close` writes the rest and renames the file into place."""

    def __init__(self, path: str | Path, *, row_group: int = ROW_GROUP) -> None:
        from ..agentlog import AGENT_STATES

        pa, pq = _pyarrow()
        self.pa, self.row_group = pa, row_group
        self.states = pa.array(list(AGENT_STATES), pa.string())
        self.schema = pa.schema(
            [("agent_id", pa.int32()), ("state", pa.dictionary(pa.int8(), pa.string())),
             ("start_s", pa.float64()), ("end_s", pa.float64()), ("duration_s", pa.float64())],
            metadata={_KEY: json.dumps({"format": "dialsim agent log",
                                        "version": VERSION}).encode()})
        self.rows = 0
        self._held: list[tuple[np.ndarray, ...]] = []
        self._held_rows = 0
        self._file = atomic_write(path, "wb")
        fh = self._file.__enter__()
        try:
            self._writer = pq.ParquetWriter(fh, self.schema, compression="zstd")
        except BaseException as exc:
            self._file.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def write(self, log: Any) -> None:
        """Append the rows of ``log``; write each row group once it is full."""
        cols = (np.asarray(log.agent_id, dtype=np.int32), np.asarray(log.state, dtype=np.int8),
                np.asarray(log.start, dtype=float), np.asarray(log.end, dtype=float))
        lo = 0
        while lo < len(cols[0]):
            take = min(self.row_group - self._held_rows, len(cols[0]) - lo)
            self._held.append(tuple(c[lo:lo + take] for c in cols))
            self._held_rows += take
            lo += take
            if self._held_rows == self.row_group:
                self._group()
        self.rows += len(cols[0])

    def _group(self) -> None:
        pa = self.pa
        held, self._held, self._held_rows = self._held, [], 0
        if held:
            agent, state, start, end = (np.concatenate(c) for c in zip(*held, strict=True))
        else:  # an empty log
            agent, state = np.zeros(0, np.int32), np.zeros(0, np.int8)
            start = end = np.zeros(0)
        arrays = [pa.array(agent), pa.DictionaryArray.from_arrays(pa.array(state), self.states),
                  pa.array(start), pa.array(end), pa.array(end - start)]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema),
                                 row_group_size=self.row_group)

    def close(self, error: BaseException | None = None) -> None:
        """Write the last row group (an empty log: one empty group) and the footer, and
        rename the file into place (or, after an ``error``, remove it)."""
        if error is None and (self._held_rows or not self.rows):
            try:
                self._group()
            except BaseException as exc:
                error = exc
        try:
            self._writer.close()
        except BaseException as exc:
            error = error or exc
        end_atomic(self._file, error)

    def __enter__(self) -> AgentParquetWriter:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)


# -- reading ---------------------------------------------------------------------------
class _File:
    """An open Parquet CDR file: its metadata checked, its row groups readable."""

    def __init__(self, path: Path) -> None:
        pa, pq = _pyarrow()
        self.path = path
        self.errors = (pa.ArrowException, OSError, ValueError)
        try:
            # no pre-buffering: iter_batches and pre_buffer=True read the whole file
            # into memory first (measured: RSS grew with the file)
            self.pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
            raw = (self.pf.metadata.metadata or {}).get(_KEY)
        except self.errors as exc:
            raise CDRFormatError(f"{path}: not a readable Parquet file (truncated or "
                                 f"corrupt?): {exc}") from exc
        try:
            meta = json.loads(raw.decode("utf-8")) if raw is not None else None
        except ValueError:
            meta = None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CDRFormatError(f"{path}: a Parquet file, but not a dialsim CDR table (no "
                                 f"'dialsim' metadata naming {FORMAT!r}); convert it to CSV "
                                 "and read it with a mapping")
        names = set(self.pf.schema_arrow.names)
        missing = [c.name for c in COLUMNS if c.name not in names]
        if missing:
            raise CDRFormatError(f"{path}: Parquet CDR table lacks columns "
                                 f"{', '.join(missing)}")
        self.tz = str(meta.get("tz", "UTC"))
        self.epoch = str(meta.get("epoch", "1970-01-01T00:00:00"))
        given = meta.get("meta")
        self.meta: dict[str, Any] = given if isinstance(given, dict) else {}
        found = meta.get("categories")
        cats: dict[str, Any] = found if isinstance(found, dict) else {}
        self.categories: dict[str, tuple[str, ...]] = {}
        for name in OPEN_CATEGORIES:
            labels = cats.get(name)
            if not (isinstance(labels, list) and labels and labels[0] == ""
                    and all(isinstance(x, str) for x in labels)):
                raise CDRFormatError(f"{path}: metadata categories.{name} must be a list "
                                     "of labels starting with ''")
            self.categories[name] = tuple(labels)
        self.rows = int(self.pf.metadata.num_rows)
        self.groups = int(self.pf.num_row_groups)

    def table(self, arrow: Any, first_row: int) -> CDRTable:
        """The CDR table of an arrow table/batch of this file (rows from ``first_row``)."""
        cols = {c.name: self.array(arrow.column(c.name), c, first_row) for c in COLUMNS}
        return CDRTable(cols, self.categories, self.epoch, self.tz, dict(self.meta))

    def array(self, col: Any, c: Any, first_row: int) -> np.ndarray:
        """CDR column ``c`` (a :class:`sim.cdr.Column`) of the arrow column ``col``:
        as stored, or codes into the column's vocabulary for a categorical one."""
        if c.kind != "cat":
            a: np.ndarray = col.to_numpy(zero_copy_only=False)
            if a.dtype != np.dtype(c.dtype):
                raise CDRFormatError(f"{self.path}: column {c.name}: type {a.dtype}, "
                                     f"expected {c.dtype}")
            return a
        vocab = c.vocabulary if c.vocabulary is not None else self.categories[c.name]
        code = {lab: i for i, lab in enumerate(vocab)}
        out = np.zeros(len(col), dtype=c.dtype)
        pos = 0
        for chunk in col.chunks if hasattr(col, "chunks") else [col]:
            if chunk.null_count:
                raise CDRFormatError(f"{self.path}: column {c.name}: null labels near "
                                     f"row {first_row + pos + 1}")
            labels = chunk.dictionary.to_pylist()
            unknown = [lab for lab in labels if lab not in code]
            if unknown:
                raise CDRFormatError(f"{self.path}: column {c.name}: label "
                                     f"{unknown[0]!r} is not in the file's categories")
            remap = np.array([code[lab] for lab in labels] or [0], dtype=c.dtype)
            idx = chunk.indices.to_numpy(zero_copy_only=False)
            out[pos:pos + len(idx)] = remap[idx]
            pos += len(idx)
        return out

    def groups_of(self, rows: int) -> Iterator[CDRTable]:
        """The file in tables of at most ``rows`` rows: one row group at a time, cut."""
        done = 0
        for g in range(self.groups):
            try:
                arrow = self.pf.read_row_group(g)
            except self.errors as exc:
                raise CDRFormatError(f"{self.path}: Parquet row group {g + 1} of "
                                     f"{self.groups} unreadable, after row {done} (truncated "
                                     f"or corrupt?): {exc}") from exc
            for lo in range(0, arrow.num_rows, max(1, rows)):
                part = arrow.slice(lo, rows)
                yield self.table(part, done)
                done += part.num_rows
            del arrow
        if done != self.rows:
            raise CDRFormatError(f"{self.path}: Parquet file holds {done} rows, its "
                                 f"footer says {self.rows}")


def iter_parquet(path: str | Path, rows: int = ROW_GROUP) -> Iterator[CDRTable]:
    """The CDR tables of a Parquet file, at most ``rows`` rows each (a row group
    boundary ends a chunk early),
    every one with the file's zone, epoch and categories."""
    yield from _File(Path(path)).groups_of(rows)


def read_parquet(path: str | Path, *, direction: str = "outbound",
                 where: Sequence[str] = (), tz: str | None = None) -> Any:
    """Read a whole Parquet CDR file as a :class:`~sim.cdrio.CDRImport`.

    The legs kept follow ``direction`` as for CSV files (rows excluded are counted in
    the report); ``where`` terms are not supported for Parquet (they name a CSV
    export's own columns). ``tz`` must be absent or the file's own zone: a Parquet
    table's times are already seconds in its zone.
    """
    from ._direction import Selection
    from ._report import CDRImport, ImportReport

    path = Path(path)
    if where:
        raise CDRFormatError(f"{path}: {option('where')} select a CSV export's own columns; a "
                             "Parquet CDR table has none: filter the table instead")
    f = _File(path)
    if tz is not None and tz != f.tz:
        raise CDRFormatError(f"{path}: {option('tz', tz)} given, but the Parquet table's "
                             f"times are in {f.tz!r} (its metadata); leave it out")
    parts = list(f.groups_of(ROW_GROUP))
    table = (CDRTable.concat(parts) if parts else
             f.table(f.pf.schema_arrow.empty_table(), 0))
    table = CDRTable(table.columns, f.categories, f.epoch, f.tz, dict(f.meta))
    selection = Selection(direction, [])
    direc = table["direction"]
    keep = selection.keep(direc, None, np.ones(len(table), dtype=bool))
    lines = np.arange(1, len(table) + 1, dtype=np.int64)
    if not keep.all():
        table, lines = table.select(keep), lines[keep]
    table = table.with_meta(source=str(path), source_format="parquet")
    excluded = tuple(selection.excluded.items())
    warnings: tuple[str, ...] = ()
    if selection.unknown_kept:
        warnings = (f"direction unknown for {selection.unknown_kept:,} rows: priced as if "
                    "outbound",)
    report = ImportReport(
        str(path), "parquet", f.rows, len(table), (),
        (f"zone, epoch, category order and meta read from the Parquet metadata; "
         f"{f.groups} row groups",), (), f.tz, f.epoch, excluded=excluded,
        directions=tuple((lab, int(k)) for lab, k in zip(DIRECTIONS, selection.seen,
                                                        strict=True) if k),
        selected=direction, warnings=warnings)
    return CDRImport(table, report, lines, table["call_id"].copy())
