"""The dialer's own figures: dial level, lines in flight, agent wait, and their timeline.

Computed from CDRs and the agent log afterwards, so they mean the same thing for
every pacing mode (and for imported calls): a line is "in flight" from dial to answer
(or to giving up); the dial level is lines in flight per logged-in agent.

Every sum is exact: times are rounded once to the KPIs' grid of 2**-SCALE_BITS s
(:func:`~sim.analysis.kpis.fixed_seconds`) and added as integers, so the figures do not
depend on the order or the chunks the calls and agent rows come in.
:class:`TimelineFold` folds them chunk by chunk (a streaming run, in memory of the
campaign's length / ``bin_s``, not of its calls); :func:`timeline` and
:func:`dialer_stats` are that fold over one whole table, so both give the same bits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..agentlog import AGENT_STATES, AgentLog
from ..cdr import CDRTable
from ..exact import exact_seconds, fixed_seconds, seconds_of

__all__ = ["TIMELINE_KEYS", "TimelineFold", "dialer_stats", "timeline"]

#: The arrays :func:`timeline` returns, in order.
TIMELINE_KEYS: tuple[str, ...] = ("t", "lines_in_flight", "agents_logged_in", "agents_idle",
                                  "dial_level", "live", "abandoned", "abandon_rate")

_IDLE = AGENT_STATES.index("idle")
#: Interval families, each two rows of the accumulator (endpoint counts, offsets).
_LINES, _LOGGED, _IDLE_AGENTS = 0, 1, 2
#: Histogram rows (person answers and abandoned ones, by answer time).
_LIVE, _ABANDONED = 6, 7
_ROWS = 8


class TimelineFold:
    """The timeline and dialer figures, folded over chunks of calls and agent rows.

    Calls (:meth:`add_calls`) and agent-log rows (:meth:`add_agent_rows`) may come in
    any order and grouping; :meth:`timeline` and :meth:`stats` are then exactly
    :func:`timeline` and :func:`dialer_stats` of the whole table and log.

    How the overlaps stay exact: bin ``k`` is [k·B, (k+1)·B) on the fixed-point grid
    (B = ``bin_s`` in 2**-SCALE_BITS s), and the time an interval [s, e) spends in bin
    k is G(e)_k − G(s)_k with G(x)_k = B for bins before x's, x − k·B in x's own bin
    and 0 after. So each endpoint adds ±1 to a count and ±(its offset into its bin) to
    a sum, both in its own bin (integers, any order); at the end bin k holds
    B · (endpoints still to come after bin k, signed) + its offsets. The arrays are per
    absolute bin and grow (doubling) as time advances.

    Parameters
    ----------
    bin_s
        Bin width, s (rounded to the 2**-SCALE_BITS s grid).
    binned
        False: only the sums and counts of :meth:`figures` (no timeline), for
        :func:`dialer_stats` given a timeline already made.
    """

    def __init__(self, bin_s: float = 300.0, *, binned: bool = True) -> None:
        width = int(fixed_seconds(bin_s)) if math.isfinite(bin_s) else 0
        if width < 1:
            raise ValueError(f"bin_s: must be a positive number of seconds (got {bin_s})")
        self.bin_s = float(bin_s)
        self.binned = binned
        self._width = width
        self._acc = np.zeros((_ROWS, 0), dtype=np.int64)
        self._base = 0  # absolute bin index of column 0
        self._open = [0, 0, 0]  # per family: signed endpoints that never come (NaN, +inf)
        self.calls = self.handled = self.contacts = self.agent_rows = 0
        self._ring = self._logged = self._idle = 0  # exact sums (2**-SCALE_BITS s)
        self._first: int | None = None  # earliest call start (fixed point)
        self._last_call: int | None = None  # latest call end
        self._last_agent: int | None = None  # latest agent-row end

    # -- folding -------------------------------------------------------------------------

    def add_calls(self, cdrs: CDRTable) -> None:
        """Fold a chunk of CDRs in: ringing intervals (start → answer, or end), person
        answers and abandoned calls by answer time, and the call counts."""
        n = len(cdrs)
        self.calls += n
        if not n:
            return
        start, answer, end = cdrs["start"], cdrs["answer"], cdrs["end"]
        stop = np.where(np.isnan(answer), end, answer)
        self._first = _extreme(self._first, start, min)
        self._last_call = _extreme(self._last_call, end, max)
        self._endpoints(_LINES, start, -1)
        self._endpoints(_LINES, stop, 1)
        ring = stop - start
        self._ring += exact_seconds(np.maximum(ring[np.isfinite(ring)], 0.0))
        person = cdrs.mask("answered_by", "person")
        connected = ~np.isnan(cdrs["connect"])
        self.handled += int(((cdrs["agent_id"] >= 0) & connected).sum())
        self.contacts += int((person & connected).sum())
        self._count(_LIVE, answer[person])
        self._count(_ABANDONED, answer[person & cdrs["abandoned"]])

    def add_agent_rows(self, agent_id: np.ndarray, state: np.ndarray, start: np.ndarray,
                       end: np.ndarray) -> None:
        """Fold agent-log rows in (:class:`~sim.agentlog.AgentLog` columns): every row
        is logged-in time, the ``idle`` ones also idle time."""
        state, start, end = np.asarray(state), np.asarray(start, float), np.asarray(end, float)
        n = len(start)
        if not len(agent_id) == len(state) == n == len(end):
            raise ValueError(f"agent rows: columns of different lengths ({len(agent_id)}, "
                             f"{len(state)}, {n}, {len(end)})")
        self.agent_rows += n
        if not n:
            return
        self._last_agent = _extreme(self._last_agent, end, max)
        idle = state == _IDLE
        self._endpoints(_LOGGED, start, -1)
        self._endpoints(_LOGGED, end, 1)
        self._endpoints(_IDLE_AGENTS, start[idle], -1)
        self._endpoints(_IDLE_AGENTS, end[idle], 1)
        dur = end - start
        finite = np.isfinite(dur)
        self._logged += exact_seconds(dur[finite])
        self._idle += exact_seconds(dur[finite & idle])

    def add_agents(self, agents: AgentLog) -> None:
        """Fold a whole agent log (or a part of one) in."""
        self.add_agent_rows(agents.agent_id, agents.state, agents.start, agents.end)

    def _reach(self, lo: int, hi: int) -> None:
        """Make the accumulator cover absolute bins ``lo``..``hi`` (growth doubles, so a
        campaign folded one call at a time reallocates O(log bins) times)."""
        w = self._acc.shape[1]
        if w and self._base <= lo and hi < self._base + w:
            return
        if not w:
            self._base = lo
        new_lo, new_hi = min(lo, self._base), max(hi, self._base + w - 1)
        slack = max(0, 2 * w - (new_hi - new_lo + 1))
        if hi >= self._base + w:
            new_hi += slack
        else:
            new_lo -= slack
        acc = np.zeros((_ROWS, new_hi - new_lo + 1), dtype=np.int64)
        at = self._base - new_lo
        acc[:, at:at + w] = self._acc
        self._acc, self._base = acc, new_lo

    def _columns(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Columns of the finite times ``t`` and their offsets into their bins."""
        q = fixed_seconds(t)
        k = q // self._width  # floor division: bins of negative times too
        self._reach(int(k.min()), int(k.max()))
        return k - self._base, q - k * self._width

    def _endpoints(self, family: int, t: np.ndarray, sign: int) -> None:
        if not self.binned:
            return
        finite = np.isfinite(t)
        if not finite.all():
            # NaN or +inf: the interval never opens / closes (G = B everywhere); −inf
            # endpoints add G = 0 and are left out
            self._open[family] += sign * int(np.count_nonzero(~finite & (t != -np.inf)))
            t = t[finite]
        if not len(t):
            return
        col, offset = self._columns(t)
        np.add.at(self._acc[2 * family], col, sign)
        np.add.at(self._acc[2 * family + 1], col, sign * offset)

    def _count(self, row: int, t: np.ndarray) -> None:
        if not self.binned:
            return
        t = t[np.isfinite(t)]
        if len(t):
            np.add.at(self._acc[row], self._columns(t)[0], 1)

    # -- results -------------------------------------------------------------------------

    def _integral(self, family: int, lo: int, hi: int) -> np.ndarray:
        """Exact ∫ (intervals of ``family`` open) dt over columns ``lo``..``hi``."""
        before = np.cumsum(self._acc[2 * family])  # signed endpoints up to each bin
        after = before[-1] + self._open[family] - before[lo:hi + 1]
        return after * self._width + self._acc[2 * family + 1, lo:hi + 1]

    def timeline(self) -> dict[str, np.ndarray]:
        """What :func:`timeline` gives for everything folded in."""
        if not self.binned:
            raise ValueError("timeline: this fold keeps no bins (binned=False)")
        w = self._width
        if not self.calls or self._first is None:
            return {k: np.zeros(0) for k in TIMELINE_KEYS}
        k0 = self._first // w
        last = self._last_call if self._last_call is not None else self._first
        if self.agent_rows:
            last = max(last, self._last_agent if self._last_agent is not None else last)
        else:
            last = max(last, 0)
        k1 = -(-last // w) - 1  # the bin that holds the last end (or ends at it)
        if k1 < k0:
            return {k: np.zeros(0) for k in TIMELINE_KEYS}
        self._reach(k0, k1 + 1)
        lo, hi = k0 - self._base, k1 - self._base
        lines = self._integral(_LINES, lo, hi) / w
        logged = self._integral(_LOGGED, lo, hi) / w
        idle = self._integral(_IDLE_AGENTS, lo, hi) / w
        live = self._acc[_LIVE, lo:hi + 1].astype(float)
        ab = self._acc[_ABANDONED, lo:hi + 1].astype(float)
        if last == (k1 + 1) * w:  # the last bin is closed on the right (np.histogram)
            live[-1] += self._acc[_LIVE, hi + 1]
            ab[-1] += self._acc[_ABANDONED, hi + 1]
        cum_live, cum_ab = np.cumsum(live), np.cumsum(ab)
        rate = np.divide(cum_ab, cum_live, out=np.zeros_like(cum_ab), where=cum_live > 0)
        level = np.divide(lines, logged, out=np.zeros_like(lines), where=logged > 1e-9)
        keep = logged > 1e-9
        t = np.arange(k0, k1 + 1) * self.bin_s
        return {"t": t[keep], "lines_in_flight": lines[keep],
                "agents_logged_in": logged[keep], "agents_idle": idle[keep],
                "dial_level": level[keep], "live": live[keep], "abandoned": ab[keep],
                "abandon_rate": rate[keep]}

    def figures(self, lines_in_flight: np.ndarray) -> dict[str, Any]:
        """The dialer figures (see :func:`dialer_stats`), with the timeline's lines."""
        lines = lines_in_flight
        return {
            "mean_dial_level": self._ring / self._logged if self._logged else 0.0,
            "mean_lines_in_flight": float(lines.mean()) if lines.size else 0.0,
            "dials_per_contact": self.calls / self.contacts if self.contacts
            else float("nan"),
            "agent_wait_between_calls_s": seconds_of(self._idle, self.handled)
            if self.handled else float("nan"),
        }

    def stats(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``extra`` (e.g. the pacer's own figures) updated with what
        :func:`dialer_stats` gives for everything folded in."""
        return {**(extra or {}), **self.figures(self.timeline()["lines_in_flight"])}


def _extreme(now: int | None, t: np.ndarray, pick: Any) -> int | None:
    """``now`` and the finite times ``t`` (fixed point): their min or max (``pick``)."""
    t = t[np.isfinite(t)]
    if not len(t):
        return now
    x = int(fixed_seconds(t.min() if pick is min else t.max()))
    return x if now is None else pick(now, x)


def _fold(cdrs: CDRTable, agents: AgentLog, bin_s: float = 300.0, *,
          binned: bool = True) -> TimelineFold:
    fold = TimelineFold(bin_s, binned=binned)
    fold.add_calls(cdrs)
    fold.add_agents(agents)
    return fold


def timeline(cdrs: CDRTable, agents: AgentLog, bin_s: float = 300.0) -> dict[str, np.ndarray]:
    """Per time bin: lines in flight, agents logged in and idle, dial level, abandonment.

    Returns arrays ``t`` (bin start, s), ``lines_in_flight``, ``agents_logged_in``,
    ``agents_idle`` (time averages over the bin), ``dial_level`` (lines per logged-in
    agent), ``live``, ``abandoned`` (counts by answer time) and ``abandon_rate``
    (cumulative abandoned / live answers up to the bin's end). Bins run from the one
    of the first dial to the one of the last call's or agent's end; bins where nobody
    is logged in are dropped. Exact (see :class:`TimelineFold`).

    Parameters
    ----------
    cdrs
        The run's CDRs.
    agents
        Its agent state log.
    bin_s
        Bin width, s.
    """
    return _fold(cdrs, agents, bin_s).timeline()


def dialer_stats(cdrs: CDRTable, agents: AgentLog,
                 tl: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Mean dial level (ringing time per logged-in second) and lines in flight (over
    the timeline's bins with agents logged in), dials per contact, and the mean wait of
    an agent between calls (idle time per call handled, s). ``tl``: the timeline, if
    already made (:func:`timeline`). Exact (see :class:`TimelineFold`)."""
    fold = _fold(cdrs, agents, binned=tl is None)
    tl = tl if tl is not None else fold.timeline()
    return fold.figures(tl["lines_in_flight"])
