"""Script and dialer variants compared on the same customers (common random numbers).

Script optimisation asks: does a shorter greeting, a quicker exit after a "no" or a
faster dialer lower the cost of a contact or of a sale, and by how much? Every variant
of a scenario (``[[variant]]`` entries) is run on the *same seeds* as the base, so the
same leads pick up, lose interest and hang up at the same points; the difference of a
KPI between a variant and the base is then measured replication by replication (a
paired difference) and its confidence interval is far narrower than the interval from
independent runs would be. :func:`independent_diff` gives the latter, for comparison.

Reported per plan: cost per contact and per conversion (the plan's telecom charges plus
its prorated fees); plan-free: contacts, conversions and the abandonment rate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import stdtrit  # not scipy.stats: seconds to import

from .analysis.stats import Estimate, mean_ci, paired_diff
from .billing import Plan
from .experiment import Replications, replicate
from .scenario import Scenario

__all__ = [
    "BASE",
    "PLAN_METRICS",
    "RUN_METRICS",
    "Comparison",
    "ComparisonRow",
    "compare",
    "independent_diff",
]

#: Name of the base scenario among the compared ones.
BASE = "base"
#: Per-plan figures compared (keys of the replication rows are ``<metric>:<plan>``).
PLAN_METRICS: tuple[str, ...] = ("per_contact", "per_conversion")
#: Plan-independent figures compared.
RUN_METRICS: tuple[str, ...] = ("contacts", "conversions", "abandonment_rate")

METRIC_LABELS: dict[str, str] = {
    "per_contact": "cost per contact",
    "per_conversion": "cost per conversion",
    "contacts": "contacts",
    "conversions": "conversions",
    "abandonment_rate": "abandonment rate",
}


def independent_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                     level: float = 0.95) -> Estimate:
    """Welch t-interval of ``mean(a) - mean(b)`` for *independent* samples.

    What the difference would be known to without common random numbers; compare its
    width with :func:`~sim.analysis.stats.paired_diff` on paired runs.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    m = float(x.mean() - y.mean()) if x.size and y.size else math.nan
    if x.size < 2 or y.size < 2:
        return Estimate(m, -math.inf, math.inf, min(x.size, y.size), level)
    vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = math.sqrt(vx + vy)
    if se == 0:
        return Estimate(m, m, m, min(x.size, y.size), level)
    # Welch-Satterthwaite degrees of freedom
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    h = float(stdtrit(df, 0.5 + level / 2)) * se
    return Estimate(m, m - h, m + h, min(x.size, y.size), level)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonRow:
    """One figure of one variant: its estimate and its paired difference to the base.

    ``plan`` is ``""`` for plan-independent figures; ``diff`` is None for the base.
    """

    variant: str
    metric: str
    plan: str
    estimate: Estimate
    diff: Estimate | None

    @property
    def key(self) -> str:
        """The replication-row column: ``metric`` or ``metric:plan``."""
        return f"{self.metric}:{self.plan}" if self.plan else self.metric

    def to_dict(self) -> dict[str, Any]:
        e, d = self.estimate, self.diff
        return {"variant": self.variant, "metric": self.metric, "plan": self.plan,
                "mean": e.mean, "low": e.low, "high": e.high, "n": e.n,
                "diff": None if d is None else d.mean,
                "diff_low": None if d is None else d.low,
                "diff_high": None if d is None else d.high}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """Replications of the base and of each variant, all on the same seeds.

    Attributes
    ----------
    scenario
        The base scenario.
    runs
        ``"base"`` and each variant name -> its :class:`~sim.experiment.Replications`.
    plans
        Names of the plans every run was priced under, in order.
    currency
        Plan name -> currency code.
    descriptions
        Variant name -> its description (the base: the scenario's).
    level
        Confidence level of every interval.
    """

    scenario: Scenario
    runs: Mapping[str, Replications]
    plans: tuple[str, ...]
    currency: Mapping[str, str]
    descriptions: Mapping[str, str]
    level: float = 0.95
    lines: Mapping[tuple[str, str], tuple[float, str]] = dataclasses.field(
        default_factory=dict)  # (plan, term) -> (threshold, "above" | "below")

    @property
    def names(self) -> tuple[str, ...]:
        """``"base"`` first, then the variants in scenario order."""
        return tuple(self.runs)

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(n for n in self.runs if n != BASE)

    @property
    def seeds(self) -> list[int]:
        return self.runs[BASE].seeds

    def values(self, name: str, key: str) -> np.ndarray:
        """Per-replication values of column ``key`` for ``name`` (seed order)."""
        return np.asarray(self.runs[name].values(key), dtype=float)

    def estimate(self, name: str, key: str) -> Estimate:
        """Mean and t-interval of ``key`` (e.g. ``"per_contact:cn-60/60"``) for ``name``."""
        return mean_ci(self.values(name, key), self.level)

    def diff(self, name: str, key: str) -> Estimate:
        """Paired difference ``name - base`` of ``key`` over the common seeds."""
        return paired_diff(self.values(name, key), self.values(BASE, key), self.level)

    def estimates(self, key: str) -> dict[str, Estimate]:
        """``key`` estimated for every compared scenario, base first."""
        return {n: self.estimate(n, key) for n in self.names}

    def rows(self) -> list[ComparisonRow]:
        """Every figure of every scenario: plan-free figures first, then per plan."""
        keys = [(m, "") for m in RUN_METRICS] + [
            (m, p) for p in self.plans for m in PLAN_METRICS] + [
            (f"{kind}.{term}", p) for p, term in self.lines for kind in ("term", "fired")]
        out = []
        for metric, plan in keys:
            key = f"{metric}:{plan}" if plan else metric
            for name in self.names:
                out.append(ComparisonRow(
                    variant=name, metric=metric, plan=plan, estimate=self.estimate(name, key),
                    diff=None if name == BASE else self.diff(name, key)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record: seeds, variants with their overrides, every row."""
        overrides = {v.name: dict(v.overrides) for v in self.scenario.variants}
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "seeds": self.seeds,
            "level": self.level,
            "plans": [{"name": p, "currency": self.currency[p]} for p in self.plans],
            "variants": [{"name": n, "description": self.descriptions.get(n, ""),
                          "overrides": overrides.get(n, {})} for n in self.names],
            "rows": [r.to_dict() for r in self.rows()],
            "crossings": self.crossings(),
        }

    def replication_rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per (variant, replication) with the seed and every figure."""
        return [{"variant": n, **row} for n, reps in self.runs.items() for row in reps.rows]

    def to_pandas(self) -> Any:
        """The tidy replication rows as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.replication_rows())

    def summary_frame(self) -> Any:
        """The estimate rows (:meth:`rows`) as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows()])

    def crossings(self) -> list[dict[str, Any]]:
        """Every (variant, plan, traffic term) whose line the variant and the base fall on
        different sides of — by the mean metric (worst window) or by how often it fired —
        with the paired difference of the metric and its CI."""
        out = []
        for (plan, term), (threshold, when) in self.lines.items():
            key, fired = f"term.{term}:{plan}", f"fired.{term}:{plan}"
            base = self.estimate(BASE, key)
            base_fired = float(np.nanmean(self.values(BASE, fired)))
            for name in self.variants:
                est, diff = self.estimate(name, key), self.diff(name, key)
                share = float(np.nanmean(self.values(name, fired)))

                if (_past(base.mean, threshold, when) != _past(est.mean, threshold, when)
                        or base_fired != share):
                    out.append({"variant": name, "plan": plan, "term": term,
                                "threshold": threshold, "when": when,
                                "base": base.mean, "value": est.mean, "diff": diff.mean,
                                "diff_low": diff.low, "diff_high": diff.high,
                                "base_fired": base_fired, "fired": share})
        return out

    def format(self, fmt: str = "{:.4g}") -> str:
        """Plain-text tables: plan-free figures, then each plan's costs; then the traffic
        terms' lines that a variant crosses."""
        from .fmt import ci

        text = format_rows([r.to_dict() for r in self.rows()], self.currency, fmt)
        cross = self.crossings()
        if cross:
            text += "\n\nlines crossed (traffic terms; metric of the worst window):"
            for c in cross:
                op = ">" if c["when"] == "above" else "<"
                paired = ci(c["diff"], _half(c["diff_low"], c["diff_high"]), is_money=False,
                            sign=True)
                text += (f"\n  {c['variant']} crosses {c['term']!r} of {c['plan']} "
                         f"({op} {c['threshold']:.4g}): {c['base']:.4g} -> {c['value']:.4g} "
                         f"(paired diff {paired})"
                         f"; fired in {c['base_fired']:.0%} -> {c['fired']:.0%} of the "
                         "replications")
        return text


def _half(low: float | None, high: float | None) -> float | None:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return (high - low) / 2


def _cells(rows: Sequence[Mapping[str, Any]], key: str, currency: str | None,
           is_money: bool, share: bool) -> list[str]:
    """One figure's ``mean ± half`` cells over the variants, with the same places."""
    from .fmt import ci_column

    scale = 100.0 if share else 1.0
    means = [None if r[key] is None else r[key] * scale for r in rows]
    halves = [None if r[key] is None else _half(r[f"{key}_low"], r[f"{key}_high"])
              for r in rows]
    halves = [None if h is None else h * scale for h in halves]
    cells = ci_column(means, halves, currency, is_money=is_money, sign=key == "diff")
    if share:
        cells = [c if c == "n/a" else c.replace(" ± ", " % ± ") + " %" if "±" in c else c + " %"
                 for c in cells]
    return cells


def _past(x: float, threshold: float, when: str) -> bool:
    return x > threshold if when == "above" else x < threshold


def _label(metric: str) -> str:
    kind, _, term = metric.partition(".")
    if kind == "term" and term:
        return f"{term}: metric"
    if kind == "fired" and term:
        return f"{term}: fired"
    return METRIC_LABELS.get(metric, metric)


def format_rows(rows: Sequence[Mapping[str, Any]], currency: Mapping[str, str],
                fmt: str = "{:.4g}") -> str:
    """Text tables of comparison rows (as in ``compare.json``), one block per plan.

    Money with the plan currency's places (:mod:`sim.fmt`), the same down each figure;
    half-widths to two significant digits; ``fmt`` is no longer used (kept for callers).
    """
    from .fmt import format_table

    blocks: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        blocks.setdefault(r["plan"], []).append(r)
    out = []
    for plan, group in blocks.items():
        title = ("all plans" if not plan else f"plan {plan} ({currency.get(plan, '')})")
        cur = currency.get(plan) if plan else None
        by_metric: dict[str, list[Mapping[str, Any]]] = {}
        for r in group:
            by_metric.setdefault(r["metric"], []).append(r)
        table = []
        for metric, mrows in by_metric.items():
            share = metric == "abandonment_rate" or metric.startswith("fired.")
            is_money = bool(plan) and not share and not metric.startswith("term.")
            means = _cells([{**r, "mean_low": r["low"], "mean_high": r["high"]} for r in mrows],
                           "mean", cur, is_money, share)
            diffs = _cells(mrows, "diff", cur, is_money, share)
            for r, m, d in zip(mrows, means, diffs, strict=True):
                diff = "" if r["diff"] is None else d
                lo, hi = r["diff_low"], r["diff_high"]
                if (r["diff"] is not None and lo is not None and hi is not None
                        and math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)):
                    diff += " *"  # the interval excludes 0: a real difference
                table.append([_label(metric), r["variant"], m, diff])
        out.append(f"{title}\n" + format_table(
            table, ["figure", "variant", "mean ± 95% CI", "vs base (paired) ± CI"], "llrr"))
    return "\n\n".join(out)


def compare(scenario: Scenario, reps: int = 10, *, seed: int = 1,
            plans: Iterable[Plan] = (), variants: Sequence[str] | None = None,
            executor: Executor | None = None,
            progress: Callable[[int, int], None] | None = None,
            level: float = 0.95) -> Comparison:
    """Run the base scenario and its variants on the same seeds and compare them.

    Parameters
    ----------
    scenario
        The base scenario; its ``[[variant]]`` entries are the candidates.
    reps
        Replications per scenario (>= 2 for intervals); seeds ``seed .. seed + reps - 1``.
    seed
        Root seed, the same for every variant (common random numbers).
    plans
        Plans every run is priced under.
    variants
        Names of the variants to run (default: all of them, in scenario order).
    executor
        A ``concurrent.futures.Executor`` for the replications (results identical).
    progress
        Called as ``progress(done, total)`` over all runs of all variants.
    level
        Confidence level.

    Raises
    ------
    ScenarioError
        A requested variant does not exist.
    """
    plans = tuple(plans)
    names = [v.name for v in scenario.variants] if variants is None else list(variants)
    scenarios: dict[str, Scenario] = {BASE: scenario}
    for name in names:
        scenarios[name] = scenario.variant(name)  # ScenarioError for unknown names
    total = reps * len(scenarios)
    runs: dict[str, Replications] = {}
    for i, (name, sc) in enumerate(scenarios.items()):
        def step(done: int, _n: int, offset: int = i * reps) -> None:
            if progress is not None:
                progress(offset + done, total)

        runs[name] = replicate(sc, reps, seed=seed, plans=plans, executor=executor,
                               progress=step, level=level)
    descriptions = {BASE: scenario.description,
                    **{v.name: v.description for v in scenario.variants if v.name in names}}
    lines = {(p.name, t.name): (float(t.threshold), t.when) for p in plans
             for t in p.traffic_terms}
    return Comparison(scenario=scenario, runs=runs, plans=tuple(p.name for p in plans),
                      currency={p.name: p.currency for p in plans},
                      descriptions=descriptions, level=level, lines=lines)
