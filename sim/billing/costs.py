"""Presenting a rating: the plan comparison table and the cost files.

An analyst reads the comparison to see which offer is cheapest for this traffic and by
how much; ``costs.csv`` (one row per plan) and ``charges.csv`` (one row per call, every
plan's billed seconds and charge) let them check any number. Amounts are written as
exact decimal strings, never floats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from sim.fmt import format_table, money, money_column
from sim.output import atomic_write, safe_cell

from .describe import bills_time
from .plans import Plan
from .results import PlanCalls, PlanSummaries, PlanSummary, Rating
from .tariff import round_div

__all__ = ["ChargesWriter", "decimal_strings", "format_comparison", "format_terms",
           "write_costs", "write_costs_table"]

#: Windows of a traffic term listed in the comparison text (all are in the JSON).
SHOW_WINDOWS = 12

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
    return "" if value is None else safe_cell(str(value))  # names: no spreadsheet formulas


def plan_table(group: Sequence[PlanSummary], plans: Mapping[str, Any], currency: str, *,
               labour: bool, traffic: bool, tax: bool, dash: str = "-"
               ) -> tuple[list[str], list[list[str]]]:
    """The plan comparison of one currency as a header and text rows: tariff, billed
    minutes and overhead (``dash`` for plans that bill no time), telecom, traffic fees,
    fees, tax, total and unit costs (same places down each column; ``n/a`` per contact
    where the CDRs cannot tell contacts), and the total with labour. Used by the CLI
    comparison and the HTML report, so both show the same figures."""
    header = ["plan", "tariff", "billed min", "overhead", f"telecom {currency}",
              *(["traffic"] if traffic else []), "fees", *(["tax"] if tax else []),
              "total", "per dial", "per contact", "per conversion",
              *(["with labour"] if labour else [])]
    cols: list[list[str]] = [money_column([s.telecom for s in group], currency)]
    if traffic:
        cols.append([c if s.traffic else dash for c, s in zip(
            money_column([s.traffic_fees for s in group], currency), group, strict=True)])
    cols.append(money_column([s.fees.total for s in group], currency))
    if tax:
        cols.append([c if plans[s.plan].contract.tax_rate else dash for c, s in zip(
            money_column([s.tax for s in group], currency), group, strict=True)])
    cols += [money_column([s.total for s in group], currency),
             money_column([s.per_dial() for s in group], currency, unit=True)]
    per = [money_column([s.per_contact() for s in group], currency, unit=True),
           money_column([s.per_conversion() for s in group], currency, unit=True)]
    for col in per:  # contacts and conversions unknown for a foreign export
        for i, s in enumerate(group):
            if not s.outcomes_known:
                col[i] = "n/a".rjust(len(col[i]))
    cols += per
    if labour:
        cols.append(money_column([s.campaign_total for s in group], currency))
    rows = []
    for i, s in enumerate(group):
        timed = bills_time(plans[s.plan])
        pct = s.overhead_pct if timed else None
        rows.append([s.plan, plans[s.plan].tariff_text,
                     f"{s.billed_min:,.1f}" if timed else dash,
                     dash if pct is None else f"{pct:+.1f}%", *(col[i] for col in cols)])
    return header, rows


def format_comparison(rating: Rating) -> str:
    """The plans side by side, cheapest first, with the gap from the cheapest to the next.

    Totals show the currency's minor unit, unit costs the same places down each column
    (:mod:`sim.fmt`); plans that bill no time show no billed minutes or overhead. Plans
    in different currencies are compared within their currency only.
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
    traffic = any(s.traffic for s in ranked)
    tax = any(s.tax for s in ranked)
    by_currency: dict[str, list[PlanSummary]] = {}
    for s in ranked:
        by_currency.setdefault(s.currency, []).append(s)
    plans = {p.name: p for p in rating.plans}
    for currency, group in by_currency.items():
        header, rows = plan_table(group, plans, currency, labour=labour, traffic=traffic,
                                  tax=tax)
        lines += ["", format_table(rows, header, "ll")]
        best = group[0]
        line = f"cheapest: {best.plan} at {money(best.total, currency, code=True)}"
        if len(group) > 1:
            gap = group[1].total - best.total
            rel = f" (+{100 * gap / best.total:.1f} %)" if best.total else ""
            line += (f"; runner-up {group[1].plan} costs {money(gap, currency, code=True)} "
                     f"more{rel}")
        lines.append(line)
    lines += format_terms(ranked)
    return "\n".join(lines)


def format_terms(summaries: Sequence[PlanSummary], windows: int = SHOW_WINDOWS) -> list[str]:
    """Each plan's traffic terms: the line, then per window the metric, fired, cost."""
    out: list[str] = []
    for s in summaries:
        for t in s.traffic:
            term = t.term
            out += ["", f"{s.plan}: {term.name!r}: {term.line}, {term.action}, "
                        f"min {term.min_calls} calls: "
                        + (f"fired, {money(t.cost, s.currency, code=True)}" if t.fired
                           else "not fired")]
            shown = t.windows[:windows]
            costs = money_column([w.cost for w in shown], s.currency)
            rows = []
            for w, cost in zip(shown, costs, strict=True):
                value = "-" if not w.base else (
                    f"{w.value:.2f} s" if term.metric == "acd_s" else f"{w.value:.2%}")
                rows.append([w.window, value, f"{w.count:,} / {w.base:,}",
                             "fired" if w.fired else "-", f"{w.charged_calls:,}", cost])
            table = format_table(rows, ["window", term.metric, "count / base", "fired",
                                        "charged calls", "cost"], "l")
            out += ["  " + x for x in table.splitlines()]
            if len(t.windows) > windows:
                out.append(f"  ... and {len(t.windows) - windows} more windows")
    return out


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
    costs = write_costs_table(rating, folder)
    charges = folder / "charges.csv"
    source = rating.source_line is not None and rating.source_id is not None
    with ChargesWriter(charges, rating.plans, source=source) as writer:
        writer.write(rating)
    return costs, charges


def write_costs_table(rating: PlanSummaries, folder: str | Path) -> Path:
    """Write ``costs.csv`` (one row per plan) atomically; return its path."""
    costs = Path(folder) / "costs.csv"
    rows = rating.rows()
    with atomic_write(costs) as fh:
        w = csv.writer(fh, lineterminator="\n")
        if rows:
            w.writerow([safe_cell(k) for k in rows[0]])
            w.writerows([_cell(v) for v in r.values()] for r in rows)
    return costs


class ChargesWriter:
    """``charges.csv`` written a rating at a time (:func:`write_costs`, or the blocks of
    a chunked rating as they are rated): the same bytes as one rating of them all."""

    def __init__(self, path: str | Path, plans: Sequence[Plan], *, source: bool = False
                 ) -> None:
        self.source = source
        self._file = atomic_write(path, "wb")
        self._fh = self._file.__enter__()
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(
            ["call_id", *(["source_line", "source_id"] if source else []),
             *(safe_cell(f"{p.name}:{k}") for p in plans for k in ("billed_s", "charge"))])
        self._fh.write(head.getvalue().encode("utf-8"))

    def write(self, rating: Rating) -> None:
        """Append the per-call rows of ``rating``."""
        per: list[PlanCalls] = list(rating.calls.values())
        # Text is built as ASCII matrices, a block of rows at a time: no Python string
        # per value, so millions of rows x plans take seconds, not minutes.
        for i in range(0, len(rating.call_id), _ROWS_PER_BLOCK):
            s = slice(i, i + _ROWS_PER_BLOCK)
            fields = [_ascii(rating.call_id[s])]
            if self.source:
                assert rating.source_line is not None and rating.source_id is not None
                fields += [_ascii(rating.source_line[s]), _text_cells(rating.source_id[s])]
            for p in per:
                fields += [_ascii(p.billed_s[s]), _ascii(*_split(p.units[s], p.den))]
            self._fh.write(_csv_bytes(fields))

    def close(self, error: BaseException | None = None) -> None:
        if error is None:
            self._file.__exit__(None, None, None)
        else:
            self._file.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> ChargesWriter:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)
