"""``dialsim audit --infer``: a carrier's charge list alone, no CDRs of our own.

Which tariff reproduces the charges (:func:`~sim.audit.infer.infer_with_change`), and
what would the same calls cost under each plan on the table? The file is read as CDRs
when it can be (any format :func:`sim.read_cdrs` knows, plus a ``charge`` column);
otherwise as a plain charge list: a header CSV with a billed-seconds column
(``billsec``, or ``--theirs-map billsec=HEADER``), a ``charge`` column and optionally
``start`` (for a price change in time, and banded plans). A call is taken as answered
when it has billed seconds.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from sim.billing import Plan, load_plans, rate
from sim.cdr import CDRTable, empty_columns, open_categories
from sim.cdrio._read import check_text_file
from sim.errors import CDRFormatError

from .errors import AuditError
from .infer import InferredTariff, infer_with_change
from .inputs import parse_charges
from .reading import _fold, _record_lines, read_side

__all__ = ["InferResult", "infer_file", "infer_side"]


@dataclass(frozen=True, slots=True)
class InferResult:
    """The inferred tariff of a charge list and the same calls under other plans."""

    source: str
    rows: int
    their_total: Decimal
    currency: str | None
    inferred: InferredTariff
    priced: tuple[tuple[str, str, Decimal], ...]
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        from sim.commands._common import format_table

        inf = self.inferred
        lines = [f"{self.source}: {self.rows:,} charged rows, total {self.their_total}"
                 + (f" {self.currency}" if self.currency else ""),
                 f"their tariff (inferred): {inf.text()}",
                 f"reproduces {inf.rows_exact:,} of {inf.rows:,} rows exactly "
                 f"({inf.share_exact:.1%})"]
        if self.priced:
            rows = [[name, cur, str(total), str(total - self.their_total)]
                    for name, cur, total in sorted(self.priced, key=lambda p: (p[1], p[2]))]
            lines += ["", "the same calls under each plan (call charges, no plan-level fees):",
                      format_table(rows, ["plan", "currency", "total", "vs their total"])]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "their_total": str(self.their_total),
                "currency": self.currency, "inferred": self.inferred.to_dict(),
                "plans": [{"plan": n, "currency": c, "total": str(t),
                           "vs_their_total": str(t - self.their_total)}
                          for n, c, t in self.priced],
                "notes": list(self.notes)}


def _charge_list(path: Path, mapping: Mapping[str, str]) -> tuple[CDRTable, np.ndarray, int,
                                                                    str | None]:
    lines, texts, head = _record_lines(path, True)
    folded = {_fold(h): i for i, h in reversed(list(enumerate(head)))}

    def col(name: str, required: bool) -> int | None:
        given = mapping.get(name)
        i = folded.get(_fold(given)) if given else folded.get(name)
        if i is None and (required or given):
            raise AuditError(f"{path}: a charge list needs a {name!r} column "
                             + (f"(no header {given!r})" if given else
                                f"(map it: --theirs-map {name}=HEADER)")
                             + f"; columns: {', '.join(head)}")
        return i

    bi, ci, si = col("billsec", True), col("charge", True), col("start", False)
    rows = list(csv.reader(texts))
    assert bi is not None and ci is not None
    bills = np.zeros(len(rows), dtype=np.int64)
    for k, (r, ln) in enumerate(zip(rows, lines, strict=True)):
        cell = r[bi].strip() if bi < len(r) else ""
        if not cell.isdigit():
            raise AuditError(f"{path}:{ln}: {head[bi]}: must be whole seconds >= 0 "
                             f"(got {cell!r})")
        bills[k] = int(cell)
    units, places, cur = parse_charges([r[ci] if ci < len(r) else "" for r in rows],
                                       source=str(path), lines=lines)
    cols = empty_columns(len(rows))
    answered = bills > 0
    cols["billsec"][:] = bills
    cols["talk_s"][:] = bills.astype(np.float64)
    cols["disposition"][:] = np.where(answered, 0, 1).astype(np.int8)
    epoch = "1970-01-01T00:00:00"
    if si is not None:
        try:
            t = np.array([np.datetime64(r[si].strip().replace(" ", "T"), "s") for r in rows])
        except ValueError as exc:
            raise AuditError(f"{path}: {head[si]}: start times must be ISO dates like "
                             f"2026-03-02 09:15:00 ({exc})") from None
        day0 = t.min().astype("datetime64[D]") if len(t) else np.datetime64("1970-01-01")
        epoch = str(day0.astype("datetime64[s]"))
        cols["start"][:] = (t - day0).astype(np.int64).astype(np.float64)
        cols["answer"][:] = np.where(answered, cols["start"], np.nan)
        cols["end"][:] = cols["start"] + bills
    table = CDRTable(cols, open_categories(), epoch, "UTC", {"source": str(path)})
    return table, units, places, cur


def infer_side(cdrs: CDRTable, units: np.ndarray, decimals: int) -> InferredTariff:
    """The tariff of charged rows (answered by disposition; start times for a change)."""
    d = np.where(cdrs["disposition"] == 0, cdrs["billsec"], 0).astype(np.int64)
    epoch = float(np.datetime64(cdrs.epoch, "s").astype(np.int64))
    t = np.nan_to_num(cdrs["start"], nan=0.0) + epoch
    return infer_with_change(d, units, decimals, t,
                             label=lambda s: str(np.datetime64(int(round(s)), "s")).replace(
                                 "T", " "))


def infer_file(path: str | Path, *, plans: Sequence[str | Path] = (), format: str = "auto",
               mapping: Mapping[str, str] | None = None, where: Sequence[str] = (),
               tz: str | None = None, side: str | None = None) -> InferResult:
    """Infer the tariff of a charge list and price its calls under ``plans`` files
    (``side``: as for :func:`~sim.audit.reading.read_side`)."""
    path = Path(path)
    notes: list[str] = []
    mapping = dict(mapping or {})
    check_text_file(path)  # missing, a folder or binary: no charge list either
    try:
        read, _ = read_side(path, format=format, mapping=mapping, where=where, tz=tz,
                            side=side)
        table, units, places, cur = read.cdrs, read.charges, read.charge_decimals, read.currency
        if units is None:
            raise AuditError(f"{path}: no charge column (a header 'charge', or "
                             "--theirs-map charge=HEADER)")
    except CDRFormatError as exc:
        try:
            table, units, places, cur = _charge_list(path, mapping)
        except AuditError as inner:
            raise AuditError(f"{inner}\n(read as CDRs it failed too: {exc})") from None
        notes.append("read as a charge list (billed seconds and charges): answered = "
                     "billed seconds > 0")
    inferred = infer_side(table, units, places)
    total = Decimal(int(units.sum(dtype=np.int64))).scaleb(-places)
    plan_list: list[Plan] = [p for f in plans for p in load_plans(f)]
    if not np.isfinite(table["start"]).all() or (table["start"] == 0).all():
        banded = [p.name for p in plan_list if p.bands]
        if banded:
            notes.append(f"no start times: banded plans left out ({', '.join(banded)})")
            plan_list = [p for p in plan_list if not p.bands]
    priced: list[tuple[str, str, Decimal]] = []
    if plan_list:
        rating = rate(table, plan_list)
        for s in rating.summaries.values():
            if cur is not None and s.currency != cur:
                notes.append(f"plan {s.plan} is in {s.currency}, the charges in {cur}")
            priced.append((s.plan, s.currency, s.telecom))
    return InferResult(source=str(path), rows=len(table), their_total=total, currency=cur,
                       inferred=inferred, priced=tuple(priced), notes=tuple(notes))
