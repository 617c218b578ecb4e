"""The call list: which lead to dial next, retries, calling windows, caps and lockouts.

A dialer asks the list for the next lead it may dial *now*: a retry that has come due
(oldest first) or else the next fresh lead, among the leads whose local calling
window is open. After each call the list records the outcome and either closes the
lead (contacted, converted, invalid, exhausted) or schedules its next attempt after
the retry delay for that outcome — never sooner than a lockout after an abandoned
call, and never beyond the per-lead caps (attempts per 24 h and per 5 minutes).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable

import numpy as np

from ..distributions import Constant, Distribution, Uniform
from ..errors import ScenarioError
from ..scenario import Scenario
from .calendar import Intervals, dial_windows
from .customers import LeadTraits

__all__ = ["CallList", "STATUS_NAMES", "check_memory", "estimate_run_bytes"]

from .fates import (
    OUT_ABANDONED,
    OUT_BUSY,
    OUT_CALLBACK,
    OUT_CONTACTED,
    OUT_CONVERTED,
    OUT_FAILED,
    OUT_INVALID,
    OUT_MACHINE,
    OUT_NO_ANSWER,
)

# Lead status codes.
PENDING, CONTACTED, CONVERTED, EXHAUSTED, INVALID, DNC, UNTOUCHED = range(7)
STATUS_NAMES = ("pending", "contacted", "converted", "exhausted", "invalid", "dnc", "untouched")

_DAY = 86_400.0
DAY_S = 86_400
#: Fresh leads made into Python ints at a time (per time-zone group).
FRESH_CHUNK = 65_536
_FIVE_MIN = 300.0


def _floored(dist: Distribution | None, floor: float) -> Callable[[float], float]:
    """The delay at uniform ``u``: ``dist``'s, but never below ``floor``."""
    if dist is None:
        return lambda u: floor
    return lambda u: max(dist.ppf1(u), floor)


class RetryQueue:
    """Leads waiting for a retry, earliest due first; equal due times in push order.

    A heap of bare due times plus a dict from due time to lead: heap operations on
    floats are about three times cheaper than on ``(due, seq, lead)`` tuples, and
    a list holds tens of thousands of retries. The rare leads due at exactly the same
    time (dialled in the same instant, a constant retry delay) wait in a FIFO under
    the marker -1. The hot loops inline :meth:`push` and :meth:`pop`.
    """

    __slots__ = ("heap", "lead_at", "ties")

    def __init__(self) -> None:
        self.heap: list[float] = []
        self.lead_at: dict[float, int] = {}  # due -> lead, or -1: see ties
        self.ties: dict[float, deque[int]] = {}

    def __len__(self) -> int:
        return len(self.heap)

    def push(self, due: float, lead: int) -> None:
        heapq.heappush(self.heap, due)
        if due in self.lead_at:
            self.tie(due, lead)
        else:
            self.lead_at[due] = lead

    def tie(self, due: float, lead: int) -> None:
        """File ``lead`` behind the leads already due at ``due``."""
        first = self.lead_at[due]
        if first >= 0:
            self.ties[due] = deque((first,))
            self.lead_at[due] = -1
        self.ties[due].append(lead)

    def pop(self) -> int:
        """Remove and return the lead due first."""
        due = heapq.heappop(self.heap)
        lead = self.lead_at.pop(due)
        return lead if lead >= 0 else self.untie(due)

    def untie(self, due: float) -> int:
        """The first of the leads due at ``due`` (its marker was just popped)."""
        waiting = self.ties[due]
        lead = waiting.popleft()
        if waiting:
            self.lead_at[due] = -1
        else:
            del self.ties[due]
        return lead


#: Bytes a run holds per lead (traits, status, attempts, its place in a queue) and per
#: dial (the CDR row, the recorder's buffers, the customer draws), measured on
#: ``dialsim run`` with a margin; a dial occupies a line for at least MIN_DIAL_S.
BYTES_PER_LEAD = 80
BYTES_PER_DIAL = 250
MIN_DIAL_S = 5.0


def estimate_run_bytes(scenario: Scenario) -> tuple[int, int]:
    """A generous estimate of a run's memory (bytes) and of its dials, before it starts.

    Dials are bounded by the list (size x max_attempts) and by what the lines can carry
    in the calling time (lines x calling seconds / MIN_DIAL_S), so a 50 M list of which
    100 k can be dialled is sized by the 100 k.
    """
    lst, d = scenario.list, scenario.dialer
    camp = scenario.campaign
    window_s = sum(b - a for a, b in camp.windows) + 2 * DAY_S  # + calls spilling over
    calling_s = len(camp.calling_days()) * window_s
    level = d.max_level if d.mode in ("predictive", "adaptive") else max(d.ratio, 1.0)
    lines = max(scenario.agents.count * level, d.channels, 1)
    by_lines = lines * calling_s / MIN_DIAL_S
    if d.rate_per_min:
        by_lines = max(by_lines, d.rate_per_min * calling_s / 60)
    dials = int(min(lst.size * lst.max_attempts, by_lines))
    return lst.size * BYTES_PER_LEAD + dials * BYTES_PER_DIAL, dials


def _machine_bytes() -> int | None:
    """Physical memory, or the container's cgroup limit when that is lower."""
    import os
    from pathlib import Path

    try:
        total = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


#: A streaming run's working set besides the leads (bytes): the chunk in flight, the
#: draw blocks, the folds' day of calls, numpy and SimPy themselves (generous).
STREAM_WORKING_BYTES = 512 * 2**20


def check_memory(scenario: Scenario, available: int | None = None, *,
                 streamed: bool = False) -> None:
    """Raise :class:`ScenarioError` (exit 2) if the run would need more memory than the
    machine has (``available`` bytes; default: its physical memory), with the figures.
    ``streamed``: a streaming run without a kept table, sized by its list."""
    need, dials = estimate_run_bytes(scenario)
    if streamed:
        need = scenario.list.size * BYTES_PER_LEAD + STREAM_WORKING_BYTES
    have = _machine_bytes() if available is None else available
    if have is not None and need > have:
        raise ScenarioError(
            f"{scenario.source}: list.size: the run would need about {need / 2**30:,.1f} GiB "
            f"of memory ({scenario.list.size:,} leads, up to {dials:,} dials), more than "
            f"this machine's {have / 2**30:,.1f} GiB: call a smaller list"
            + ("" if streamed else " or fewer days, or stream the run (--chunk-rows)"))


class CallList:
    """The campaign's call list and its retry queues.

    ``owned``: agents dial their own lines (preview, progressive 1:1), so every lead
    popped is recorded (or given back by :meth:`confirm`) in the same event. Nothing is
    then ever outstanding between events and a popped lead's status is set by
    :meth:`record`, so :meth:`pop` and :meth:`record` skip that bookkeeping (~3 % of
    the agent-owned loop's instructions).
    """

    def __init__(self, scenario: Scenario, traits: LeadTraits, *, owned: bool = False) -> None:
        lst = scenario.list
        self.owned = owned
        self.max_attempts = lst.max_attempts
        self.max_24h = lst.max_per_24h
        self.max_5min = lst.max_per_5min
        self.lockout_s = lst.lockout_after_abandon_s
        r = lst.retry
        self._delay: dict[int, Distribution | None] = {
            OUT_FAILED: r.failed, OUT_BUSY: r.busy, OUT_NO_ANSWER: r.no_answer,
            OUT_MACHINE: r.machine, OUT_ABANDONED: r.abandoned, OUT_CALLBACK: r.callback,
        }
        offsets = sorted({s.tz_offset_s for s in lst.segments})
        self.group_offset_s: list[int] = offsets
        self.windows: list[Intervals] = [dial_windows(scenario, o) for o in offsets]
        seg_group = np.array([offsets.index(s.tz_offset_s) for s in lst.segments], dtype=np.int64)
        group = seg_group[traits.segment]
        self.n_groups = len(offsets)
        # Memory follows the work, not the list's size: one byte per lead for its group
        # and its attempts (max_attempts <= 100), and fresh leads turned into Python ints
        # a chunk at a time — a 50 M list of which 100 k are dialled no longer holds
        # 50 M int objects (~40 bytes a lead) in its fresh queues.
        self.group_of: bytearray | list[int] = (
            bytearray(group.astype(np.uint8).tobytes()) if self.n_groups <= 256
            else group.tolist())
        self.fresh: list[deque[int]] = []
        self._fresh_rest: list[np.ndarray] = []  # per group: fresh leads not in the deque
        self._fresh_at: list[int] = []
        eligible = ~traits.dnc
        for g in range(self.n_groups):
            rest = np.flatnonzero(eligible & (group == g)) if self.n_groups > 1 \
                else np.flatnonzero(eligible)
            self._fresh_rest.append(rest.astype(np.int32))  # list.size <= 50 M < 2^31
            self._fresh_at.append(0)
            self.fresh.append(deque())
            self._refill(g)
        self.retry = [RetryQueue() for _ in range(self.n_groups)]
        self.attempts: bytearray | list[int] = (
            bytearray(lst.size) if lst.max_attempts < 256 else [0] * lst.size)
        status = np.full(lst.size, UNTOUCHED, dtype=np.int8)
        status[traits.dnc] = DNC
        self.status = bytearray(status.tobytes())  # fast scalar writes in the loop
        self._track_caps = self.max_24h < self.max_attempts or self.max_5min < self.max_attempts
        #: Each lead's last dial times, when the caps can bind (None: not dialled yet). A
        #: list indexed by lead: cheaper per dial than a dict's setdefault. The caps read
        #: only the max_per_24h-th and max_per_5min-th last dials, so a lead keeps the
        #: last max(caps) + 1 (one more for the pop time :meth:`confirm` takes back):
        #: memory by the list, not by the dials (a long campaign re-dialling its leads
        #: grew 32 bytes a dial and slowed down).
        self._keep_dials = max(self.max_24h, self.max_5min) + 1
        self.dials: list[list[float] | None] = [None] * lst.size if self._track_caps else []
        self.outstanding = 0  # leads dialled whose outcome is not recorded yet (pooled)
        self._open_until = [-math.inf] * self.n_groups
        self._open_from = [math.inf] * self.n_groups
        #: Called with the due time whenever a retry is scheduled (pooled pacers).
        self.on_new_work: Callable[[float], None] | None = None
        #: Dialers idle for want of a lead (agent-owned dialing: its agents, longest idle
        #: first), and what to call with the due time of a retry scheduled while any wait.
        self.waiters: dict[int, None] = {}
        self.wake_waiters: Callable[[float], None] | None = None
        self.record = self._recorder()
        if self.n_groups == 1:
            self.pop = self._one_group_pop()  # type: ignore[method-assign, assignment]

    def _refill(self, g: int) -> bool:
        """Move the next chunk of group ``g``'s fresh leads into its deque (False: none left)."""
        rest, at = self._fresh_rest[g], self._fresh_at[g]
        if at >= len(rest):
            return False
        self.fresh[g].extend(rest[at:at + FRESH_CHUNK].tolist())
        self._fresh_at[g] = at + FRESH_CHUNK
        return True

    def _fresh_left(self, g: int) -> int:
        return len(self.fresh[g]) + max(0, len(self._fresh_rest[g]) - self._fresh_at[g])

    # -- choosing ---------------------------------------------------------------------
    def _open(self, g: int, now: float) -> bool:
        if self._open_from[g] <= now < self._open_until[g]:
            return True
        w = self.windows[g]
        if w.is_open(now):
            self._open_from[g] = now
            self._open_until[g] = w.close_after(now)
            return True
        return False

    def pop(self, now: float) -> int:
        """The lead to dial now, or -1 if none may be dialled at ``now``.

        Due retries come first (oldest due first), then fresh leads in list order, among
        the time-zone groups whose calling window is open. (With one group, the common
        case, the instance's ``pop`` is the shorter :meth:`_one_group_pop` instead.)
        """
        best_g = -1
        best_due = math.inf
        for g in range(self.n_groups):
            heap = self.retry[g].heap
            if heap and heap[0] <= now and heap[0] < best_due and self._open(g, now):
                best_g, best_due = g, heap[0]
        if best_g >= 0:
            return self._take(self.retry[best_g].pop(), now)
        for g in range(self.n_groups):
            if self.fresh[g] and self._open(g, now):
                lead = self.fresh[g].popleft()
                if not self.fresh[g]:
                    self._refill(g)
                return self._take(lead, now)
        return -1

    def _one_group_pop(self) -> Callable[[float], int]:
        """:meth:`pop` for a list in one time-zone group: the per-dial hot path, with
        everything it touches bound once (the lists are mutated, never replaced) and
        :meth:`_take` inlined."""
        open_from, open_until, is_open = self._open_from, self._open_until, self._open
        fresh, status = self.fresh[0], self.status
        heap, lead_at, untie = self.retry[0].heap, self.retry[0].lead_at, self.retry[0].untie
        heappop, take_due, popleft = heapq.heappop, lead_at.pop, fresh.popleft
        dials = self.dials if self._track_caps else None
        keep = self._keep_dials
        pooled = not self.owned
        refill = self._refill

        def pop(now: float) -> int:
            if not (open_from[0] <= now < open_until[0] or is_open(0, now)):
                return -1
            if heap and heap[0] <= now:  # caps were settled when the retry was queued
                due = heappop(heap)
                lead = take_due(due)
                if lead < 0:
                    lead = untie(due)
            elif fresh:
                lead = popleft()
                if not fresh:  # the chunk is used up: the next one (if any)
                    refill(0)
            else:
                return -1
            if pooled:
                self.outstanding += 1
                status[lead] = PENDING
            if dials is not None:
                times = dials[lead]
                if times is None:
                    dials[lead] = [now]
                else:
                    times.append(now)
                    if len(times) > keep:
                        del times[0]
            return lead

        return pop

    def _take(self, lead: int, now: float) -> int:
        if not self.owned:
            self.outstanding += 1
            self.status[lead] = PENDING
        if self._track_caps:
            times = self.dials[lead]
            if times is None:
                self.dials[lead] = [now]
            else:
                times.append(now)
                if len(times) > self._keep_dials:
                    del times[0]
        return lead

    def confirm(self, lead: int, start: float) -> bool:
        """Check a popped lead again at the actual dial time ``start`` (after a preview).

        If its window has closed or a cap would be broken by then, the lead goes back
        to its queue (the attempt is not used) and False is returned.
        """
        g = self.group_of[lead]
        times = self.dials[lead] if self._track_caps else None
        if times:
            times.pop()  # the pop time; the dial happens at start
        ok = self.windows[g].is_open(start) and (
            times is None or self._cap_delay(lead, start) <= start)
        if ok:
            if times is not None:
                times.append(start)
            return True
        if not self.owned:
            self.outstanding -= 1
        if self.attempts[lead] == 0:
            self.fresh[g].appendleft(lead)
            self.status[lead] = UNTOUCHED
        else:
            later = self._cap_delay(lead, start) if times is not None else start
            self._push(lead, max(later, self.windows[g].next_open(start)), notify=False)
        return False

    def _cap_delay(self, lead: int, now: float) -> float:
        """Earliest time the caps allow another dial of ``lead`` (dial times ascend)."""
        times = self.dials[lead]
        if not times:
            return now
        t = now
        n = len(times)
        if n >= self.max_24h and times[n - self.max_24h] > now - _DAY:
            t = times[n - self.max_24h] + _DAY
        if n >= self.max_5min and times[n - self.max_5min] > now - _FIVE_MIN:
            t = max(t, times[n - self.max_5min] + _FIVE_MIN)
        return t

    def next_time(self, now: float) -> float:
        """Earliest time at or after ``now`` when some lead may be dialled (inf: none known)."""
        best = math.inf
        for g in range(self.n_groups):
            w = self.windows[g]
            if self.fresh[g]:
                best = min(best, w.next_open(now))
            if self.retry[g]:
                best = min(best, w.next_open(max(now, self.retry[g].heap[0])))
        return best

    @property
    def pending(self) -> int:
        """Leads still to be dialled (fresh or waiting for a retry)."""
        return sum(map(self._fresh_left, range(self.n_groups))) + sum(map(len, self.retry))

    # -- outcomes -----------------------------------------------------------------------
    def _push(self, lead: int, due: float, notify: bool = True) -> None:
        self.retry[self.group_of[lead]].push(due, lead)
        if notify:
            self._notify(due)

    def _notify(self, due: float) -> None:
        if self.waiters and self.wake_waiters is not None:
            self.wake_waiters(due)
        elif self.on_new_work is not None:
            self.on_new_work(due)

    def _plans(self) -> dict[int, tuple[int, int, float, float, Callable[[float], float] | None]]:
        """What the list does after each outcome: ``(closed, spent, low, span, delay_at)``.

        ``closed`` >= 0: the lead closes with that status. Otherwise it is retried
        unless its attempts are used up (then it closes as ``spent``), after a delay
        of ``low + span * u`` for the retry uniform ``u`` — or ``delay_at(u)`` when the
        delay is not linear in ``u`` or has a floor (the lockout after an abandoned
        call). Keyed by outcome code (the draws hold them as floats: equal keys).
        """
        plans: dict[int, tuple[int, int, float, float, Callable[[float], float] | None]] = {}
        lockout = self.lockout_s
        for outcome in range(OUT_CALLBACK + 1):
            spent = CONTACTED if outcome == OUT_CALLBACK else EXHAUSTED
            closed = {OUT_INVALID: INVALID, OUT_CONVERTED: CONVERTED,
                      OUT_CONTACTED: CONTACTED}.get(outcome, -1)
            dist = self._delay.get(outcome)
            delay_at: Callable[[float], float] | None = None
            low = span = 0.0
            if closed >= 0:
                pass
            elif outcome == OUT_ABANDONED:  # retried even without a delay: the lockout
                delay_at = _floored(dist, lockout)
            elif dist is None:
                closed = spent
            elif isinstance(dist, Constant):
                low = dist.value
            elif isinstance(dist, Uniform):
                low, span = dist.low, dist.high - dist.low
            else:
                delay_at = dist.ppf1
            plans[outcome] = (closed, spent, low, span, delay_at)
        return plans

    def _recorder(self) -> Callable[[int, int, int, float, float], None]:
        """The list's ``record(lead, attempt, outcome, end, u_retry)``: close or reschedule
        ``lead`` after attempt ``attempt`` ended at ``end`` (``u_retry``: the uniform
        draw that sets the retry delay). Runs once per dial: a closure over everything
        it touches, bound once."""
        attempts, status = self.attempts, self.status
        max_attempts, track_caps = self.max_attempts, self._track_caps
        plan_of = self._plans()
        push, waiters, heappush = self._push, self.waiters, heapq.heappush
        cap_delay = self._cap_delay
        one_group = self.n_groups == 1
        heap, lead_at, tie = self.retry[0].heap, self.retry[0].lead_at, self.retry[0].tie
        pooled = not self.owned

        def record(lead: int, attempt: int, outcome: int, end: float, u_retry: float) -> None:
            if pooled:
                self.outstanding -= 1
            attempts[lead] = attempt
            closed, spent, low, span, delay_at = plan_of[outcome]
            if closed >= 0:
                status[lead] = closed
                return
            if attempt >= max_attempts:
                status[lead] = spent
                return
            status[lead] = PENDING
            due = end + (low + span * u_retry if delay_at is None else delay_at(u_retry))
            if track_caps:
                # No other dial of this lead can come first, so the caps can be settled
                # now instead of popping the retry and pushing it back when it comes due.
                due = cap_delay(lead, due)
            if one_group:  # _push, inlined
                heappush(heap, due)
                if due in lead_at:
                    tie(due, lead)
                else:
                    lead_at[due] = lead
                if waiters or self.on_new_work is not None:
                    self._notify(due)
            else:
                push(lead, due)

        return record

    def status_counts(self) -> dict[str, int]:
        counts = np.bincount(np.frombuffer(self.status, dtype=np.int8),
                             minlength=len(STATUS_NAMES))
        return {name: int(c) for name, c in zip(STATUS_NAMES, counts, strict=True)}
