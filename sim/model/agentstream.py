"""The agent state log of a streaming run, handed out as the run goes (issue #16).

:func:`.recorder.agent_log` builds the log at the end from every call. A streaming run
(:mod:`.stream`) hands its calls out in chunks instead, in dial order, each chunk
holding the calls that started before the *watermark* W: every call still to come
starts at or after W. :class:`AgentLogStream` is fed each chunk's calls handled by an
agent, W, and the sessions and previews recorded meanwhile, and hands out the log's
rows as soon as nothing still to come can change them, in the log's canonical order
(start, agent, state, end: :func:`.recorder.time_order`). The rows handed out,
concatenated, are exactly ``agent_log()`` of the whole run.

When is a row final?

* Talk, wrap and preview rows are known whole as soon as they are recorded.
* Idle rows are the parts of logged-in sessions no work covers. As in
  ``agent_log`` they come from one time-ordered pass over each agent's *events* —
  session start (+1 logged in), session end (-1), work start (+1 busy), work end (-1):
  after the last event at time t, an agent logged in and not busy is idle until its
  next event. Every event still unknown is at or after W (work of future calls starts
  at or after W; previews and session ends are recorded when they happen, and the loop
  is at or past W), so the events before W are processed, and those at or after W
  wait. What each agent carries from one chunk to the next is its login and busy
  counts after its last processed event and that event's time: an idle row opened
  there is final once its closing event (work, a preview, a session end) is known.
* A session is recorded only when it ends, but its start is needed as soon as the
  watermark passes it: the recorder keeps the sessions open now
  (:attr:`.recorder.Recorder.open_sessions`, from :meth:`~.recorder.Recorder.login`),
  and an open session's start is taken as an event once it is before W.
* Pooled dialing can record two sessions from one login (an agent going home twice);
  the second's start is then already processed. That is taken exactly when the start
  is the agent's last login and it stayed logged in since (it changes only the count
  from the agent's last event on); anything else out of order is a RuntimeError, never
  a silently different log.
* Order: a row is handed out once it sorts before every row still to come. Rows to
  come start at or after W, or are the idle row open for an agent (from its last
  processed event), so rows sorting before the smallest of those go.

What the stream holds is per agent (counts, last event time, the open idle row's
start) plus the events after W (the calls in progress: a few per agent) and the final
rows waiting on an open idle row of another agent — rows made while one idle gap
lasts, a few per agent in a working campaign (:meth:`AgentLogStream.held`). Each step
is a few numpy passes over the chunk's events (no Python loop per call); only
sessions, a few per agent a day, are looked at one by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..agentlog import AgentLog
from .recorder import Intervals3, Recorder, time_order

__all__ = ["AgentLogSink", "AgentLogStream"]

#: What the stream hands its rows to: a chunk of the agent log, in canonical order.
AgentLogSink = Callable[[AgentLog], None]

_Events = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # agent, time, dlogin, dbusy
_Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # agent, state, start, end


def _no_events() -> _Events:
    return (np.zeros(0, np.int32), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))


def _no_rows() -> _Rows:
    return (np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0), np.zeros(0))


def _cat(parts: Sequence[tuple[np.ndarray, ...]]) -> Any:
    return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))


class AgentLogStream:
    """Build the agent log chunk by chunk and hand out its final rows (module docstring).

    Parameters
    ----------
    sinks
        Called with each batch of final rows (an :class:`~sim.agentlog.AgentLog`, in
        canonical order), e.g. a chunked agents.csv writer's ``write``.
    """

    def __init__(self, sinks: Sequence[AgentLogSink] = ()) -> None:
        self.sinks = list(sinks)
        n = 0
        self._login = np.zeros(n, np.int64)  # per agent, after its last processed event
        self._busy = np.zeros(n, np.int64)
        self._t_last = np.full(n, np.nan)  # that event's time (NaN: none yet)
        self._open = np.zeros(n, bool)  # idle from _t_last on (the idle row still open)
        self._last_login = np.full(n, np.nan)  # the last login event processed
        self._last_out = np.full(n, np.nan)  # the last time the login count fell to 0
        self._started: dict[int, float] = {}  # open sessions whose start was taken
        self._events = _no_events()  # known events at or after the watermark
        self._rows = _no_rows()  # final rows not handed out yet
        self._w = -math.inf
        self._rec: Recorder | None = None
        self._mark = (0, 0)
        #: Rows handed out so far, and the most rows / events held at once.
        self.rows_out = 0
        self.peak_rows = 0
        self.peak_events = 0

    # -- feeding ------------------------------------------------------------------------
    def feed(self, agent: np.ndarray, agent_start: np.ndarray, end: np.ndarray,
             wrap: np.ndarray, w: float, sessions: Intervals3, previews: Intervals3,
             open_sessions: Mapping[int, float]) -> None:
        """One chunk: its calls' ``agent`` (-1: none), ``agent_start`` (NaN: no agent),
        ``end`` and ``wrap`` (s); the watermark ``w``; the sessions and previews
        recorded since the last feed; the sessions open now (agent -> login time)."""
        if w < self._w:
            raise ValueError(f"agent log stream: the watermark went back ({w} < {self._w})")
        self._w = w
        agent = np.asarray(agent)
        busy = (agent >= 0) & ~np.isnan(agent_start)
        ca, cs, ce = agent[busy], agent_start[busy], end[busy]
        pa, ps, pe = previews
        # the work rows, exactly as agent_log() makes them: talk, wrap, preview
        a = np.concatenate([ca, ca, pa]).astype(np.int32)
        s = np.concatenate([cs, ce, ps])
        e = np.concatenate([ce, ce + wrap[busy], pe])
        k = np.concatenate([np.full(len(ca), 2), np.full(len(ca), 3),
                            np.full(len(pa), 1)]).astype(np.int8)
        keep = e > s
        a, k, s, e = a[keep], k[keep], s[keep], e[keep]
        events = [self._events, (a, s, np.zeros(len(a), np.int64), np.ones(len(a), np.int64)),
                  (a, e, np.zeros(len(a), np.int64), -np.ones(len(a), np.int64)),
                  self._session_events(sessions, open_sessions, w)]
        rows = [self._rows, (a, k, s, e)]
        ev = _cat(events)
        now = ev[1] < w
        self._events = tuple(x[~now] for x in ev)
        rows.append(self._process(tuple(x[now] for x in ev)))
        self._rows = _cat(rows)
        self.peak_events = max(self.peak_events, len(self._events[0]))
        self.peak_rows = max(self.peak_rows, len(self._rows[0]))
        self._hand_out()

    def _session_events(self, sessions: Intervals3, open_sessions: Mapping[int, float],
                        w: float) -> _Events:
        """Login events of the sessions recorded since the last feed, and of those open
        whose start the watermark has passed (taken once)."""
        ag: list[int] = []
        t: list[float] = []
        d: list[int] = []
        started = self._started
        for a, ss, se in zip(*(x.tolist() for x in sessions), strict=True):
            if a < len(self._t_last) and ss <= self._t_last[a] and a not in started:
                self._again(a, ss)  # the same login recorded twice: counted from now on
            elif a in started:
                if started.pop(a) != ss:
                    raise RuntimeError(f"agent log stream: agent {a}'s session recorded from "
                                       f"{ss} s is not the one open since earlier")
            else:
                ag.append(a), t.append(ss), d.append(1)
            ag.append(a), t.append(se), d.append(-1)
        if w < math.inf:  # at the end a session still open is no session (never recorded)
            for a, ss in open_sessions.items():
                if ss < w and a not in started:
                    started[a] = ss
                    ag.append(a), t.append(ss), d.append(1)
        return (np.asarray(ag, np.int32), np.asarray(t, np.float64),
                np.asarray(d, np.int64), np.zeros(len(ag), np.int64))

    def _grow(self, n: int) -> None:
        m = len(self._login)
        if n > m:
            self._login = np.r_[self._login, np.zeros(n - m, np.int64)]
            self._busy = np.r_[self._busy, np.zeros(n - m, np.int64)]
            self._t_last = np.r_[self._t_last, np.full(n - m, np.nan)]
            self._open = np.r_[self._open, np.zeros(n - m, bool)]
            self._last_login = np.r_[self._last_login, np.full(n - m, np.nan)]
            self._last_out = np.r_[self._last_out, np.full(n - m, np.nan)]

    def _process(self, ev: _Events) -> _Rows:
        """The idle rows the events ``ev`` (all before the watermark) close, as
        ``agent_log``'s one pass would, carrying each agent's state on."""
        ea, et, dl, db = ev
        if not len(ea):
            return _no_rows()
        self._grow(int(ea.max()) + 1)
        last = self._t_last[ea]
        late = et <= last  # NaN (no event yet) compares False
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise RuntimeError(f"agent log stream: an event of agent {int(ea[i])} at "
                               f"{float(et[i])} s came after its event at {float(last[i])} s"
                               " was processed")
        # each agent's carried state as a first event at its last time (before any new)
        who = np.unique(ea)
        who = who[~np.isnan(self._t_last[who])]
        a = np.concatenate([who.astype(np.int32), ea])
        t = np.concatenate([self._t_last[who], et])
        dl = np.concatenate([self._login[who], dl])
        db = np.concatenate([self._busy[who], db])
        order = np.lexsort((t, a))
        a, t = a[order], t[order]
        # running counts per agent: a global cumsum, less its value before each agent
        first = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
        size = np.diff(np.r_[first, len(a)])
        login = np.cumsum(dl[order])
        busy = np.cumsum(db[order])
        login -= np.repeat(np.r_[0, login[first[1:] - 1]], size)
        busy -= np.repeat(np.r_[0, busy[first[1:] - 1]], size)
        idle = (login > 0) & (busy <= 0)
        real = np.concatenate([np.zeros(len(who), bool), np.ones(len(ea), bool)])[order]
        self._last_at(a, t, real & (dl[order] > 0), self._last_login)
        self._last_at(a, t, np.r_[(a[1:] != a[:-1]) | (t[1:] > t[:-1]), True] & (login == 0),
                      self._last_out)
        nxt_same = np.r_[a[1:] == a[:-1], False]
        t_next = np.r_[t[1:], 0.0]
        keep = idle & nxt_same & (t_next > t)
        # the state after each agent's last event, and whether an idle row is open there
        tail = np.r_[first[1:] - 1, len(a) - 1]
        ta = a[tail]
        self._login[ta], self._busy[ta], self._t_last[ta] = login[tail], busy[tail], t[tail]
        self._open[ta] = idle[tail]
        n = int(keep.sum())
        return (a[keep], np.zeros(n, np.int8), t[keep], t_next[keep])

    @staticmethod
    def _last_at(a: np.ndarray, t: np.ndarray, mask: np.ndarray, into: np.ndarray) -> None:
        """``into[agent]`` = the last time ``t`` where ``mask`` holds, per agent (rows
        sorted by agent then time)."""
        am, tm = a[mask], t[mask]
        if len(am):
            last = np.r_[am[1:] != am[:-1], True]
            into[am[last]] = tm[last]

    def _again(self, a: int, ss: float) -> None:
        """A session recorded with a start already processed. The engine does this when
        a pooled agent goes home twice from one login (two records from the same start):
        exact only if that start is the agent's last login and the agent stayed logged
        in from it up to its last processed event — then the second session changes no
        row handed out, only the count from that event on."""
        out = self._last_out[a]
        if ss != self._last_login[a] or (out >= ss and out != self._t_last[a]):
            raise RuntimeError(f"agent log stream: agent {a}'s session from {ss} s was "
                               f"recorded after its event at {self._t_last[a]} s was processed")
        self._login[a] += 1
        self._open[a] = self._busy[a] <= 0

    # -- handing out --------------------------------------------------------------------
    def _hand_out(self, final: bool = False) -> None:
        """Hand out the rows that sort before every row still to come."""
        a, k, s, e = self._rows
        if not len(a):
            return
        if final:
            out = np.ones(len(a), bool)
        else:
            fs, fa, fk = self._w, -1, -1  # rows to come start at or after W ...
            opened = np.flatnonzero(self._open)
            if len(opened):  # ... or are an open idle row (state 0)
                t = self._t_last[opened]
                i = int(np.lexsort((opened, t))[0])
                if t[i] < fs:
                    fs, fa, fk = float(t[i]), int(opened[i]), 0
            out = (s < fs) | ((s == fs) & ((a < fa) | ((a == fa) & (k < fk))))
            if not out.any():
                return
        sel = tuple(x[out] for x in self._rows)
        self._rows = tuple(x[~out] for x in self._rows)
        order = time_order(*sel)
        log = AgentLog(agent_id=sel[0][order], state=sel[1][order], start=sel[2][order],
                       end=sel[3][order])
        self.rows_out += len(log)
        for sink in self.sinks:
            sink(log)

    def finish(self) -> None:
        """After the run: take what the recorder still holds (if :meth:`attach`\\ ed),
        close every idle row that can still close, and hand out every row left. An
        idle row still open closes nowhere (as in ``agent_log``: no event after it)."""
        sessions, previews = _no_intervals(), _no_intervals()
        if self._rec is not None:
            sessions, previews, self._mark = self._rec.intervals_since(self._mark)
        empty = np.zeros(0)
        self.feed(np.zeros(0, np.int32), empty, empty, empty, math.inf, sessions, previews, {})
        if self._started:
            a = next(iter(self._started))
            raise RuntimeError(f"agent log stream: agent {a}'s session open since "
                               f"{self._started[a]} s was never recorded")
        self._open[:] = False
        self._hand_out(final=True)

    def held(self) -> dict[str, int]:
        """What the stream holds now: final rows waiting, events after the watermark,
        open idle rows and agents known."""
        return {"rows": len(self._rows[0]), "events": len(self._events[0]),
                "open_idle": int(self._open.sum()), "agents": len(self._login)}

    # -- wiring to a streaming run -------------------------------------------------------
    def attach(self, rec: Recorder, watermark: Callable[[], float]) -> Callable[[Any, Any], None]:
        """A chunk sink for :class:`.stream.Streamer` (``on_chunk``): feeds each chunk
        with ``watermark()`` (the W the chunk was cut at) and what ``rec`` recorded
        since the last chunk. Call :meth:`finish` after the streamer's ``finish``."""
        self._rec = rec

        def on_chunk(cdrs: Any, agent_start: np.ndarray) -> None:
            sessions, previews, self._mark = rec.intervals_since(self._mark)
            self.feed(cdrs["agent_id"], agent_start, cdrs["end"], cdrs["wrap_s"],
                      watermark(), sessions, previews, rec.open_sessions)

        return on_chunk


def _no_intervals() -> Intervals3:
    return (np.zeros(0, np.int32), np.zeros(0), np.zeros(0))
