"""A CDR table left in its file: what a large streamed run gives as ``result.cdrs``.

``sim.run(scenario, seed, keep_cdrs=False, cdr_file="calls.parquet")`` writes the run's
CDRs chunk by chunk (Parquet for a ``.parquet`` name, else native CSV with its sidecar)
and keeps no per-call array; ``result.cdrs`` is then a :class:`CDRFile`::

    cdrs = result.cdrs                  # sim.CDRFile: nothing read yet
    len(cdrs), cdrs.tz, cdrs.categories # known from the run (or the file's metadata)
    for chunk in cdrs.chunks(rows=65536):   # CDRTables, memory bounded by a chunk
        ...
    talk = cdrs["talk_s"]               # one column (Parquet reads only that column)
    table = cdrs.load()                 # the whole CDRTable
    rating = sim.rate(cdrs, plans)      # rated chunk by chunk

What it knows without reading: ``path``, ``len()``, ``epoch``, ``tz``, ``categories``,
``meta``, ``vocabulary(name)``. What reads: :meth:`CDRFile.chunks` (bounded memory),
``cdrs[name]`` (Parquet: that column only; native CSV: the whole file is parsed, the
other columns dropped), and the methods that load the whole table first --
:meth:`~CDRFile.load`, :meth:`~CDRFile.to_pandas`, :meth:`~CDRFile.labels`,
:meth:`~CDRFile.mask`, :attr:`~CDRFile.answered`, :meth:`~CDRFile.select`. Nothing is
cached: each call reads the file again.

Loaded tables carry the file's zone, epoch, categories and meta (the run's
``scenario`` and ``seed``; no ``source`` keys), so a Parquet file loads as the
in-memory run's table bit for bit. Native CSV keeps times and durations to the
microsecond: its float columns are the in-memory run's rounded to the µs (the rest
exact), as for any native file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cdr import COLUMNS, CDRTable, column

__all__ = ["CDRFile", "CDRFileSink"]

#: Rows per chunk of :meth:`CDRFile.chunks` (a Parquet row group).
CHUNK_ROWS = 1 << 16


@dataclass(frozen=True, eq=False)
class CDRFile:
    """A read-only CDR table over a file, read on demand (see the module docstring).

    Built by :func:`sim.run` with what the run knew, or from any dialsim Parquet file
    or native CSV by :meth:`open` (from its footer or sidecar, no rows read).
    """

    path: Path
    rows: int
    epoch: str
    tz: str
    categories: Mapping[str, tuple[str, ...]]
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: "parquet" or "native".
    format: str = "native"

    @classmethod
    def open(cls, path: str | Path) -> CDRFile:
        """The CDR file ``path``, from its Parquet metadata or native sidecar only.

        Raises :class:`~sim.errors.CDRFormatError` for a file that is neither (a
        foreign export: read it with :func:`sim.read_cdrs`).
        """
        from .cdrio._fields import OPEN_CATEGORIES
        from .cdrio._parquet import _File, is_parquet
        from .cdrio._sidecar import sidecar_path
        from .errors import CDRFormatError

        path = Path(path)
        if is_parquet(path):
            f = _File(path)
            return cls(path, f.rows, f.epoch, f.tz, dict(f.categories), dict(f.meta),
                       "parquet")
        side = sidecar_path(path)
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            csv = data["csv"]
            if csv["bytes"] != path.stat().st_size:
                raise ValueError(f"written for a CSV of {csv['bytes']} bytes")
            cats = {n: tuple(data["categories"][n]) for n in OPEN_CATEGORIES}
            return cls(path, int(csv["rows"]), str(data["epoch"]), str(data["tz"]), cats,
                       dict(data.get("meta", {})), "native")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CDRFormatError(f"{path}: not a dialsim Parquet file nor a native CSV "
                                 f"with its sidecar {side.name} ({exc}); read it with "
                                 "sim.read_cdrs") from None

    # -- known without reading ---------------------------------------------------------
    def __len__(self) -> int:
        return self.rows

    def vocabulary(self, name: str) -> tuple[str, ...]:
        """Labels of a categorical column, fixed or the file's."""
        c = column(name)
        if c.kind != "cat":
            raise KeyError(f"{name!r} is not a categorical column")
        return c.vocabulary if c.vocabulary is not None else tuple(self.categories[name])

    @property
    def columns(self) -> Any:
        raise AttributeError(
            f"CDRFile {self.path}: its columns are in the file, not in memory; use "
            "cdrs[name] for one column, cdrs.chunks() to go through it, or cdrs.load() "
            "for the whole CDRTable")

    # -- reading -----------------------------------------------------------------------
    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[CDRTable]:
        """The file's CDRs as tables of at most ``rows`` rows, in order
        (:func:`sim.iter_cdrs`: memory bounded by a chunk, a Parquet row group or a
        native CSV's block)."""
        from .cdrio import iter_cdrs

        meta = dict(self.meta)
        for chunk in iter_cdrs(self.path, rows, direction="all"):
            yield CDRTable(chunk.columns, chunk.categories, chunk.epoch, chunk.tz, dict(meta))

    def __getitem__(self, name: str) -> np.ndarray:
        """One column (Parquet: only it is read; native CSV: the whole file is read)."""
        c = column(name)
        if self.format != "parquet":
            return self.load()[name]
        from .cdrio._parquet import _File

        f = _File(self.path)
        return f.array(f.pf.read(columns=[name]).column(name), c, 0)

    def load(self) -> CDRTable:
        """The whole table (:func:`sim.read_cdrs`), with the file's meta."""
        from .cdrio import read_cdrs

        t = read_cdrs(self.path, direction="all").cdrs
        return CDRTable(t.columns, t.categories, t.epoch, t.tz, dict(self.meta))

    # -- CDRTable's read API, on the loaded table ----------------------------------------
    def to_pandas(self, *, times: str = "datetime") -> Any:
        """:meth:`CDRTable.to_pandas` of the loaded table."""
        return self.load().to_pandas(times=times)

    def labels(self, name: str) -> np.ndarray:
        """:meth:`CDRTable.labels` (reads the column)."""
        return np.asarray(self.vocabulary(name), dtype=object)[self[name]]

    def mask(self, name: str, label: str) -> np.ndarray:
        """:meth:`CDRTable.mask` (reads the column)."""
        vocab = self.vocabulary(name)
        if label not in vocab:
            return np.zeros(len(self), dtype=bool)
        return self[name] == vocab.index(label)

    @property
    def answered(self) -> np.ndarray:
        """:attr:`CDRTable.answered` (reads the disposition column)."""
        return self["disposition"] == 0

    def select(self, rows: np.ndarray) -> CDRTable:
        """:meth:`CDRTable.select` of the loaded table."""
        return self.load().select(rows)

    def rate(self, plans: Any, *, campaign: Any = None) -> Any:
        """:func:`sim.rate` of this file, rated chunk by chunk
        (:class:`sim.billing.chunks.ChunkRater`): the same
        :class:`~sim.billing.Rating` as rating the loaded table -- summaries exact,
        per-call billed seconds and charges kept (a few bytes a call and plan; the CDRs
        are never whole in memory). For the summaries alone, in memory bounded by a
        block: ``sim.rate_chunks(cdrs.chunks(), plans)``."""
        from .billing.chunks import ChunkRater
        from .billing.results import PlanCalls, Rating

        ids: list[np.ndarray] = []
        per: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}

        def keep(block: CDRTable, r: Any) -> None:
            ids.append(block["call_id"].copy())  # not a view holding the chunk
            for name, pc in r.calls.items():
                billed, units = per.setdefault(name, ([], []))
                billed.append(pc.billed_s)
                units.append(pc.units)

        rater = ChunkRater(plans, estimate_campaign=campaign is None, on_block=keep)
        for chunk in self.chunks():
            rater.add(chunk)
        done = rater.finish(campaign)
        calls = {}
        for plan in done.plans:
            billed, units = per.get(plan.name, ([], []))
            calls[plan.name] = PlanCalls(plan=plan, billed_s=_join(billed, np.int32),
                                         units=_join(units, np.int32),
                                         den=rater.dens[plan.name],
                                         billed_total_s=rater.billed[plan.name],
                                         units_total=rater.units[plan.name])
        return Rating(call_id=_join(ids, np.int64), campaign=done.campaign, calls=calls,
                      summaries=done.summaries)

    def __repr__(self) -> str:
        return f"CDRFile({str(self.path)!r}, rows={self.rows:,}, format={self.format!r})"


def _join(parts: list[np.ndarray], empty: Any) -> np.ndarray:
    """The blocks' per-call arrays as one (none: an empty array of ``empty``)."""
    return np.concatenate(parts) if parts else np.zeros(0, empty)


class CDRFileSink:
    """A streamed run's CDRs written to ``path`` as they come (``on_chunk``): Parquet
    for a ``.parquet`` name (:class:`~sim.cdrio._parquet.ParquetCDRWriter`), else
    native CSV and its sidecar (:class:`~sim.cdrio._write.NativeCDRWriter`). Both
    write to a temporary name and rename at :meth:`close`; after an error nothing is
    left under ``path``. An existing ``path`` is refused unless ``force``."""

    def __init__(self, path: str | Path, *, force: bool = False) -> None:
        from .errors import OutputError, OutputExistsError
        from .output import probe_writable

        self.path = Path(path)
        if self.path.is_dir():
            raise OutputError(f"{self.path}: is a folder, expected a CDR file name")
        if self.path.exists() and not force:
            raise OutputExistsError(f"{self.path}: cdr_file already exists; pass "
                                    "force=True to overwrite it or choose another name")
        probe_writable(self.path.parent, self.path)
        #: Whether the writer was closed (by :meth:`finish` or :meth:`abort`).
        self.closed = False
        self.format = "parquet" if self.path.suffix.lower() == ".parquet" else "native"
        self.writer: Any
        if self.format == "parquet":
            from .cdrio._parquet import ParquetCDRWriter

            self.writer = ParquetCDRWriter(self.path)
        else:
            from .cdrio._write import NativeCDRWriter

            self.writer = NativeCDRWriter(self.path)

    def __call__(self, cdrs: CDRTable, agent_start: np.ndarray) -> None:
        self.writer.write(cdrs)

    def abort(self, error: BaseException) -> None:
        """Remove the file being written (the run failed)."""
        self.closed = True
        self.writer.close(error)

    def finish(self, empty: CDRTable, categories: Mapping[str, tuple[str, ...]]) -> CDRFile:
        """Close the file (``categories``: the whole run's label order; ``empty``: a
        table of no calls with the run's zone, epoch and meta, written when no chunk
        came) and describe it."""
        if self.writer.first is None:
            self.writer.write(empty)
        first = self.writer.first
        self.closed = True  # a failing close removes its own files
        self.writer.close(None, categories=dict(categories))
        cats = {c.name: tuple(categories.get(c.name, first.vocabulary(c.name)))
                for c in COLUMNS if c.kind == "cat" and c.vocabulary is None}
        from .cdrio._sidecar import _json_able

        return CDRFile(self.path, self.writer.rows, first.epoch, first.tz, cats,
                       _json_able(first.meta), self.format)
