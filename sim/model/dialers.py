"""Pacing policies for pooled dialing: how many lines to ring, and when.

A pacer is told when an agent becomes idle, when a line resolves without reaching an
agent, and when an answered call is connected or queued; it may also run timers of
its own. It dials through :meth:`Pacer.dial`, which respects the trunk's channel
limit and calls-per-second cap, and which asks to be woken when a lead or a line will
become available instead of polling.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Call, Campaign

__all__ = ["Pacer", "PowerPacer"]

_INF = math.inf


class Pacer:
    """Base class: the hooks the engine calls, and dialing with trunk/lead waits."""

    def __init__(self, campaign: Campaign) -> None:
        self.c = campaign
        self.wake_time = _INF
        self._wake_gen = 0
        self._fired_at = -_INF
        self._same_instant = 0
        self.end_time = max((iv.last for iv in campaign.shifts), default=0.0)
        campaign.calls.on_new_work = self._new_work

    # -- hooks (override) -----------------------------------------------------------------
    def start(self) -> None:
        """Called once before the run starts."""

    def kick(self) -> None:
        """Re-examine the state and dial what the policy wants now."""

    def on_agent_idle(self, agent: int) -> None:
        self.kick()

    def on_line_done(self, call: Call) -> None:
        """A line resolved without reaching an agent (failure, no answer, AMD hang-up)."""
        self.kick()

    def on_answer(self, call: Call) -> None:
        """An answered call was connected to an agent or put in the queue."""

    def on_connect(self, call: Call, agent: int) -> None:
        """Agent ``agent`` started talking on ``call``."""

    def on_line_update(self, call: Call) -> None:
        """A line's hang-up time became known, or it started waiting in the queue."""

    def on_talk_done(self, agent: int, talk_s: float) -> None:
        """Agent ``agent`` hung up after ``talk_s`` seconds and started wrap-up."""

    def on_wrap_done(self, agent: int, wrap_s: float) -> None:
        """Agent ``agent`` finished ``wrap_s`` seconds of wrap-up."""

    def on_agents_changed(self) -> None:
        """Agents logged in or out."""
        self.kick()

    # -- dialing --------------------------------------------------------------------------
    def dial(self, owner: int = -1) -> Call | None:
        """Dial one line now if a lead and a trunk line are free; else arrange a wake-up."""
        c = self.c
        now = c.env.now
        if now >= self.end_time:
            return None
        if c.channels or c.min_gap:
            t = c.line_wait(now)
            if t > now:
                if t < _INF:
                    self.wake(t)
                return None
        call = c.dial(owner)
        if call is None:
            self.wake(c.next_time(now))
        return call

    def wake(self, t: float) -> None:
        """Run :meth:`kick` at ``t`` (the earliest requested time wins)."""
        now = self.c.env.now
        if t >= self.wake_time or t == _INF or t >= self.end_time:
            return
        if t <= now:
            # Woken again at the same instant: a state that cannot change without time
            # passing; step forward a millisecond rather than spin.
            self._same_instant = self._same_instant + 1 if self._fired_at == now else 0
            t = now + (1e-3 if self._same_instant >= 3 else 0.0)
        self.wake_time = t
        self._wake_gen += 1
        gen = self._wake_gen

        def fire(_: Any) -> None:
            if gen == self._wake_gen:
                self.wake_time = _INF
                self._fired_at = self.c.env._now
                self.kick()

        self.c.schedule(max(t - now, 0.0), fire)

    def _new_work(self, due: float) -> None:
        self.wake(max(due, self.c.env.now))


class PowerPacer(Pacer):
    """Progressive / power dialing: when an agent is idle, ring ``ratio`` lines for it.

    A fractional ratio (1.5) alternates 1 and 2 lines through a running remainder, so the
    long-run mean is exact and deterministic. Any idle agent takes any answered person,
    preferring the agent the line was dialled for; an agent whose lines all resolved
    without a connection dials again.
    """

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(campaign)
        self.ratio = campaign.scenario.dialer.ratio
        self.carry = 0.0
        self.pending = [0] * campaign.n_agents

    def _lines(self) -> int:
        self.carry += self.ratio
        k = int(self.carry + 1e-9)
        self.carry -= k
        return k

    def _dial_for(self, agent: int) -> None:
        c = self.c
        if self.pending[agent] or not c.is_idle[agent]:
            return
        k = self._lines()
        n = 0
        for _ in range(k):
            if self.dial(agent) is None:
                break
            n += 1
        self.pending[agent] = n

    def kick(self) -> None:
        for agent in list(self.c.idle):
            self._dial_for(agent)

    def on_agent_idle(self, agent: int) -> None:
        self._dial_for(agent)

    def _line_back(self, call: Call) -> None:
        o = call.owner
        if o >= 0:
            self.pending[o] -= 1
            if not self.pending[o]:
                self._dial_for(o)

    def on_line_done(self, call: Call) -> None:
        self._line_back(call)

    def on_answer(self, call: Call) -> None:
        self._line_back(call)
