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
_COMMA, _NEWLINE = ord(","), ord("\n")


def _split(units: np.ndarray, den: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Whole part, fractional digits and their count of ``units / den`` (units >= 0):
    exact for a power of ten, else rounded half up to :data:`INVOICE_PLACES` places."""
    places = len(str(den)) - 1
    whole, rest = units // den, units % den
    if 10**places == den:
        return whole, rest, places
    places = INVOICE_PLACES
    # exact Python ints where int64 would overflow
    wide = object if units.dtype == object or den * 10**places >= 1 << 63 else np.int64
    rest = rest.astype(wide)
    frac = round_div(rest * 10**places, den, "half_up")
    carry = frac == 10**places
    return whole + carry, np.where(carry, 0, frac), places


def _ascii(whole: np.ndarray, frac: np.ndarray | None = None, places: int = 0) -> np.ndarray:
    """Decimal text of ``whole[.frac]`` (non-negative ints), one row per value, as an
    ASCII matrix: digits right-aligned, unused leading cells 0 (dropped when written)."""
    n = len(whole)
    top = int(whole.max(initial=0))
    if whole.dtype == object or top >= 1 << 62 or int(whole.min(initial=0)) < 0:
        text = [f"{int(w)}" for w in whole.tolist()]  # huge or negative: rare, per value
        width = max((len(t) for t in text), default=1)
        out = np.zeros((n, width), dtype=np.uint8)
        for i, t in enumerate(text):
            out[i, width - len(t):] = np.frombuffer(t.encode(), dtype=np.uint8)
        digits = width
    else:
        digits = len(str(top))
        out = np.zeros((n, digits), dtype=np.uint8)
        x = whole.astype(np.int64)
        for j in range(digits):  # right to left; leading zeros stay 0
            col = out[:, digits - 1 - j]
            np.add(x % 10, 48, out=col, casting="unsafe")
            if j:
                col[whole < 10**j] = 0
            x //= 10
    if not places:
        return out
    tail = np.empty((n, places + 1), dtype=np.uint8)
    tail[:, 0] = ord(".")
    y = np.asarray(frac).astype(object if np.asarray(frac).dtype == object else np.int64)
    for j in range(places):
        tail[:, places - j] = (y % 10 + 48).astype(np.uint8)
        y = y // 10
    return np.concatenate([out, tail], axis=1)


def _text_cells(values: np.ndarray) -> np.ndarray:
    """CSV cells of arbitrary values (quoted where needed) as an ASCII-or-UTF-8 byte
    matrix padded with zeros, like :func:`_ascii` (an empty value becomes ``""``)."""
    out_text: list[bytes] = []
    for v in values.tolist():
        t = str(v)
        if not t or any(c in t for c in ',"\r\n') or t != t.strip():
            t = '"' + t.replace('"', '""') + '"'
        out_text.append(t.encode("utf-8"))
    width = max((len(b) for b in out_text), default=1)
    out = np.zeros((len(out_text), max(width, 1)), dtype=np.uint8)
    for i, b in enumerate(out_text):
        out[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
    return out


def _csv_bytes(fields: list[np.ndarray]) -> bytes:
    """Rows of comma-separated fields (ASCII matrices from :func:`_ascii`) as CSV bytes."""
    n = len(fields[0])
    sep = np.full((n, 1), _COMMA, dtype=np.uint8)
    end = np.full((n, 1), _NEWLINE, dtype=np.uint8)
    parts = [x for f in fields for x in (f, sep)]
    parts[-1] = end
    table = np.concatenate(parts, axis=1)
    return table[table != 0].tobytes()


def decimal_strings(units: np.ndarray, den: int) -> list[str]:
    """``units / den`` (units >= 0) as decimal strings: exact when ``den`` is a power of
    ten, else rounded half up to :data:`INVOICE_PLACES` places."""
    if len(units) == 0:
        return []
    text = _csv_bytes([_ascii(*_split(units, den))]).decode("ascii")
    return text.split("\n")[:-1]


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
    outcomes = (f"{first.contacts:,} contacts, {first.conversions:,} conversions"
                if first.outcomes_known else "contacts n/a, conversions n/a (not in the CDRs)")
    lines = [f"{first.calls:,} calls, {first.answered:,} answered, {outcomes}; "
             f"talk {first.talk_min:,.1f} min",
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
                   _fmt(s.total), _fmt(s.per_dial()),
                   _fmt(s.per_contact()) if s.outcomes_known else "n/a",
                   _fmt(s.per_conversion()) if s.outcomes_known else "n/a"]
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

    ``charges.csv`` holds ``call_id``, for an imported export ``source_line`` and
    ``source_id`` (its file line and its own call id: the row joins back to the
    export), and, per plan, ``<plan>:billed_s`` and ``<plan>:charge`` (decimal strings).
    Both files are written atomically.

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
    source = rating.source_line is not None and rating.source_id is not None
    with atomic_write(charges, "wb") as fh:
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(
            ["call_id", *(["source_line", "source_id"] if source else []),
             *(f"{p.plan.name}:{k}" for p in per for k in ("billed_s", "charge"))])
        fh.write(head.getvalue().encode("utf-8"))
        # Text is built as ASCII matrices, a block of rows at a time: no Python string
        # per value, so millions of rows x plans take seconds, not minutes.
        for i in range(0, len(rating.call_id), _ROWS_PER_BLOCK):
            s = slice(i, i + _ROWS_PER_BLOCK)
            fields = [_ascii(rating.call_id[s])]
            if source:
                assert rating.source_line is not None and rating.source_id is not None
                fields += [_ascii(rating.source_line[s]), _text_cells(rating.source_id[s])]
            for p in per:
                fields += [_ascii(p.billed_s[s]), _ascii(*_split(p.units[s], p.den))]
            fh.write(_csv_bytes(fields))
    return costs, charges
