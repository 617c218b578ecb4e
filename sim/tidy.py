"""Long ("tidy") tables beside the wide ones: one row per id × plan × metric.

The wide tables of dialsim (``replications.csv``, ``compare.csv``, ``sweep.csv``) have
one column per figure and plan — ``total:cn-60/60``, ``per_contact:cn-6/6``, ... —
which reads well for one plan and badly for 180 columns. :func:`long_rows` turns such
rows into ``ids..., plan, metric, value``: a plan-free figure (``contacts``) has an
empty ``plan``; ``metric:plan`` columns are split at the first colon. Values are kept
as they are (floats, Decimal strings, labels).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .output import atomic_write

__all__ = ["LONG_COLUMNS", "long_rows", "write_long_csv"]

#: The columns a long table adds after its id columns.
LONG_COLUMNS: tuple[str, ...] = ("plan", "metric", "value")


def long_rows(rows: Iterable[Mapping[str, Any]], ids: Sequence[str]) -> list[dict[str, Any]]:
    """One dict per (row, figure): the ``ids`` columns, then ``plan``, ``metric``,
    ``value``; missing values (None) are left out."""
    out: list[dict[str, Any]] = []
    for r in rows:
        head = {k: r.get(k) for k in ids}
        for key, value in r.items():
            if key in ids or value is None:
                continue
            metric, _, plan = key.partition(":")
            out.append({**head, "plan": plan, "metric": metric, "value": value})
    return out


def write_long_csv(rows: Iterable[Mapping[str, Any]], ids: Sequence[str],
                   path: str | Path) -> Path:
    """Write :func:`long_rows` of ``rows`` as CSV (floats by ``repr``), atomically."""
    path = Path(path)
    with atomic_write(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([*ids, *LONG_COLUMNS])
        for r in long_rows(rows, ids):
            w.writerow([repr(v) if isinstance(v, float) else v for v in r.values()])
    return path
