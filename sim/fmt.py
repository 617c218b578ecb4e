"""How dialsim writes numbers for people: money, unit costs, counts, shares, intervals.

One place for every rule, used by the CLI tables, the HTML report, the plots and the
notebooks:

* **Totals** of money show the currency's minor unit (2 places for CNY, GBP, USD, EUR;
  0 for JPY, KRW) with thousands separators: ``6,558.00``.
* **Unit costs** (per call, per dial, per minute) may need more places to be legible:
  :func:`unit_places` picks one count of places for a whole column (enough for three
  significant digits of its smallest non-zero value, at least the minor unit, at most
  6), and :func:`money_column` writes every cell with it, so decimals line up.
* **Confidence half-widths** show two significant digits (``± 38``, ``± 0.015``); the
  mean beside one is written with the same places (never fewer than the money's own).
* **Never e-notation** for money or counts: :func:`number` writes fixed-point text with
  a given number of significant digits, whatever the magnitude.

Functions take ``Decimal``, ``int`` or ``float``; nothing here rounds money that is
stored — it only writes text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "MINOR_UNITS",
    "ci",
    "ci_column",
    "count",
    "format_table",
    "half_width",
    "minor_places",
    "money",
    "money_column",
    "money_formatter",
    "number",
    "pct",
    "plain",
    "sig_places",
    "unit_places",
]

#: Decimal places of a currency's minor unit (ISO 4217), where it is not 2.
MINOR_UNITS: dict[str, int] = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
                               "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

#: Most places a unit cost is written with.
MAX_UNIT_PLACES = 6

Num = Decimal | int | float


def minor_places(currency: str | None) -> int:
    """Places of ``currency``'s minor unit (2 unless listed in :data:`MINOR_UNITS`)."""
    return MINOR_UNITS.get((currency or "").upper(), 2)


def _finite(x: Any) -> bool:
    if x is None:
        return False
    if isinstance(x, Decimal):
        return x.is_finite()
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _fixed(x: Num, places: int, *, sep: bool = True, sign: bool = False) -> str:
    """``x`` rounded half up to ``places`` places, fixed-point, never e-notation."""
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x))) if isinstance(x, float) \
        else Decimal(x)
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)  # no "-0.00"
    text = f"{q:{'+' if sign else ''}{',' if sep else ''}.{places}f}"
    return text


def sig_places(x: Num, sig: int) -> int:
    """Places after the point that show ``sig`` significant digits of ``x`` (>= 0)."""
    v = abs(float(x))
    if v == 0 or not math.isfinite(v):
        return 0
    return max(0, sig - 1 - math.floor(math.log10(v)))


def number(x: Num | None, sig: int = 4, *, places: int | None = None, sep: bool = True,
           sign: bool = False, missing: str = "n/a") -> str:
    """A plain number in fixed-point notation: ``places`` places, or enough places for
    ``sig`` significant digits (integers keep all their digits; at most 12 places)."""
    if not _finite(x):
        return missing
    assert x is not None
    if places is None:
        whole = isinstance(x, int) or (hasattr(x, "dtype") and x.dtype.kind in "iu")
        places = 0 if whole else min(12, sig_places(x, sig))
    return _fixed(x, places, sep=sep, sign=sign)


def plain(x: Num | None, sig: int = 6, *, missing: str = "n/a") -> str:
    """A parameter value as briefly as it reads exactly: up to ``sig`` significant digits,
    no trailing zeros, no e-notation (``1.5``, ``0.0001``, ``20``)."""
    if not _finite(x):
        return missing
    assert x is not None
    text = number(x, sig, sep=False)
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(x: Num | None, *, missing: str = "n/a") -> str:
    """A count: ``12,345`` (a float mean of counts keeps one decimal)."""
    if not _finite(x):
        return missing
    assert x is not None
    if isinstance(x, float) and not x.is_integer():
        return _fixed(x, 1)
    return _fixed(x, 0)


def pct(share: float | None, places: int = 1, *, sign: bool = False,
        missing: str = "n/a") -> str:
    """A share (0.655) as a percentage (``65.5%``), for human tables."""
    if not _finite(share):
        return missing
    assert share is not None
    return _fixed(100 * float(share), places, sep=True, sign=sign) + "%"


def money(amount: Num | None, currency: str | None = None, *, places: int | None = None,
          code: bool = False, sign: bool = False, missing: str = "-") -> str:
    """A money amount: the currency's minor unit (or ``places``), thousands separators.

    ``code=True`` prefixes the currency code (``CNY 26.52``); ``sign`` writes ``+``.
    """
    if not _finite(amount):
        return missing
    assert amount is not None
    p = minor_places(currency) if places is None else places
    text = _fixed(amount, p, sign=sign)
    return f"{currency} {text}" if code and currency else text


def unit_places(values: Iterable[Num | None], currency: str | None = None, *,
                sig: int = 3) -> int:
    """One count of places for a column of unit costs: three significant digits of its
    smallest non-zero magnitude, at least the minor unit, at most :data:`MAX_UNIT_PLACES`."""
    base = minor_places(currency)
    mags = [abs(float(v)) for v in values if _finite(v) and float(v) != 0]  # type: ignore[arg-type]
    if not mags:
        return base
    return min(MAX_UNIT_PLACES, max(base, sig_places(min(mags), sig)))


def money_column(values: Sequence[Num | None], currency: str | None = None, *,
                 unit: bool = False, missing: str = "-") -> list[str]:
    """A column of amounts with the same places in every cell: the minor unit for totals,
    :func:`unit_places` for unit costs (``unit=True``)."""
    p = unit_places(values, currency) if unit else minor_places(currency)
    return [money(v, currency, places=p, missing=missing) for v in values]


def half_width(x: Num | None, *, missing: str = "n/a") -> str:
    """A confidence half-width to two significant digits (``38``, ``0.015``, ``1,200``)."""
    if not _finite(x):
        return missing
    assert x is not None
    v = abs(float(x))
    if v == 0:
        return "0"
    p = sig_places(v, 2)
    if p == 0:  # round to two significant digits left of the point
        mag = 10 ** (math.floor(math.log10(v)) - 1)
        return _fixed(round(v / mag) * mag, 0)
    return _fixed(v, min(p, 12))


def ci(mean: Num | None, half: Num | None, currency: str | None = None, *,
       is_money: bool = True, places: int | None = None, sign: bool = False,
       missing: str = "n/a") -> str:
    """``mean ± half``: the half-width to 2 significant digits, the mean with as many
    places as the half-width shows (at least the minor unit for money, or ``places``)."""
    if not _finite(mean):
        return missing
    assert mean is not None
    hw = half_width(half, missing="") if _finite(half) and half is not None else ""
    shown = len(hw.split(".")[1]) if "." in hw else 0
    if places is None:
        floor = minor_places(currency) if is_money else 0
        places = max(floor, shown) if hw else (floor if is_money else sig_places(mean, 4))
    head = _fixed(mean, min(places, 12), sign=sign)
    return f"{head} ± {hw}" if hw else head


def ci_column(means: Sequence[Num | None], halves: Sequence[Num | None],
              currency: str | None = None, *, is_money: bool = True, sign: bool = False,
              missing: str = "n/a") -> list[str]:
    """``mean ± half`` cells of one column: each half-width to 2 significant digits, every
    mean with the same places (the most any half-width shows, at least the minor unit
    for money, at most :data:`MAX_UNIT_PLACES` for money)."""
    shown = [half_width(h) for h in halves if _finite(h)]
    places = max([len(t.partition(".")[2]) for t in shown], default=0)
    if is_money:
        places = min(MAX_UNIT_PLACES, max(minor_places(currency), places))
    elif not shown:
        places = max([sig_places(m, 4) for m in means if m is not None and _finite(m)],
                     default=0)
    return [ci(m, h, currency, places=places, sign=sign, missing=missing)
            for m, h in zip(means, halves, strict=True)]


def money_formatter(currency: str | None = None, places: int | None = None) -> Any:
    """A matplotlib tick formatter writing amounts as :func:`money` does (no offset or
    e-notation); ``places`` defaults to the minor unit, fewer for whole ticks."""
    from matplotlib.ticker import FuncFormatter

    def fmt(x: float, _pos: Any = None) -> str:
        p = places
        if p is None:
            p = 0 if float(x).is_integer() and abs(x) >= 10 else minor_places(currency)
        return money(x, currency, places=p)

    return FuncFormatter(fmt)


def format_table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None,
                 align: str | None = None, *, rule: bool = True) -> str:
    """A plain text table, columns padded to their widest cell.

    Parameters
    ----------
    rows
        Cells (anything; written with ``str``).
    header
        Column titles, underlined with dashes when ``rule``.
    align
        ``'l'`` or ``'r'`` per column (default: the first left, the rest right).
    """
    table = [[str(c) for c in r] for r in rows]
    if header is not None:
        table = [[str(h) for h in header], *table]
    if not table:
        return ""
    n = max(len(r) for r in table)
    table = [[*r, *[""] * (n - len(r))] for r in table]
    widths = [max(len(r[i]) for r in table) for i in range(n)]
    align = (align or "l" + "r" * (n - 1)).ljust(n, "r")
    lines = []
    for j, r in enumerate(table):
        cells = [c.ljust(w) if a == "l" else c.rjust(w)
                 for c, w, a in zip(r, widths, align, strict=False)]
        lines.append("  ".join(cells).rstrip())
        if j == 0 and header is not None and rule:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
