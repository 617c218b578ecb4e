"""What runs on a sweep worker: one (point, replication) of the campaign, priced.

Workers may be local processes or Dask workers on other machines, so a task carries
everything it needs as plain data — the base scenario's raw dict and the plans,
pickled once by the parent (a few kB), plus the point's overrides and seed — and
nothing that lives only on the parent's disk. A worker decodes the base once and keeps
it; a point's scenario is validated once and reused for its replications.

Only the row (KPIs and plan costs, a few kB) travels back: the CDR table stays in the
worker, and is written to disk there when the user asked to keep it. This module is
imported by every worker, so it imports only what a run needs (not scipy.stats,
matplotlib or pandas): a worker's start-up is part of the sweep's cost.
"""

from __future__ import annotations

import pickle
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..billing import Plan
    from ..scenario import Scenario

__all__ = ["Outcome", "Task", "run_task", "warm_up", "watch_parent"]

#: Validated point scenarios kept per worker (replications of a point run back to back).
_POINT_CACHE = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One run of a sweep: a point's overrides and one replication's seed.

    ``base`` is ``pickle.dumps((raw, source, plans))`` of the sweep's base scenario,
    identical for every task of a sweep and cached by ``key`` on the worker.
    """

    key: str
    base: bytes = field(repr=False)
    point: int
    replication: int
    seed: int
    overrides: Mapping[str, Any]
    cdr_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a worker sends back: the tidy row of one run and its compute time (s)."""

    point: int
    replication: int
    row: dict[str, Any]
    run_s: float


_lock = threading.Lock()  # Dask thread workers share the caches below
_bases: dict[str, tuple[dict[str, Any], str, tuple[Plan, ...]]] = {}
_points: OrderedDict[tuple[str, int], Scenario] = OrderedDict()


#: How often a pool worker checks that the process that started it is still alive (s).
PARENT_CHECK_S = 0.5


def warm_up(parent_pid: int | None = None) -> None:
    """Process-pool initializer: import the model and rater once; leave Ctrl-C to the parent;
    exit when the parent dies.

    The parent stops the pool on Ctrl-C; a worker that also received the terminal's
    SIGINT would otherwise die mid-task with a traceback of its own. A parent killed
    outright (SIGKILL, out of memory) cannot stop anything: each worker watches it
    (:func:`watch_parent`) and exits within :data:`PARENT_CHECK_S`, even mid-run; the
    multiprocessing resource tracker then sees its last client go and exits too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent_pid)
    import warnings

    from ..errors import ListExhaustedWarning

    # a worker's stderr is the user's terminal: one line per run would drown it
    warnings.simplefilter("ignore", ListExhaustedWarning)
    from .. import costing, model  # noqa: F401  (imported for their start-up cost)


def watch_parent(parent_pid: int | None = None,
                 interval_s: float = PARENT_CHECK_S) -> threading.Thread:
    """Start a daemon thread that ends this process as soon as its parent is gone.

    The parent is gone when this process is re-parented (``os.getppid()`` is no longer
    ``parent_pid``: 1 or a sub-reaper). Give the pid the parent had when it started this
    process (``initargs``): a worker still starting up when its parent was killed is
    already re-parented when it gets here, and must not take its new parent for the
    old one. ``os._exit`` skips clean-up on purpose: nobody is left to receive this
    worker's results, and its stdout may be a pipe someone waits on.
    """
    import os

    parent = os.getppid() if parent_pid is None else parent_pid
    if os.getppid() != parent:
        os._exit(3)

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(3)

    thread = threading.Thread(target=watch, name="dialsim-parent-watch", daemon=True)
    thread.start()
    return thread


def _scenario(task: Task) -> tuple[Scenario, tuple[Plan, ...]]:
    from ..scenario import scenario_from_dict

    with _lock:
        base = _bases.get(task.key)
        if base is None:
            base = _bases[task.key] = pickle.loads(task.base)
            if len(_bases) > 4:  # a long-lived Dask worker serves many sweeps
                _bases.pop(next(iter(_bases)))
        scenario = _points.get((task.key, task.point))
    raw, source, plans = base
    if scenario is None:
        # the parent validated the base and its variants; a point needs only itself
        scenario = scenario_from_dict(raw, source=source, overrides=task.overrides,
                                      _validate_variants=False)
        with _lock:
            _points[(task.key, task.point)] = scenario
            while len(_points) > _POINT_CACHE:
                _points.popitem(last=False)
    return scenario, plans


#: Recorded calls per chunk of a point whose CDRs are kept (the run's default).
CHUNK_ROWS = 1 << 16


def _streamed_row(scenario: Scenario, plans: tuple[Plan, ...], seed: int,
                  path: str) -> dict[str, Any]:
    """A run whose CDRs are kept: streamed to ``path`` chunk by chunk as they are
    simulated and rated on the way (the same file and figures as the in-memory run,
    with memory bounded by the chunk, not the run)."""
    from ..billing.chunks import ChunkRater
    from ..cdrio._write import NativeCDRWriter
    from ..costing import campaign_info
    from ..experiment import row_from_result
    from ..model import run

    writer = NativeCDRWriter(path)
    rater = ChunkRater(plans) if plans else None

    def sink(cdrs: Any, _agent_start: Any) -> None:
        writer.write(cdrs)
        if rater is not None:
            rater.add(cdrs)

    try:
        result = run(scenario, seed=seed, chunk_rows=CHUNK_ROWS, keep_cdrs=False,
                     on_chunk=[sink])
    except BaseException as exc:
        writer.close(exc)
        raise
    assert result.streamed is not None
    writer.close(None, categories=result.streamed[2])
    rating = None
    if rater is not None:
        rater.flush()  # the last block, before its peak concurrency is read
        assert rater.carry is not None
        rating = rater.finish(campaign_info(scenario, result.cdrs, result.agents,
                                            peak=rater.carry.peak))
    return row_from_result(result, plans, rating=rating)


def run_task(task: Task) -> Outcome:
    """Simulate one (point, replication), price it, and return its row."""
    from ..model import run

    t0 = time.perf_counter()
    scenario, plans = _scenario(task)
    from ..experiment import row_from_result

    if task.cdr_path is None:
        result = run(scenario, seed=task.seed)
        row = row_from_result(result, plans)
    else:
        row = _streamed_row(scenario, plans, task.seed, task.cdr_path)
    return Outcome(point=task.point, replication=task.replication, row=row,
                   run_s=time.perf_counter() - t0)



