"""A dialer that obeys a plan's ``suspend`` traffic terms (issue 18).

``dialer.obey_terms = "<plan>"`` makes the simulated dialer stop dialing for the rest
of a calendar window once a ``suspend = true`` term of that plan, counted over the
calls of the window finished so far, is past its line (with at least ``min_calls`` in
its base); it dials again when the next window starts. Calls in flight finish.

The counts are exactly the ones rating makes (:mod:`sim.billing.terms`): a call
belongs to the window of its dial time (:func:`~sim.billing.terms.window_key`, cut in
the term's zone), billsec is made from talk time by the scenario's
``customers.billsec`` convention as :meth:`Recorder.cdrs` makes it, and a window is
past its line by :meth:`TrafficTerm.breached`. A call counts from its end.

The engine tells :meth:`Suspension.add` every call as it is recorded (its end is then
known) and asks :meth:`Suspension.hold` before every dial; calls are counted lazily,
in order of their ends, up to the time asked about, so the breach time is the end of
the call that took the window past its line and no event is scheduled for it. Only
runs with the key pay for any of this: the engine's fast path is unchanged without it.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..billing.terms import epoch_timestamp, window_breaks, window_key, window_label

if TYPE_CHECKING:  # pragma: no cover
    from ..billing.terms import TrafficTerm
    from ..scenario import Scenario

__all__ = ["Suspension", "campaign_epoch"]

_INF = math.inf
#: Near a window's edge (s) the key is computed by ``window_key`` itself, not bisected:
#: the same float arithmetic as rating, so a call a microsecond before midnight falls
#: in the same window in both.
_EDGE_S = 1e-3


def campaign_epoch(scenario: Scenario) -> str:
    """The CDRs' epoch: local midnight of the campaign's first day (naive ISO text)."""
    return f"{scenario.campaign.start.isoformat()}T00:00:00"


@dataclass(slots=True)
class _Watch:
    """One suspend term and its windows' running counts."""

    term: TrafficTerm
    breaks: list[float]  # UTC s where the window changes
    keys: list[int]  # window key before the first break, then from each break on
    counts: dict[int, list[int]]  # window key -> [numerator, base]
    breached: set[int]


class Suspension:
    """The suspend terms a run obeys: running counts per window, and when to resume.

    Parameters
    ----------
    scenario
        The scenario; its ``dialer.suspend_terms`` are obeyed.
    horizon_s
        The last time (s from the epoch) a dial can happen (the last shift's end).
    """

    def __init__(self, scenario: Scenario, horizon_s: float) -> None:
        c = scenario.campaign
        self.epoch = epoch_timestamp(campaign_epoch(scenario), c.timezone)
        self.method = scenario.customers.billsec
        lo, hi = self.epoch, self.epoch + max(horizon_s, 0.0) + 2 * 86_400.0
        self.watches = [_Watch(t, *window_breaks(lo, hi, t.window, t.zone), {}, set())
                        for t in scenario.dialer.suspend_terms]
        self._lo, self._hi = lo, hi
        #: Calls recorded, not yet counted: (end, seq, start, answered, billsec).
        self.pending: list[tuple[float, int, float, bool, int]] = []
        self._seq = 0
        #: Dialing is suspended until this time (s from the epoch).
        self.until = -_INF
        #: Every suspension: term, metric, window, from (the breach) and to (s from the
        #: epoch), and the window's metric counts at the breach (``count / base``).
        self.log: list[dict[str, Any]] = []

    # -- windows --------------------------------------------------------------------------
    def _key(self, w: _Watch, t: float) -> int:
        """The window key of a dial at ``t`` (s from the epoch), as rating computes it."""
        u = self.epoch + t
        i = bisect_right(w.breaks, u)
        near = (i and u - w.breaks[i - 1] < _EDGE_S) or (
            i < len(w.breaks) and w.breaks[i] - u < _EDGE_S)
        if near or not self._lo <= u <= self._hi:
            return int(window_key(np.array([u]), w.term.window, w.term.zone)[0])
        return w.keys[i]

    def _window_end(self, w: _Watch, key: int, t: float) -> float:
        """When the window ``key`` (in force at ``t``) gives way to another (s from the
        epoch; inf: never — a ``campaign`` window, or past the horizon)."""
        u = self.epoch + t
        for j in range(bisect_right(w.breaks, u), len(w.breaks)):
            if w.keys[j + 1] != key:
                b = w.breaks[j]
                r = b - self.epoch
                while self.epoch + r < b:  # the first float time that lies in it
                    r = math.nextafter(r, _INF)
                return r
        return _INF

    # -- counting -------------------------------------------------------------------------
    def add(self, start: float, end: float, answered: bool, billsec: int) -> None:
        """A call dialled at ``start`` ends at ``end``; ``answered``: its CDR is ANSWERED,
        ``billsec`` its billable seconds (0 unless answered)."""
        self._seq += 1
        heapq.heappush(self.pending, (end, self._seq, start, answered, billsec))

    def hold(self, now: float) -> float:
        """Count the calls ended by ``now``; return until when dialing is suspended
        (``<= now``: dial)."""
        if now < self.until:
            return self.until
        pending = self.pending
        while pending and pending[0][0] <= now:
            end, _, start, answered, d = heapq.heappop(pending)
            self._count(end, start, answered, d)
        return self.until

    def _count(self, end: float, start: float, answered: bool, d: int) -> None:
        for w in self.watches:
            term = w.term
            key = self._key(w, start)
            c = w.counts.get(key)
            if c is None:
                c = w.counts[key] = [0, 0]
            m = term.metric
            if m == "short_share":
                if not (answered and d > 0):
                    continue
                c[0] += d <= term.max_s
                c[1] += 1
            elif m == "zero_share":
                c[0] += d == 0
                c[1] += 1
            elif m == "asr":
                c[0] += answered
                c[1] += 1
            else:  # acd_s
                if not answered:
                    continue
                c[0] += d
                c[1] += 1
            if key in w.breached or not term.breached(c[0], c[1]):
                continue
            w.breached.add(key)
            resume = self._window_end(w, key, start)
            if resume <= end:
                continue  # past the line only after its window was over
            self.until = max(self.until, resume)
            self.log.append({"term": term.name, "metric": term.metric,
                             "window": window_label(key, term.window),
                             "from_s": end, "to_s": resume, "count": c[0], "base": c[1]})

    def stats(self) -> list[dict[str, Any]]:
        """The suspensions, in order (``to_s`` is inf for a ``campaign`` window)."""
        return [dict(s) for s in self.log]
