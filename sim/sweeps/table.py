"""A sweep's results: the tidy table of every run and the per-point aggregate.

The tidy table follows DESIGN §8: one row per (point, replication), holding the point
id, the parameter values, the replication and its seed, every KPI and every plan's
costs — what a pandas user groups, pivots and plots. The aggregate is long-form: one
row per (point, metric) with the mean and a Student-t interval over the point's
replications, which all used the same seeds as every other point (common random
numbers: differences between points are measured on the same customers).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..output import atomic_write, safe_cell
from .points import Design
from .runner import RunFailure

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.stats import Estimate

__all__ = ["ID_COLUMNS", "SweepResult", "Table", "build_table"]

#: Identity columns of the tidy table, around the parameter columns.
ID_COLUMNS: tuple[str, ...] = ("point", "replication", "seed")


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _cell(value: Any) -> Any:
    """A CSV cell: numbers as they are (floats by repr), tables as JSON."""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True)
    return safe_cell(value)  # text from the grid (variant names): no spreadsheet formulas


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """Rows of equal length under named columns, convertible to pandas and CSV.

    Two tables are equal when every cell has the same type and value, NaN matching
    NaN (a plan's cost per conversion is NaN in a run without conversions).
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return (self.columns == other.columns and len(self.rows) == len(other.rows)
                and all(len(a) == len(b) and all(map(_same, a, b))
                        for a, b in zip(self.rows, other.rows, strict=True)))

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for r in self.rows:
            yield dict(zip(self.columns, r, strict=True))

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` (needs the ``pandas`` extra)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=list(self.columns))

    def long(self, ids: Sequence[str]) -> Table:
        """The long form: the ``ids`` columns, then ``plan``, ``metric``, ``value``, one row
        per row × figure (see :mod:`sim.tidy`)."""
        from ..tidy import LONG_COLUMNS, long_rows

        rows = long_rows(iter(self), ids)
        return Table((*ids, *LONG_COLUMNS), tuple(tuple(r.values()) for r in rows))

    def to_csv(self, path: str | Path | None = None) -> str:
        """CSV text with a header; written atomically to ``path`` when given."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([safe_cell(c) for c in self.columns])
        w.writerows([_cell(v) for v in r] for r in self.rows)
        text = buf.getvalue()
        if path is not None:
            with atomic_write(path) as fh:
                fh.write(text)
        return text


def build_table(plan: Design, rows: Mapping[tuple[int, int], Mapping[str, Any]]) -> Table:
    """The tidy table from ``{(point, replication): run row}``, sorted by point, replication."""
    metrics: dict[str, None] = {}
    keys = sorted(rows)
    for k in keys:
        for name in rows[k]:
            if name != "seed" and name not in plan.params:
                metrics.setdefault(name, None)
    columns = ("point", *plan.params, "replication", "seed", *metrics)
    out = []
    for point, rep in keys:
        row = rows[(point, rep)]
        values = plan.points[point]
        out.append((point, *(values[p] for p in plan.params), rep, row["seed"],
                    *(row.get(m, math.nan) for m in metrics)))
    return Table(columns, tuple(out))


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What :func:`sim.sweep` returns.

    Attributes
    ----------
    design
        The points (``design.points[i]`` are point ``i``'s overrides).
    seeds
        The replications' seeds, the same at every point.
    table
        The tidy table: ``point``, the parameters, ``replication``, ``seed``, then every
        KPI and plan cost (``<field>:<plan>``, currency units as floats).
    failures
        Runs that raised or whose worker died; their rows are absent from ``table``.
    computed, reused
        Runs simulated by this call, and runs read back from ``out`` (a resume).
    elapsed_s
        Wall-clock seconds of the call.
    busy_s
        Seconds the workers spent inside runs of this call (simulating, pricing, writing
        CDRs); ``busy_s / (workers × elapsed_s)`` is how busy the workers were.
    out
        The output folder, if any.
    """

    design: Design
    seeds: tuple[int, ...]
    table: Table
    failures: tuple[RunFailure, ...] = ()
    level: float = 0.95
    computed: int = 0
    reused: int = 0
    elapsed_s: float = 0.0
    busy_s: float = 0.0
    out: Path | None = None
    _agg: dict[Any, Table] = field(default_factory=dict, repr=False, compare=False)

    @property
    def params(self) -> tuple[str, ...]:
        return self.design.params

    @property
    def metrics(self) -> tuple[str, ...]:
        """Numeric result columns (KPIs and plan costs), in table order."""
        skip = {*ID_COLUMNS, *self.params}
        return tuple(c for c in self.table.columns if c not in skip)

    @property
    def plans(self) -> tuple[str, ...]:
        """Names of the plans priced (from the ``total:<plan>`` columns)."""
        return tuple(m.split(":", 1)[1] for m in self.metrics if m.startswith("total:"))

    def to_pandas(self) -> Any:
        """The tidy table as a ``pandas.DataFrame``."""
        return self.table.to_pandas()

    def values(self, point: int, metric: str) -> list[float]:
        """``metric`` of each replication of ``point``."""
        pi, mi = 0, self.table.columns.index(metric)
        return [float(r[mi]) for r in self.table.rows if r[pi] == point]

    def estimate(self, point: int, metric: str, level: float | None = None) -> Estimate:
        """Mean and t-interval of ``metric`` over ``point``'s replications."""
        from ..analysis.stats import mean_ci

        return mean_ci(self.values(point, metric), level or self.level)

    def aggregate(self, metrics: Sequence[str] | None = None,
                  level: float | None = None) -> Table:
        """One row per (point, metric): parameters, ``n``, ``mean``, ``low``, ``high``.

        The interval is :func:`sim.analysis.stats.mean_ci`'s Student-t interval
        (computed here for all points at once; NaNs ignored, ±inf with one value).
        """
        level = level or self.level
        names = tuple(metrics or self.metrics)
        cache_key = (names, level)
        if cache_key not in self._agg:
            self._agg[cache_key] = _aggregate(self, names, level)
        return self._agg[cache_key]

    def best(self, metric: str, *, minimise: bool = True) -> int:
        """The point whose mean ``metric`` is lowest (or highest)."""
        agg = self.aggregate([metric])
        pairs = [(r["mean"], r["point"]) for r in agg if not math.isnan(r["mean"])]
        if not pairs:
            raise ValueError(f"{metric}: no finite values")
        return (min(pairs) if minimise else max(pairs))[1]

    def save(self, out: str | Path | None = None) -> list[Path]:
        """Write ``sweep.csv`` (one row per point × replication), ``sweep_long.csv`` (one
        row per point × replication × plan × metric) and ``aggregate.csv`` into ``out``
        (default: its folder)."""
        folder = Path(out) if out is not None else self.out
        if folder is None:
            raise ValueError("save: no folder given and the sweep had no out=")
        paths = [folder / "sweep.csv", folder / "aggregate.csv", folder / "sweep_long.csv"]
        self.table.to_csv(paths[0])
        self.aggregate().to_csv(paths[1])
        self.long_table().to_csv(paths[2])
        return paths

    def long_table(self) -> Table:
        """The tidy table in long form: point, parameters, replication, seed, then
        ``plan``, ``metric``, ``value``."""
        return self.table.long(("point", *self.params, "replication", "seed"))

    def plot(self, metric: str, ax: Any = None) -> Any:
        """The natural plot of ``metric``: against the one parameter, or a heat map of two."""
        from .plots import plot_sweep

        return plot_sweep(self, metric, ax=ax)


def _aggregate(res: SweepResult, metrics: tuple[str, ...], level: float) -> Table:
    import numpy as np
    from scipy import stats

    cols = res.table.columns
    points = np.asarray(res.table.column("point"), dtype=np.int64)
    idx = [cols.index(m) for m in metrics]
    data = np.array([[r[i] for i in idx] for r in res.table.rows], dtype=float).reshape(
        len(res.table), len(idx))
    out: list[tuple[Any, ...]] = []
    t_cache: dict[int, float] = {}
    for p in sorted(set(points.tolist())):
        block = data[points == p]
        n = (~np.isnan(block)).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(block, axis=0) / n
            dev = np.where(np.isnan(block), 0.0, block - mean)
            sd = np.sqrt((dev ** 2).sum(axis=0) / (n - 1))
        values = res.design.points[p]
        head = (p, *(values[k] for k in res.params))
        for j, m in enumerate(metrics):
            k = int(n[j])
            mu = float(mean[j]) if k else math.nan
            if k == 0:
                lo = hi = math.nan
            elif k == 1:
                lo, hi = -math.inf, math.inf
            else:
                if k not in t_cache:
                    t_cache[k] = float(stats.t.ppf(0.5 + level / 2, k - 1))
                h = t_cache[k] * float(sd[j]) / math.sqrt(k)
                lo, hi = mu - h, mu + h
            out.append((*head, m, k, mu, lo, hi))
    return Table(("point", *res.params, "metric", "n", "mean", "low", "high"), tuple(out))
