"""Banded plans rated by table: the week cut into classes of equal pricing.

A banded plan prices a call by where its seconds (factor bands) or its increments (band
tariffs, :mod:`sim.billing.bandrate`) fall in the week. A call that stays within one
stretch of the week where the same prices hold — a *class*: one factor, or one band's
connect fee and tariff — is priced exactly as an unbanded plan with that class's prices
would price it. So every class gets an unbanded compiled plan (:attr:`WeekClasses.plans`)
and the rater gathers such calls from lookup tables over billsec like any plain plan;
only the calls that may leave their class (few: a class lasts hours, a call minutes)
are rated by the exact banded kernel.

Placing the calls costs a few passes over the chunk, in float64 on whole seconds (exact
below 2**53: ``floor``, sums and the quotient of two whole numbers floored, being
correctly rounded, are the integer results): the week time of each answer, its slot of
``g`` seconds (``g`` divides every class boundary), the slot's class and the end of the
stretch it belongs to. A chunk of time-ordered calls that lies wholly in one stretch
(most chunks: a chunk of a busy campaign spans minutes) skips even that: one class for
the chunk.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import CDRFormatError

from .week import WEEK_S

if TYPE_CHECKING:  # pragma: no cover
    from .tariff import CompiledPlan

__all__ = ["Placed", "Scratch", "WeekClasses", "week_classes", "week_times"]

#: Week times beyond this (s) are not placed in float64 (whole seconds stay exact far
#: beyond; this leaves room for the sums): their chunk takes the kernel.
_FLOAT_SAFE = float(1 << 50)


class Scratch:
    """Arrays for placing a chunk of up to ``size`` calls, reused chunk after chunk."""

    def __init__(self, size: int) -> None:
        self.floats = np.empty(2 * size, dtype=np.float64)
        self.slot = np.empty(size, dtype=np.intp)
        self.offsets = np.empty(size, dtype=np.int64)
        self.flag = np.empty(size, dtype=bool)
        self.flag2 = np.empty(size, dtype=bool)


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a chunk's calls fall: per-call class offsets into the rater's tables (an
    array, or one int for the whole chunk) and the rows that may leave their class."""

    offsets: np.ndarray | int
    cross: np.ndarray


@dataclass(frozen=True, slots=True)
class WeekClasses:
    """A banded plan's week as classes: per class an unbanded plan, and per slot of ``g``
    seconds (from Monday 00:00) its class and where its stretch of that class ends.

    ``slot_end[j]`` is that end (s after the slot's week start; past ``WEEK_S`` when the
    stretch runs on into the next week; infinite when one class holds all week) minus
    :attr:`reach`: a call answered at week time ``w`` with ``d`` billable seconds stays
    in its class when ``w + d <= slot_end`` of its slot.
    """

    plans: tuple[CompiledPlan, ...]
    g: int
    slot_class: np.ndarray
    slot_end: np.ndarray
    reach: int

    def place(self, answer: np.ndarray, start: np.ndarray, d: np.ndarray, d_max: int,
              offset: int, slot_off: np.ndarray, buf: Scratch) -> Placed | None:
        """Place a chunk's calls (``d`` billable seconds, at most ``d_max``) answered at
        ``answer`` s from the epoch (``start`` where there is no answer); ``offset`` is
        the epoch's week time, ``slot_off[j]`` the table offset of slot ``j``'s class,
        ``buf`` room for a chunk. None: place them the slow way (times beyond float
        range)."""
        m = len(d)
        if m == 0:
            return Placed(0, np.zeros(0, dtype=np.intp))
        at, rem = buf.floats[:m], buf.floats[m:2 * m]
        slot, offsets, flag = buf.slot[:m], buf.offsets[:m], buf.flag[:m]
        hi = float(np.fmax.reduce(answer))  # NaN only when no call has an answer
        unplaced = np.isnan(answer, out=flag)
        unplaced &= np.greater(d, 0, out=buf.flag2[:m])
        if hi == hi and not unplaced.any():
            lo = float(np.fmin.reduce(answer))
            np.fmin(answer, hi, out=at)  # unanswered calls (d = 0) sit anywhere: at hi
        else:  # billable calls without an answer time: placed by their dial time
            np.copyto(at, answer)
            np.copyto(at, start, where=np.isnan(answer))
            missing = np.logical_and(np.isnan(at), d > 0)
            if missing.any():
                raise CDRFormatError(f"{int(np.count_nonzero(missing))} answered calls "
                                     "have neither an answer nor a start time: a banded "
                                     "plan cannot place them")
            hi = float(np.fmax.reduce(at))
            if hi != hi:  # no call has a time, and none is billable: any class will do
                return Placed(int(slot_off[0]), np.zeros(0, dtype=np.intp))
            lo = float(np.fmin.reduce(at))
            np.fmin(at, hi, out=at)
        if not (-_FLOAT_SAFE < lo and hi < _FLOAT_SAFE):
            return None
        w_lo, w_hi = math.floor(lo) + offset, math.floor(hi) + offset
        week = w_lo // WEEK_S
        # one stretch holds every call of the chunk: one class, nothing crosses
        j = (w_lo - week * WEEK_S) // self.g
        if w_hi + d_max <= week * WEEK_S + float(self.slot_end[j]):
            return Placed(int(slot_off[j]), np.zeros(0, dtype=np.intp))
        if w_hi // WEEK_S == week:  # one week: its start is one number
            np.floor(at, out=rem)
            rem += offset - week * WEEK_S
        else:
            np.floor(at, out=at)
            at += offset  # week times
            np.divide(at, float(WEEK_S), out=rem)
            np.floor(rem, out=rem)
            rem *= -float(WEEK_S)
            rem += at
        # rem >= 0: the cast's truncation is the floor
        np.copyto(slot, rem if self.g == 1 else np.divide(rem, float(self.g), out=at),
                  casting="unsafe")
        # (slots are in range by construction: "clip" only skips the bounds checks)
        np.take(slot_off, slot, out=offsets, mode="clip")
        np.take(self.slot_end, slot, out=at, mode="clip")
        np.subtract(at, d, out=at)
        cross = np.flatnonzero(np.greater(rem, at, out=flag))
        return Placed(offsets, cross)


def week_times(answer: np.ndarray, start: np.ndarray, d: np.ndarray, offset: int
               ) -> np.ndarray:
    """Week time (s after a Monday 00:00) of each answer, placed at ``floor(answer)``;
    the dial time where there is no answer."""
    at = np.where(np.isfinite(answer), answer, start)
    known = np.isfinite(at)
    if not known[d > 0].all():
        raise CDRFormatError(f"{int(np.count_nonzero((d > 0) & ~known))} answered calls "
                             "have neither an answer nor a start time: a banded plan cannot "
                             "place them")
    return np.floor(np.where(known, at, 0)).astype(np.int64) + offset


def week_classes(cp: CompiledPlan) -> WeekClasses | None:
    """The classes of a banded plan's week (None: the plan has no bands)."""
    from .tariff import Tariff, effective_starts

    plan = cp.plan
    if not plan.bands:
        return None
    pieces: list[tuple[int, int, int]] = []  # lo, hi, class
    plans: list[CompiledPlan] = []
    if cp.banded is None:  # factors only: a class per distinct weight
        sch = cp.schedule
        assert sch is not None
        weights = sorted({int(x) for x in sch.weights.tolist()})
        for wgt in weights:
            tariffs = tuple(dataclasses.replace(t, rate=[r * wgt for r in t.rate],
                                                cum=[c * wgt for c in t.cum])
                            for t in cp.tariffs)
            plans.append(dataclasses.replace(cp, schedule=None, tariffs=tariffs))
        ends = [*sch.starts.tolist()[1:], WEEK_S]
        pieces = [(lo, hi, weights.index(int(wgt))) for lo, hi, wgt in
                  zip(sch.starts.tolist(), ends, sch.weights.tolist(), strict=True)]
    else:  # band tariffs: a class per band (and one for no band)
        b = cp.banded
        for j, tables in enumerate(b.tables):
            tariffs = []
            for t in tables:
                starts = effective_starts(t.from_s, t.inc)
                cum = [0]
                for i in range(len(starts) - 1):
                    cum.append(cum[-1] + t.rate[i] * (starts[i + 1] - starts[i]))
                tariffs.append(Tariff(starts=np.asarray(starts, dtype=np.int64),
                                      ends=np.asarray([*starts[1:], 0], dtype=np.int64),
                                      inc=np.asarray(t.inc, dtype=np.int64),
                                      rate=list(t.rate), cum=cum))
            plans.append(dataclasses.replace(cp, banded=None, schedule=None,
                                             tariffs=tuple(tariffs),
                                             connect=int(b.connect[j])))
        pieces = list(zip(b.piece_lo.tolist(), b.piece_hi.tolist(),
                          b.piece_band.tolist(), strict=True))
    merged: list[list[int]] = []
    for lo, hi, c in pieces:
        if merged and merged[-1][2] == c:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi, c])
    g = math.gcd(WEEK_S, *(p[0] for p in merged))
    end = [float(p[1]) for p in merged]
    if len(merged) == 1:
        end = [math.inf]
    elif merged[0][2] == merged[-1][2]:  # Sunday night runs on into Monday morning
        end[-1] = float(WEEK_S + merged[0][1])
    max_inc = max(int(t.inc.max()) for p in plans for t in p.tariffs)
    reach = plan.included_s + max_inc
    counts = [(p[1] - p[0]) // g for p in merged]
    return WeekClasses(
        plans=tuple(plans), g=g,
        slot_class=np.repeat(np.asarray([p[2] for p in merged], dtype=np.intp), counts),
        slot_end=np.repeat(np.asarray(end, dtype=np.float64) - reach, counts), reach=reach)
