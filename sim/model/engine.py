"""The campaign as a SimPy discrete-event model.

Everything random about a call is drawn before the dial (see ``customers``), so the
loop schedules only the events something reacts to:

* **Agent-owned dialing** (preview, progressive 1:1): an agent dials one lead and
  waits for it, so its own line's fate decides when it is next free — one event per
  attempt, the agent becoming ready again.
* **Pooled dialing** (power ratio > 1, poisson, adaptive, predictive, robot): lines are
  dialled by a pacing policy and any free agent takes any answered person. Events: a
  line resolving (answer or failure), an agent finishing wrap-up, shift changes and
  the pacer's own timers. A person who answers and finds no agent waits in a FIFO
  queue until an agent frees or their deadline (patience, or the dialer's abandon
  threshold) passes; deadlines need no event of their own — expired waiters are
  closed at their deadline the next time the queue is looked at.

Trunk lines are tracked lazily: a heap of known hang-up times plus the count of lines
still ringing.
"""

from __future__ import annotations

import gc
import heapq
import math
import struct
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy
from simpy.core import NORMAL

from ..cdr import encode
from ..scenario import Scenario
from . import customers as cu
from .calendar import Intervals, shift_intervals
from .customers import Draws, LeadTraits
from .fates import FATE_SHIFT, OUTCOME_OF_FATE, OUTCOME_OF_RESULT, outcome_of, script_code
from .fates import F as FATE
from .leads import CallList
from .recorder import ANSWERED_FROM, Recorder, billsec_one

__all__ = ["Campaign"]

_INF = math.inf
_NAN = math.nan
_PERSON = cu.KIND_PERSON
_MACHINE = cu.KIND_MACHINE
_SHIFT = FATE_SHIFT
BSHIFT, BMASK = cu.BLOCK.bit_length() - 1, cu.BLOCK - 1
#: Attempt numbers whose current block of draws agent-owned dialing keeps at hand.
HELD_SLOTS = 8
_F_PERSON = FATE["person"]
_F_MACHINE_CONNECTED = FATE["machine_connected"]
_F_ROBOT = FATE["robot"]
_F_ROBOT_TRANSFER = FATE["robot_transfer"]
_F_ROBOT_LOST = FATE["robot_transfer_lost"]
_R_HUNG_UP = encode("result", "hung_up")
_H_CUSTOMER = encode("hangup_by", "customer")
_H_DIALER = encode("hangup_by", "dialer")
_OUTCOME_OF_FATE = OUTCOME_OF_FATE
_OUTCOME_OF_RESULT = OUTCOME_OF_RESULT
#: Column positions in a row of agent-owned draws (``Draws.row`` with OWNED_LAYOUT).
_OWNED_POS = {c: i for i, c in enumerate(cu.OWNED_LAYOUT)}


class _Wake(simpy.Event):
    """An already-triggered event with one callback: a timeout without the checks.

    The engine creates one per scheduled wake-up (millions per run), so it skips
    ``Timeout.__init__``'s argument handling; SimPy processes it like any event.
    """

    def __init__(self, env: simpy.Environment, callback: Callable[[Any], None]) -> None:
        self.env = env
        self.callbacks = [callback]
        self._ok = True
        self._value = None


class Call:
    """A line in flight in pooled dialing (only pooled modes create these)."""

    __slots__ = ("lead", "attempt", "row", "start", "answer", "ready", "deadline", "owner",
                 "kind", "agent", "transfer", "seq")

    def __init__(self, lead: int, attempt: int, row: tuple[float, ...], start: float,
                 owner: int, seq: int) -> None:
        self.seq = seq  # dial number: its place in Campaign.unsettled
        self.lead = lead
        self.attempt = attempt
        self.row = row
        self.start = start
        self.owner = owner
        self.answer = _INF
        self.ready = _INF
        self.deadline = _INF
        self.kind = 0
        self.agent = -1
        self.transfer = -1.0  # robot calls: seconds into the script of the hand-over


class Campaign:
    """One simulation run of a scenario: state, event handlers and records.

    Parameters
    ----------
    scenario
        The validated scenario.
    traits, draws
        Per-lead traits and per-attempt customer draws (common random numbers).
    pacer_factory
        Builds the pacing policy for pooled modes (``None`` for agent-owned dialing).
    flush_at
        Recorded calls between two flushes of the recorder (default
        :attr:`.recorder.Column.FLUSH`): a streaming run's chunk size.
    """

    def __init__(self, scenario: Scenario, traits: LeadTraits, draws: Draws,
                 pacer_factory: Callable[[Campaign], Any] | None, *,
                 flush_at: int | None = None) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self.traits = traits
        self.draws = draws
        self.calls = CallList(scenario, traits, owned=pacer_factory is None)
        self.rec = Recorder()
        if flush_at is not None:  # a streaming run's chunk size (the loops bind it)
            self.rec.flush_at = flush_at
        d = scenario.dialer
        self.ring_timeout = d.ring_timeout_s
        self.threshold = d.abandon_threshold_s
        self.amd = d.amd.enabled
        self.channels = d.channels
        self.min_gap = 1.0 / d.calls_per_second if d.calls_per_second > 0 else 0.0
        self.last_dial = -_INF
        self.preview = d.mode == "preview"
        self.robot = d.mode == "robot"
        self.by_hour = scenario.customers.pickup_by_hour
        self.group_offset = self.calls.group_offset_s
        self.group_of = self.calls.group_of
        self.shifts: list[Intervals] = shift_intervals(scenario)
        self.n_agents = len(self.shifts)
        self.line_ends: list[float] = []  # hang-up times of lines whose end is known
        self.ringing = 0  # pooled: lines dialled and not yet resolved
        self.held = 0  # robot calls before their hand-over: line busy, end not known yet
        # pooled state
        self.idle: deque[int] = deque()  # free, logged-in agents, longest idle first
        self.is_idle = [False] * self.n_agents
        self.logged_in = [False] * self.n_agents
        # pooled: agents with a session open — logged in, or finishing a call after
        # their shift (they still take the people answered while they were on)
        self.present = [False] * self.n_agents
        self.n_present = 0
        self.session_start = [0.0] * self.n_agents
        self.queue: deque[Call] = deque()  # answered, waiting for an agent
        self.talking = 0
        self.in_wrap = 0
        #: Pooled dialing: each agent's state (0 off, 1 idle, 2 talk, 3 wrap) and since when.
        self.state = np.zeros(self.n_agents, dtype=np.int8)
        self.since = np.zeros(self.n_agents)
        self.shift_end = [-_INF] * self.n_agents  # end of the shift an agent is in
        self.gated = bool(self.channels or self.min_gap)
        self.flat_hours = all(m == 1.0 for m in self.by_hour)
        self.gen = [0] * self.n_agents
        # Idle agents with nothing to dial, longest idle first (a dict as ordered set),
        # and the one timer that hands them work: when a lead may next be dialled, it
        # wakes the longest idle, who re-arms it after dialling if others still wait.
        # (Waking every idle agent at that time would cost an event per agent per lead
        # when the list runs dry.)
        self.starving = self.calls.waiters
        self._work_at = _INF
        self._work_gen = 0
        if pacer_factory is None:
            self.calls.wake_waiters = self._new_work
        #: The plan's suspend terms the dialer obeys (``dialer.obey_terms``), else None:
        #: every hook below is skipped and the run is exactly as without the key.
        self.suspension: Any = None
        if scenario.dialer.suspend_terms:
            from .suspend import Suspension

            self.suspension = Suspension(
                scenario, max((iv.last for iv in self.shifts), default=0.0))
        # Any: the pooled-dialing methods only run when a pacer exists
        self.pacer: Any = pacer_factory(self) if pacer_factory is not None else None
        self._ready = [self._owned_agent(a) for a in range(self.n_agents)] \
            if self.pacer is None else []
        # statistics the pacers and reports read
        self.live_answers = 0
        self.abandons = 0
        self.dials = 0
        # Pooled dialing: which dials are not recorded yet, by dial number from
        # ``settled_base`` (0 in flight, 1 recorded), and their dial times — dials are
        # made in time order, so the first unsettled one is the earliest call still in
        # flight (:meth:`watermark`). Trimmed at every flush of the recorder.
        self.unsettled = bytearray()
        self.dial_starts: array[float] = array("d")
        self.settled_base = 0
        self.rec.on_flush = self.watermark  # trims them (a streaming run wraps it)

    # -- shared helpers -------------------------------------------------------------------
    def hour_mult(self, lead: int, now: float) -> float:
        local = now + self.group_offset[self.group_of[lead]]
        return self.by_hour[int(local % 86_400.0 // 3600.0)]

    def pickup_mult(self, lead: np.ndarray, start: np.ndarray) -> np.ndarray:
        """:meth:`hour_mult` of many dials at once: a dial at ``start`` is picked up
        when the lead's score is below it."""
        if len(self.group_offset) == 1:
            local = start + float(self.group_offset[0])
        else:
            offsets = np.asarray(self.group_offset, dtype=float)
            local = start + offsets[np.asarray(self.group_of, dtype=np.int64)[lead]]
        hour = (local % 86_400.0 // 3600.0).astype(np.int64)
        return np.asarray(self.by_hour, dtype=float)[hour]

    def free_lines(self, now: float) -> float:
        """Trunk lines free at ``now`` (inf without a channel limit)."""
        if not self.channels:
            return _INF
        ends = self.line_ends
        while ends and ends[0] <= now:
            heapq.heappop(ends)
        return self.channels - len(ends) - self.ringing - len(self.queue) - self.held

    def line_wait(self, now: float) -> float:
        """Earliest time a dial may start at or after ``now`` (trunk lines and CPS cap).

        ``inf`` when every line is ringing or holding a waiting person: their
        resolution is an event of its own, which the pacer reacts to.
        """
        t = max(now, self.last_dial + self.min_gap)
        if self.channels and self.free_lines(now) <= 0:
            t = max(t, self.line_ends[0] if self.line_ends else _INF)
        return t

    def occupy_line(self, end: float) -> None:
        if self.channels:
            heapq.heappush(self.line_ends, end)

    def schedule(self, delay: float, fn: Callable[[Any], None]) -> None:
        """Call ``fn(event)`` after ``delay`` seconds."""
        self.env.schedule(_Wake(self.env, fn), NORMAL, delay)

    def at(self, t: float, fn: Callable[[Any], None]) -> None:
        """Call ``fn(event)`` at time ``t``."""
        env = self.env
        env.schedule(_Wake(env, fn), NORMAL, t - env._now)

    # -- running --------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Simulate the whole campaign; ``progress(share)`` is called every simulated hour."""
        if progress is not None:
            horizon = max((iv.last for iv in self.shifts), default=0.0)

            def tick(_: Any) -> None:
                now = self.env._now
                progress(min(now / horizon, 1.0) if horizon > 0 else 1.0)
                done = not self.calls.pending and not self.calls.outstanding
                if now < horizon and not done:
                    self.schedule(3600.0, tick)

            self.schedule(0.0, tick)
        if self.pacer is None:
            for agent, iv in enumerate(self.shifts):
                if iv.starts:
                    self.schedule(iv.starts[0], self._owned_login(agent))
        else:
            for agent, iv in enumerate(self.shifts):
                for s, e in zip(iv.starts, iv.ends, strict=True):
                    self.schedule(s, self._pooled_login(agent, e))
            self.pacer.start()
        # The loop allocates millions of short-lived tuples and makes no reference
        # cycles; the cyclic garbage collector only costs time here (~20 % when the
        # process already holds many objects). Restored whatever happens.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run()
        finally:
            if was_enabled:
                gc.enable()
        if progress is not None:
            progress(1.0)
        if self.pacer is not None:
            self.purge_queue(_INF)

    # =====================================================================================
    # Agent-owned dialing (preview, progressive 1:1): one event per attempt.
    # =====================================================================================
    def _owned_login(self, agent: int) -> Callable[[Any], None]:
        def login(_: Any) -> None:
            self.session_start[agent] = self.env.now
            self.rec.login(agent, self.env.now)
            self._ready[agent](None)

        return login

    def _wake(self, agent: int, t: float) -> None:
        """Wake agent ``agent`` at ``t``; a later call supersedes an earlier one."""
        self.gen[agent] += 1
        g = self.gen[agent]

        def wake(_: Any) -> None:
            if self.gen[agent] == g:
                self._ready[agent](None)

        self.at(t, wake)

    def _new_work(self, due: float) -> None:
        """A retry was scheduled while agents wait for work: they get it when it is due."""
        now = self.env._now
        self._arm_work(due if due > now else now)

    def _arm_work(self, t: float) -> None:
        """Hand work to the longest idle agent at ``t`` (the earliest time armed wins)."""
        if t >= self._work_at:
            return
        self._work_at = t
        self._work_gen += 1
        g = self._work_gen

        def fire(_: Any) -> None:
            if self._work_gen != g:
                return  # superseded by an earlier time
            self._work_at = _INF
            if self.starving:
                agent = next(iter(self.starving))
                self.gen[agent] += 1  # its wake at the shift's end is superseded
                self._ready[agent](None)

        self.at(t, fire)

    def _owned_gate(self, agent: int, now: float) -> bool:
        """Slow path before a dial: shift over, or trunk / CPS limits. True: go ahead."""
        shifts = self.shifts[agent]
        shift_end = shifts.close_after(now)
        self.shift_end[agent] = shift_end
        if shift_end <= now:  # the shift is over: log off until the next one
            self.rec.session(agent, self.session_start[agent], now)
            nxt = shifts.next_open(now)
            if nxt < _INF and (self.calls.pending or self.calls.outstanding):
                self.schedule(nxt - now, self._owned_login(agent))
            if self.starving:  # it may have been handed work: another idle agent takes it
                self._hand_on(now)
            return False
        if self.suspension is not None:  # the plan's terms stopped dialing
            t = self.suspension.hold(now)
            if t > now:
                self._wake(agent, min(t, shift_end))
                return False
        if self.channels or self.min_gap:
            t = self.line_wait(now)
            if t > now:
                self._wake(agent, min(t, shift_end))
                return False
        return True

    def _owned_watch(self, lead: int, a: int, start: float, end: float) -> None:
        """Agent-owned dialing obeying suspend terms: tell them the call just dialled —
        whether its CDR will be ANSWERED and its billsec, as :meth:`Recorder.cdrs`
        works them out from the same draws (slow path: only runs with the key)."""
        row = self.draws.row(a, lead)
        pos = _OWNED_POS
        if row[pos[cu.SCORE]] < self.hour_mult(lead, start):  # picked up (the loop's test)
            code = int(row[pos[cu.A_CODE]])
            connect = row[pos[cu.A_CONNECT]] + start
            answer = start + row[pos[cu.RING]]
            talk = (connect - answer) + row[pos[cu.CONV]] if connect == connect \
                else end - answer
        else:
            code = int(row[pos[cu.U_CODE]])
            talk = 0.0
        answered = code % FATE_SHIFT >= ANSWERED_FROM
        d = billsec_one(talk, self.scenario.customers.billsec) if answered else 0
        self.suspension.add(start, end, answered, d)

    def _owned_starve(self, agent: int, now: float) -> None:
        """No lead may be dialled now: sleep until one may, or go home if none ever will."""
        t = self.calls.next_time(now)
        if t == _INF and not self.calls.outstanding:
            self.rec.session(agent, self.session_start[agent], now)
            self._hand_on(now)  # the list is worked out: the idle go home too
            return
        self.starving[agent] = None
        self._wake(agent, self.shift_end[agent])  # log off then, unless work comes first
        if t < _INF:
            self._arm_work(t)

    def _hand_on(self, now: float) -> None:
        """Idle agents wait for work: arm the timer for the next lead, or send them all
        home if the list is worked out."""
        t = self.calls.next_time(now)
        if t < _INF:
            self._arm_work(t)
        elif not self.calls.outstanding:
            for a in self.starving:
                self.gen[a] += 1  # no wake at the shift's end
                self.rec.session(a, self.session_start[a], now)
            self.starving.clear()

    def _owned_agent(self, agent: int) -> Callable[[Any], None]:
        """The event handler of agent ``agent``: it is free, so dial its next lead.

        The hot path of agent-owned dialing. Everything about the call is known from
        the customer's draws, so it records the call and schedules exactly one event —
        the agent ready again. What the loop needs is bound to local names once.
        """
        env = self.env
        calls = self.calls
        pop = calls.pop
        attempts = calls.attempts
        record = calls.record
        block_of = self.draws.block
        # the row's first OWNED_HOT columns (unpack_from reads no further: no Python
        # floats made for the columns only the CDRs need)
        unpack = struct.Struct(f"={cu.OWNED_HOT}d").unpack_from
        row_bytes = self.draws.row_bytes
        # The block of draws each attempt number dialled last, and its block index:
        # fresh leads and retries interleave, so one cache per attempt number.
        # At most HELD_SLOTS of them hold a block: a long campaign reaches ever higher
        # attempt numbers, and each number's last block, held to the end, grew the run
        # by a block (~1.8 MiB) per attempt number. A slot let go reads its block from
        # the draws' cache again (or draws it again, identically) when next needed.
        n_slots = self.scenario.list.max_attempts + 1
        cur_b = [-1] * n_slots
        cur_blk: list[Any] = [None] * n_slots
        held: list[int] = []  # the slots holding a block, least recently switched first
        shift_end = self.shift_end
        gated = self.gated
        watch = self._owned_watch if self.suspension is not None else None
        gate = gated or watch is not None  # suspend terms: each dial asks them first
        preview = self.preview
        flat = self.flat_hours
        hour_mult = self.hour_mult
        by_hour = self.by_hour
        # one time zone: the hour multiplier inline (no method call per dial)
        off0 = float(self.group_offset[0]) if len(self.group_offset) == 1 else None
        channels = self.channels
        occupy = self.occupy_line
        schedule = env.schedule
        # SimPy's own queue, pushed to directly on the hot path (what env.schedule does,
        # minus a method call): (time, priority, event id, event)
        queue = env._queue
        eid = env._eid
        push = heapq.heappush
        rec = self.rec
        lead_buf = rec.lead.buf
        ap_lead, ap_attempt, ap_agent, ap_start = (
            lead_buf.append, rec.attempt.buf.append, rec.agent.buf.append,
            rec.start.buf.append)
        # whether each call was picked up, and so its fate, is worked out again from the
        # draws afterwards (Recorder.cdrs): the loop records only who dialled and when
        rec.pickup_mult = self.pickup_mult
        flush_at = rec.flush_at
        starving = self.starving
        # One event object per agent, re-armed for every call: SimPy clears an event's
        # callbacks when it fires, and scheduling a processed event again is safe.
        wake = _Wake(env, lambda _: None)
        callbacks: list[Callable[[Any], None]] = []

        def ready(_: Any) -> None:
            now = env._now
            if starving:
                starving.pop(agent, None)
            if (now >= shift_end[agent] or gate) and not self._owned_gate(agent, now):
                return
            lead = pop(now)
            if lead < 0:
                self._owned_starve(agent, now)
                return
            a = attempts[lead] + 1
            # Draws.row, inlined: one block of draws serves thousands of dials in a row
            b = lead >> BSHIFT
            if cur_b[a] != b:
                cur_b[a] = b
                cur_blk[a] = block_of(a, b)
                if a in held:
                    held.remove(a)
                held.append(a)
                if len(held) > HELD_SLOTS:
                    old = held.pop(0)
                    cur_b[old], cur_blk[old] = -1, None
            score, u_retry, prev, a_out, a_end, a_free, u_out, u_end = unpack(
                cur_blk[a], (lead & BMASK) * row_bytes)
            start = now
            if preview:
                start = now + prev
                rec.previews(agent, now, start)
                if not calls.confirm(lead, start):  # window closed while previewing
                    wake.callbacks = callbacks
                    schedule(wake, NORMAL, prev)
                    return
                self.last_dial = start
            elif gated:
                self.last_dial = start
            # Only who dialled what and when is recorded: whether the call was picked up,
            # its fate and its times follow from the draws afterwards (Recorder.cdrs).
            ap_lead(lead)
            ap_attempt(a)
            ap_start(start)
            ap_agent(agent)
            if score < 1.0 if flat else (  # picked up (the same test as pickup_mult)
                    score < by_hour[int((start + off0) % 86_400.0 // 3600.0)] if off0 is not None
                    else score < hour_mult(lead, start)):
                end = start + a_end
                record(lead, a, a_out, end, u_retry)
                free = start + a_free
            else:
                free = end = start + u_end
                record(lead, a, u_out, end, u_retry)
            if channels:
                occupy(end)
            if watch is not None:
                watch(lead, a, start, end)
            if len(lead_buf) >= flush_at:
                rec.flush()
            wake.callbacks = callbacks
            push(queue, (free, NORMAL, next(eid), wake))
            if starving:  # others wait for work: the next lead is for the next of them
                self._hand_on(now)

        callbacks.append(ready)
        return ready

    # =====================================================================================
    # Pooled dialing: pacers dial lines, any free agent takes any answered person.
    # =====================================================================================
    def worked_out(self) -> bool:
        """No lead left to dial and no call in progress: the campaign is over."""
        return not self.calls.pending and not self.calls.outstanding

    def _pooled_login(self, agent: int, shift_end: float) -> Callable[[Any], None]:
        def login(_: Any) -> None:
            if self.worked_out():
                return  # nothing left to do: nobody comes in
            now = self.env.now
            self.logged_in[agent] = True
            if not self.present[agent]:
                self.present[agent] = True
                self.n_present += 1
            self.session_start[agent] = now
            self.rec.login(agent, now)
            self.schedule(shift_end - now, lambda _: self._pooled_logout(agent))
            self._agent_free(agent)

        return login

    def _pooled_logout(self, agent: int) -> None:
        self.logged_in[agent] = False
        if self.is_idle[agent]:
            self.is_idle[agent] = False
            self.idle.remove(agent)
            self._go_home(agent, self.env.now)
        if self.pacer is not None:
            self.pacer.on_agents_changed()

    def _go_home(self, agent: int, now: float) -> None:
        """Close agent ``agent``'s session; the last one to go hangs up on those waiting."""
        self.state[agent] = 0
        self.rec.session(agent, self.session_start[agent], now)
        if self.present[agent]:
            self.present[agent] = False
            self.n_present -= 1
            if not self.n_present and self.queue:
                self._drop_queue(now)

    def _drop_queue(self, now: float) -> None:
        """Nobody is left who could take the people waiting: the dialer hangs up on them
        now (those whose deadline already passed are closed at it)."""
        q, self.queue = self.queue, deque()
        for call in q:
            if call.deadline < now:
                self._expire(call)
            else:
                self._hang_up(call, now)

    def _hang_up(self, call: Call, now: float) -> None:
        """The dialer ends a call answered (or handed over) when no agent is left."""
        if call.transfer >= 0:  # a robot's hand-over nobody can take any more
            code = _F_ROBOT_LOST + FATE_SHIFT * int(script_code(
                _R_HUNG_UP, _H_DIALER, self.scenario.dialer.robot_transfer_stage))
            self._pooled_record(call, -1, call.ready, now, code)
        elif call.kind == 1:
            self.abandons += 1
            self._pooled_record(call, -1, _NAN, now, FATE["abandoned_dialer"])
        else:
            self._pooled_record(call, -1, _NAN, now, FATE["machine_dropped"])
        self.occupy_line(now)

    def next_time(self, now: float) -> float:
        """Earliest time at or after ``now`` when a dial may be made: when a lead may be
        dialled, or later if the plan's suspend terms stopped dialing until then."""
        t = self.calls.next_time(now)
        if self.suspension is not None and self.suspension.until > t:
            return self.suspension.until
        return t

    def suspended(self, now: float) -> bool:
        """Whether the plan's suspend terms forbid dialing at ``now`` (pooled dialing)."""
        if self.queue:  # waiters past their deadline end then: count them first
            self.purge_queue(now)
        return self.suspension.hold(now) > now

    def dial(self, owner: int = -1) -> Call | None:
        """Dial the next lead now (for ``owner`` in power mode); None if no lead may be
        dialled (or the plan's suspend terms stopped dialing: see :meth:`next_time`)."""
        now = self.env._now
        if self.suspension is not None and self.suspended(now):
            return None
        lead = self.calls.pop(now)
        if lead < 0:
            return None
        a = self.calls.attempts[lead] + 1
        row = self.draws.row(a, lead)
        call = Call(lead, a, row, now, owner, self.dials)
        self.last_dial = now
        self.dials += 1
        self.unsettled.append(0)
        self.dial_starts.append(now)
        score = row[cu.SCORE]
        if score < 1.0 if self.flat_hours else score < self.hour_mult(lead, now):
            call.kind = 1 if row[cu.KIND] == _PERSON else 2
            call.answer = now + row[cu.RING]
            delay = row[cu.RING] + (row[cu.AMD_LAT] if self.amd else 0.0)
        else:
            call.kind = 0
            delay = row[cu.U_END]
        self.ringing += 1
        self.schedule(delay, lambda _: self._resolve(call))
        return call

    def _resolve(self, call: Call) -> None:
        """A line stops ringing: failed, no answer, AMD verdict, or answered and ready."""
        now = self.env._now
        self.ringing -= 1
        row = call.row
        if call.kind == 0:  # not answered
            self._pooled_record(call, -1, _NAN, now, int(row[cu.U_CODE]))
            self.pacer.on_line_done(call)
            return
        person = call.kind == 1
        if person:
            self.live_answers += 1
        if self.amd and row[cu.AMD_MACHINE]:  # the dialer hangs up on a "machine"
            self._pooled_record(call, -1, _NAN, now, int(row[cu.A_CODE]))
            if person:
                self.abandons += 1
            self.pacer.on_line_done(call)
            return
        call.ready = now
        if self.robot:
            self._robot_answer(call, now)
            self.pacer.on_answer(call)
            return
        if self.idle:
            self._connect(call, self._take_idle(call.owner), now)
        elif not self.n_present:  # every agent has gone: nobody will ever take it
            self._hang_up(call, now)
        else:
            patience = row[cu.PATIENCE] if person else _INF
            call.deadline = now + min(patience, self.threshold)
            self.queue.append(call)
        self.pacer.on_answer(call)

    def _take_idle(self, prefer: int) -> int:
        if prefer >= 0 and self.is_idle[prefer]:
            self.idle.remove(prefer)
            agent = prefer
        else:
            agent = self.idle.popleft()
        self.is_idle[agent] = False
        return agent

    def _connect(self, call: Call, agent: int, now: float) -> None:
        row = call.row
        conv = row[cu.CONV]
        end = now + conv
        wrap = row[cu.WRAP]
        call.agent = agent
        if call.kind == 1:
            code = _F_PERSON + FATE_SHIFT * int(row[cu.SCODE])
        else:
            code = _F_MACHINE_CONNECTED
        self._pooled_record(call, agent, now, end, code)
        self.occupy_line(end)
        self._agent_talks(agent, now, conv, wrap)
        self.pacer.on_connect(call, agent)

    def _agent_talks(self, agent: int, now: float, talk: float, wrap: float) -> None:
        self.talking += 1
        self.state[agent] = 2
        self.since[agent] = now
        self.schedule(talk, lambda _: self._talk_done(agent, wrap))

    def _talk_done(self, agent: int, wrap: float) -> None:
        self.talking -= 1
        self.in_wrap += 1
        now = self.env._now
        talk = now - float(self.since[agent])
        self.state[agent] = 3
        self.since[agent] = now
        self.pacer.on_talk_done(agent, talk)
        self.schedule(wrap, lambda _: self._wrap_done(agent, wrap))

    def _wrap_done(self, agent: int, wrap: float) -> None:
        self.in_wrap -= 1
        self.pacer.on_wrap_done(agent, wrap)
        self._agent_free(agent)

    def _agent_free(self, agent: int) -> None:
        """Agent finished wrap-up (or logged in): take a waiting person, or go idle."""
        now = self.env.now
        if not self.logged_in[agent] or (self.worked_out() and not self.queue):
            # shift over, or the list is worked out: the agent takes whoever is still
            # waiting (answered while it was on), else goes home
            if self.queue and self._take_waiting(agent, now):
                return
            self.logged_in[agent] = False
            self._go_home(agent, now)
            return
        if self._take_waiting(agent, now):
            return
        self.is_idle[agent] = True
        self.idle.append(agent)
        self.state[agent] = 1
        self.since[agent] = now
        self.pacer.on_agent_idle(agent)

    def _take_waiting(self, agent: int, now: float) -> bool:
        """Agent ``agent`` takes the first person still waiting, if any (True)."""
        q = self.queue
        while q:
            call = q.popleft()
            if call.deadline >= now:
                if call.transfer >= 0:
                    self._robot_handover(call, agent, now)
                else:
                    self._connect(call, agent, now)
                return True
            self._expire(call)
        return False

    def _expire(self, call: Call) -> None:
        """Close a waiting call whose deadline passed before an agent came."""
        t = call.deadline
        if call.transfer >= 0:  # a robot's transfer nobody took: the person hung up
            code = _F_ROBOT_LOST + FATE_SHIFT * int(script_code(
                _R_HUNG_UP, _H_CUSTOMER, self.scenario.dialer.robot_transfer_stage))
            self._pooled_record(call, -1, call.ready, t, code)
            self.occupy_line(t)
            return
        if call.kind == 1:
            patience = call.row[cu.PATIENCE]
            fate = FATE["abandoned_customer"] if call.ready + patience <= t and \
                patience < self.threshold else FATE["abandoned_dialer"]
            self.abandons += 1
        else:
            fate = FATE["machine_dropped"]
        self._pooled_record(call, -1, _NAN, t, fate)
        self.occupy_line(t)

    # -- AI robot ---------------------------------------------------------------------------
    def _robot_answer(self, call: Call, now: float) -> None:
        """The robot takes every answered call at once (capacity is the trunk's channels).

        It plays the script to the end, or — at the transfer stage — hands an
        interested person over to a human agent; if none is free the person waits on
        hold up to their patience.
        """
        row = call.row
        conv = row[cu.CONV]
        if call.kind != 1:  # a machine: the robot notices and hangs up
            self._pooled_record(call, -1, now, now + conv, _F_MACHINE_CONNECTED)
            self.occupy_line(now + conv)
            return
        transfer = row[cu.TRANSFER]
        if transfer != transfer:  # NaN: the call ends with the robot
            code = _F_ROBOT + FATE_SHIFT * int(row[cu.SCODE])
            self._pooled_record(call, -1, now, now + conv, code)
            self.occupy_line(now + conv)
            return
        call.transfer = transfer
        self.held += 1

        def handover(_: Any) -> None:
            t = self.env._now
            self.held -= 1
            if self.idle:
                self._robot_handover(call, self._take_idle(-1), t)
            elif not self.n_present:
                self._hang_up(call, t)
            else:
                call.deadline = t + row[cu.PATIENCE]
                self.queue.append(call)
            self.pacer.on_line_update(call)

        self.schedule(transfer, handover)

    def _robot_handover(self, call: Call, agent: int, now: float) -> None:
        """A human agent takes over a robot call; the rest of the script is theirs."""
        row = call.row
        rest = max(row[cu.CONV] - call.transfer, 0.0)
        end = now + rest
        wrap = row[cu.WRAP]
        call.agent = agent
        code = _F_ROBOT_TRANSFER + FATE_SHIFT * int(row[cu.SCODE])
        # bridged to the robot at the answer; the agent joins now
        self.rec.handovers[len(self.rec.lead)] = now
        self._pooled_record(call, agent, call.ready, end, code)
        self.occupy_line(end)
        self._agent_talks(agent, now, rest, wrap)
        self.pacer.on_connect(call, agent)

    def _pooled_watch(self, call: Call, connect: float, end: float, code: int) -> None:
        """Pooled dialing obeying suspend terms: tell them a call just recorded (its CDR
        ANSWERED or not, its billsec: as :meth:`Recorder.cdrs` makes them)."""
        fate = code % FATE_SHIFT
        d = 0
        answered = fate >= ANSWERED_FROM
        if answered:
            row = call.row
            answer = call.start + row[cu.RING]
            if connect == connect and fate != _F_ROBOT_TRANSFER and fate != _F_ROBOT_LOST:
                talk = (connect - answer) + row[cu.CONV]
            else:  # not connected, or a robot's hand-over: answer to hang-up
                talk = end - answer
            d = billsec_one(talk, self.scenario.customers.billsec)
        self.suspension.add(call.start, end, answered, d)

    def watermark(self) -> float:
        """Every call not recorded yet starts at or after this time (s).

        Agent-owned dialing records a call in the event that dials it, at or after the
        current time; pooled dialing records it when it settles, so the bound is the
        dial time of the earliest call still in flight. Settled dials before it are
        forgotten here (this runs at every flush of the recorder).
        """
        now = self.env._now
        if self.pacer is None:
            return now
        k = self.unsettled.find(0)
        if k < 0:
            k = len(self.unsettled)
        t = self.dial_starts[k] if k < len(self.dial_starts) else now
        del self.unsettled[:k]
        del self.dial_starts[:k]
        self.settled_base += k
        return min(t, now)

    def purge_queue(self, now: float) -> int:
        """Close expired waiters anywhere in the queue; return how many are still waiting."""
        q = self.queue
        if q and any(c.deadline < now for c in q):
            keep: deque[Call] = deque()
            for c in q:
                if c.deadline < now:
                    self._expire(c)
                else:
                    keep.append(c)
            self.queue = keep
        return len(self.queue)

    def _pooled_record(self, call: Call, agent: int, connect: float, end: float,
                       code: int) -> None:
        rec = self.rec
        rec.lead.buf.append(call.lead)
        rec.attempt.buf.append(call.attempt)
        rec.agent.buf.append(agent)
        rec.start.buf.append(call.start)
        rec.connect.buf.append(connect)
        rec.end.buf.append(end)
        rec.code.buf.append(code)
        self.unsettled[call.seq - self.settled_base] = 1
        if len(rec.lead.buf) >= rec.flush_at:
            rec.flush()
        self.calls.record(call.lead, call.attempt, outcome_of(code), end, call.row[cu.U_RETRY])
        if self.suspension is not None:
            self._pooled_watch(call, connect, end, code)
        if self.worked_out():
            for idle in list(self.idle):  # the last call is settled: idle agents go home
                self._pooled_logout(idle)
