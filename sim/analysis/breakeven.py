"""Break-even between billing plans: which plan is cheapest for which call-length mix.

Which offer wins depends on the traffic: per-second billing at a higher minute price
beats 60/60 when calls are short, loses when they are long; a connection fee pays off
only above some average length. The call-length mix is described by two numbers an
analyst can reason about (and read off their own CDRs, :meth:`CallMix.from_cdrs`):

* ``mean_talk_s`` — the mean talk time of the *conversations*, the answered calls that
  are not short;
* ``p_short`` — the share of answered calls that are short (talk of 1 to
  ``short_max_s`` whole seconds, equally likely: hang-ups, voicemail, silent calls).

Conversations are lognormal with log-sd ``sigma`` (0.93 for telemarketing, DESIGN §4),
or, with ``sigma = 0``, all of the mean length — spread over the two whole seconds
around it so that the mean billed second is exactly ``mean_talk_s`` and costs vary
continuously. The expected cost of an answered call under a plan is then
``sum_d P(billsec = d) * charge(d)``, the charges coming from the rater itself
(:func:`sim.billing.rate` on a table of one call per billsec value), so every term of the
plan — increments, steps, connection fee, free short calls, minimum, cap, legs,
per-attempt fee, rounding — counts exactly as on an invoice.

Plan-level terms (seat, channel and number rent, bundles) do not depend on call length;
pass them as ``fixed_per_call`` (e.g. a run's fees divided by its answered calls) to
include them. The expected costs are statistics, computed in floats from exact charges.

Crossings: along ``mean_talk_s`` (at a fixed ``p_short``) found by bracketing the changes
of the cheapest plan on a grid and solving ``cost_A = cost_B`` with Brent's method;
along ``p_short`` (at a fixed ``mean_talk_s``) in closed form, since the cost is linear
in ``p_short``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy.special import ndtr  # scipy.special only: scipy.stats costs seconds to import

from ..billing import CampaignInfo, Plan, rate
from ..cdr import CDRTable, empty_columns, encode, open_categories
from ..errors import PlanError

__all__ = [
    "BreakEvenMap",
    "CallMix",
    "CostCurve",
    "Crossing",
    "ChargeTable",
    "breakeven_map",
    "charge_table",
    "cost_curve",
    "short_share_crossings",
]

#: Probability mass of conversation lengths beyond the charge table (put at its end).
TAIL_MASS = 1e-6
#: Longest charge table, s (72 h): a wider lognormal's far tail is put at its end.
D_MAX_CAP_S = 259_200
#: Default place of the synthetic calls on the calendar: a Monday 10:00 (banded plans).
DEFAULT_AT = "2026-03-02T10:00:00"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallMix:
    """A call-length mix of answered calls.

    Parameters
    ----------
    mean_talk_s
        Mean talk time of the conversations (answered calls that are not short), s (>= 1).
    p_short
        Share of answered calls that are short (0-1).
    short_max_s
        Short calls last 1 .. ``short_max_s`` whole seconds, each equally likely.
    sigma
        Log-sd of conversation lengths (lognormal); 0 = all of the mean length.
    """

    mean_talk_s: float
    p_short: float = 0.0
    short_max_s: int = 10
    sigma: float = 0.93

    def __post_init__(self) -> None:
        if not (self.mean_talk_s >= 1 and math.isfinite(self.mean_talk_s)):
            raise ValueError(f"mean_talk_s must be >= 1 s (got {self.mean_talk_s})")
        if not 0 <= self.p_short <= 1:
            raise ValueError(f"p_short must be in [0, 1] (got {self.p_short})")
        if self.short_max_s < 1:
            raise ValueError(f"short_max_s must be >= 1 s (got {self.short_max_s})")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0 (got {self.sigma})")

    def d_max(self) -> int:
        """Longest billsec (s) the distribution needs (beyond: :data:`TAIL_MASS`)."""
        return _d_max(self.mean_talk_s, self.sigma, self.short_max_s)

    def pmf(self, d_max: int | None = None) -> np.ndarray:
        """``P(billsec = d)`` for ``d = 0 .. d_max`` (the tail is put on ``d_max``)."""
        n = self.d_max() if d_max is None else d_max
        long = _long_pmf(np.array([self.mean_talk_s]), self.sigma, n)[0]
        return self.p_short * _short_pmf(self.short_max_s, n) + (1 - self.p_short) * long

    @classmethod
    def from_cdrs(cls, cdrs: CDRTable, *, short_max_s: int = 10) -> CallMix:
        """The mix of a table's answered calls with talk: short share, mean and log-sd
        of the rest (talk in whole seconds, as billed)."""
        d = cdrs["billsec"][cdrs.answered & (cdrs["billsec"] > 0)].astype(float)
        if d.size == 0:
            return cls(mean_talk_s=60.0, p_short=0.0, short_max_s=short_max_s)
        short = d <= short_max_s
        long = d[~short]
        mean = float(long.mean()) if long.size else float(short_max_s + 1)
        sigma = float(np.log(long).std(ddof=1)) if long.size > 2 else 0.93
        return cls(mean_talk_s=max(mean, 1.0), p_short=float(short.mean()),
                   short_max_s=short_max_s, sigma=sigma)


def _d_max(mean_s: float, sigma: float, short_max_s: int) -> int:
    if sigma == 0:
        top = math.ceil(mean_s)
    else:
        mu = math.log(mean_s) - sigma**2 / 2
        top = math.ceil(math.exp(mu + sigma * NormalDist().inv_cdf(1 - TAIL_MASS)))
    return min(max(top, short_max_s, 1), max(D_MAX_CAP_S, math.ceil(mean_s), short_max_s))


def _short_pmf(short_max_s: int, d_max: int) -> np.ndarray:
    p = np.zeros(d_max + 1)
    p[1:short_max_s + 1] = 1.0 / short_max_s
    return p


def _long_pmf(means_s: np.ndarray, sigma: float, d_max: int) -> np.ndarray:
    """Rows ``P(billsec = d)``, d = 0..d_max, of conversations of each mean (s)."""
    means_s = np.asarray(means_s, dtype=float)
    out = np.zeros((means_s.size, d_max + 1))
    if sigma == 0:
        # Two whole seconds around the mean, weighted so that E[billsec] = mean exactly.
        lo = np.floor(means_s).astype(np.int64)
        w_hi = means_s - lo
        rows = np.arange(means_s.size)
        np.add.at(out, (rows, np.minimum(lo, d_max)), 1 - w_hi)
        np.add.at(out, (rows, np.minimum(lo + 1, d_max)), w_hi)
        return out
    # billsec = ceil(talk): P(d) = F(d) - F(d - 1), talk lognormal with the given mean.
    mu = np.log(means_s) - sigma**2 / 2
    edges = np.arange(d_max + 1, dtype=float)
    with np.errstate(divide="ignore"):
        cdf = ndtr((np.log(edges)[None, :] - mu[:, None]) / sigma)
    out[:, 1:] = np.diff(cdf, axis=1)
    out[:, d_max] += 1 - cdf[:, d_max]  # the tail beyond the table
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeTable:
    """Each plan's charge (currency, float from the exact value) of an answered call of
    ``d = 0 .. d_max`` billed seconds, plus the fixed costs per answered call."""

    plans: tuple[str, ...]
    currency: str
    charges: np.ndarray  # (plans, d_max + 1)
    extra: np.ndarray  # (plans,) fixed cost per answered call
    fixed_per_call: Mapping[str, float] = field(default_factory=dict)

    @property
    def d_max(self) -> int:
        return self.charges.shape[1] - 1

    def expected(self, pmf: np.ndarray) -> np.ndarray:
        """Expected cost per answered call of each plan, for rows of ``pmf`` (rows, d)."""
        # One matrix-vector product per row: a matrix product with a transposed operand
        # takes a slow BLAS path here (100x slower measured on a busy 2-core machine).
        rows = np.atleast_2d(pmf)
        return np.vstack([self.charges @ r for r in rows]) + self.extra


def _grid_table(d_max: int, at: str, number_type: str, destination: str) -> CDRTable:
    n = d_max + 1
    cols = empty_columns(n)
    d = np.arange(n, dtype=np.int64)
    cols["billsec"][:] = d
    cols["talk_s"][:] = d.astype(float)
    cols["start"][:] = 0.0
    cols["answer"][:] = 0.0
    cols["connect"][:] = 0.0
    cols["end"][:] = d.astype(float)
    cols["disposition"][:] = encode("disposition", "ANSWERED")
    cols["answered_by"][:] = encode("answered_by", "person")
    cats = open_categories(number_type=[number_type], destination=[destination])
    cols["number_type"][:] = 1 if number_type else 0
    cols["destination"][:] = 1 if destination else 0
    return CDRTable(cols, cats, epoch=at)


def charge_table(plans: Iterable[Plan], d_max: int, *,
                 fixed_per_call: Mapping[str, Decimal | float] | None = None,
                 dials_per_answer: float = 1.0, at: str = DEFAULT_AT,
                 number_type: str = "", destination: str = "") -> ChargeTable:
    """Charges of answered calls of every billsec up to ``d_max`` under each plan.

    Parameters
    ----------
    plans
        Plans of one currency.
    d_max
        Longest billsec, s.
    fixed_per_call
        Plan name -> extra cost per answered call (currency), e.g. prorated rent.
    dials_per_answer
        Dial attempts per answered call (>= 1): each unanswered one pays the plan's
        per-attempt fee.
    at
        Naive local ISO datetime the calls are answered at (for time-banded plans).
    number_type, destination
        Number type / dialled prefix of the calls (per-destination prices).

    Raises
    ------
    PlanError
        The plans are in several currencies, or none is given.
    """
    plans = tuple(plans)
    if not plans:
        raise PlanError("break-even needs at least one plan")
    currencies = sorted({p.currency for p in plans})
    if len(currencies) > 1:
        raise PlanError(f"break-even compares plans of one currency (got {', '.join(currencies)})")
    if dials_per_answer < 1:
        raise ValueError(f"dials_per_answer must be >= 1 (got {dials_per_answer})")
    rating = rate(_grid_table(d_max, at, number_type, destination), plans,
                  campaign=CampaignInfo())
    charges = np.vstack([rating.per_call(p.name).charges_float() for p in plans])
    fixed = {k: float(v) for k, v in (fixed_per_call or {}).items()}
    extra = np.array([fixed.get(p.name, 0.0)
                      + (dials_per_answer - 1) * float(p.per_attempt_fee) for p in plans])
    return ChargeTable(plans=tuple(p.name for p in plans), currency=currencies[0],
                       charges=charges, extra=extra, fixed_per_call=fixed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Crossing:
    """Where the cheapest plan changes from ``left`` to ``right`` (both cost ``cost``).

    ``left`` is cheaper below the point, ``right`` above it, along the axis that varies.
    """

    mean_talk_s: float
    p_short: float
    left: str
    right: str
    cost: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CostCurve:
    """Expected cost per answered call of each plan as the mean conversation changes.

    Attributes
    ----------
    means_s
        Mean conversation talk times, s (the grid).
    costs
        Plan name -> expected cost per answered call at each grid point (currency).
    cheapest
        Name of the cheapest plan at each grid point.
    crossings
        Every change of the cheapest plan along the axis, solved to ``xtol``.
    p_short, short_max_s, sigma, currency
        The rest of the mix, and the currency of the costs.
    """

    means_s: np.ndarray
    costs: Mapping[str, np.ndarray]
    cheapest: tuple[str, ...]
    crossings: tuple[Crossing, ...]
    p_short: float
    short_max_s: int
    sigma: float
    currency: str

    def to_pandas(self) -> Any:
        """One row per grid point: the mean and each plan's cost (needs pandas)."""
        import pandas as pd

        return pd.DataFrame({"mean_talk_s": self.means_s, **self.costs,
                             "cheapest": list(self.cheapest)})


def _long_costs(table: ChargeTable, means_s: np.ndarray, sigma: float) -> np.ndarray:
    """(means, plans) expected cost of a conversation, a few means at a time (the pmf
    rows are as long as the charge table)."""
    step = max(1, (1 << 21) // (table.d_max + 1))
    return np.vstack([table.expected(_long_pmf(means_s[i:i + step], sigma, table.d_max))
                      for i in range(0, means_s.size, step)])


def _costs_at(table: ChargeTable, means_s: np.ndarray, p_short: float, short_max_s: int,
              sigma: float) -> np.ndarray:
    short = table.expected(_short_pmf(short_max_s, table.d_max)[None, :])
    return p_short * short + (1 - p_short) * _long_costs(table, means_s, sigma)


def _table_for(plans: Sequence[Plan], top_mean_s: float, sigma: float, short_max_s: int,
               kw: Mapping[str, Any]) -> ChargeTable:
    """``kw["table"]`` when given (its plans must be ``plans``), else a new charge table."""
    kw = dict(kw)
    table = kw.pop("table", None)
    if table is not None:
        if table.plans != tuple(p.name for p in plans):
            raise ValueError(f"table holds plans {table.plans}, not the ones given")
        return table
    return charge_table(plans, _d_max(top_mean_s, sigma, short_max_s), **kw)


def _root(f: Callable[[float], float], a: float, b: float, fa: float, fb: float,
          xtol: float) -> float:
    """A root of ``f`` between ``a`` and ``b`` (``fa * fb < 0``) by the Illinois regula
    falsi: exact in one step where ``f`` is linear, as expected costs are between kinks."""
    x_prev = math.nan
    x = a
    for _ in range(200):
        x = b - fb * (b - a) / (fb - fa)
        if abs(x - x_prev) <= xtol:
            return x
        fx = f(x)
        if fx == 0:
            return x
        if fx * fb < 0:  # the root lies between x and b: b becomes the kept end
            a, fa = b, fb
        else:  # Illinois: halve the kept end's value so that it moves next time
            fa /= 2
        b, fb = x, fx
        if abs(b - a) <= xtol:
            return x
        x_prev = x
    return x


def cost_curve(plans: Iterable[Plan], means_s: Sequence[float] | np.ndarray, *,
               p_short: float = 0.0, short_max_s: int = 10, sigma: float = 0.93,
               xtol_s: float = 1e-9, **kw: Any) -> CostCurve:
    """Expected cost per answered call of each plan along ``means_s``, with crossings.

    Parameters
    ----------
    plans
        Plans of one currency.
    means_s
        Increasing mean conversation talk times to evaluate, s (>= 1).
    p_short, short_max_s, sigma
        The rest of the call mix (:class:`CallMix`).
    xtol_s
        Tolerance of each crossing, s.
    **kw
        ``fixed_per_call``, ``dials_per_answer``, ``at``, ``number_type``,
        ``destination`` of :func:`charge_table`; or ``table``, a :class:`ChargeTable`
        of ``plans`` already made (reused as it is, e.g. for a map and a curve).
    """
    plans = tuple(plans)
    means = np.asarray(means_s, dtype=float)
    if means.ndim != 1 or means.size < 2 or np.any(np.diff(means) <= 0) or means[0] < 1:
        raise ValueError("means_s must be at least two increasing values >= 1 s")
    CallMix(mean_talk_s=float(means[0]), p_short=p_short, short_max_s=short_max_s,
            sigma=sigma)  # validates the mix
    table = _table_for(plans, float(means[-1]), sigma, short_max_s, kw)
    costs = _costs_at(table, means, p_short, short_max_s, sigma)
    best = np.argmin(costs, axis=1)

    def cost(m: float) -> np.ndarray:
        return _costs_at(table, np.array([m]), p_short, short_max_s, sigma)[0]

    found: list[Crossing] = []

    def solve(a: float, b: float, ia: int, ib: int, depth: int = 0) -> None:
        # The cheapest plan is ia at a and ib at b: bisect until only the two remain,
        # then solve cost_ia = cost_ib.
        mid = (a + b) / 2
        im = int(np.argmin(cost(mid)))
        if im not in (ia, ib) and depth < 60 and b - a > xtol_s:
            solve(a, mid, ia, im, depth + 1)
            solve(mid, b, im, ib, depth + 1)
            return

        def gap(m: float) -> float:
            c = cost(m)
            return float(c[ia] - c[ib])

        ga, gb = gap(a), gap(b)
        x = a if ga == 0 else b if gb == 0 else (
            _root(gap, a, b, ga, gb, xtol_s) if ga * gb < 0 else mid)
        found.append(Crossing(mean_talk_s=float(x), p_short=p_short, left=plans[ia].name,
                              right=plans[ib].name, cost=float(cost(x)[ia])))

    for i in range(means.size - 1):
        if best[i] != best[i + 1]:
            solve(float(means[i]), float(means[i + 1]), int(best[i]), int(best[i + 1]))
    return CostCurve(means_s=means, costs={p.name: costs[:, k] for k, p in enumerate(plans)},
                     cheapest=tuple(plans[k].name for k in best), crossings=tuple(found),
                     p_short=p_short, short_max_s=short_max_s, sigma=sigma,
                     currency=table.currency)


def short_share_crossings(plans: Iterable[Plan], mean_talk_s: float, *,
                          short_max_s: int = 10, sigma: float = 0.93,
                          **kw: Any) -> tuple[Crossing, ...]:
    """Where the cheapest plan changes as the short-call share goes from 0 to 1.

    The expected cost of each plan is linear in ``p_short``
    (``L + p * (S - L)`` with ``L``, ``S`` its cost of a conversation and of a short
    call), so the lower envelope and its corners are exact.
    """
    plans = tuple(plans)
    table = _table_for(plans, mean_talk_s, sigma, short_max_s, kw)
    long = table.expected(_long_pmf(np.array([mean_talk_s]), sigma, table.d_max))[0]
    short = table.expected(_short_pmf(short_max_s, table.d_max)[None, :])[0]
    slope = short - long
    out: list[Crossing] = []
    p = 0.0
    cur = int(np.lexsort((slope, long))[0])  # cheapest at p = 0 (ties: the one rising slower)
    while True:
        # The next plan to undercut the current one: cost_k(q) = cost_cur(q), q >= p.
        # Each step moves to a strictly smaller slope, so the loop ends.
        cand = [((long[k] - long[cur]) / (slope[cur] - slope[k]), slope[k], k)
                for k in range(len(plans)) if slope[k] < slope[cur]]
        cand = [c for c in cand if c[0] >= p - 1e-12]
        if not cand:
            break
        q, _, k = min(cand)
        if q > 1:
            break
        out.append(Crossing(mean_talk_s=float(mean_talk_s), p_short=float(q),
                            left=plans[cur].name, right=plans[k].name,
                            cost=float(long[cur] + q * slope[cur])))
        p, cur = q, k
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakEvenMap:
    """The cheapest plan over a grid of (mean conversation, short-call share).

    Attributes
    ----------
    means_s, p_shorts
        The grid axes (s; 0-1).
    plans
        Plan names; ``cheapest[i, j]`` indexes them at ``(p_shorts[i], means_s[j])``.
    margin
        Cost of the runner-up minus the cheapest (currency), same shape.
    costs
        (plans, p_shorts, means) expected cost per answered call.
    """

    means_s: np.ndarray
    p_shorts: np.ndarray
    plans: tuple[str, ...]
    cheapest: np.ndarray
    margin: np.ndarray
    costs: np.ndarray
    short_max_s: int
    sigma: float
    currency: str

    def winners(self) -> list[str]:
        """Plans cheapest somewhere on the map, most area first."""
        counts = np.bincount(self.cheapest.ravel(), minlength=len(self.plans))
        order = np.argsort(-counts, kind="stable")
        return [self.plans[k] for k in order if counts[k] > 0]

    def cheapest_at(self, mean_talk_s: float, p_short: float) -> str:
        """The cheapest plan at the grid point nearest to the given mix."""
        j = int(np.argmin(np.abs(self.means_s - mean_talk_s)))
        i = int(np.argmin(np.abs(self.p_shorts - p_short)))
        return self.plans[int(self.cheapest[i, j])]

    def to_pandas(self) -> Any:
        """Long format: one row per grid point with the cheapest plan (needs pandas)."""
        import pandas as pd

        pp, mm = np.meshgrid(self.p_shorts, self.means_s, indexing="ij")
        return pd.DataFrame({"p_short": pp.ravel(), "mean_talk_s": mm.ravel(),
                             "cheapest": [self.plans[k] for k in self.cheapest.ravel()],
                             "margin": self.margin.ravel()})


def breakeven_map(plans: Iterable[Plan], means_s: Sequence[float] | np.ndarray,
                  p_shorts: Sequence[float] | np.ndarray, *, short_max_s: int = 10,
                  sigma: float = 0.93, **kw: Any) -> BreakEvenMap:
    """Cheapest plan for every (mean conversation talk time, short-call share) pair.

    Parameters are those of :func:`cost_curve`; ``p_shorts`` are shares in [0, 1].
    """
    plans = tuple(plans)
    means = np.asarray(means_s, dtype=float)
    ps = np.asarray(p_shorts, dtype=float)
    if means.size < 1 or means.min() < 1 or ps.size < 1 or ps.min() < 0 or ps.max() > 1:
        raise ValueError("means_s must be >= 1 s and p_shorts within [0, 1]")
    table = _table_for(plans, float(means.max()), sigma, short_max_s, kw)
    long = _long_costs(table, means, sigma)  # (means, plans)
    short = table.expected(_short_pmf(short_max_s, table.d_max)[None, :])[0]  # (plans,)
    costs = (ps[None, :, None] * short[:, None, None]
             + (1 - ps)[None, :, None] * long.T[:, None, :])  # (plans, p, means)
    order = np.sort(costs, axis=0)
    margin = order[1] - order[0] if len(plans) > 1 else np.zeros(costs.shape[1:])
    return BreakEvenMap(means_s=means, p_shorts=ps, plans=tuple(p.name for p in plans),
                        cheapest=np.argmin(costs, axis=0), margin=margin, costs=costs,
                        short_max_s=short_max_s, sigma=sigma, currency=table.currency)
