"""Presenting a rating: the plan comparison table and the cost files.

An analyst reads the comparison to see which offer is cheapest for this traffic and by
how much; ``costs.csv`` (one row per plan) and ``charges.csv`` (one row per call, every
plan's billed seconds and charge) let them check any number. Amounts are written as
exact decimal strings, never floats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from sim.output import atomic_write

from .results import PlanCalls, PlanSummary, Rating
from .tariff import round_div

__all__ = ["decimal_strings", "format_comparison", "write_costs"]

#: Decimal places of per-call charges of per-invoice plans (their exact values may not
#: be finite decimals; the invoice total is computed from the exact values).
INVOICE_PLACES = 12
_ROWS_PER_BLOCK = 1 << 16


def decimal_strings(units: np.ndarray, den: int) -> np.ndarray:
    """``units / den`` (units >= 0) as decimal strings, vectorised.

    Exact when ``den`` is a power of ten; otherwise rounded half up to
    :data:`INVOICE_PLACES` places.
    """
    places = len(str(den)) - 1
    if 10**places != den:
        places = INVOICE_PLACES
        whole, rest = units // den, units % den
        frac = round_div(rest * 10**places if units.dtype == object
                         else rest.astype(object) * 10**places, den, "half_up")
        carry = frac == 10**places
        whole = whole + carry
        frac = np.where(carry, 0, frac)
    else:
        whole, frac = units // den, units % den
    text = whole.astype(np.str_)
    if places:
        text = np.char.add(np.char.add(text, "."),
                           np.char.zfill(np.asarray(frac).astype(np.str_), places))
    return text


def _n(count: int | Decimal, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 2) -> list[str]:
    rows = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i < left else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]


def format_comparison(rating: Rating) -> str:
    """The plans side by side, cheapest first, with the gap from the cheapest to the next.

    Plans in different currencies are compared within their currency only.
    """
    ranked = rating.ranked()
    if not ranked:
        return "no plans rated"
    first = ranked[0]
    c = rating.campaign
    lines = [f"{first.calls:,} calls, {first.answered:,} answered, {first.contacts:,} "
             f"contacts, {first.conversions:,} conversions; talk {first.talk_min:,.1f} min",
             f"plan-level fees prorated to {_n(c.days, 'day')}, {_n(c.seats, 'seat')}, "
             f"{_n(c.channels, 'channel')}, {_n(c.numbers, 'number')}"
             + (" (estimated from the CDRs)" if c.estimated else "")]
    labour = any(s.labour for s in ranked)
    by_currency: dict[str, list[PlanSummary]] = {}
    for s in ranked:
        by_currency.setdefault(s.currency, []).append(s)
    plans = {p.name: p for p in rating.plans}
    for currency, group in by_currency.items():
        header = ["plan", "tariff", "billed min", "overhead", f"telecom {currency}",
                  "fees", "total", "per dial", "per contact", "per conversion"]
        if labour:
            header.append("with labour")
        rows = []
        for s in group:
            pct = s.overhead_pct
            row = [s.plan, plans[s.plan].tariff_text, f"{s.billed_min:,.1f}",
                   "-" if pct is None else f"{pct:+.1f}%", _fmt(s.telecom), _fmt(s.fees.total),
                   _fmt(s.total), _fmt(s.per_dial()), _fmt(s.per_contact()),
                   _fmt(s.per_conversion())]
            if labour:
                row.append(_fmt(s.campaign_total))
            rows.append(row)
        lines += ["", *_table(header, rows)]
        best = group[0]
        line = f"cheapest: {best.plan} at {currency} {best.total:,}"
        if len(group) > 1:
            gap = group[1].total - best.total
            rel = f" (+{100 * gap / best.total:.1f} %)" if best.total else ""
            line += f"; runner-up {group[1].plan} costs {currency} {gap:,} more{rel}"
        lines.append(line)
    return "\n".join(lines)


def write_costs(rating: Rating, folder: str | Path) -> tuple[Path, Path]:
    """Write ``costs.csv`` (one row per plan) and ``charges.csv`` (one row per call).

    ``charges.csv`` holds ``call_id`` and, per plan, ``<plan>:billed_s`` and
    ``<plan>:charge`` (decimal strings). Both files are written atomically.

    Returns
    -------
    The two paths.
    """
    folder = Path(folder)
    costs = folder / "costs.csv"
    rows = rating.rows()
    with atomic_write(costs) as fh:
        w = csv.writer(fh, lineterminator="\n")
        if rows:
            w.writerow(rows[0].keys())
            w.writerows([_cell(v) for v in r.values()] for r in rows)
    charges = folder / "charges.csv"
    per: list[PlanCalls] = list(rating.calls.values())
    with atomic_write(charges) as fh:
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(
            ["call_id", *(f"{p.plan.name}:{k}" for p in per for k in ("billed_s", "charge"))])
        fh.write(head.getvalue())
        n = len(rating.call_id)
        for i in range(0, n, _ROWS_PER_BLOCK):
            s = slice(i, i + _ROWS_PER_BLOCK)
            line = rating.call_id[s].astype(np.str_)
            for p in per:
                line = np.char.add(np.char.add(line, ","), p.billed_s[s].astype(np.str_))
                line = np.char.add(np.char.add(line, ","), decimal_strings(p.units[s], p.den))
            fh.write("\n".join(line.tolist()))
            fh.write("\n")
    return costs, charges
