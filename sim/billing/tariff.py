"""The exact rating kernel: a plan compiled to integers, applied to arrays of calls.

A carrier bills a call by laying increments end to end from the answer and charging
each at the tariff step in force where it starts. For a step list that means fixed
*effective boundaries* ``E_i``: the first increment position at or after step ``i``'s
``from_s``. With them, the billed length of a ``d``-second call is
``E_k + ceil((d - E_k) / inc_k) * inc_k`` for the last step ``k`` with ``E_k < d``,
and step ``i`` covers the billed seconds ``[E_i, min(billed, E_{i+1}))``.

Time bands split the billed seconds at each band start (the step position keeps
counting from the answer): every billed second costs its step's price times the factor
of the band its wall-clock second falls in. Calls are placed by ``floor(answer)`` —
carriers log whole seconds.

Money is integers: every amount of a plan is a whole number of *units* of
``1/den`` currency, ``den`` being the least common multiple of every price's, fee's and
the rounding's denominator, so a call's charge before rounding is exact. Rounding to
the plan's decimals happens once, on the call's total (or not at all for per-invoice
rounding). Arithmetic is int64 when a bound on every intermediate fits, Python ints in
object arrays otherwise — never binary floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .bandrate import BandTariffs, band_rates, compile_band_tariffs
from .week import DAY_S, WEEK_S, band_segments

if TYPE_CHECKING:  # plans.py imports this module (Plan.charge): no run-time import back
    from .plans import Band, Plan, Step

__all__ = [
    "CompiledPlan",
    "Schedule",
    "TariffMap",
    "charge_one",
    "compile_plan",
    "effective_starts",
    "round_div",
    "rounded",
    "tariff_map",
    "units_to_decimal",
    "week_offset_s",
]

_Int = TypeVar("_Int", int, np.ndarray)
_INT64_SAFE = 1 << 62  # headroom for one more addition or doubling


@dataclass(frozen=True, slots=True)
class Tariff:
    """One step list as arrays: effective starts and ends (s), increments (s), and the
    price of a billed second in units per band-weight (``rate``); ``cum`` = units of all
    earlier steps in full (unbanded)."""

    starts: np.ndarray
    ends: np.ndarray
    inc: np.ndarray
    rate: list[int]
    cum: list[int]


@dataclass(frozen=True, slots=True)
class Schedule:
    """Band factors over the week as piecewise-constant integer weights.

    ``weights[j]`` holds from ``starts[j]`` (s after Monday 00:00) to the next start;
    ``cum[j]`` is the weighted seconds before ``starts[j]``; a factor is
    ``weights / den``.
    """

    starts: np.ndarray
    weights: np.ndarray
    cum: np.ndarray
    week: int
    den: int

    def weighted_until(self, t: np.ndarray) -> np.ndarray:
        """Weighted seconds from Monday 00:00 of week 0 to ``t`` (int s, any week)."""
        q, rem = t // WEEK_S, t % WEEK_S  # np.divmod has no object loop
        j = np.searchsorted(self.starts, rem, side="right") - 1
        return q * self.week + self.cum[j] + self.weights[j] * (rem - self.starts[j])


@dataclass(frozen=True, slots=True)
class CompiledPlan:
    """A plan in integer units of ``1/den`` currency, ready for arrays of calls."""

    plan: Plan
    den: int
    tariffs: tuple[Tariff, ...]
    schedule: Schedule | None
    connect: int
    per_attempt: int
    min_cost: int
    max_cost: int | None
    out_den: int  # denominator of the per-call output: 10**decimals, or den (per invoice)
    banded: BandTariffs | None = None  # bands with their own tariffs (sim.billing.bandrate)

    def bound(self, d_max: int, t_max: int = 0) -> int:
        """Upper bound of any intermediate integer for calls up to ``d_max`` s that start
        before ``t_max`` s (absolute week time)."""
        if self.banded is not None:
            b = self.banded
            b_max = d_max + b.max_inc
            leg = max(int(b.connect.max()) + b.max_rate * b_max, self.min_cost)
            return max(2 * (self.per_attempt + self.plan.legs * leg), 2 * (t_max + b_max))
        b_max = d_max + max(int(t.inc.max()) for t in self.tariffs)
        w = 1 if self.schedule is None else int(self.schedule.weights.max())
        time = max(max(t.rate) for t in self.tariffs) * w * b_max + max(
            max(t.cum) for t in self.tariffs)
        leg = max(self.connect + time, self.min_cost)
        f_max = 0 if self.schedule is None else (t_max // WEEK_S + 2) * self.schedule.week
        return max(2 * (self.per_attempt + self.plan.legs * leg), f_max, b_max * w)

    def dtype(self, d_max: int, t_max: int = 0) -> type:
        """int64 when every intermediate fits, else ``object`` (exact Python ints)."""
        return np.int64 if self.bound(d_max, t_max) < _INT64_SAFE else object

    # -- the kernel -----------------------------------------------------------------
    def rate_calls(self, d: np.ndarray, tariff: np.ndarray | None = None,
                   start_t: np.ndarray | None = None, *,
                   dtype: type | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Billed seconds and charge units of calls.

        Parameters
        ----------
        d
            Talk seconds per call (billsec; 0 for unanswered calls), int64 >= 0.
        tariff
            Index into :attr:`tariffs` per call (None: all use tariff 0).
        start_t
            Week time of each call's answer, s after a Monday 00:00 (needed with bands).
        dtype
            int64 or object for the charge arithmetic (default: from a bound on ``d``).

        Returns
        -------
        billed_s, units
            int64 billed seconds (all legs), and charges in units of ``1/out_den``.
        """
        if dtype is None:
            dtype = self.dtype(int(d.max(initial=0)),
                               0 if start_t is None else int(start_t.max(initial=0)))
        plan = self.plan
        charged = d > max(plan.no_charge_under_s, 0)
        dd = np.where(charged, np.maximum(d - plan.included_s, 0), 0)
        if dtype is object:
            dd = dd.astype(object)
            start_t = None if start_t is None else start_t.astype(object)
        billed = np.zeros(len(d), dtype=dd.dtype)
        time: np.ndarray = np.zeros(len(d), dtype=dtype)
        # only charged calls have time to price (often half of the dials or fewer)
        busy = np.flatnonzero(charged)
        connect: Any = self.connect
        if self.banded is not None:
            assert start_t is not None, "banded plans need answer times"
            connect = np.zeros(len(d), dtype=dtype)
            connect[busy] = self.banded.connect_at(start_t[busy])
            billed[busy], time[busy] = self.banded.rate(
                dd[busy], None if tariff is None else tariff[busy],
                start_t[busy] + plan.included_s, dtype)
        for k, tar in enumerate(() if self.banded is not None else self.tariffs):
            if tariff is None and k:
                break
            sel = busy if tariff is None else busy[tariff[busy] == k]
            b, t = self._time(tar, dd[sel], None if start_t is None else
                              start_t[sel] + plan.included_s)
            billed[sel], time[sel] = b, t
        leg = np.maximum(time + connect, self.min_cost)
        if self.max_cost is not None:
            leg = np.minimum(leg, self.max_cost)
        units = np.where(charged, leg * plan.legs, 0) + self.per_attempt
        if self.out_den != self.den:
            units = round_div(units, self.den // self.out_den, plan.rounding.method)
        return (billed * plan.legs).astype(np.int64), units

    def _time(self, tar: Tariff, dd: np.ndarray,
              start_t: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        k = np.maximum(np.searchsorted(tar.starts, dd, side="left") - 1, 0)
        e_k = tar.starts[k]
        inc = tar.inc[k]
        billed = e_k + -((e_k - dd) // inc) * inc
        rate = np.asarray(tar.rate, dtype=object if dd.dtype == object else np.int64)
        if self.schedule is None:
            cum = np.asarray(tar.cum, dtype=rate.dtype)
            return billed, cum[k] + rate[k] * (billed - e_k)
        # Billed seconds [0, billed) split at each step's effective start; each piece
        # weighted by the bands it lies in.
        assert start_t is not None, "banded plans need answer times"
        time = np.zeros(len(dd), dtype=rate.dtype)
        f_lo = self.schedule.weighted_until(start_t)
        for i in range(len(tar.starts)):
            hi = billed if i + 1 == len(tar.starts) else np.minimum(billed, tar.ends[i])
            f_hi = self.schedule.weighted_until(start_t + hi)
            time += tar.rate[i] * (f_hi - f_lo)
            f_lo = f_hi
        return billed, time


def round_div(units: _Int, div: int, method: str) -> _Int:
    """``units / div`` rounded to an integer by ``up``, ``half_up`` or ``down`` (units >= 0)."""
    if div == 1:
        return units
    if method == "down":
        return units // div
    if method == "up":
        return -(-units // div)
    q, r = units // div, units % div
    return q + (2 * r >= div)


def rounded(amount: Fraction, places: int, method: str = "half_up") -> Decimal:
    """``amount`` (>= 0) rounded once to ``places`` decimals by ``method``."""
    q = round_div(amount.numerator * 10**places, amount.denominator, method)
    return Decimal(int(q)).scaleb(-places)


def units_to_decimal(units: int, den: int) -> Decimal:
    """``units / den`` as a Decimal: exact when it is a finite decimal (always for a power
    of ten), else rounded half up to 12 places (per-invoice plans' per-call values)."""
    exp = len(str(den)) - 1
    if 10**exp == den:
        return Decimal(int(units)).scaleb(-exp)
    q = Fraction(int(units), den)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(q.numerator) / Decimal(q.denominator)
    if Fraction(exact) == q:
        return exact
    return exact.quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)


# -- compiling ----------------------------------------------------------------------


def effective_starts(from_s: Sequence[int], inc: Sequence[int]) -> list[int]:
    """Effective start of each step (the first increment position >= its ``from_s``,
    increments laid from 0) given the steps' starts and increments."""
    starts = [0]
    for f, prev_inc in zip(from_s[1:], inc, strict=False):
        gap = f - starts[-1]
        starts.append(starts[-1] + max(0, -(-gap // prev_inc)) * prev_inc)
    return starts


def _effective(steps: Sequence[Step]) -> tuple[list[int], list[int]]:
    """Effective starts of each step (first increment position >= from_s) and increments."""
    inc = [s.increment_s for s in steps]
    return effective_starts([s.from_s for s in steps], inc), inc


def _schedule(bands: Sequence[Band]) -> Schedule | None:
    if not bands:
        return None
    pieces = [(lo, hi, Fraction(bands[k].factor)) for lo, hi, k in band_segments(bands)]
    den = math.lcm(1, *(f.denominator for _, _, f in pieces))
    starts: list[int] = []
    weights: list[int] = []
    at = 0
    for lo, hi, f in pieces:  # the loader rejects overlaps
        if lo > at:
            starts.append(at)
            weights.append(den)  # outside every band: factor 1
        starts.append(lo)
        weights.append(int(f * den))
        at = hi
    if at < WEEK_S:
        starts.append(at)
        weights.append(den)
    ends = [*starts[1:], WEEK_S]
    cum = [0]
    for s, e, w in zip(starts, ends, weights, strict=True):
        cum.append(cum[-1] + w * (e - s))
    wide = np.int64 if cum[-1] < _INT64_SAFE else object  # huge factors: exact Python ints
    return Schedule(starts=np.asarray(starts, dtype=np.int64),
                    weights=np.asarray(weights, dtype=wide),
                    cum=np.asarray(cum[:-1], dtype=wide), week=cum[-1], den=den)


def _tariff_rates(plan: Plan) -> list[tuple[list[int], list[int], list[Fraction]]]:
    """Per tariff (plan first, then destinations): starts, increments, price per second."""
    out = []
    for steps, ppm in [(plan.steps, None)] + [
            (d.steps or plan.steps, None if d.steps else d.price_per_min)
            for d in plan.destinations]:
        starts, inc = _effective(steps)
        rates = [Fraction(ppm) / 60 if ppm is not None else Fraction(s.price) / s.unit_s
                 for s in steps]
        out.append((starts, inc, rates))
    return out


def compile_plan(plan: Plan) -> CompiledPlan:
    """Turn a plan into integer units over one common denominator."""
    with_tariffs = any(b.has_tariff for b in plan.bands)
    schedule = None if with_tariffs else _schedule(plan.bands)
    w_den = schedule.den if schedule else 1
    raw = _tariff_rates(plan)
    fees = [plan.connect_fee, plan.per_attempt_fee, plan.min_cost]
    fees += [b.connect_fee for b in plan.bands if b.connect_fee is not None]
    if plan.max_cost is not None:
        fees.append(plan.max_cost)
    dens = [r.denominator * w_den for _, _, rates in raw for r in rates]
    dens += [Fraction(f).denominator for f in fees]
    by_band = band_rates(plan) if with_tariffs else []
    dens += [r.denominator for row in by_band for _, _, rates in row for r in rates]
    out_den = 10**plan.rounding.decimals
    den = math.lcm(*dens, out_den)

    def units(amount: Decimal | Fraction) -> int:
        return int(Fraction(amount) * den)

    tariffs = []
    for starts, inc, rates in raw:
        rate = [int(r * den / w_den) for r in rates]
        ends = [*starts[1:], 0]
        cum = [0]
        for i in range(len(starts) - 1):
            cum.append(cum[-1] + rate[i] * (ends[i] - starts[i]))  # used unbanded only
        tariffs.append(Tariff(starts=np.asarray(starts, dtype=np.int64),
                              ends=np.asarray(ends, dtype=np.int64),
                              inc=np.asarray(inc, dtype=np.int64), rate=rate, cum=cum))
    return CompiledPlan(
        plan=plan, den=den, tariffs=tuple(tariffs), schedule=schedule,
        connect=units(plan.connect_fee), per_attempt=units(plan.per_attempt_fee),
        min_cost=units(plan.min_cost),
        max_cost=None if plan.max_cost is None else units(plan.max_cost),
        out_den=out_den if plan.rounding.per == "call" else den,
        banded=compile_band_tariffs(plan, den, by_band) if with_tariffs else None)


# -- placing calls --------------------------------------------------------------------


def week_offset_s(epoch: str) -> int:
    """Seconds from the Monday 00:00 before ``epoch`` (naive local ISO) to ``epoch``."""
    dt = datetime.fromisoformat(epoch)
    return dt.weekday() * DAY_S + dt.hour * 3600 + dt.minute * 60 + dt.second


@dataclass(frozen=True, slots=True)
class TariffMap:
    """Which tariff each destination / number-type label selects (-1: none)."""

    by_destination: np.ndarray
    by_type: np.ndarray

    def __call__(self, destination: np.ndarray, number_type: np.ndarray) -> np.ndarray:
        """Tariff index per call from its category codes: the longest matching prefix,
        else its number type, else the plan's own tariff (0)."""
        t = self.by_destination[destination]
        return np.where(t >= 0, t, self.by_type[number_type])


def tariff_map(plan: Plan, destinations: Sequence[str],
               number_types: Sequence[str]) -> TariffMap | None:
    """The plan's destination prices resolved against a table's labels (None: no such
    prices). Prefixes match the dialled number without a leading ``+``."""
    if not plan.destinations:
        return None
    by_dest = np.full(len(destinations), -1, dtype=np.int32)
    by_type = np.zeros(len(number_types), dtype=np.int32)
    labels = np.asarray([lab.lstrip("+") for lab in destinations], dtype=np.str_)
    prefixed = [(d.prefix, k) for k, d in enumerate(plan.destinations, 1) if d.prefix]
    # per prefix length (shortest first: the longest match is assigned last), every
    # label cut to that length looked up among the prefixes of that length: a few
    # passes over the labels however many prefixes a price list has
    for length in sorted({len(p) for p, _ in prefixed}):
        pairs = sorted((p, k) for p, k in prefixed if len(p) == length)
        keys = np.asarray([p for p, _ in pairs], dtype=f"<U{length}")
        cut = labels.astype(f"<U{length}")
        at = np.minimum(np.searchsorted(keys, cut), len(keys) - 1)
        hit = keys[at] == cut
        by_dest[hit] = np.asarray([k for _, k in pairs], dtype=np.int32)[at[hit]]
    for k, d in enumerate(plan.destinations, 1):
        if d.number_type is not None and d.number_type in number_types:
            by_type[list(number_types).index(d.number_type)] = k
    return TariffMap(by_destination=by_dest, by_type=by_type)


def charge_one(plan: Plan, talk_s: float, *, answered: bool = True,
               answer: float | datetime | None = None, epoch: str = "1970-01-01T00:00:00",
               destination: str | None = None, number_type: str | None = None) -> Decimal:
    """One call's charge (see :meth:`Plan.charge`)."""
    if not math.isfinite(talk_s) or talk_s < 0:
        raise ValueError(f"talk_s must be a finite number >= 0 (got {talk_s!r})")
    cp = compile_plan(plan)
    d = np.array([math.ceil(talk_s) if answered else 0], dtype=np.int64)
    start_t = None
    if plan.bands:
        if answer is None:
            raise ValueError(f"plan {plan.name!r} has time bands: give answer=")
        if isinstance(answer, datetime):
            epoch, answer = answer.replace(microsecond=0).isoformat(), 0.0
        start_t = np.array([week_offset_s(epoch) + math.floor(answer)], dtype=np.int64)
    tmap = tariff_map(plan, ("", destination or ""), ("", number_type or ""))
    one = np.ones(1, dtype=np.int64)  # code 1 = the given label, 0 = unknown
    tariff = None if tmap is None else tmap(one if destination else one - 1,
                                            one if number_type else one - 1)
    _, units = cp.rate_calls(d, tariff, start_t)
    return units_to_decimal(int(units[0]), cp.out_den)
