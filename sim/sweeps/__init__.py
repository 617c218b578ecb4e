"""Parameter sweeps: the same campaign under many "what if"s, on local cores or a cluster.

An analyst varies what they control — dial ratio, agents, script lengths — over a
grid or a Latin hypercube, runs every point several times, and reads how KPIs and each
billing plan's cost respond. Every replication r uses the same seed at every point, so
points face the same customers (common random numbers) and their differences carry
little noise. The same root seed gives the same table whatever runs it: this process,
a local process pool, or a Dask cluster::

    import sim

    scenario = sim.load_scenario("scenarios/baseline.toml")
    res = sim.sweep(scenario, grid={"dialer.ratio": [1, 1.5, 2], "agents.count": [20, 40]},
                    replications=5, seed=1, workers=2, out="sweeps/ratio")
    res.to_pandas()                  # one row per point × replication
    res.aggregate().to_pandas()      # mean and 95 % CI per point and metric
    res.plot("contacts_per_agent_hour")

With ``out=``, every finished run is saved at once; calling again with the same
arguments after an interruption computes only what is missing.

The package is ``sim.sweeps``; ``sim.sweep`` is the function.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import SweepError
from .guard import check_main_guard
from .points import Design, design, parse_range, parse_values, parse_vary, validate_points
from .progress import ProgressBar, SweepProgress
from .runner import RunFailure, default_workers, execute, local_pool
from .store import SweepStore, fingerprint
from .table import SweepResult, Table, build_table

if TYPE_CHECKING:  # pragma: no cover
    from ..billing import Plan
    from ..scenario import Scenario
    from ._worker import Outcome, Task

__all__ = [
    "Design",
    "ProgressBar",
    "RunFailure",
    "SweepProgress",
    "SweepResult",
    "SweepRunError",
    "Table",
    "design",
    "local_pool",
    "parse_range",
    "parse_values",
    "parse_vary",
    "sweep",
]


class SweepRunError(SweepError):
    """Some runs of a sweep failed; the others finished. ``result`` holds them all.

    Raised by :func:`sweep` with ``errors="raise"`` after every other run is done (and
    saved, with ``out=``); ``result.failures`` names each failed point's values.
    """

    def __init__(self, result: SweepResult) -> None:
        self.result = result
        lines = [str(f) for f in result.failures]
        shown = lines[:20] + ([f"... and {len(lines) - 20} more"] if len(lines) > 20 else [])
        super().__init__(f"{len(lines)} of {len(result.design) * len(result.seeds)} runs "
                         "failed:\n" + "\n".join(f"  {s}" for s in shown), problems=lines)


def _plans(scenario: Scenario, plans: Sequence[Plan | str | Path] | None) -> tuple[Plan, ...]:
    from ..billing import Plan
    from ..costing import load_plan_files

    if plans is None:
        return tuple(load_plan_files(scenario.plans))
    if isinstance(plans, str | Path):
        plans = [plans]
    out: list[Plan] = []
    for p in plans:
        out.extend([p] if isinstance(p, Plan) else load_plan_files([p]))
    return tuple(out)


def _worker_raw(scenario: Scenario) -> dict[str, Any]:
    """The base raw dict for workers: plan *paths* dropped (plans travel as objects), so
    a worker on another machine needs none of this machine's files."""
    raw = dict(scenario.raw)
    if isinstance(raw.get("billing"), Mapping) and "plans" in raw["billing"]:
        raw["billing"] = {k: v for k, v in raw["billing"].items() if k != "plans"}
    return raw


def sweep(scenario: Scenario | str | Path, grid: Mapping[str, Sequence[Any]] | None = None,
          samples: int | None = None, ranges: Mapping[str, tuple[float, float]] | None = None,
          *, replications: int = 1, seed: int = 1, workers: int | None = None,
          executor: Executor | None = None, plans: Sequence[Plan | str | Path] | None = None,
          out: str | Path | None = None, force: bool = False, keep_cdrs: bool = False,
          progress: Callable[[SweepProgress], None] | bool | None = None,
          level: float = 0.95, errors: Literal["raise", "collect"] = "raise") -> SweepResult:
    """Run ``scenario`` at every point of a grid or Latin hypercube, ``replications`` times.

    Parameters
    ----------
    scenario
        A :class:`~sim.scenario.Scenario`, or the path of a scenario file.
    grid
        ``{"dotted.key": [values]}``; the points are the cartesian product (first key
        slowest), e.g. ``{"dialer.ratio": [1, 1.5], "agents.count": range(20, 61, 10)}``.
    samples, ranges
        ``samples`` Latin-hypercube points over ``{"dotted.key": (low, high)}``, drawn
        from ``seed`` (integer bounds give integers). With ``grid`` too, every sample
        runs at every grid value.
    replications
        Runs per point; replication r uses seed ``seed + r`` at every point.
    seed
        Root seed of the sweep (replication seeds and the Latin hypercube).
    workers
        Local worker processes (default: the usable CPUs; 1 runs in this process).
    executor
        Instead of ``workers``: any ``concurrent.futures.Executor``, e.g.
        ``distributed.Client(...).get_executor()``. It is not shut down.
    plans
        Plans (objects or plan files) to price every run under; default: the
        scenario's ``billing.plans``; ``()`` for none.
    out
        Folder saving each finished run at once (resumable), then ``sweep.csv`` and
        ``aggregate.csv``. Same arguments again: finished runs are reused.
    force
        Replace ``out`` when it holds a different sweep or anything else.
    keep_cdrs
        Also write each run's CDRs to ``out/cdrs/`` (written by the worker as the run
        is simulated, chunk by chunk, and rated on the way, so a point's memory is
        bounded by the chunk; on a cluster ``out`` must be a shared folder).
    progress
        Called with a :class:`SweepProgress` after every run; ``True`` draws a bar on
        stderr.
    level
        Confidence level of the aggregate's intervals.
    errors
        ``"raise"``: raise :class:`SweepRunError` (holding the result) when any run
        failed, after all others finished; ``"collect"``: return them in
        ``result.failures``.

    Returns
    -------
    SweepResult
        The tidy table (``result.table``, ``result.to_pandas()``) and aggregates.

    Raises
    ------
    SweepError
        Before any run: a malformed grid or range, or any point's scenario invalid
        (each named with its key and the scenario's message).
    OutputExistsError
        ``out`` holds something else and ``force`` is false.
    """
    from ..experiment import replication_seeds
    from ..scenario import Scenario, load_scenario

    t0 = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if executor is not None and workers is not None:
        raise SweepError("give workers= or executor=, not both")
    if workers is not None and workers < 1:
        raise SweepError(f"workers: must be >= 1 (got {workers})")
    if replications < 1:
        raise SweepError(f"replications: must be >= 1 (got {replications})")
    if errors not in ("raise", "collect"):
        raise SweepError(f"errors: must be 'raise' or 'collect' (got {errors!r})")
    if keep_cdrs and out is None:
        raise SweepError("keep_cdrs: needs out= (a folder to write the CDRs to)")
    plan = design(grid, samples, ranges, seed=seed, scenario=scenario)
    seeds = tuple(replication_seeds(seed, replications))
    validate_points(scenario, plan)
    price = _plans(scenario, plans)
    raw = _worker_raw(scenario)
    identity = {"scenario": raw, "name": scenario.name, "params": plan.params,
                "points": plan.points, "kind": plan.kind, "seeds": seeds, "plans": price,
                "keep_cdrs": keep_cdrs, "dialsim": _version()}
    key = fingerprint(identity)
    base = pickle.dumps((raw, scenario.source, price), protocol=pickle.HIGHEST_PROTOCOL)

    store = None
    if out is not None:
        info = {"workers": workers, "executor": type(executor).__name__ if executor else None}
        store = SweepStore.open(out, identity, force=force, info=info)
    try:
        rows: dict[tuple[int, int], dict[str, Any]] = {}
        if store is not None:
            for p, r, row in store.finished():
                if p < len(plan) and r < len(seeds):
                    rows[(p, r)] = row
        reused = len(rows)
        missing = [(p, r) for p in range(len(plan)) for r in range(len(seeds))
                   if (p, r) not in rows]
        tasks = _tasks(key, base, plan, seeds, missing, store if keep_cdrs else None)
        track = _Tracker(plan, seeds, rows, progress)
        if executor is None:  # no more processes than runs left to make
            workers = min(default_workers() if workers is None else workers,
                          max(len(missing), 1))
            check_main_guard(workers)  # before any process starts

        def done(task: Task, outcome: Outcome) -> None:
            if store is not None:
                store.save(task.point, task.replication, task.seed, outcome.row, outcome.run_s)
            track.done(task, outcome.row)
            track.busy_s += outcome.run_s

        def fail(task: Task, error: str) -> None:
            track.fail(RunFailure(point=task.point, replication=task.replication,
                                  seed=task.seed, params=dict(plan.points[task.point]),
                                  error=error))

        try:
            execute(tasks, workers=workers, executor=executor, on_done=done, on_fail=fail)
        finally:
            track.close()
        result = SweepResult(design=plan, seeds=seeds, table=build_table(plan, rows),
                             failures=tuple(sorted(track.failures,
                                                   key=lambda f: (f.point, f.replication))),
                             level=level, computed=len(rows) - reused, reused=reused,
                             elapsed_s=time.perf_counter() - t0, busy_s=track.busy_s,
                             out=Path(out) if out is not None else None)
        if store is not None:
            result.save()  # still holding the folder's lock
    finally:
        if store is not None:
            store.close()
    if result.failures and errors == "raise":
        raise SweepRunError(result)
    return result


def _version() -> str:
    from .. import __version__

    return __version__


def _tasks(key: str, base: bytes, plan: Design, seeds: tuple[int, ...],
           missing: list[tuple[int, int]], cdrs: SweepStore | None) -> Iterator[Task]:
    """Tasks of the missing runs, made lazily (a million-run sweep holds a few at a time)."""
    from ._worker import Task

    for p, r in missing:
        yield Task(key=key, base=base, point=p, replication=r, seed=seeds[r],
                   overrides=dict(plan.points[p]),
                   cdr_path=str(cdrs.cdr_path(p, r)) if cdrs is not None else None)


class _Tracker:
    """Counts for the progress callback, and the rows and failures as they arrive."""

    def __init__(self, plan: Design, seeds: tuple[int, ...],
                 rows: dict[tuple[int, int], dict[str, Any]],
                 progress: Callable[[SweepProgress], None] | bool | None) -> None:
        self.rows = rows
        self.reps = len(seeds)
        self.total = len(plan) * self.reps
        self.points = len(plan)
        self.reused = len(rows)
        self.failures: list[RunFailure] = []
        self.busy_s = 0.0
        self.per_point = [0] * len(plan)
        for p, _ in rows:
            self.per_point[p] += 1
        self.points_done = sum(1 for c in self.per_point if c == self.reps)
        self._bar = ProgressBar(enabled=True) if progress is True else None
        self.callback = self._bar if self._bar is not None else (progress or None)
        self.t0 = time.perf_counter()

    def _tick(self, point: int) -> None:
        self.per_point[point] += 1
        if self.per_point[point] == self.reps:
            self.points_done += 1
        if self.callback is not None:
            assert callable(self.callback)
            self.callback(SweepProgress(
                runs_done=len(self.rows) + len(self.failures), runs_total=self.total,
                points_done=self.points_done, points_total=self.points, reused=self.reused,
                failed=len(self.failures), elapsed_s=time.perf_counter() - self.t0))

    def done(self, task: Task, row: dict[str, Any]) -> None:
        self.rows[(task.point, task.replication)] = row
        self._tick(task.point)

    def fail(self, failure: RunFailure) -> None:
        self.failures.append(failure)
        self._tick(failure.point)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
