"""The campaign's clock: calling windows and agent shifts as absolute time intervals.

Simulation time is seconds from midnight of the campaign's first day on the
campaign's wall clock. A lead in a segment ``tz_offset_h`` hours ahead of the campaign
sees local time = campaign time + offset, so its calling windows open earlier in
campaign time. (The wall clock is taken as DST-free over a campaign; the IANA zone
only decides the UTC offsets written in exported timestamps.)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..scenario import DAY_S, Scenario

__all__ = ["Intervals", "dial_windows", "shift_intervals"]


@dataclass(frozen=True, slots=True)
class Intervals:
    """Sorted, disjoint half-open intervals ``[start, end)`` in simulation seconds."""

    starts: tuple[float, ...]
    ends: tuple[float, ...]

    def is_open(self, t: float) -> bool:
        i = bisect.bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def next_open(self, t: float) -> float:
        """``t`` if open at ``t``, else the next start (``inf`` when none is left)."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            return t
        return self.starts[i + 1] if i + 1 < len(self.starts) else math.inf

    def close_after(self, t: float) -> float:
        """End of the interval holding ``t`` (``t`` itself if closed)."""
        i = bisect.bisect_right(self.starts, t) - 1
        return self.ends[i] if i >= 0 and t < self.ends[i] else t

    @property
    def first(self) -> float:
        return self.starts[0] if self.starts else math.inf

    @property
    def last(self) -> float:
        return self.ends[-1] if self.ends else -math.inf

    def total(self) -> float:
        return sum(e - s for s, e in zip(self.starts, self.ends, strict=True))


def _intervals(pairs: Sequence[tuple[float, float]]) -> Intervals:
    pairs = sorted(pairs)
    merged: list[list[float]] = []
    for a, b in pairs:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return Intervals(tuple(m[0] for m in merged), tuple(m[1] for m in merged))


def dial_windows(scenario: Scenario, tz_offset_s: int) -> Intervals:
    """When leads ``tz_offset_s`` ahead of the campaign clock may be dialled."""
    c = scenario.campaign
    pairs = [(d * DAY_S + a - tz_offset_s, d * DAY_S + b - tz_offset_s)
             for d in c.calling_days() for a, b in c.windows]
    return _intervals(pairs)


def shift_intervals(scenario: Scenario) -> list[Intervals]:
    """Logged-in intervals of each agent (one entry per agent id).

    Without shifts, agents work the calling windows (logged out between them, e.g. at
    lunch), so idle time outside the windows does not dilute occupancy.
    """
    days = scenario.campaign.calling_days()
    if not scenario.agents.shifts:
        iv = _intervals([(d * DAY_S + a, d * DAY_S + b) for d in days
                         for a, b in scenario.campaign.windows])
        return [iv] * scenario.agents.count
    out: list[Intervals] = []
    for sh in scenario.agents.shifts:
        iv = _intervals([(d * DAY_S + sh.start_s, d * DAY_S + sh.end_s) for d in days])
        out.extend([iv] * sh.count)
    return out
