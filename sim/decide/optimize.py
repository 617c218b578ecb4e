"""Optimising a campaign's settings under a plan and the abandonment cap.

A sweep shows a surface; a manager wants the setting. ``optimize`` answers "which dial
rate (ratio, agents, script length...) gives the lowest cost per contact under plan X
while abandonment stays at or below 3 %?" in three stages, every stage on common random
numbers (replication r uses seed ``seed + r`` at every candidate):

1. **Space-filling**: a Latin hypercube over the ranges (and every value of the listed
   keys), each candidate run ``reps`` times.
2. **Ranking and selection**: the best candidates that meet the constraints get more
   replications, allocated by OCBA (Chen et al. 2000: the runner-ups by
   ``(σ_i / δ_i)²``, the leader by ``σ_b √Σ (N_i / σ_i)²``), until the budget is spent.
   A candidate is feasible when each constraint holds at one-sided 95 % confidence
   (``mean + t·se <= limit``), so a choice right at the cap is not taken for safe.
3. **Validation** of the chosen candidate and the runner-up on fresh seeds, which the
   selection never saw: objective and constraint means with CIs, and whether each
   constraint holds there.

The probability that the choice is the best of the candidates evaluated is estimated
from the paired differences (same seeds) to every other contender: a Monte-Carlo draw of
their joint normal approximation, P(every difference favours the choice).

Runs go through the sweep executors (this process, a local pool, Dask) and, with
``out=``, a sweep store: an interrupted optimisation resumes where it stopped.
"""

from __future__ import annotations

import math
import operator
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.stats import Estimate, mean_ci
from sim.errors import SweepError

__all__ = ["Constraint", "Objective", "Optimum", "optimize", "parse_constraint",
           "parse_objective"]

#: Replication index of the first validation seed: far from the selection's seeds.
VALIDATION_OFFSET = 1_000_000

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.:/+\-]*?)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True, slots=True)
class Objective:
    """A row metric to minimise (or maximise): a KPI, or ``<field>:<plan>``."""

    metric: str
    plan: str | None = None

    @property
    def column(self) -> str:
        return self.metric if self.plan is None else f"{self.metric}:{self.plan}"


def parse_objective(text: str) -> Objective:
    """``METRIC`` or ``METRIC:PLAN`` (``per_contact:cn-60/60``)."""
    metric, sep, plan = text.partition(":")
    if not metric.strip() or (sep and not plan.strip()):
        raise SweepError(f"--objective {text!r}: must be METRIC or METRIC:PLAN, like "
                         "per_contact:cn-60/60")
    return Objective(metric.strip(), plan.strip() or None)


@dataclass(frozen=True, slots=True)
class Constraint:
    """``metric op limit`` checked on every candidate (e.g. abandonment_rate <= 0.03)."""

    metric: str
    op: str
    limit: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.limit)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit:g}"


def parse_constraint(text: str) -> Constraint:
    m = _CONSTRAINT.match(text)
    if not m:
        raise SweepError(f"--constraint {text!r}: must be METRIC<=LIMIT (or >=, <, >), like "
                         "abandonment_rate<=0.03")
    limit = float(m[3])
    if not math.isfinite(limit):
        raise SweepError(f"--constraint {text!r}: the limit must be a finite number")
    return Constraint(m[1], m[2], limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One setting and what its runs gave (values per replication index)."""

    settings: Mapping[str, Any]
    values: Mapping[int, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """A candidate's objective and constraint values on a set of seeds."""

    settings: dict[str, Any]
    objective: Estimate
    constraints: dict[str, tuple[Estimate, bool]]

    def to_dict(self) -> dict[str, Any]:
        def est(e: Estimate) -> dict[str, float | int]:
            return {"mean": e.mean, "low": e.low, "high": e.high, "n": e.n}

        return {"settings": self.settings, "objective": est(self.objective),
                "constraints": {k: {**est(e), "ok": ok}
                                for k, (e, ok) in self.constraints.items()}}


@dataclass(frozen=True, slots=True, kw_only=True)
class Optimum:
    """The chosen setting, the runner-up (both validated on fresh seeds), and how sure."""

    objective: Objective
    maximize: bool
    constraints: tuple[Constraint, ...]
    best: Verdict
    runner_up: Verdict | None
    p_correct: float
    evaluations: int
    candidates: int
    feasible: int
    table: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective.column,
                "direction": "maximize" if self.maximize else "minimize",
                "constraints": [str(c) for c in self.constraints],
                "best": self.best.to_dict(),
                "runner_up": None if self.runner_up is None else self.runner_up.to_dict(),
                "p_correct": self.p_correct, "evaluations": self.evaluations,
                "candidates": self.candidates, "feasible": self.feasible}

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.table)


class _Runs:
    """Runs candidates at replication indexes through the sweep executors (and store)."""

    def __init__(self, scenario: Any, plans: tuple[Any, ...], seed: int, identity: dict,
                 *, workers: int | None, executor: Executor | None, out: str | Path | None,
                 force: bool, progress: Callable[[int, int], None] | None,
                 budget_hint: int) -> None:
        from sim.sweeps import _worker_raw
        from sim.sweeps.store import SweepStore, fingerprint

        self.seed = seed
        self.workers, self.executor = workers, executor
        raw = _worker_raw(scenario)
        self.key = fingerprint({"optimize": identity, "scenario": raw, "plans": plans})
        self.base = pickle.dumps((raw, scenario.source, plans),
                                 protocol=pickle.HIGHEST_PROTOCOL)
        self.store = None if out is None else SweepStore.open(
            out, {"kind": "optimize", **identity, "scenario": raw, "plans": plans},
            force=force, info={"workers": workers})
        self.rows: dict[tuple[int, int], dict[str, Any]] = {}
        if self.store is not None:
            for p, r, row in self.store.finished():
                self.rows[(p, r)] = row
        self.progress = progress
        self.expected = budget_hint
        self.made = 0

    def run(self, pairs: Sequence[tuple[int, int]], settings: Sequence[Mapping[str, Any]]
            ) -> None:
        from sim.sweeps._worker import Task
        from sim.sweeps.runner import execute

        todo = [(p, r) for p, r in pairs if (p, r) not in self.rows]
        failures: list[str] = []

        def done(task: Task, outcome: Any) -> None:
            self.rows[(task.point, task.replication)] = outcome.row
            if self.store is not None:
                self.store.save(task.point, task.replication, task.seed, outcome.row,
                                outcome.run_s)
            self._tick()

        def fail(task: Task, error: str) -> None:
            failures.append(f"candidate {dict(settings[task.point])} seed {task.seed}: "
                            f"{error}")
            self._tick()

        tasks = (Task(key=self.key, base=self.base, point=p, replication=r,
                      seed=self.seed + r, overrides=dict(settings[p])) for p, r in todo)
        self.made += len(pairs) - len(todo)
        if self.progress is not None and pairs and not todo:
            self.progress(self.made, max(self.expected, self.made))
        workers = self.workers if self.executor is None else None
        if workers is None and self.executor is None:
            workers = 1
        execute(tasks, workers=workers, executor=self.executor, on_done=done, on_fail=fail)
        if failures:
            raise SweepError(f"{len(failures)} optimisation runs failed:\n  "
                             + "\n  ".join(failures[:10]))

    def _tick(self) -> None:
        self.made += 1
        if self.progress is not None:
            self.progress(self.made, max(self.expected, self.made))

    def value(self, p: int, r: int, column: str) -> float:
        row = self.rows[(p, r)]
        if column not in row:
            known = ", ".join(sorted(k for k in row if k != "seed")[:40])
            raise SweepError(f"metric {column!r}: not in the run's figures (known: {known}, "
                             "...)")
        v = row[column]
        return math.nan if v is None else float(v)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _values(runs: _Runs, p: int, reps: Sequence[int], column: str) -> np.ndarray:
    return np.array([runs.value(p, r, column) for r in reps])


def _feasible(runs: _Runs, p: int, reps: Sequence[int],
              constraints: Sequence[Constraint]) -> bool:
    """Every constraint holds at one-sided 95 % confidence over these replications."""
    for c in constraints:
        x = _values(runs, p, reps, c.metric)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return False
        if x.size < 2:
            if not c.holds(float(x.mean())):
                return False
            continue
        from scipy.special import stdtrit

        se = float(x.std(ddof=1)) / math.sqrt(x.size)
        t = float(stdtrit(x.size - 1, 0.95))
        bound = float(x.mean()) + (t * se if c.op in ("<=", "<") else -t * se)
        if not c.holds(bound):
            return False
    return True


def _ocba(means: np.ndarray, sds: np.ndarray, best: int, total: int) -> np.ndarray:
    """OCBA allocation of ``total`` replications over the contenders (minimisation)."""
    k = len(means)
    sds = np.maximum(sds, 1e-12)
    delta = np.abs(means - means[best])
    delta[best] = np.inf
    tiny = delta < 1e-12
    delta[tiny & (np.arange(k) != best)] = 1e-12
    ratio = np.zeros(k)
    others = np.arange(k) != best
    ratio[others] = (sds[others] / delta[others]) ** 2
    ref = ratio[others].max() if others.any() else 1.0
    ratio[others] /= ref
    ratio[best] = sds[best] * math.sqrt(float(np.sum((ratio[others] / sds[others]) ** 2)))
    if not np.isfinite(ratio).all() or ratio.sum() == 0:
        ratio = np.ones(k)
    return total * ratio / ratio.sum()


def _p_correct(diffs: np.ndarray, seed: int, draws: int = 20_000) -> float:
    """P(every contender's mean exceeds the choice's), from paired differences.

    ``diffs`` is (replications × others) of ``other - choice`` on common seeds
    (minimisation). The means' joint law is taken as normal with the sample covariance
    over n; P(all > 0) is estimated from ``draws`` Monte-Carlo draws.
    """
    if diffs.shape[1] == 0:
        return 1.0
    diffs = diffs[np.isfinite(diffs).all(axis=1)]  # a run without contacts has no figure
    n = diffs.shape[0]
    if n < 2:
        return math.nan
    mean = diffs.mean(axis=0)
    cov = np.atleast_2d(np.cov(diffs, rowvar=False)) / n
    cov = cov + np.eye(len(mean)) * 1e-18
    rng = np.random.default_rng(seed)
    try:
        z = rng.multivariate_normal(mean, cov, size=draws, method="eigh")
    except np.linalg.LinAlgError:
        return math.nan
    return float(np.mean(np.all(z > 0, axis=1)))


def optimize(scenario: Any, objective: str | Objective,
             vary: Mapping[str, tuple[float, float] | Sequence[Any]], *,
             constraints: Sequence[str | Constraint] = (), maximize: bool = False,
             budget: int | None = None, reps: int = 5, candidates: int | None = None,
             keep: int = 5, validate_reps: int | None = None, seed: int = 1,
             workers: int | None = None, executor: Executor | None = None,
             plans: Sequence[Any] | None = None, out: str | Path | None = None,
             force: bool = False, progress: Callable[[int, int], None] | None = None,
             level: float = 0.95) -> Optimum:
    """The best setting of ``vary`` for ``objective`` subject to ``constraints``.

    Parameters
    ----------
    scenario
        A :class:`~sim.scenario.Scenario` or a scenario file.
    objective
        ``"METRIC"`` (a KPI, e.g. ``contacts_per_agent_hour``) or ``"METRIC:PLAN"`` (a
        plan figure, e.g. ``per_contact:cn-60/60``).
    vary
        ``{"dotted.key": (low, high)}`` ranges (sampled) and/or ``{"dotted.key": [values]}``
        lists (every value).
    constraints
        ``"metric<=limit"`` strings (or :class:`Constraint`), checked per replication
        (each replication is one campaign window) at one-sided 95 % confidence.
    maximize
        Maximise instead of minimise.
    budget
        Runs for stages 1 and 2 together (default: 3 × the first stage's).
    reps
        Replications of every candidate in the first stage (>= 2).
    candidates
        Latin-hypercube samples of the ranges (default 12; with value lists, each sample
        runs at every list value).
    keep
        Contenders carried into ranking and selection.
    validate_reps
        Fresh seeds to validate the choice and the runner-up on (default: ``2 × reps``).
    seed
        Root seed (replications, sampling, the Monte Carlo of ``p_correct``).
    workers, executor
        As for :func:`sim.sweep`.
    plans
        Plans to price runs under (default: the scenario's).
    out, force
        A folder making the optimisation resumable (a sweep store).
    progress
        ``progress(done, expected)`` after each run.
    """
    from sim.scenario import Scenario, load_scenario
    from sim.sweeps import _plans
    from sim.sweeps.points import design, validate_points

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    obj = objective if isinstance(objective, Objective) else parse_objective(objective)
    cons = tuple(c if isinstance(c, Constraint) else parse_constraint(c) for c in constraints)
    if reps < 2:
        raise SweepError(f"reps: must be >= 2 for ranking and selection (got {reps})")
    if keep < 2:
        raise SweepError(f"keep: must be >= 2 (got {keep})")
    if not vary:
        raise SweepError("vary: give at least one key to optimise (--vary KEY=LO:HI)")
    ranges = {k: tuple(v) for k, v in vary.items()
              if isinstance(v, tuple) and len(v) == 2 and not isinstance(v[0], str)}
    lists = {k: list(v) for k, v in vary.items() if k not in ranges}
    samples = (candidates or 12) if ranges else None
    plan = design(lists or None, samples, ranges or None, seed=seed, scenario=scenario)
    validate_points(scenario, plan)
    settings = _unique(plan.points)
    stage1 = len(settings) * reps
    budget = budget if budget is not None else 3 * stage1
    if budget < stage1:
        raise SweepError(f"budget: {budget} runs cannot cover the first stage "
                         f"({len(settings)} candidates × {reps} replications = {stage1})")
    validate_reps = validate_reps or 2 * reps
    price = _plans(scenario, plans)
    if obj.plan is not None and obj.plan not in {p.name for p in price}:
        from ..validate import no_such_plan

        raise SweepError(no_such_plan(f"--objective {obj.column}: plan", obj.plan,
                                      [p.name for p in price], "the scenario"))
    identity = {"objective": obj.column, "maximize": maximize,
                "constraints": [str(c) for c in cons], "points": settings, "reps": reps,
                "budget": budget, "keep": keep, "validate_reps": validate_reps,
                "seed": seed}
    runs = _Runs(scenario, price, seed, identity, workers=workers, executor=executor,
                 out=out, force=force, progress=progress,
                 budget_hint=budget + 2 * validate_reps)
    sign = -1.0 if maximize else 1.0
    try:
        # Stage 1: every candidate on the first seeds.
        reps_of = {p: list(range(reps)) for p in range(len(settings))}
        runs.run([(p, r) for p in reps_of for r in reps_of[p]], settings)
        used = stage1

        def score(p: int) -> tuple[float, float]:
            x = sign * _values(runs, p, reps_of[p], obj.column)
            x = x[np.isfinite(x)]
            return (float(x.mean()) if x.size else math.inf,
                    float(x.std(ddof=1)) if x.size > 1 else 0.0)

        feasible = [p for p in reps_of if _feasible(runs, p, reps_of[p], cons)]
        pool = feasible or list(reps_of)
        contenders = sorted(pool, key=lambda p: (score(p)[0], p))[:keep]
        # Stage 2: OCBA on the contenders, in rounds, until the budget is spent.
        step = max(len(contenders), 2)
        while used + step <= budget and len(contenders) > 1:
            m = np.array([score(p)[0] for p in contenders])
            s = np.array([score(p)[1] for p in contenders])
            b = int(np.argmin(m))
            have = np.array([len(reps_of[p]) for p in contenders])
            target = _ocba(m, s, b, int(have.sum()) + step)
            extra = np.maximum(0, np.round(target - have)).astype(int)
            if extra.sum() == 0:
                extra[b] = 1
            while extra.sum() > step:  # rounding can overshoot the round's size
                extra[int(np.argmax(extra))] -= 1
            pairs = []
            for i, p in enumerate(contenders):
                start = len(reps_of[p])
                new = list(range(start, start + int(extra[i])))
                reps_of[p] += new
                pairs += [(p, r) for r in new]
            runs.run(pairs, settings)
            used += len(pairs)
            if cons:  # more runs can show a contender breaks a constraint
                still = [p for p in contenders if _feasible(runs, p, reps_of[p], cons)]
                contenders = still or contenders
        ranked = sorted(contenders, key=lambda p: (score(p)[0], p))
        best_p = ranked[0]
        runner_p = ranked[1] if len(ranked) > 1 else None
        # P(correct selection) from the paired differences on common seeds.
        common = sorted(set.intersection(*(set(reps_of[p]) for p in ranked)))
        if len(ranked) > 1 and len(common) >= 2:
            base = sign * _values(runs, best_p, common, obj.column)
            diffs = np.column_stack([sign * _values(runs, p, common, obj.column) - base
                                     for p in ranked[1:]])
            p_correct = _p_correct(diffs, seed)
        else:
            p_correct = 1.0 if len(ranked) == 1 else math.nan
        # Stage 3: validation on fresh seeds.
        fresh = list(range(VALIDATION_OFFSET, VALIDATION_OFFSET + validate_reps))
        check = [best_p] + ([runner_p] if runner_p is not None else [])
        runs.run([(p, r) for p in check for r in fresh], settings)

        def verdict(p: int) -> Verdict:
            cmap = {}
            for c in cons:
                e = mean_ci(_values(runs, p, fresh, c.metric).tolist(), level)
                cmap[c.metric if c.metric not in cmap else str(c)] = (e, c.holds(e.mean))
            return Verdict(settings=dict(settings[p]),
                           objective=mean_ci(_values(runs, p, fresh, obj.column).tolist(),
                                             level),
                           constraints=cmap)

        table = []
        for p in reps_of:
            mean, _ = score(p)
            table.append({**settings[p], "replications": len(reps_of[p]),
                          obj.column: sign * mean, "feasible": p in feasible,
                          "contender": p in contenders, "chosen": p == best_p})
        return Optimum(objective=obj, maximize=maximize, constraints=cons,
                       best=verdict(best_p),
                       runner_up=None if runner_p is None else verdict(runner_p),
                       p_correct=p_correct, evaluations=len(runs.rows),
                       candidates=len(settings), feasible=len(feasible), table=table)
    finally:
        runs.close()


def _unique(points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Points without repeats (integer ranges can draw the same value twice)."""
    seen: set[str] = set()
    out = []
    for p in points:
        key = repr(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            out.append(dict(p))
    return out
