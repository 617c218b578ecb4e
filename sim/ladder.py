"""The dialer ladder: pacing strategies compared on the same customers at several team sizes.

For each team size, every strategy runs the same replications (same seeds, so the
same customers): progressive 1:1, a Poisson open-loop dialer at the highest rate that
keeps abandonment at the cap, the best fixed dial level (power ratio tuned once to the
cap), the VICIdial-style adaptive controller, and dialsim's predictive policy. The
tuned baselines are found by bisection on the mean abandonment over the same seeds —
which flatters them, and so is conservative for any claim that predictive beats them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from .analysis.stats import Estimate, mean_ci
from .experiment import replicate
from .scenario import Scenario

__all__ = ["LadderRow", "STRATEGIES", "ladder", "tune_to_cap"]

#: Strategy name -> overrides (tuned ones get their parameter added).
STRATEGIES: dict[str, dict[str, Any]] = {
    "progressive 1:1": {"dialer.mode": "progressive", "dialer.ratio": 1.0},
    "poisson at cap": {"dialer.mode": "poisson"},
    "fixed level at cap": {"dialer.mode": "progressive"},
    "adaptive": {"dialer.mode": "adaptive"},
    "predictive": {"dialer.mode": "predictive"},
}
_TUNED = {"poisson at cap": "dialer.rate_per_min", "fixed level at cap": "dialer.ratio"}


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One strategy at one team size: estimates over the replications."""

    agents: int
    strategy: str
    parameter: float | None
    contacts_per_agent_hour: Estimate
    occupancy: Estimate
    abandonment: Estimate
    reps_over_cap: int
    reps: int
    values: dict[str, list[float]] = field(repr=False, default_factory=dict)


def _abandonment(scenario: Scenario, reps: int, seed: int,
                 executor: Executor | None) -> float:
    r = replicate(scenario, reps, seed=seed, executor=executor)
    return float(sum(r.values("abandonment_rate")) / reps)


def tune_to_cap(scenario: Scenario, key: str, lo: float, hi: float, *, cap: float = 0.03,
                reps: int = 4, seed: int = 1, steps: int = 9,
                overrides: dict[str, Any] | None = None,
                executor: Executor | None = None) -> float:
    """Highest value of ``key`` in [lo, hi] whose mean abandonment stays ≤ ``cap`` (bisection).

    Abandonment grows with the dial rate or ratio; ``lo`` must meet the cap.
    ``overrides`` are applied with every trial value (e.g. the dialer mode).
    """
    def at(x: float) -> Scenario:
        return scenario.with_overrides({**(overrides or {}), key: x})

    if _abandonment(at(hi), reps, seed, executor) <= cap:
        return hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        if _abandonment(at(mid), reps, seed, executor) <= cap:
            lo = mid
        else:
            hi = mid
    return lo


def ladder(base: Scenario, sizes: Sequence[int], *, reps: int = 20, seed: int = 1,
           strategies: Sequence[str] = tuple(STRATEGIES), tune_reps: int = 4,
           tuned: dict[tuple[str, int], float] | None = None,
           executor: Executor | None = None,
           progress: Callable[[str], None] | None = None) -> list[LadderRow]:
    """Run the ladder; ``tuned`` may give (strategy, agents) -> parameter to skip tuning."""
    cap = base.dialer.target_abandon
    rows: list[LadderRow] = []
    for n in sizes:
        # a list long enough that no strategy runs out of leads (≤ ~900 dials an agent)
        sc = base.with_overrides({"agents.count": n,
                                  "list.size": max(base.list.size, 1200 * n)})
        handle = sc.script.mean_talk + sc.agents.wrap.mean
        p_live = sc.customers.p_pickup
        capacity_per_min = n * 60.0 / handle / max(p_live, 1e-9)  # dials/min at 100 %
        for name in strategies:
            over = dict(STRATEGIES[name])
            param: float | None = None
            if name in _TUNED:
                key = _TUNED[name]
                param = (tuned or {}).get((name, n))
                if param is None:
                    lo, hi = ((0.05 * capacity_per_min, 1.6 * capacity_per_min)
                              if key == "dialer.rate_per_min" else (1.0, 8.0))
                    param = tune_to_cap(sc, key, lo, hi, cap=cap, reps=tune_reps, seed=seed,
                                        overrides=over, executor=executor)
                over[key] = param
            r = replicate(sc.with_overrides(over), reps, seed=seed, executor=executor)
            ab = r.values("abandonment_rate")
            rows.append(LadderRow(
                agents=n, strategy=name, parameter=param,
                contacts_per_agent_hour=r.estimate("contacts_per_agent_hour"),
                occupancy=r.estimate("occupancy"), abandonment=mean_ci(ab),
                reps_over_cap=sum(a > cap + 1e-12 for a in ab), reps=reps,
                values={"contacts_per_agent_hour": r.values("contacts_per_agent_hour"),
                        "occupancy": r.values("occupancy"), "abandonment_rate": ab}))
            if progress is not None:
                progress(f"{n} agents, {name}: "
                         f"{rows[-1].contacts_per_agent_hour.format('{:.2f}')} contacts/agent-h")
    return rows


def format_ladder(rows: Sequence[LadderRow]) -> str:
    """The ladder as a text table with the predictive gain over progressive."""
    base = {r.agents: r.contacts_per_agent_hour.mean for r in rows
            if r.strategy == "progressive 1:1"}
    lines = [f"{'agents':>6}  {'strategy':<20} {'param':>7}  {'contacts/agent-h':>18}  "
             f"{'occupancy':>15}  {'abandonment':>16}  {'>cap':>5}  {'vs 1:1':>7}"]
    for r in rows:
        gain = r.contacts_per_agent_hour.mean / base[r.agents] - 1 if r.agents in base else \
            math.nan
        p = "" if r.parameter is None else f"{r.parameter:.3g}"
        lines.append(
            f"{r.agents:>6}  {r.strategy:<20} {p:>7}  "
            f"{r.contacts_per_agent_hour.format('{:.2f}'):>18}  "
            f"{r.occupancy.format('{:.3f}'):>15}  {r.abandonment.format('{:.2%}'):>16}  "
            f"{r.reps_over_cap:>2}/{r.reps:<2}  {gain:>+7.1%}")
    return "\n".join(lines)
