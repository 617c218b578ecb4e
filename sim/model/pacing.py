"""Pacing modes beyond power dialing: Poisson, VICIdial-style adaptive, predictive, robot.

* ``poisson`` — open loop: dial attempts arrive as a Poisson stream at
  ``dialer.rate_per_min``; an attempt that finds no free trunk line is lost (blocked).
  The mode that makes the Erlang checks of VALIDATION.md exact.
* ``adaptive`` — a dial-level controller in the style of VICIdial's ADAPT_AVERAGE:
  the level L (lines per agent) moves every 15 s with (ready agents − waiting
  people) and is halved when drops run over the cap.
* ``ratio`` — VICIdial's RATIO dial method: a fixed dial level L; every 2.5 s it keeps
  about L × agents (logged in, not in wrap-up) − calls in progress lines in flight.
* ``predictive`` — dialsim's own policy (:class:`PredictivePacer`): it estimates,
  from what a real dialer sees, when agents will free up and when lines in flight
  will produce live answers, and rings another line only while that line's chance of
  being abandoned stays under a tolerance that a controller adjusts to hold the
  abandonment rate under the cap.
* ``robot`` — an AI voice robot answers every connected call; its capacity is the
  trunk's channels; Poisson attempts if a rate is set, else it keeps every channel busy.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr

from ..rng import stream
from ..scenario import Scenario
from .dialers import Pacer

if TYPE_CHECKING:
    from .engine import Call, Campaign

__all__ = ["AdaptivePacer", "PoissonPacer", "PredictivePacer", "RatioPacer", "RobotPacer",
           "factory"]

_INF = math.inf


def factory(scenario: Scenario) -> Callable[[Campaign], Pacer]:
    mode = scenario.dialer.mode
    pacers: dict[str, Callable[[Campaign], Pacer]] = {
        "poisson": PoissonPacer, "adaptive": AdaptivePacer, "predictive": PredictivePacer,
        "robot": RobotPacer, "ratio": RatioPacer,
    }
    return pacers[mode]


class _Ticker:
    """Calls ``fn`` every ``period_s`` from ``start`` until the pacer's end time."""

    def __init__(self, pacer: Pacer, period_s: float, fn: Callable[[], None]) -> None:
        self.pacer = pacer
        self.period = period_s
        self.fn = fn

    def start(self, at: float) -> None:
        self.pacer.c.schedule(max(at - self.pacer.c.env.now, 0.0), self._tick)

    def _tick(self, _: Any) -> None:
        c = self.pacer.c
        now = c.env._now
        if now >= self.pacer.end_time:
            return
        self.fn()
        nxt = now + self.period
        if not c.calls.pending and not c.calls.outstanding:
            return  # the list is worked out
        c.schedule(self.period, self._tick) if nxt < self.pacer.end_time else None


# -- open loop --------------------------------------------------------------------------------

class PoissonPacer(Pacer):
    """Dial attempts arrive as a Poisson stream of ``rate_per_min`` (dialer stream).

    An attempt that finds every trunk line busy is lost ("blocked", counted); when no
    lead may be dialled (window closed) the stream resumes when one may — the
    exponential gaps are memoryless, so restarting it changes nothing.
    """

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(campaign)
        self.rate_s = campaign.scenario.dialer.rate_per_min / 60.0
        self.rng = stream(campaign.draws.seed, "dialer", 1)
        self._gaps: list[float] = []
        self.attempts = 0

    def _gap(self) -> float:
        if not self._gaps:
            self._gaps = self.rng.exponential(1.0 / self.rate_s, 4096).tolist()[::-1]
        return self._gaps.pop()

    def start(self) -> None:
        if self.rate_s > 0:
            first = min((iv.first for iv in self.c.shifts), default=_INF)
            if first < _INF:
                self.c.schedule(first + self._gap(), self._arrive)

    def _arrive(self, _: Any) -> None:
        c = self.c
        now = c.env._now
        if now >= self.end_time:
            return
        self.attempts += 1
        if c.channels and c.free_lines(now) <= 0:
            c.rec.blocked += 1
        elif c.dial() is None:
            self.attempts -= 1  # no lead may be dialled now: resume when one may
            t = c.next_time(now)
            if t == _INF and not c.calls.outstanding:
                return
            if t == _INF:
                t = now + 60.0
            c.schedule(max(t - now, 0.0) + self._gap(), self._arrive)
            return
        c.schedule(self._gap(), self._arrive)

    def stats(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "blocked": self.c.rec.blocked,
                "blocked_share": self.c.rec.blocked / self.attempts if self.attempts else 0.0}


class RobotPacer(PoissonPacer):
    """An AI robot on every line: Poisson attempts at ``rate_per_min``, or, without a
    rate, a new line whenever a channel is free (the robot never waits for agents)."""

    def start(self) -> None:
        if self.rate_s > 0:
            super().start()
            return
        for iv in {id(iv): iv for iv in self.c.shifts}.values():
            for s in iv.starts:
                self.c.schedule(s, lambda _: self.kick())

    def kick(self) -> None:
        if self.rate_s > 0:
            return
        c = self.c
        c.purge_queue(c.env._now)
        while self.dial() is not None:
            self.attempts += 1
        self._wake_for_lines()

    def _wake_for_lines(self) -> None:
        """Wake when the first busy line frees (a hang-up, or a transfer given up)."""
        c = self.c
        now = c.env._now
        times = [t for t in c.line_ends[:1] if t > now]
        # a waiting transfer is given up just after its deadline
        times += [call.deadline + 1e-6 for call in c.queue if call.deadline + 1e-6 > now]
        if times:
            self.wake(min(times))

    def on_line_done(self, call: Call) -> None:
        self.kick()

    def on_answer(self, call: Call) -> None:
        self.kick()

    def on_line_update(self, call: Call) -> None:
        self.kick()


# -- VICIdial-style adaptive ---------------------------------------------------------------

class AdaptivePacer(Pacer):
    """VICIdial's ADAPT_AVERAGE dial-level controller, as users of VICIdial know it.

    Every 2.5 s: goal = round(L × agents not in wrap-up), dial goal − (lines ringing +
    people waiting + calls talking). Every 1 s: sample ready agents and waiting
    people. Every 15 s: m = (mean ready − mean waiting + offset) / agents logged in,
    L ← L·(1 + m) clipped to [1, max_level]; then, past 50 live answers, halve L if
    the drop rate exceeds the cap, and halve it if the last minute had more than 20
    live answers and over half of them dropped.
    """

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(campaign)
        d = campaign.scenario.dialer
        self.level = 1.0
        self.max_level = d.max_level
        self.offset = d.adapt_offset
        self.cap = d.target_abandon
        self.ready_samples: list[int] = []
        self.wait_samples: list[int] = []
        self.recent: deque[tuple[float, int, int]] = deque()  # (t, live, dropped) per minute
        self._seen = (0, 0)
        self.levels: list[tuple[float, float]] = []

    def start(self) -> None:
        first = min((iv.first for iv in self.c.shifts), default=_INF)
        if first < _INF:
            _Ticker(self, 1.0, self._sample).start(first)
            _Ticker(self, 2.5, self._dial_round).start(first)
            _Ticker(self, 15.0, self._adapt).start(first + 15.0)

    def _logged_in(self) -> int:
        return sum(self.c.logged_in)

    def _sample(self) -> None:
        c = self.c
        waiting = c.purge_queue(c.env._now)
        self.ready_samples.append(len(c.idle))
        self.wait_samples.append(waiting)

    def _dial_round(self) -> None:
        c = self.c
        available = len(c.idle) + c.talking  # logged in and not in wrap-up
        goal = round(self.level * available)
        for _ in range(goal - (c.ringing + len(c.queue) + c.talking)):
            if self.dial() is None:
                break

    def _adapt(self) -> None:
        c = self.c
        now = c.env._now
        agents = self._logged_in()
        if agents and self.ready_samples:
            m = (float(np.mean(self.ready_samples)) - float(np.mean(self.wait_samples))
                 + self.offset) / agents
            self.level = min(max(self.level * (1 + m), 1.0), self.max_level)
        self.ready_samples.clear()
        self.wait_samples.clear()
        c.purge_queue(now)
        live, drops = c.live_answers, c.abandons
        d_live, d_drop = live - self._seen[0], drops - self._seen[1]
        self._seen = (live, drops)
        self.recent.append((now, d_live, d_drop))
        while self.recent and self.recent[0][0] <= now - 60.0:
            self.recent.popleft()
        if live > 50 and drops / live > self.cap:
            self.level = max(1.0, self.level / 2)
        last_live = sum(x[1] for x in self.recent)
        last_drop = sum(x[2] for x in self.recent)
        if last_live > 20 and last_drop > last_live / 2:
            self.level = max(1.0, self.level / 2)
        self.levels.append((now, self.level))

    def stats(self) -> dict[str, Any]:
        lv = [x[1] for x in self.levels]
        return {"mean_level": float(np.mean(lv)) if lv else 1.0,
                "final_level": self.level}


class RatioPacer(Pacer):
    """VICIdial's RATIO dial method: a fixed dial level ``dialer.ratio`` = L.

    Every 2.5 s: goal = round(L × agents logged in and not in wrap-up); dial goal −
    (lines ringing + people waiting + calls talking). Unlike power dialing (lines per
    *idle* agent), the level counts every active agent, busy ones included.
    """

    PERIOD_S = 2.5

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(campaign)
        self.level = campaign.scenario.dialer.ratio

    def start(self) -> None:
        first = min((iv.first for iv in self.c.shifts), default=_INF)
        if first < _INF:
            _Ticker(self, self.PERIOD_S, self._dial_round).start(first)

    def _dial_round(self) -> None:
        c = self.c
        waiting = c.purge_queue(c.env._now)
        goal = round(self.level * (len(c.idle) + c.talking))
        for _ in range(goal - (c.ringing + waiting + c.talking)):
            if self.dial() is None:
                break

    def stats(self) -> dict[str, Any]:
        return {"level": self.level}


# -- predictive --------------------------------------------------------------------------------

class _Histogram:
    """An online histogram of a duration, read as a CDF (what the dialer has observed)."""

    def __init__(self, bin_s: float, max_s: float) -> None:
        self.inv_bin = 1.0 / bin_s
        self.n_bins = int(math.ceil(max_s / bin_s)) + 1
        self.counts = np.zeros(self.n_bins)
        self.n = 0
        self.total = 0.0
        self._grid = np.arange(self.n_bins + 1, dtype=float)
        self._cdf = np.zeros(self.n_bins + 1)
        self._stale = False
        self._q: dict[bytes, np.ndarray] = {}

    def add(self, x: float) -> None:
        self.counts[min(int(x * self.inv_bin), self.n_bins - 1)] += 1
        self.n += 1
        self.total += x
        self._stale = True

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    def _refresh(self) -> None:
        c = np.cumsum(self.counts)
        self._cdf[1:] = c / max(c[-1], 1.0)
        self._stale = False
        self._q.clear()

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x), linear inside bins (np.interp clamps outside the range)."""
        if self._stale:
            self._refresh()
        return np.interp(x * self.inv_bin, self._grid, self._cdf)

    def quantiles(self, qs: np.ndarray) -> np.ndarray:
        if self._stale:
            self._refresh()
        key = qs.tobytes()
        q = self._q.get(key)
        if q is None:
            q = self._q[key] = np.interp(qs, self._cdf, self._grid) / self.inv_bin
        return q


class PredictivePacer(Pacer):
    """State-aware predictive dialing held under an abandonment cap.

    At every change of state (an agent frees, starts wrap-up, a line resolves) and
    every second, it decides how many more lines to ring now. For a candidate line
    it estimates the probability that, if a live person answers it, no agent will be
    free within the abandon threshold: agents free now, plus each busy agent's chance
    of finishing in time given how long they have already talked or wrapped, minus
    the people already waiting and the expected live answers of the lines in flight
    given how long they have rung (a normal approximation of these sums of
    Bernoulli variables, averaged over the answer-delay distribution). It rings lines
    while that probability stays under a tolerance θ.

    Everything is estimated online from what the dialer has seen — answer rate,
    answer delays, talk and wrap times — never from the customers' draws. θ is set by
    a controller on the abandonment budget (cap × live answers − abandons, over the
    campaign and over the current day) so the rate stays under the target.
    """

    QS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    WARMUP_DIALS = 40
    TICK_S = 2.0  # re-decide at least this often (busy agents get closer to finishing)

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(campaign)
        d = campaign.scenario.dialer
        self.target = d.target_abandon
        # aim under the cap by a margin for the randomness of a day
        self.setpoint = (1.0 - d.abandon_margin) * d.target_abandon
        self.threshold = min(d.abandon_threshold_s, 30.0)
        horizon = d.ring_timeout_s + 30.0
        self.delay = _Histogram(0.25, horizon)  # dial → ready for an agent, live answers
        self.talk = _Histogram(2.0, 4 * 3600.0)
        self.wrap = _Histogram(1.0, 1800.0)
        self.resolved = 0.0  # exponentially weighted counts for the answer rate
        self.demands = 0.0
        self.ringing: dict[int, float] = {}  # id(call) -> dial time
        n = campaign.n_agents
        self.theta = 0.05
        self.day = -1
        self.day_live0 = 0
        self.day_drop0 = 0
        self.decisions = 0
        self.level_samples: list[float] = []
        self._k = np.arange(3 * n + 2, dtype=float)
        self._ring_max = horizon
        self._seen_obs = -1_000_000
        self._seen_p = -1.0

    # -- observations ----------------------------------------------------------------------
    def start(self) -> None:
        first = min((iv.first for iv in self.c.shifts), default=_INF)
        if first < _INF:
            _Ticker(self, self.TICK_S, self.kick).start(first)

    def dial(self, owner: int = -1) -> Call | None:
        call = super().dial(owner)
        if call is not None:
            self.ringing[id(call)] = call.start
        return call

    def _resolved(self, call: Call, demand: bool) -> None:
        self.ringing.pop(id(call), None)
        decay = 0.998  # forget slowly: the answer rate drifts with the hour of day
        self.resolved = self.resolved * decay + 1.0
        self.demands = self.demands * decay + (1.0 if demand else 0.0)

    def on_line_done(self, call: Call) -> None:
        self._resolved(call, False)
        self.kick()

    def on_answer(self, call: Call) -> None:
        self._resolved(call, True)
        self.delay.add(call.ready - call.start)
        self.kick()

    def on_talk_done(self, agent: int, talk_s: float) -> None:
        self.talk.add(talk_s)
        self.kick()

    def on_wrap_done(self, agent: int, wrap_s: float) -> None:
        self.wrap.add(wrap_s)

    # -- the decision ----------------------------------------------------------------------
    @property
    def p_demand(self) -> float:
        return (self.demands + 0.5) / (self.resolved + 1.0)

    def _update_theta(self) -> None:
        c = self.c
        now = c.env._now
        day = int(now // 86_400)
        if day != self.day:
            self.day, self.day_live0, self.day_drop0 = day, c.live_answers, c.abandons
        budget = self.setpoint * c.live_answers - c.abandons
        day_budget = self.setpoint * (c.live_answers - self.day_live0) - (
            c.abandons - self.day_drop0) + 1.5
        b = min(budget, day_budget)
        self.theta = float(np.clip(0.04 * math.exp(b / 3.0), 0.002, 0.35))

    def kick(self) -> None:
        c = self.c
        now = c.env._now
        if now >= self.end_time:
            return
        idle = len(c.idle)
        if not idle and not c.talking and not c.in_wrap:
            return  # nobody logged in
        waiting = c.purge_queue(now)
        if c.suspension is not None and c.suspended(now):
            return  # the plan's terms stopped dialing: no decision to make until then
        if c.dials < self.WARMUP_DIALS or self.delay.n < 5 or self.talk.n < 3:
            # Learning first: one line per idle agent not already covered.
            for _ in range(idle - waiting - len(self.ringing)):
                if self.dial() is None:
                    break
            return
        self._update_theta()
        self.decisions += 1
        n_new = self._lines_to_dial(now, idle, waiting)
        for _ in range(n_new):
            if self.dial() is None:
                break
        logged = idle + c.talking + c.in_wrap
        if logged:
            self.level_samples.append(len(self.ringing) / logged)

    # Elapsed-time grids of the lookup tables (s per step) and their lengths.
    TALK_STEP, WRAP_STEP, RING_STEP = 1.0, 0.5, 0.25
    TALK_MAX, WRAP_MAX = 4 * 3600.0, 1800.0

    def _refresh_tables(self) -> None:
        """Rebuild the per-elapsed-time probability tables from the current estimates.

        Agent table rows: an agent who has talked (or wrapped up) e seconds → P(free
        within each horizon) and its variance term; a last all-zero row for agents
        idle or logged out. Line table rows: a line that has rung e seconds → P(it
        answers live before a new line would) and its variance term. Rebuilt when the
        estimates have moved, so a decision is two table look-ups and a few sums.
        """
        p = self.p_demand
        r = self.delay.quantiles(self.QS)
        horizon = r + self.threshold
        self._r_a = p * self.delay.cdf(r)  # another new line answering before this one

        def table(hist: _Histogram, step: float, max_s: float, shift: np.ndarray,
                  post: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
            e = np.arange(0.0, max_s + step, step)
            h_e = hist.cdf(e)
            w = 1.0 / np.maximum(1.0 - h_e, 1e-9)
            if post is not None:
                w = w * post(h_e)
            f = (hist.cdf(e[:, None] + shift) - h_e[:, None]) * w[:, None]
            f = np.minimum(np.maximum(f, 0.0), 1.0)
            return np.hstack([f, f * (1.0 - f)])

        talk = table(self.talk, self.TALK_STEP, self.TALK_MAX, horizon - self.wrap.mean)
        wrap = table(self.wrap, self.WRAP_STEP, self.WRAP_MAX, horizon)
        self._agent_table = np.vstack([talk, wrap, np.zeros((1, 2 * len(r)))])
        self._wrap_row0 = len(talk)

        def live_given_ringing(g_e: np.ndarray) -> np.ndarray:
            left = p * (1.0 - g_e)
            return left / np.maximum(left + (1.0 - p), 1e-12)

        self._ring_table = table(self.delay, self.RING_STEP, self._ring_max, r,
                                 live_given_ringing)
        self._seen_obs = self.delay.n + self.talk.n + self.wrap.n
        self._seen_p = p

    def _lines_to_dial(self, now: float, idle: int, waiting: int) -> int:
        c = self.c
        obs = self.delay.n + self.talk.n + self.wrap.n
        if obs - self._seen_obs >= max(25, obs // 10) or abs(self.p_demand - self._seen_p) > 0.02:
            self._refresh_tables()
        nq = len(self.QS)
        # supply: busy agents finishing in time (one table row per agent)
        state = c.state
        e = now - c.since
        t_idx = np.minimum(e * (1.0 / self.TALK_STEP), self._wrap_row0 - 1)
        w_idx = self._wrap_row0 + np.minimum(e * (1.0 / self.WRAP_STEP),
                                             len(self._agent_table) - 2 - self._wrap_row0)
        idx = np.where(state == 2, t_idx, np.where(state == 3, w_idx,
                                                   len(self._agent_table) - 1))
        s = self._agent_table[idx.astype(np.int64)].sum(0)
        mean = (idle - waiting) + s[:nq]
        var = 0.05 + s[nq:]
        # demand ahead of a new line's answer: lines in flight answering live first
        if self.ringing:
            e = now - np.fromiter(self.ringing.values(), dtype=float, count=len(self.ringing))
            ridx = np.minimum(e * (1.0 / self.RING_STEP), len(self._ring_table) - 1)
            g = self._ring_table[ridx.astype(np.int64)].sum(0)
            mean = mean - g[:nq]
            var = var + g[nq:]
        # the k-th new line also waits behind the earlier new lines answering first;
        # try a few lines, and more only if all of those pass
        a = self._r_a
        ab = a * (1.0 - a)
        limit = 3 * (idle + c.talking + c.in_wrap) + 1
        tol = self.theta * len(a)
        lo = 0
        for size in (8, 64, limit):
            k = self._k[lo:min(size, limit), None]
            z = (0.5 - (mean - k * a)) / np.sqrt(var + k * ab)
            over = np.flatnonzero(ndtr(z).sum(1) > tol)
            if over.size:
                return lo + int(over[0])
            lo = min(size, limit)
            if lo >= limit:
                break
        return limit

    def stats(self) -> dict[str, Any]:
        return {"mean_level": float(np.mean(self.level_samples)) if self.level_samples else 0.0,
                "decisions": self.decisions, "final_theta": self.theta,
                "answer_rate_estimate": self.p_demand}
