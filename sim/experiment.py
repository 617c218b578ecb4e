"""Replications: the same scenario run with several seeds, every figure with a CI.

One run of a stochastic campaign is one draw. ``replicate`` runs R seeds (``seed``,
``seed + 1``, ..., so ``dialsim run --seed 5`` is replication 0 of ``--reps R --seed
5``), prices each run under the plans, and returns one tidy row per replication —
the seed, every KPI and every plan's costs as plain numbers — plus the mean and a
Student-t confidence interval of each column.

The same seeds are used for every scenario compared (variants, sweep points), so the
customers are the same and differences are paired (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .analysis.stats import Estimate, mean_ci
from .billing import Plan
from .scenario import Scenario

if TYPE_CHECKING:
    from .model import RunResult

__all__ = ["COST_FIELDS", "Replications", "replicate", "replication_seeds", "row_from_result",
           "run_row"]

#: Plan summary fields copied into a row as ``<field>:<plan>`` (floats).
COST_FIELDS: tuple[str, ...] = ("total", "telecom", "fees", "per_dial", "per_contact",
                                "per_conversion", "billed_min", "overhead_pct", "labour",
                                "campaign_total", "campaign_per_contact",
                                "campaign_per_conversion")


def replication_seeds(seed: int, reps: int) -> list[int]:
    """Seeds of ``reps`` replications under root ``seed``: ``seed, seed + 1, ...``."""
    if reps < 1:
        raise ValueError(f"reps must be >= 1 (got {reps})")
    return [int(seed) + i for i in range(reps)]


def _num(x: Any) -> float:
    if x is None:
        return math.nan
    if isinstance(x, Decimal):
        return float(x)
    return float(x)


def run_row(scenario: Scenario, seed: int, plans: Sequence[Plan] = ()) -> dict[str, Any]:
    """Run once and flatten the outcome into one row: seed, KPIs, plan costs."""
    from .model import run

    return row_from_result(run(scenario, seed=seed), plans)


def row_from_result(result: RunResult, plans: Sequence[Plan] = (),
                    rating: Any = None) -> dict[str, Any]:
    """One run as one row: seed, every KPI, numeric dialer statistics as
    ``dialer.<name>``, and each plan's figures as ``<field>:<plan name>``
    (``rating``: the run already rated under ``plans``, e.g. chunk by chunk).

    Money is converted to float here, for statistics — exact amounts stay in the
    rater's output.
    """
    from .costing import rate_run

    row: dict[str, Any] = {"seed": result.seed}
    for k, v in result.kpis.items():
        row[k] = _num(v) if not isinstance(v, int) else v
    for k, v in result.dialer.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            row[f"dialer.{k}"] = v
    if plans:
        if rating is None:
            rating = rate_run(result.scenario, result.cdrs, result.agents, plans)
        for summary in rating.rows():
            name = summary["plan"]
            for field in COST_FIELDS:
                if field in summary:
                    row[f"{field}:{name}"] = _num(summary[field])
        # each traffic term's metric (its worst window) and whether it fired (0/1), so
        # that replications give a CI of the metric and of the firing frequency
        for plan in plans:
            s = rating.summary(plan.name)
            if plan.traffic_terms:
                row[f"traffic_fees:{plan.name}"] = _num(s.traffic_fees)
            if plan.contract.tax_rate:
                row[f"tax:{plan.name}"] = _num(s.tax)
            for t in s.traffic:
                row[f"term.{t.term.name}:{plan.name}"] = t.worst
                row[f"fired.{t.term.name}:{plan.name}"] = float(t.fired)
    return row


def _row_job(args: tuple[Scenario, int, tuple[Plan, ...]]) -> dict[str, Any]:
    scenario, seed, plans = args
    return run_row(scenario, seed, plans)


@dataclass(frozen=True, slots=True)
class Replications:
    """Rows of R replications of one scenario, and estimates over them."""

    scenario: Scenario
    rows: tuple[dict[str, Any], ...]
    level: float = 0.95

    @property
    def seeds(self) -> list[int]:
        return [r["seed"] for r in self.rows]

    @property
    def metrics(self) -> list[str]:
        """Numeric columns (everything but the seed)."""
        keys: dict[str, None] = {}
        for r in self.rows:
            for k, v in r.items():
                if k != "seed" and isinstance(v, int | float) and not isinstance(v, bool):
                    keys.setdefault(k, None)
        return list(keys)

    def values(self, metric: str) -> list[float]:
        return [float(r.get(metric, math.nan)) for r in self.rows]

    def estimate(self, metric: str, level: float | None = None) -> Estimate:
        """Mean and t-interval of ``metric`` over the replications."""
        return mean_ci(self.values(metric), level or self.level)

    def summary(self, level: float | None = None) -> dict[str, Estimate]:
        return {m: self.estimate(m, level) for m in self.metrics}

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def replicate(scenario: Scenario, reps: int = 10, *, seed: int = 1,
              plans: Iterable[Plan] = (), executor: Executor | None = None,
              progress: Callable[[int, int], None] | None = None,
              level: float = 0.95) -> Replications:
    """Run ``scenario`` ``reps`` times (seeds ``seed .. seed + reps - 1``).

    Parameters
    ----------
    scenario
        The scenario to replicate.
    reps
        Number of replications (>= 2 for a confidence interval).
    seed
        Root seed; replication i uses ``seed + i``.
    plans
        Plans to price every run under (costs then appear in the rows).
    executor
        Any ``concurrent.futures.Executor`` to run replications in parallel; results
        are identical to a serial run.
    progress
        Called as ``progress(done, total)`` after each replication.
    level
        Confidence level of the intervals.
    """
    plans = tuple(plans)
    seeds = replication_seeds(seed, reps)
    jobs = [(scenario, s, plans) for s in seeds]
    rows: list[dict[str, Any]] = []
    results: Iterable[dict[str, Any]] = (
        executor.map(_row_job, jobs) if executor is not None else map(_row_job, jobs))
    for row in results:
        rows.append(row)
        if progress is not None:
            progress(len(rows), reps)
    return Replications(scenario=scenario, rows=tuple(rows), level=level)
