"""Running a sweep's tasks on this process, a local process pool or any executor.

A sweep is embarrassingly parallel: every (point, replication) is an independent run.
Results are identical whatever runs them, because each task carries its own seed; the
runner only decides *where* tasks run and streams each outcome back as soon as it is
done (so it can be saved at once, and nothing but small rows is ever held).

- ``workers=1``: in this process, one task after another (no start-up at all).
- ``workers=N``: a ``ProcessPoolExecutor`` with a *spawn* context made here — never
  ``set_start_method``, which would change every other pool in the user's process.
  Workers import the model once (:func:`~._worker.warm_up`).
- ``executor=...``: any ``concurrent.futures.Executor``, e.g. a Dask cluster through
  ``distributed.Client(...).get_executor()``; the runner never shuts it down.

At most ``2 × workers`` tasks are in flight, so a sweep of a million runs does not
queue a million futures. A task that raises is reported and the others go on. When a
worker process dies (killed, out of memory), the pool is rebuilt and the tasks that
were in flight are re-run one at a time: the one that kills its worker again is
reported as failed, the innocent ones just finish.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass

from ..errors import SweepError
from ._worker import Outcome, Task, run_task, warm_up

__all__ = ["RunFailure", "default_workers", "execute", "local_pool"]

#: Tasks in flight per worker: one running, one queued behind it.
INFLIGHT_PER_WORKER = 2
#: In flight on an executor whose size is unknown (e.g. a Dask cluster).
INFLIGHT_UNKNOWN = 64
#: Tasks in a row that kill their worker even when run alone before the sweep gives up
#: (a worker that cannot start at all would otherwise fail every task, slowly).
MAX_DEATHS_IN_ROW = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFailure:
    """A run that raised (or whose worker died): which point, its values, and why."""

    point: int
    replication: int
    seed: int
    params: dict[str, object]
    error: str

    def __str__(self) -> str:
        values = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return (f"point {self.point} ({values}), replication {self.replication} "
                f"(seed {self.seed}): {self.error}")


def default_workers() -> int:
    """CPUs this process may use (``os.sched_getaffinity`` where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


OnDone = Callable[[Task, Outcome], None]
OnFail = Callable[[Task, str], None]


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def execute(tasks: Iterable[Task], *, workers: int | None = None,
            executor: Executor | None = None, on_done: OnDone, on_fail: OnFail) -> None:
    """Run ``tasks``, calling ``on_done`` / ``on_fail`` in this thread as each finishes.

    Parameters
    ----------
    tasks
        The runs to make, in the order to start them.
    workers
        Local worker processes (1: run here, serially); ignored with ``executor``.
    executor
        Any ``concurrent.futures.Executor``; left running when the sweep ends.
    on_done, on_fail
        Called with each finished task and its outcome, or a one-line error text.

    Any exception raised by a callback (or Ctrl-C) stops the sweep: tasks not started
    are cancelled and, for the runner's own pool, worker processes are terminated.
    """
    if executor is not None:
        _run_pool(tasks, executor, _inflight_limit(executor), on_done, on_fail)
        return
    n = default_workers() if workers is None else int(workers)
    if n < 1:
        raise SweepError(f"workers: must be >= 1 (got {workers})")
    if n == 1:
        for task in tasks:
            try:
                outcome = run_task(task)
            except Exception as exc:  # one bad point must not stop the others
                on_fail(task, _error_text(exc))
            else:
                on_done(task, outcome)
        return
    _run_pool(tasks, None, n * INFLIGHT_PER_WORKER, on_done, on_fail, workers=n)


def _inflight_limit(executor: Executor) -> int:
    size = getattr(executor, "_max_workers", None)  # ProcessPool / ThreadPool
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if size is None and client is not None:
        with contextlib.suppress(Exception):
            size = sum(client.nthreads().values()) or None
    return INFLIGHT_UNKNOWN if not size else int(size) * INFLIGHT_PER_WORKER


def local_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool set up as sweeps set up their own: spawned, warmed, Ctrl-C-safe.

    Pass it as ``executor=`` to run several sweeps on the same warm workers (in a
    notebook, say) and pay the start-up — spawning and importing the model — once::

        from sim.sweeps import local_pool

        with local_pool(2) as pool:
            a = sim.sweep(scenario, grid=g1, executor=pool)
            b = sim.sweep(scenario, grid=g2, executor=pool)

    The spawn context is made here and only used by this pool: the process-wide start
    method is left alone.
    """
    n = default_workers() if workers is None else int(workers)
    if n < 1:
        raise SweepError(f"workers: must be >= 1 (got {workers})")
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=warm_up, initargs=(os.getpid(),))


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return local_pool(workers)


def _stop_pool(pool: ProcessPoolExecutor, *, hard: bool) -> None:
    """Shut the pool down; with ``hard``, first terminate workers still running tasks."""
    if hard:
        terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
        if terminate is not None:  # pragma: no cover
            terminate()
        else:
            # The pool forgets its processes on shutdown: take them first. Terminated,
            # they make the pool's manager thread fail what is left and exit, so the
            # shutdown below returns at once and leaves no process or thread behind.
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    proc.terminate()
    pool.shutdown(wait=True, cancel_futures=hard)


def _run_pool(tasks: Iterable[Task], executor: Executor | None, limit: int, on_done: OnDone,
              on_fail: OnFail, *, workers: int = 0) -> None:
    """Keep ``limit`` tasks in flight on ``executor`` (None: a pool of our own)."""
    todo = iter(tasks)
    suspects: deque[Task] = deque()  # in flight when a worker died: re-run one by one
    inflight: dict[Future[Outcome], Task] = {}
    pool: Executor = _new_pool(workers) if executor is None else executor
    deaths = 0  # suspects in a row whose worker died even alone
    try:
        while True:
            # Suspects run alone, so a task that kills its worker is caught red-handed.
            cap = 1 if suspects else limit
            while len(inflight) < cap:
                task = suspects.popleft() if suspects else next(todo, None)
                if task is None:
                    break
                try:
                    inflight[pool.submit(run_task, task)] = task
                except (BrokenExecutor, RuntimeError) as exc:
                    raise SweepError(f"the executor cannot take more tasks "
                                     f"({_error_text(exc)}); finished runs are kept") from exc
            if not inflight:
                break
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            broken: list[Task] = []
            for fut in done:
                task = inflight.pop(fut)
                err = fut.exception()
                if err is None:
                    deaths = 0
                    on_done(task, fut.result())
                elif executor is None and isinstance(err, BrokenExecutor):
                    broken.append(task)
                else:
                    on_fail(task, _error_text(err))
            if not broken:
                continue
            # A worker died: every task still in flight fails with the broken pool too.
            for fut, task in inflight.items():
                if fut.exception() is None:
                    on_done(task, fut.result())
                else:
                    broken.append(task)
            inflight.clear()
            assert isinstance(pool, ProcessPoolExecutor)
            _stop_pool(pool, hard=True)
            pool = _new_pool(workers)
            if cap == 1:  # it ran alone: this task is what kills its worker
                deaths += 1
                if deaths >= MAX_DEATHS_IN_ROW:
                    raise SweepError(f"worker processes keep dying ({deaths} in a row, "
                                     f"last on point {broken[0].point}); finished runs are kept")
                on_fail(broken[0], "its worker process died (killed, or out of memory?)")
            else:
                suspects.extend(sorted(broken, key=lambda t: (t.point, t.replication)))
    except BaseException:
        for fut in inflight:
            fut.cancel()
        if executor is None:
            assert isinstance(pool, ProcessPoolExecutor)
            _stop_pool(pool, hard=True)
        raise
    if executor is None:
        assert isinstance(pool, ProcessPoolExecutor)
        _stop_pool(pool, hard=False)
