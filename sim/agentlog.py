"""The agent state log: how each agent's logged-in time was spent.

Time accounting of a call centre: logged-in time = talk + wrap-up + preview + idle
(waiting for the dialer). One row per (agent, state, start, end); intervals of one
agent never overlap. Occupancy = (talk + wrap) / logged-in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AGENT_STATES", "AgentLog"]

AGENT_STATES: tuple[str, ...] = ("idle", "preview", "talk", "wrap")


@dataclass(frozen=True, slots=True, eq=False)
class AgentLog:
    """Agent state intervals, sorted by agent then start time."""

    agent_id: np.ndarray  # int32
    state: np.ndarray  # int8 index into AGENT_STATES
    start: np.ndarray  # float64 s from the campaign epoch
    end: np.ndarray  # float64 s

    def __len__(self) -> int:
        return len(self.agent_id)

    def total(self, state: str) -> float:
        """Seconds all agents spent in ``state``."""
        m = self.state == AGENT_STATES.index(state)
        return float((self.end[m] - self.start[m]).sum())

    def logged_in(self) -> float:
        """Seconds all agents were logged in."""
        return float((self.end - self.start).sum())

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
