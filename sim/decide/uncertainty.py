"""How sure is the choice? Plan costs when the inputs themselves are uncertain.

A plan comparison on one campaign's calls is a point estimate twice over: the campaign
is one draw of a random process (replications measure that), and the customer model
behind a simulated campaign is itself estimated or guessed (a pick-up rate between 0.3
and 0.5, say). Here both are propagated: every sample of the uncertain inputs is run on
the same replication seeds (common random numbers), and over all samples × replications
we report, for every plan,

- P(cheapest): the share of draws in which it is the cheapest plan;
- P(cheaper than X): the same against a named plan (the current one);
- the expected regret of choosing it: E[its cost - the cheapest cost in that draw], the
  money a decision maker expects to leave on the table.

The probabilities are shares over equally weighted draws; each carries a binomial
(Wilson) 95 % interval so that a probability from 40 draws is not read as a certainty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["Draw", "HowSure", "days_to_be_sure", "fit_ranges", "how_sure", "sample_ranges",
           "shrink", "variants_how_sure", "wilson"]


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial share."""
    if n == 0:
        return (0.0, 1.0)
    from scipy.special import ndtri

    z = float(ndtri(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def sample_ranges(ranges: Mapping[str, tuple[float, float]], n: int, *,
                  seed: int) -> list[dict[str, Any]]:
    """``n`` Latin-hypercube samples of the uncertain inputs (the sweeps' sampler)."""
    from sim.sweeps.points import lhs_points

    return lhs_points(ranges, n, seed) if ranges else [{} for _ in range(max(n, 1))]


@dataclass(frozen=True, slots=True)
class Draw:
    """One evaluated draw: the inputs, the seed, and every plan's total (exact)."""

    inputs: Mapping[str, float]
    seed: int
    totals: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True, kw_only=True)
class HowSure:
    """P(cheapest), P(cheaper than the reference) and expected regret of every plan."""

    plans: tuple[str, ...]
    draws: tuple[Draw, ...]
    reference: str | None
    level: float = 0.95
    places: int = 2  # decimals of the regrets shown (unit costs need more than totals)

    @property
    def n(self) -> int:
        return len(self.draws)

    def _matrix(self) -> np.ndarray:
        return np.array([[float(d.totals[p]) for p in self.plans] for d in self.draws])

    def p_cheapest(self) -> dict[str, tuple[float, float, float]]:
        """Plan -> (share of draws where it is cheapest, Wilson low, high). Ties share."""
        wins = dict.fromkeys(self.plans, 0.0)
        for d in self.draws:
            best = min(d.totals[p] for p in self.plans)
            tied = [p for p in self.plans if d.totals[p] == best]
            for p in tied:
                wins[p] += 1 / len(tied)
        return {p: (w / self.n, *wilson(round(w), self.n, self.level)) for p, w in wins.items()}

    def p_cheaper(self, a: str, b: str) -> tuple[float, float, float]:
        """P(total of ``a`` < total of ``b``) with its Wilson interval."""
        k = sum(1 for d in self.draws if d.totals[a] < d.totals[b])
        return (k / self.n, *wilson(k, self.n, self.level))

    def _regret_exact(self) -> dict[str, Fraction | None]:
        """Plan -> exact E[its total - the cheapest of the draw]; None when infinite."""
        out: dict[str, Fraction | None] = {}
        for p in self.plans:
            gaps = [_gap(d.totals[p], min(d.totals[q] for q in self.plans))
                    for d in self.draws]
            out[p] = (None if not all(g.is_finite() for g in gaps)  # buys nothing in a draw
                      else sum((Fraction(g) for g in gaps), Fraction(0)) / self.n)
        return out

    def regret(self, places: int | None = None) -> dict[str, Decimal]:
        """Plan -> E[its total - the cheapest total of the draw] (exact mean rounded down
        to ``places`` decimals, default :attr:`places`; Infinity for a choice that buys
        nothing in some draw)."""
        places = self.places if places is None else places
        return {p: Decimal("Infinity") if m is None else
                Decimal(m.numerator * 10**places // m.denominator).scaleb(-places)
                for p, m in self._regret_exact().items()}

    def best(self) -> str:
        """The choice with the least expected regret (exact, before rounding)."""
        r = self._regret_exact()
        return min(self.plans, key=lambda p: (r[p] is None, r[p] or 0, p))

    def rows(self) -> list[dict[str, Any]]:
        cheapest = self.p_cheapest()
        regret = self.regret()
        rows = []
        for p in self.plans:
            row: dict[str, Any] = {"plan": p, "p_cheapest": cheapest[p][0],
                                   "p_cheapest_low": cheapest[p][1],
                                   "p_cheapest_high": cheapest[p][2],
                                   "expected_regret": str(regret[p])}
            if self.reference is not None and p != self.reference:
                pc = self.p_cheaper(p, self.reference)
                row.update(p_cheaper_than_current=pc[0], p_cheaper_low=pc[1],
                           p_cheaper_high=pc[2])
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"draws": self.n, "reference": self.reference, "best": self.best(),
                "plans": self.rows()}


def _gap(value: Decimal, best: Decimal) -> Decimal:
    """What a choice costs over the best one in a draw; 0 when no choice buys anything
    (every one infinite), infinite when this one buys nothing and another does."""
    if not best.is_finite():
        return Decimal(0)
    return value - best


Evaluate = Callable[[Mapping[str, float], int], Mapping[str, Decimal]]


def how_sure(evaluate: Evaluate, ranges: Mapping[str, tuple[float, float]], *,
             samples: int, seeds: Sequence[int], reference: str | None = None,
             sample_seed: int = 0, level: float = 0.95, places: int = 2,
             progress: Callable[[int, int], None] | None = None) -> HowSure:
    """Evaluate every (input sample × seed) and summarise the plan choice.

    Parameters
    ----------
    evaluate
        ``evaluate(inputs, seed) -> {plan: total}`` (exact totals), e.g. simulate the
        scenario with ``inputs`` as overrides and rate it.
    ranges
        Uncertain inputs, ``{"dotted.key": (low, high)}``, sampled uniformly (Latin
        hypercube). Empty: only the replications' noise.
    samples
        Input samples (ignored without ranges: one).
    seeds
        Replication seeds, the same for every sample (common random numbers).
    reference
        The plan in force, for P(cheaper than current).
    """
    points = sample_ranges(ranges, samples if ranges else 1, seed=sample_seed)
    draws: list[Draw] = []
    total = len(points) * len(seeds)
    for point in points:
        for s in seeds:
            draws.append(Draw(inputs=point, seed=s, totals=dict(evaluate(point, s))))
            if progress is not None:
                progress(len(draws), total)
    if not draws:
        raise ValueError("how_sure: nothing to evaluate")
    plans = tuple(draws[0].totals)
    if reference is not None and reference not in plans:
        raise ValueError(f"reference: no plan named {reference!r}")
    return HowSure(plans=plans, draws=tuple(draws), reference=reference, level=level,
                   places=places)


def fit_ranges(estimates: Sequence[Mapping[str, Any]], scenario: Any) -> dict[str, tuple[float,
                                                                                          float]]:
    """Uncertain inputs from a fit: the 95 % CI of every identified numeric estimate that
    is a value of ``scenario`` (``fit.json``'s ``estimates``; others are skipped)."""
    from sim.errors import ScenarioError

    out: dict[str, tuple[float, float]] = {}
    for e in estimates:
        name, value = e.get("name"), e.get("value")
        low, high = e.get("low"), e.get("high")
        if not e.get("identified", True) or not isinstance(name, str):
            continue
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                   for v in (value, low, high)):
            continue
        if not low < high:
            continue
        try:
            scenario.with_overrides({name: value})
        except (ScenarioError, KeyError, TypeError, ValueError):
            continue
        out[name] = (float(low), float(high))
    return out


def shrink(ranges: Mapping[str, tuple[float, float]], centre: Mapping[str, float],
           factor: float) -> dict[str, tuple[float, float]]:
    """Ranges narrowed about ``centre`` by ``factor`` (CIs of a fit on ``1/factor²`` times
    the data are ``factor`` times as wide)."""
    return {k: (centre[k] - (centre[k] - lo) * factor, centre[k] + (hi - centre[k]) * factor)
            for k, (lo, hi) in ranges.items()}


def days_to_be_sure(evaluate: Evaluate, ranges: Mapping[str, tuple[float, float]],
                    centre: Mapping[str, float], *, days: float, samples: int,
                    seeds: Sequence[int], target: float = 0.95,
                    multiples: Sequence[int] = (1, 2, 4, 8, 16),
                    sample_seed: int = 0) -> dict[str, Any]:
    """How many more days of data would make the least-regret choice the cheapest in at
    least ``target`` of the draws.

    With ``k`` times the data, a fitted value's CI is ``1/√k`` as wide (the usual rate),
    so the ranges are narrowed about the estimate and the draws evaluated again.
    Returns ``{"multiple", "more_days", "p_best", "choice", "steps": [...]}``; ``multiple``
    None when even the largest multiple does not get there.
    """
    steps = []
    for k in multiples:
        hs = how_sure(evaluate, shrink(ranges, centre, 1 / math.sqrt(k)), samples=samples,
                      seeds=seeds, sample_seed=sample_seed)
        choice = hs.best()
        p = hs.p_cheapest()[choice][0]
        steps.append({"multiple": k, "days": k * days, "choice": choice, "p_best": p})
        if p >= target:
            return {"multiple": k, "more_days": (k - 1) * days, "p_best": p,
                    "choice": choice, "steps": steps}
    return {"multiple": None, "more_days": None, "p_best": steps[-1]["p_best"],
            "choice": steps[-1]["choice"], "steps": steps}


def variants_how_sure(scenario: Any, names: Sequence[str], plans: Sequence[Any], plan: str,
                      ranges: Mapping[str, tuple[float, float]], *, samples: int,
                      seeds: Sequence[int], metric: str = "per_contact",
                      progress: Callable[[int, int], None] | None = None) -> HowSure:
    """How sure the choice among the base and its variants is, under one plan.

    Every (input sample × seed) runs the base (``"base"``) and each variant with the
    sampled inputs as overrides, on the same customers; a draw's "cost" of a choice is
    its ``metric`` (``per_contact``, ``per_conversion`` or ``total``) under ``plan``.
    """
    from sim.costing import rate_run
    from sim.model import run

    if metric not in ("per_contact", "per_conversion", "total"):
        raise ValueError(f"metric: must be per_contact, per_conversion or total "
                         f"(got {metric!r})")
    chosen = [p for p in plans if p.name == plan]
    if not chosen:
        raise ValueError(f"plan: no plan named {plan!r}")
    total = (samples if ranges else 1) * len(seeds) * len(names)
    done = [0]

    def evaluate(inputs: Mapping[str, float], seed: int) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for name in names:
            sc = scenario if name == "base" else scenario.variant(name)
            sc = sc.with_overrides(dict(inputs)) if inputs else sc
            res = run(sc, seed=seed)
            s = rate_run(sc, res.cdrs, res.agents, chosen).summary(plan)
            value = s.total if metric == "total" else getattr(s, metric)()
            # no contact (or conversion) at all: that choice buys nothing in this draw
            out[name] = value if value is not None else Decimal("Infinity")
            done[0] += 1
            if progress is not None:
                progress(done[0], total)
        return out

    return how_sure(evaluate, ranges, samples=samples, seeds=seeds, reference="base",
                    places=2 if metric == "total" else 4)
