"""The dialer ladder: pacing strategies compared on the same customers at several team sizes.

For each team size, every strategy runs the same replications (same seeds, so the
same customers): progressive 1:1; a Poisson open-loop dialer, power dialing at a
fixed ratio of lines per *idle* agent and VICIdial's RATIO dial level (lines in flight
≈ level × active agents − calls in progress), each at the highest rate / ratio / level
whose mean abandonment met the cap; the VICIdial-style adaptive controller; and
dialsim's predictive policy at its default safety margin and at a tighter one.

The tuned baselines are tuned by bisection on *other* seeds than the ones they are
scored on (``tune_seed``, default ``seed + 10_000``), so a row reports what the tuned
setting achieves on new days — tuning on the scoring seeds would fit their noise and
flatter the baseline. Rows are labelled by what they achieve (:attr:`LadderRow.label`),
not by what they were tuned for.
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

__all__ = ["LadderRow", "STRATEGIES", "TUNE_SEED_OFFSET", "format_ladder", "ladder",
           "markdown_ladder", "tune_to_cap"]

#: Strategy name -> overrides (tuned ones get their parameter added).
STRATEGIES: dict[str, dict[str, Any]] = {
    "progressive 1:1": {"dialer.mode": "progressive", "dialer.ratio": 1.0},
    "poisson": {"dialer.mode": "poisson"},
    "power ratio per idle agent": {"dialer.mode": "progressive"},
    "VICIdial RATIO level": {"dialer.mode": "ratio"},
    "adaptive": {"dialer.mode": "adaptive"},
    "predictive": {"dialer.mode": "predictive"},
    "predictive, margin 0.1": {"dialer.mode": "predictive", "dialer.abandon_margin": 0.1},
}
#: Tuned strategies: the key tuned and its search range (None: from the team's capacity).
_TUNED: dict[str, tuple[str, tuple[float, float] | None]] = {
    "poisson": ("dialer.rate_per_min", None),
    "power ratio per idle agent": ("dialer.ratio", (1.0, 8.0)),
    "VICIdial RATIO level": ("dialer.ratio", (1.0, 4.0)),
}
#: Tuning replications use seeds ``seed + TUNE_SEED_OFFSET ...`` unless told otherwise.
TUNE_SEED_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One strategy at one team size: estimates over the replications.

    ``seeds`` are the scoring seeds (first, count); ``tuned_on`` the tuning seeds of a
    tuned strategy (first, count), disjoint from them.
    """

    agents: int
    strategy: str
    parameter: float | None
    contacts_per_agent_hour: Estimate
    occupancy: Estimate
    abandonment: Estimate
    reps_over_cap: int
    reps: int
    seeds: tuple[int, int] = (1, 0)
    tuned_on: tuple[int, int] | None = None
    values: dict[str, list[float]] = field(repr=False, default_factory=dict)

    @property
    def label(self) -> str:
        """The strategy as it performed: parameter, mean abandonment, days over the cap."""
        p = "" if self.parameter is None else f" {self.parameter:.3g}"
        return (f"{self.strategy}{p}: {self.abandonment.mean:.2%} abandoned, "
                f"{self.reps_over_cap}/{self.reps} days over")


def _abandonment(scenario: Scenario, reps: int, seed: int,
                 executor: Executor | None) -> float:
    r = replicate(scenario, reps, seed=seed, executor=executor)
    return float(sum(r.values("abandonment_rate")) / reps)


def tune_to_cap(scenario: Scenario, key: str, lo: float, hi: float, *, cap: float = 0.03,
                reps: int = 4, seed: int = 1 + TUNE_SEED_OFFSET, steps: int = 9,
                overrides: dict[str, Any] | None = None,
                executor: Executor | None = None) -> float:
    """Highest value of ``key`` in [lo, hi] whose mean abandonment stays ≤ ``cap`` (bisection).

    Abandonment grows with the dial rate or ratio; ``lo`` must meet the cap. The mean
    is over ``reps`` replications from ``seed`` — give seeds the result will not be
    scored on. ``overrides`` are applied with every trial value (e.g. the dialer mode).
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
           tune_seed: int | None = None, tune_steps: int = 9,
           tuned: dict[tuple[str, int], float] | None = None,
           executor: Executor | None = None,
           progress: Callable[[str], None] | None = None) -> list[LadderRow]:
    """Run the ladder; ``tuned`` may give (strategy, agents) -> parameter to skip tuning.

    Scoring uses seeds ``seed .. seed + reps - 1``; tuning ``tune_seed ..`` (default
    ``seed + TUNE_SEED_OFFSET``), which must not overlap them.
    """
    cap = base.dialer.target_abandon
    t_seed = seed + TUNE_SEED_OFFSET if tune_seed is None else tune_seed
    if t_seed < seed + reps and seed < t_seed + tune_reps:
        raise ValueError(f"tuning seeds {t_seed}..{t_seed + tune_reps - 1} overlap the "
                         f"scoring seeds {seed}..{seed + reps - 1}")
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
            tuned_on: tuple[int, int] | None = None
            if name in _TUNED:
                key, rng = _TUNED[name]
                param = (tuned or {}).get((name, n))
                if param is None:
                    lo, hi = rng or (0.05 * capacity_per_min, 1.6 * capacity_per_min)
                    param = tune_to_cap(sc, key, lo, hi, cap=cap, reps=tune_reps, seed=t_seed,
                                        steps=tune_steps, overrides=over, executor=executor)
                    tuned_on = (t_seed, tune_reps)
                over[key] = param
            r = replicate(sc.with_overrides(over), reps, seed=seed, executor=executor)
            ab = r.values("abandonment_rate")
            rows.append(LadderRow(
                agents=n, strategy=name, parameter=param,
                contacts_per_agent_hour=r.estimate("contacts_per_agent_hour"),
                occupancy=r.estimate("occupancy"), abandonment=mean_ci(ab),
                reps_over_cap=sum(a > cap + 1e-12 for a in ab), reps=reps,
                seeds=(seed, reps), tuned_on=tuned_on,
                values={"contacts_per_agent_hour": r.values("contacts_per_agent_hour"),
                        "occupancy": r.values("occupancy"), "abandonment_rate": ab}))
            if progress is not None:
                progress(f"{n} agents, {rows[-1].label}: "
                         f"{rows[-1].contacts_per_agent_hour.format('{:.2f}')} contacts/agent-h")
    return rows


def format_ladder(rows: Sequence[LadderRow]) -> str:
    """The ladder as a text table with the gain over progressive 1:1."""
    base = {r.agents: r.contacts_per_agent_hour.mean for r in rows
            if r.strategy == "progressive 1:1"}
    lines = [f"{'agents':>6}  {'strategy':<26} {'param':>7}  {'contacts/agent-h':>18}  "
             f"{'occupancy':>15}  {'abandonment':>16}  {'>cap':>5}  {'vs 1:1':>7}"]
    for r in rows:
        gain = r.contacts_per_agent_hour.mean / base[r.agents] - 1 if r.agents in base else \
            math.nan
        p = "" if r.parameter is None else f"{r.parameter:.3g}"
        lines.append(
            f"{r.agents:>6}  {r.strategy:<26} {p:>7}  "
            f"{r.contacts_per_agent_hour.format('{:.2f}'):>18}  "
            f"{r.occupancy.format('{:.3f}'):>15}  {r.abandonment.format('{:.2%}'):>16}  "
            f"{r.reps_over_cap:>2}/{r.reps:<2}  {gain:>+7.1%}")
    return "\n".join(lines)


def markdown_ladder(rows: Sequence[LadderRow]) -> str:
    """The ladder as a Markdown table (the README's): one row per team size, a cell per
    strategy with contacts per agent-hour (mean ± 95 % CI half-width), the tuned
    parameter, mean abandonment and replications over the cap."""
    names = list(dict.fromkeys(r.strategy for r in rows))
    sizes = list(dict.fromkeys(r.agents for r in rows))
    cell = {(r.agents, r.strategy): r for r in rows}
    head = "| agents | " + " | ".join(names) + " | predictive vs 1:1 |"
    out = [head, "|---:|" + "---|" * len(names) + "---:|"]
    for n in sizes:
        cells = []
        for s in names:
            r = cell.get((n, s))
            if r is None:
                cells.append("")
                continue
            e = r.contacts_per_agent_hour
            p = "" if r.parameter is None else f" @{r.parameter:.3g}"
            cells.append(f"{e.mean:.2f} ± {(e.high - e.low) / 2:.2f}{p} · "
                         f"{r.abandonment.mean:.2%} ({r.reps_over_cap}/{r.reps})")
        base, pred = cell.get((n, "progressive 1:1")), cell.get((n, "predictive"))
        gain = (f"{pred.contacts_per_agent_hour.mean / base.contacts_per_agent_hour.mean - 1:+.1%}"
                if base and pred else "")
        out.append(f"| {n} | " + " | ".join(cells) + f" | {gain} |")
    return "\n".join(out)
