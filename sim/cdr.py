"""Call detail records: the one schema every part of dialsim reads and writes.

A CDR is one row per dial attempt, as a carrier or PBX would log it. dialsim keeps a
CDR table in columns (one numpy array per column, all the same length), never as one
Python object per call: a million calls are a few dozen MB and rate in milliseconds.

Times are seconds (float64) from the table's ``epoch``, a *naive local* wall-clock
datetime in the time zone ``tz`` (for a simulated campaign: midnight of its first day
in the campaign's zone; for an import: midnight of the first day seen). NaN means the
event did not happen. Categorical columns hold small integer codes into a tuple of
labels: fixed vocabularies (disposition, answered_by, amd, hangup_by, result, direction) are the
same in every table; open ones (stage, number_type, destination, segment) carry their
labels with the table (``number`` is the full dialled number: synthetic for a
simulated lead, ``dst`` for an import).

``billsec`` is talk time in whole seconds, what a carrier bills from: rounded up
(``ceil``) by default, as carriers bill. A simulated campaign may follow a PBX that
truncates (``customers.billsec = "floor"``) or rounds half up (``"round"``), so that
its CDRs twin such an export; unanswered calls have 0 whatever the convention.

Reading and writing files lives in :mod:`sim.cdrio`; this module has no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "AMD",
    "ANSWERED_BY",
    "CDRTable",
    "COLUMNS",
    "Column",
    "DIRECTIONS",
    "DISPOSITIONS",
    "HANGUP_BY",
    "RESULTS",
    "column",
    "empty_columns",
    "encode",
    "open_categories",
]

# Fixed vocabularies. The order is the code: never reorder, only append.
DISPOSITIONS: tuple[str, ...] = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
ANSWERED_BY: tuple[str, ...] = ("none", "person", "machine", "unknown")
AMD: tuple[str, ...] = ("none", "person", "machine")
HANGUP_BY: tuple[str, ...] = ("none", "customer", "agent", "dialer", "network", "robot")
RESULTS: tuple[str, ...] = ("none", "converted", "declined", "hung_up", "callback")
#: Which way a leg went: a carrier bills the legs that leave through its trunk
#: (``outbound``); dialsim's own calls are all outbound (code 0).
DIRECTIONS: tuple[str, ...] = ("outbound", "inbound", "internal", "unknown")

Kind = Literal["int", "float", "bool", "cat"]


@dataclass(frozen=True, slots=True)
class Column:
    """One CDR column: name, kind, storage dtype, fixed vocabulary (if any), meaning."""

    name: str
    kind: Kind
    dtype: str
    doc: str
    vocabulary: tuple[str, ...] | None = None


#: The CDR schema, in export order. A test pins this list: change it deliberately.
COLUMNS: tuple[Column, ...] = (
    Column("call_id", "int", "int64", "unique id of the attempt, 0-based in dial order"),
    Column("lead_id", "int", "int64", "call-list entry dialled (-1 unknown)"),
    Column("attempt", "int", "int32", "1-based attempt number of this lead"),
    Column("agent_id", "int", "int32", "agent (or robot channel) bridged, -1 none"),
    Column("start", "float", "float64", "dial time, s from epoch"),
    Column("answer", "float", "float64", "answer time, s from epoch (NaN unanswered)"),
    Column("connect", "float", "float64", "bridged to agent/robot, s (NaN never)"),
    Column("end", "float", "float64", "hang-up time, s from epoch"),
    Column("ring_s", "float", "float64", "dial to answer (or to giving up), s"),
    Column("talk_s", "float", "float64", "answer to hang-up, s (0 unanswered)"),
    Column("wait_s", "float", "float64", "answer to connect, or to hang-up if never"),
    Column("wrap_s", "float", "float64", "after-call work of the agent, s"),
    Column("billsec", "int", "int64",
           "whole seconds of talk_s for answered calls (ceil unless customers.billsec "
           "says floor or round), else 0"),
    Column("disposition", "cat", "int8", "carrier outcome", DISPOSITIONS),
    Column("answered_by", "cat", "int8", "who picked up", ANSWERED_BY),
    Column("amd", "cat", "int8", "answering-machine detector verdict", AMD),
    Column("abandoned", "bool", "bool", "a person answered and was never connected"),
    Column("hangup_by", "cat", "int8", "who ended the call", HANGUP_BY),
    Column("result", "cat", "int8", "business result", RESULTS),
    Column("stage", "cat", "int16", "last script stage reached ('' none)"),
    Column("number_type", "cat", "int16", "mobile / landline / ... ('' unknown)"),
    Column("destination", "cat", "int32", "dialled number or its prefix ('' unknown)"),
    Column("segment", "cat", "int16", "call-list segment of the lead ('' unknown)"),
    Column("number", "cat", "int32", "dialled number of the lead ('' unknown)"),
    Column("direction", "cat", "int8", "outbound (to a trunk), inbound, internal, unknown",
           DIRECTIONS),
)

_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
_CODE_OF: dict[str, dict[str, int]] = {
    c.name: {label: i for i, label in enumerate(c.vocabulary)}
    for c in COLUMNS
    if c.vocabulary is not None
}


def encode(column: str, label: str) -> int:
    """Code of ``label`` in the fixed vocabulary of ``column`` (KeyError if unknown)."""
    return _CODE_OF[column][label]


@dataclass(frozen=True, slots=True, eq=False)
class CDRTable:
    """A columnar CDR table.

    Parameters
    ----------
    columns
        Every name of :data:`COLUMNS` mapped to a 1-D array of its dtype, all of one
        length. Categorical columns hold codes into ``categories[name]``.
    categories
        Labels of the open categorical columns (``stage``, ``number_type``,
        ``destination``, ``segment``). Code 0 is always ``''`` (unknown / none).
    epoch
        Naive local ISO datetime that time 0 stands for, e.g. ``2026-03-02T00:00:00``.
    tz
        IANA time zone of the wall clock (``Asia/Shanghai``).
    meta
        Free-form provenance (source file, scenario name, seed, ...).
    """

    columns: Mapping[str, np.ndarray]
    categories: Mapping[str, tuple[str, ...]]
    epoch: str = "1970-01-01T00:00:00"
    tz: str = "UTC"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c.name for c in COLUMNS if c.name not in self.columns]
        extra = [k for k in self.columns if k not in _BY_NAME]
        if missing or extra:
            raise ValueError(f"CDR columns: missing {missing}, unexpected {extra}")
        n = len(self.columns["call_id"])
        for c in COLUMNS:
            a = self.columns[c.name]
            if a.ndim != 1 or len(a) != n:
                raise ValueError(f"CDR column {c.name!r}: length {len(a)}, expected {n}")
            if a.dtype != np.dtype(c.dtype):
                raise ValueError(f"CDR column {c.name!r}: dtype {a.dtype}, expected {c.dtype}")
        for c in COLUMNS:
            if c.kind == "cat" and c.vocabulary is None:
                labels = self.categories.get(c.name)
                if labels is None or not labels or labels[0] != "":
                    raise ValueError(f"CDR categories of {c.name!r} must start with ''")

    # -- access -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.columns["call_id"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def vocabulary(self, name: str) -> tuple[str, ...]:
        """Labels of a categorical column, fixed or per table."""
        col = _BY_NAME[name]
        if col.kind != "cat":
            raise KeyError(f"{name!r} is not a categorical column")
        return col.vocabulary if col.vocabulary is not None else tuple(self.categories[name])

    def labels(self, name: str) -> np.ndarray:
        """Decoded labels of a categorical column (array of str)."""
        return np.asarray(self.vocabulary(name), dtype=object)[self.columns[name]]

    def mask(self, name: str, label: str) -> np.ndarray:
        """Boolean mask of the rows whose categorical ``name`` equals ``label``."""
        vocab = self.vocabulary(name)
        if label not in vocab:
            return np.zeros(len(self), dtype=bool)
        return self.columns[name] == vocab.index(label)

    @property
    def answered(self) -> np.ndarray:
        """Answered calls, decided from the disposition (not from billsec)."""
        return self.columns["disposition"] == 0

    # -- derivation -------------------------------------------------------------------
    def select(self, rows: np.ndarray) -> CDRTable:
        """A new table holding only ``rows`` (boolean mask or index array)."""
        cols = {k: v[rows] for k, v in self.columns.items()}
        return CDRTable(cols, self.categories, self.epoch, self.tz, dict(self.meta))

    def with_meta(self, **meta: Any) -> CDRTable:
        """A copy sharing the arrays, with ``meta`` updated."""
        return CDRTable(self.columns, self.categories, self.epoch, self.tz,
                        {**self.meta, **meta})

    @classmethod
    def concat(cls, tables: Iterable[CDRTable]) -> CDRTable:
        """Stack tables (same epoch and tz) into one, merging open vocabularies."""
        tables = list(tables)
        if not tables:
            raise ValueError("concat needs at least one table")
        first = tables[0]
        if any(t.epoch != first.epoch or t.tz != first.tz for t in tables):
            raise ValueError("concat: tables have different epochs or time zones")
        cats: dict[str, tuple[str, ...]] = {}
        recoded: list[dict[str, np.ndarray]] = [dict(t.columns) for t in tables]
        for c in COLUMNS:
            if c.kind != "cat" or c.vocabulary is not None:
                continue
            merged: dict[str, int] = {}
            for t in tables:
                for lab in t.categories[c.name]:
                    merged.setdefault(lab, len(merged))
            cats[c.name] = tuple(merged)
            for t, cols in zip(tables, recoded, strict=True):
                remap = np.array([merged[lab] for lab in t.categories[c.name]], dtype=c.dtype)
                cols[c.name] = remap[t.columns[c.name]]
        out = {c.name: np.concatenate([r[c.name] for r in recoded]) for c in COLUMNS}
        return CDRTable(out, cats, first.epoch, first.tz, dict(first.meta))

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame with decoded categoricals (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install 'dialsim[pandas]'") from exc
        data: dict[str, Any] = {}
        for c in COLUMNS:
            if c.kind == "cat":
                data[c.name] = pd.Categorical.from_codes(
                    self.columns[c.name].astype(np.int64), categories=list(self.vocabulary(c.name))
                )
            else:
                data[c.name] = self.columns[c.name]
        return pd.DataFrame(data)


def empty_columns(n: int) -> dict[str, np.ndarray]:
    """Fresh column arrays for ``n`` rows with neutral defaults.

    Times ``answer`` and ``connect`` are NaN, other floats 0, ids -1 (``call_id`` is
    ``0..n-1``), categoricals code 0.
    """
    cols: dict[str, np.ndarray] = {}
    for c in COLUMNS:
        if c.kind == "float":
            cols[c.name] = np.full(n, np.nan if c.name in ("answer", "connect") else 0.0)
        else:
            cols[c.name] = np.zeros(n, dtype=c.dtype)
    cols["agent_id"][:] = -1
    cols["lead_id"][:] = -1
    cols["call_id"][:] = np.arange(n)
    return cols


def open_categories(**labels: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Labels of every open categorical column, each starting with ``''``."""
    out: dict[str, tuple[str, ...]] = {}
    for c in COLUMNS:
        if c.kind == "cat" and c.vocabulary is None:
            given = [lab for lab in labels.get(c.name, ()) if lab != ""]
            out[c.name] = ("", *dict.fromkeys(given))
    return out


def column(name: str) -> Column:
    """The schema entry of column ``name``."""
    return _BY_NAME[name]
