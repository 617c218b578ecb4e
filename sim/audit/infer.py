"""Which tariff did the carrier apply? Inferred from its billed seconds and charges alone.

The search covers the increment models ``X/Y`` (1/1, 6/6, 30/6, 60/1, 60/60 first, then
every X, Y <= 60), a price per minute, a connection fee, a minimum charge, and two terms
read off directly: the per-attempt fee (what rows without talk time are charged) and
free short calls (the longest talk time charged like no talk). Each candidate is judged
by the exact rater (:mod:`sim.billing.tariff`): the winner reproduces the charges of the
most rows *exactly*, to the last sub-unit, and its share of such rows is reported.

Per candidate increment model:

1. rows that bill the same seconds must be charged alike: the heaviest charge of each
   billed length counts, the others cannot be reproduced (an upper bound used to skip
   candidates that cannot beat the best so far);
2. the price per billed second is the weighted median of the slopes between the 40
   most common billed lengths, snapped to the decimal with the fewest places within
   its rounding error; the connection fee is the weighted median of what is left,
   snapped likewise; a minimum charge is the commonest charge above the line, kept if
   it reproduces more rows;
3. the three rounding methods (``up``, ``half_up``, ``down``) at the charges' own
   decimals are tried, and the exact rows counted with the rater.

A price that changes on a date is found by :func:`infer_with_change`: the tariffs of the
first and last thirds of the file (by start time) and the change time that makes the
most rows exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np

from sim.billing import Plan, Rounding
from sim.billing.plans import shorthand_steps
from sim.billing.tariff import compile_plan

__all__ = ["InferredTariff", "PriceChange", "STANDARD_INCREMENTS", "billed_seconds",
           "infer_tariff", "infer_with_change"]

#: Searched first, in this order (ties go to the earlier one).
STANDARD_INCREMENTS: tuple[tuple[int, int], ...] = ((1, 1), (6, 6), (30, 6), (60, 1), (60, 60))
MAX_INCREMENT_S = 60
_TOP_POINTS = 40
#: Candidate increment models fitted at most, in order of their bound: the model that
#: fits is found among the first few (rows billing the same seconds must be charged
#: alike, which few models allow); only charges no model explains exhaust the list.
MAX_FITS = 600
_METHODS = ("up", "half_up", "down")


@dataclass(frozen=True, slots=True)
class PriceChange:
    """The price per minute in force from ``at`` (the first row priced so) on."""

    at_s: float
    at: str
    price_per_min: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class InferredTariff:
    """The tariff that reproduces the carrier's charges on the most rows.

    Attributes
    ----------
    increments
        ``"X/Y"``; None when no time is charged (price 0: not identifiable).
    price_per_min, connect_fee, min_cost, per_attempt_fee
        Currency amounts (``price_per_min`` before any :attr:`changes`).
    no_charge_under_s
        Calls of at most this many seconds are charged like unanswered ones.
    decimals, method
        Rounding of each charge.
    rows, rows_exact
        Rows used and rows whose charge the tariff reproduces exactly.
    changes
        Later prices per minute and when they start (at most one today).
    """

    increments: str | None
    price_per_min: Decimal
    connect_fee: Decimal
    min_cost: Decimal
    per_attempt_fee: Decimal
    no_charge_under_s: int
    decimals: int
    method: str
    rows: int
    rows_exact: int
    changes: tuple[PriceChange, ...] = ()

    @property
    def share_exact(self) -> float:
        """Share of rows reproduced exactly (1.0 for no rows)."""
        return 1.0 if self.rows == 0 else self.rows_exact / self.rows

    @property
    def xy(self) -> tuple[int, int]:
        x, _, y = (self.increments or "1/1").partition("/")
        return int(x), int(y)

    def plan(self, currency: str = "XXX", *, price_per_min: Decimal | None = None,
             increments: tuple[int, int] | None = None, name: str = "inferred") -> Plan:
        """The tariff as a plan (optionally at another price or increment model)."""
        ppm = self.price_per_min if price_per_min is None else price_per_min
        x, y = self.xy if increments is None else increments
        return Plan(name=name, currency=currency, steps=shorthand_steps(ppm, x, y),
                    increments=f"{x}/{y}", price_per_min=ppm, connect_fee=self.connect_fee,
                    min_cost=self.min_cost, per_attempt_fee=self.per_attempt_fee,
                    no_charge_under_s=self.no_charge_under_s,
                    rounding=Rounding(decimals=self.decimals, method=self.method))  # type: ignore[arg-type]

    def plans(self, currency: str = "XXX") -> list[Plan]:
        """The plan before and after each change, in time order."""
        return [self.plan(currency)] + [self.plan(currency, price_per_min=c.price_per_min,
                                                  name=f"inferred from {c.at}")
                                        for c in self.changes]

    def text(self) -> str:
        """One line, e.g. ``0.15/min 60/60, connect 0, min 0``."""
        parts = [f"{self.price_per_min}/min {self.increments or '(no time charged)'}"]
        for c in self.changes:
            parts.append(f"{c.price_per_min}/min from {c.at}")
        parts.append(f"connect {self.connect_fee}")
        parts.append(f"min {self.min_cost}")
        if self.per_attempt_fee:
            parts.append(f"per attempt {self.per_attempt_fee}")
        if self.no_charge_under_s:
            parts.append(f"free up to {self.no_charge_under_s} s")
        parts.append(f"rounded {self.method} to {self.decimals} places")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "increments": self.increments, "price_per_min": str(self.price_per_min),
            "connect_fee": str(self.connect_fee), "min_cost": str(self.min_cost),
            "per_attempt_fee": str(self.per_attempt_fee),
            "no_charge_under_s": self.no_charge_under_s, "decimals": self.decimals,
            "method": self.method, "rows": self.rows, "rows_exact": self.share_exact,
            "rows_exact_count": self.rows_exact,
            "changes": [{"from": c.at, "price_per_min": str(c.price_per_min)}
                        for c in self.changes],
        }


def billed_seconds(d: np.ndarray, x: int, y: int) -> np.ndarray:
    """Billed seconds of talk times ``d`` (int s) under ``X/Y`` (DESIGN §6)."""
    d = np.asarray(d, dtype=np.int64)
    over = np.maximum(d - x, 0)
    return np.where(d > 0, x + -(-over // y) * y, 0)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def _simplest(est: float, tol: float, *, low: float = -np.inf) -> Decimal:
    """The decimal with the fewest places within ``tol`` of ``est`` (>= ``low``)."""
    lo, hi = max(est - tol, low), est + tol
    if hi < lo:  # the estimate is below the least allowed value
        return _as_decimal(Decimal(repr(low)))
    for places in range(0, 13):
        step = 10.0 ** -places
        first, last = int(np.ceil(lo / step - 1e-9)), int(np.floor(hi / step + 1e-9))
        if first <= last:
            m = min(max(int(round(est / step)), first), last)
            return _as_decimal(Decimal(m).scaleb(-places))
    return Decimal(repr(round(est, 12)))


def _as_decimal(x: Decimal) -> Decimal:
    """``x`` without trailing zeros, in plain notation (``0.2``, ``3``, ``0``)."""
    x = x.normalize()
    return x.quantize(Decimal(1)) if x.as_tuple().exponent > 0 else x  # type: ignore[operator]


@dataclass(slots=True)
class _Data:
    """Unique (talk s, charge units) pairs with counts, and the per-length mode."""

    d: np.ndarray
    c: np.ndarray
    w: np.ndarray
    den: int
    decimals: int
    zero: int
    free_s: int
    fit_d: np.ndarray
    fit_c: np.ndarray
    fit_w: np.ndarray
    rows: int


def _prepare(billsec: np.ndarray, units: np.ndarray, decimals: int) -> _Data:
    d = np.asarray(billsec, dtype=np.int64)
    c = np.asarray(units, dtype=np.int64)
    span = int(c.max(initial=0)) - min(0, int(c.min(initial=0))) + 1
    key = d * span + (c - min(0, int(c.min(initial=0))))
    uk, w = np.unique(key, return_counts=True)
    ud, uc = uk // span, uk % span + min(0, int(c.min(initial=0)))
    zero_rows = ud == 0
    zero = int(uc[zero_rows][np.argmax(w[zero_rows])]) if zero_rows.any() else 0
    pos = ~zero_rows
    pd, pc, pw = ud[pos], uc[pos], w[pos]
    # the heaviest charge of each talk length (pairs are sorted by d, then c)
    order = np.lexsort((-pw, pd))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pd[order][1:] != pd[order][:-1]
    md, mc, mw = pd[order][first], pc[order][first], pw[order][first]
    nonzero = mc != zero
    free_s = 0
    if nonzero.any() and not nonzero[0]:
        free_s = int(md[np.argmax(nonzero) - 1])
    fit = md > free_s
    return _Data(d=ud, c=uc, w=w, den=10**decimals, decimals=decimals, zero=zero,
                 free_s=free_s if nonzero.any() else 0, fit_d=md[fit], fit_c=mc[fit] - zero,
                 fit_w=mw[fit], rows=int(len(d)))


def _fit_line(b: np.ndarray, c: np.ndarray, w: np.ndarray,
              den: int) -> tuple[Decimal, Decimal, float]:
    """Price per minute and connection fee (currency) of points ``c = s*b + k``; and
    the slope used (units per second)."""
    top = np.argsort(-w, kind="stable")[:_TOP_POINTS]
    tb, tc, tw = b[top].astype(np.float64), c[top].astype(np.float64), w[top].astype(np.float64)
    i, j = np.triu_indices(len(top), 1)
    db = tb[j] - tb[i]
    ok = db != 0
    if ok.any():
        slopes = (tc[j] - tc[i])[ok] / db[ok]
        wt = np.minimum(tw[i], tw[j])[ok] * np.abs(db[ok])
        slope = _weighted_median(slopes, wt)
        spread = float(np.max(np.abs(db[ok])))
    else:  # one billed length: all of it is time (no fee can be told apart)
        slope = float(tc[0] / tb[0]) if tb[0] else 0.0
        spread = float(tb[0]) or 1.0
    ppm = _simplest(slope * 60 / den, 60 * 1.5 / (den * spread), low=0.0)
    s = float(ppm) * den / 60
    resid = c.astype(np.float64) - s * b
    k_est = _weighted_median(resid, w.astype(np.float64)) / den
    connect = _simplest(k_est, 1.0 / den, low=0.0)
    return _as_decimal(ppm), _as_decimal(connect), s


def _exact_rows(tariff: InferredTariff, data: _Data) -> int:
    """Rows the tariff reproduces exactly, by the rater."""
    cp = compile_plan(tariff.plan())
    _, units = cp.rate_calls(data.d)
    return int(data.w[np.asarray(units, dtype=np.int64) == data.c].sum())


def _candidates() -> list[tuple[int, int]]:
    rest = [(x, y) for x in range(1, MAX_INCREMENT_S + 1) for y in range(1, MAX_INCREMENT_S + 1)
            if (x, y) not in STANDARD_INCREMENTS]
    return [*STANDARD_INCREMENTS, *rest]


def _all_bounds(data: _Data, cands: list[tuple[int, int]]) -> np.ndarray:
    """Per candidate: rows at most reproducible (rows billing the same seconds must be
    charged alike), for all candidates at once. Equal charges of one billed length are
    taken to be adjacent in talk time (true of any tariff whose charge grows with it)."""
    d, c, w = data.fit_d, data.fit_c, data.fit_w
    fixed = int(data.w.sum() - w.sum())
    n_c, n_u = len(cands), len(d)
    if n_u == 0:
        return np.full(n_c, data.rows, dtype=np.int64)
    xs = np.array([x for x, _ in cands], dtype=np.int64)[:, None]
    ys = np.array([y for _, y in cands], dtype=np.int64)[:, None]
    b = xs + -(-np.maximum(d[None, :] - xs, 0) // ys) * ys
    new_run = np.ones((n_c, n_u), dtype=bool)
    new_run[:, 1:] = b[:, 1:] != b[:, :-1]
    c_change = np.ones(n_u, dtype=bool)
    c_change[1:] = c[1:] != c[:-1]
    seg_start = np.flatnonzero((new_run | c_change[None, :]).ravel())
    seg_w = np.add.reduceat(np.tile(w, n_c), seg_start)
    run_id = np.cumsum(new_run.ravel())[seg_start]
    first = np.flatnonzero(np.concatenate([[True], run_id[1:] != run_id[:-1]]))
    run_max = np.maximum.reduceat(seg_w, first)
    owner = seg_start[first] // n_u
    return fixed + np.bincount(owner, weights=run_max, minlength=n_c).astype(np.int64)


def _runs(data: _Data, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The heaviest charge of each billed length: (b, c, weight)."""
    span = int(data.fit_c.max()) - int(data.fit_c.min()) + 1
    key = b * span + (data.fit_c - int(data.fit_c.min()))
    uk, inv = np.unique(key, return_inverse=True)
    wk = np.bincount(inv, weights=data.fit_w).astype(np.int64)
    kb, kc = uk // span, uk % span + int(data.fit_c.min())
    order = np.lexsort((-wk, kb))
    first = np.ones(len(order), dtype=bool)
    first[1:] = kb[order][1:] != kb[order][:-1]
    sel = order[first]
    return kb[sel], kc[sel], wk[sel]


def _places(x: Decimal) -> int:
    return max(0, -int(x.as_tuple().exponent))  # type: ignore[arg-type]


def _predict(t: InferredTariff, b: np.ndarray, den: int) -> np.ndarray:
    """Charge units (less the per-attempt fee) of billed lengths ``b`` under ``t``."""
    e = max(_places(t.price_per_min), _places(t.connect_fee))
    p, k = int(t.price_per_min.scaleb(e)), int(t.connect_fee.scaleb(e))
    div = 60 * 10**e
    big = (p + 1) * (int(b.max(initial=0)) + 1) * den + (k + 1) * den * 60 >= 1 << 62
    bb = b.astype(object) if big else b
    num = p * bb * den + k * den * 60
    if t.method == "up":
        units = -(-num // div)
    elif t.method == "down":
        units = num // div
    else:
        units = (2 * num + div) // (2 * div)
    floor = int(t.min_cost.scaleb(t.decimals))
    return np.maximum(units, floor) if floor else units


def _fit(data: _Data, x: int, y: int, b: np.ndarray, c: np.ndarray,
         w: np.ndarray) -> InferredTariff:
    """The best tariff at increments X/Y; ``rows_exact`` counted on the fit points
    (the heaviest charge of each billed length) plus the rows without talk time."""
    fixed = int(data.w.sum() - data.fit_w.sum())
    base = InferredTariff(
        increments=f"{x}/{y}", price_per_min=Decimal(0), connect_fee=Decimal(0),
        min_cost=Decimal(0), per_attempt_fee=_as_decimal(Decimal(data.zero).scaleb(
            -data.decimals)), no_charge_under_s=data.free_s,
        decimals=data.decimals, method="up", rows=data.rows, rows_exact=0)
    if len(b) == 0:
        return replace(base, rows_exact=fixed)
    ppm, connect, s = _fit_line(b, c, w, data.den)
    trials = [replace(base, price_per_min=ppm, connect_fee=connect)]
    pred = s * b + float(connect) * data.den
    above = c > np.ceil(pred) + 0.5
    if above.any():
        vals, inv = np.unique(c[above], return_inverse=True)
        m = int(vals[np.argmax(np.bincount(inv, weights=w[above]))])
        trials.append(replace(trials[0], min_cost=_as_decimal(Decimal(m).scaleb(
            -data.decimals))))
    best = trials[0]
    for t in trials:
        for method in _METHODS:
            cand = replace(t, method=method)
            hit = int(w[_predict(cand, b, data.den) == c].sum())
            cand = replace(cand, rows_exact=fixed + hit)
            if cand.rows_exact > best.rows_exact:
                best = cand
    return best


def _terms(t: InferredTariff) -> int:
    return int(t.connect_fee != 0) + int(t.min_cost != 0)


def infer_tariff(billsec: np.ndarray, units: np.ndarray, decimals: int) -> InferredTariff:
    """The tariff reproducing the most charges exactly.

    Parameters
    ----------
    billsec
        Billed talk seconds per row (0 for unanswered rows), int.
    units
        Charge per row in units of ``10**-decimals`` currency, int.
    decimals
        Decimal places of the charges (the rounding searched).

    Returns
    -------
    InferredTariff
        With ``increments`` None when nothing is charged for time; ``rows_exact``
        counted by the rater.
    """
    data = _prepare(billsec, units, decimals)
    if len(data.fit_d) == 0 or not (data.fit_c != 0).any():
        flat = _fit(data, 1, 1, data.fit_d[:0], data.fit_c[:0], data.fit_w[:0])
        flat = replace(flat, increments=None)
        return replace(flat, rows_exact=_exact_rows(flat, data))
    cands = _candidates()
    bounds = _all_bounds(data, cands)
    best: InferredTariff | None = None
    for fits, k in enumerate(np.argsort(-bounds, kind="stable")):
        bound = int(bounds[k])
        if fits >= MAX_FITS:
            break
        if best is not None and (bound < best.rows_exact or (
                bound == best.rows_exact and _terms(best) == 0)):
            break
        x, y = cands[k]
        b, c, w = _runs(data, billed_seconds(data.fit_d, x, y))
        t = _fit(data, x, y, b, c, w)
        # equal charges: the tariff with fewer terms (6/6 + a minimum = 30/6 alone)
        if best is None or (t.rows_exact, -_terms(t)) > (best.rows_exact, -_terms(best)):
            best = t
        if best.rows_exact == data.rows and best.price_per_min == 0:
            break  # no time charged: every increment model is the same
    assert best is not None
    best = replace(best, rows_exact=_exact_rows(best, data))
    if best.price_per_min == 0:
        best = replace(best, increments=None)
    return best


def _row_units(tariff: InferredTariff, billsec: np.ndarray) -> np.ndarray:
    _, units = compile_plan(tariff.plan()).rate_calls(np.asarray(billsec, dtype=np.int64))
    return np.asarray(units, dtype=np.int64)


def _same_terms(a: InferredTariff, b: InferredTariff) -> bool:
    return (a.increments, a.connect_fee, a.min_cost, a.per_attempt_fee, a.no_charge_under_s,
            a.method) == (b.increments, b.connect_fee, b.min_cost, b.per_attempt_fee,
                          b.no_charge_under_s, b.method)


def infer_with_change(billsec: np.ndarray, units: np.ndarray, decimals: int,
                      start_s: np.ndarray, label: Any = None) -> InferredTariff:
    """:func:`infer_tariff`, allowing one change of the price per minute in time.

    The first and last thirds of the rows (by start) are inferred on their own. The
    same tariff in both: it is the file's. The same terms at another price: the change
    time is where the most rows are exact with the old price before and the new one
    after. Otherwise the whole file is searched at once.

    Parameters
    ----------
    start_s
        Start of each row, s (any clock; rows need not be sorted).
    label
        ``label(t_s) -> str`` for the change time (default: the number).
    """
    billsec = np.asarray(billsec, dtype=np.int64)
    units = np.asarray(units, dtype=np.int64)
    n = len(billsec)
    if n < 30:
        return infer_tariff(billsec, units, decimals)
    order = np.argsort(start_s, kind="stable")
    third = n // 3
    early, late = order[:third], order[n - third:]
    ta = infer_tariff(billsec[early], units[early], decimals)
    tb = infer_tariff(billsec[late], units[late], decimals)
    d, c = billsec[order], units[order]
    ok_a = _row_units(ta, d) == c
    whole = replace(ta, rows=n, rows_exact=int(ok_a.sum()))
    if ta.increments is None or not _same_terms(ta, tb):
        if max(ta.share_exact, tb.share_exact) < 0.5:  # neither third has a tariff
            ok_b = _row_units(tb, d) == c
            return whole if whole.rows_exact >= int(ok_b.sum()) else replace(
                tb, rows=n, rows_exact=int(ok_b.sum()))
        return infer_tariff(billsec, units, decimals)
    if ta.price_per_min == tb.price_per_min:
        return whole
    ok_b = _row_units(tb, d) == c
    # rows 0..k-1 at the old price, k.. at the new one
    score = np.concatenate([[0], np.cumsum(ok_a)]) + np.concatenate(
        [np.cumsum(ok_b[::-1])[::-1], [0]])
    k = int(np.argmax(score))
    if k in (0, n):
        return whole
    at_s = float(start_s[order[k]])
    change = PriceChange(at_s=at_s, at=str(label(at_s)) if label else repr(at_s),
                         price_per_min=tb.price_per_min)
    return replace(ta, rows=n, rows_exact=int(score[k]), changes=(change,))
