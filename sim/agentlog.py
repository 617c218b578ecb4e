"""The agent state log: how each agent's logged-in time was spent.

Time accounting of a call centre: logged-in time = talk + wrap-up + preview + idle
(waiting for the dialer). One row per (agent, state, start, end); intervals of one
agent never overlap. Occupancy = (talk + wrap) / logged-in time.

Rows are in time order — by start, then agent, then state (then end) — not grouped
by agent: a streaming run hands its rows out in this order as they become final
(:mod:`sim.model.agentstream`), so a file written as the run goes is the same as one
written from the whole log. Per-agent code selects an agent's rows itself (they are
in start order within it). Totals are exact sums on the KPIs' grid of 2**-30 s
(:func:`sim.exact.exact_seconds`): the same rows give the same totals in any
order or cut into any chunks (:class:`AgentTotals`, what a streaming run keeps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .exact import exact_seconds, seconds_of

__all__ = ["AGENT_STATES", "AgentLog", "AgentTotals"]

AGENT_STATES: tuple[str, ...] = ("idle", "preview", "talk", "wrap")


@dataclass(frozen=True, slots=True, eq=False)
class AgentLog:
    """Agent state intervals in time order (start, agent, state; see the module)."""

    agent_id: np.ndarray  # int32
    state: np.ndarray  # int8 index into AGENT_STATES
    start: np.ndarray  # float64 s from the campaign epoch
    end: np.ndarray  # float64 s

    def __len__(self) -> int:
        return len(self.agent_id)

    def total(self, state: str) -> float:
        """Seconds all agents spent in ``state``."""
        return AgentTotals.of(self).total(state)

    def logged_in(self) -> float:
        """Seconds all agents were logged in."""
        return AgentTotals.of(self).logged_in()

    def labels(self) -> np.ndarray:
        return np.asarray(AGENT_STATES, dtype=object)[self.state]

    def to_pandas(self, *, epoch: str | None = None, tz: str | None = None) -> Any:
        """agent_id, state, start, end, duration_s. With ``epoch`` and ``tz`` (the CDRs'),
        ``start`` and ``end`` are tz-aware datetimes; else seconds from the epoch."""
        import pandas as pd

        start: Any = self.start
        end: Any = self.end
        if epoch is not None and tz is not None:
            from .cdr import local_datetimes

            start, end = local_datetimes(start, epoch, tz), local_datetimes(end, epoch, tz)
        return pd.DataFrame({"agent_id": self.agent_id, "state": self.labels(),
                             "start": start, "end": end, "duration_s": self.end - self.start})


class AgentTotals:
    """Seconds per state of an agent log, summed exactly and folded chunk by chunk: a
    streaming run's agent figures without the log (:meth:`add` each chunk of rows)."""

    def __init__(self) -> None:
        self.grid = [0] * len(AGENT_STATES)  # exact sums, 2**-30 s
        self.rows = 0

    @classmethod
    def of(cls, log: AgentLog) -> AgentTotals:
        totals = cls()
        totals.add(log)
        return totals

    def add(self, log: AgentLog) -> None:
        """Fold the rows of ``log`` (a chunk of an agent log) in."""
        duration = log.end - log.start
        for k in range(len(AGENT_STATES)):
            self.grid[k] += exact_seconds(duration[log.state == k])
        self.rows += len(log)

    def __len__(self) -> int:
        return self.rows

    def total(self, state: str) -> float:
        """Seconds all agents spent in ``state``."""
        return seconds_of(self.grid[AGENT_STATES.index(state)])

    def logged_in(self) -> float:
        """Seconds all agents were logged in."""
        return seconds_of(sum(self.grid))
