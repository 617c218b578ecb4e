"""The vectorised rater against a plain-Python per-call oracle, on generated plans and calls.

The oracle follows DESIGN.md §6 literally, one call at a time with Fractions: lay
increments end to end from the answer, each priced by the step in force where it
starts; price every billed second by the band its wall-clock second falls in (found
with ``datetime``, not the rater's week arithmetic); apply connect fee, min/max per leg,
legs, the per-attempt fee, and round once. Plans whose bands carry their own tariffs
are priced increment by increment, each by the band in force where it starts (found
from calendar dates: the latest band start still covering it), with the band's connect
fee at the answer. The rater must agree to the last sub-unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sim.billing.rater as rater
from sim.billing import Plan, plans_from_dict, rate
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.errors import PlanError

EPOCH = "2026-03-06T00:00:00"  # a Friday: two weeks of calls cross a weekend
DESTS = ("", "8613800001111", "8610123", "+8613912345", "447700900", "2")
NTYPES = ("", "mobile", "landline")


# -- the oracle ------------------------------------------------------------------------


def _band_at(plan: Plan, at: datetime) -> int | None:
    """Index of the band in force at ``at``, from calendar dates: of the bands whose
    latest start (on one of their days, at most a week back) still covers ``at`` — up to
    its ``end``, or, without one, until any band's next start — the latest start wins."""
    occurrences = []
    for k, b in enumerate(plan.bands):
        for back in range(8):
            day = (at - timedelta(days=back)).date()
            start = datetime.combine(day, dtime()) + timedelta(seconds=b.start_s)
            if day.weekday() in b.days and start <= at:
                occurrences.append((start, k))
    starts = {t for t, _ in occurrences}
    live = []
    for t, k in occurrences:
        b = plan.bands[k]
        if b.end_s is not None:
            if at < t + timedelta(seconds=(b.end_s - b.start_s) % 86400 or 86400):
                live.append((t, k))
        elif not any(t < other <= at for other in starts):
            live.append((t, k))
    return max(live)[1] if live else None


def _factor(plan: Plan, at: datetime) -> Fraction:
    k = _band_at(plan, at)
    return Fraction(1) if k is None else Fraction(plan.bands[k].factor)


def _tariff(plan: Plan, dest: str, ntype: str,
            band: Any = None) -> list[tuple[int, int, Fraction]]:
    """(from_s, increment_s, price per second) of the call's tariff; a band with its
    own steps replaces the plan's (not a destination's)."""
    chosen = None
    number = dest.lstrip("+")
    best = -1
    for d in plan.destinations:
        if d.prefix is not None and number.startswith(d.prefix) and len(d.prefix) > best:
            chosen, best = d, len(d.prefix)
    if chosen is None:
        chosen = next((d for d in plan.destinations if d.number_type == ntype and ntype), None)
    own = plan.steps if band is None or band.steps is None else band.steps
    steps = own if chosen is None or chosen.steps is None else chosen.steps
    if chosen is not None and chosen.steps is None:
        steps = plan.steps
    flat = None if chosen is None or chosen.steps is not None else chosen.price_per_min
    return [(s.from_s, s.increment_s,
             Fraction(flat) / 60 if flat is not None else Fraction(s.price) / s.unit_s)
            for s in steps]


def _band_time(plan: Plan, dd: int, at0: datetime, dest: str,
               ntype: str) -> tuple[int, Fraction]:
    """Bands with tariffs: increment by increment, each by the band where it starts."""
    pos, time = 0, Fraction(0)
    while pos < dd:
        k = _band_at(plan, at0 + timedelta(seconds=pos))
        band = None if k is None else plan.bands[k]
        f = Fraction(1) if band is None else Fraction(band.factor)
        _, inc, price = [s for s in _tariff(plan, dest, ntype, band) if s[0] <= pos][-1]
        time += price * inc * f
        pos += inc
    return pos, time


def _round(x: Fraction, decimals: int, method: str) -> Fraction:
    scaled = x * 10**decimals
    q = {"down": math.floor(scaled), "up": math.ceil(scaled),
         "half_up": math.floor(scaled + Fraction(1, 2))}[method]
    return Fraction(q, 10**decimals)


def oracle(plan: Plan, billsec: int, answered: bool, answer: datetime | None = None,
           dest: str = "", ntype: str = "") -> tuple[int, Fraction]:
    """Billed seconds (all legs) and the charge (rounded per call, exact per invoice)."""
    d = billsec if answered else 0
    total = Fraction(plan.per_attempt_fee)
    billed = 0
    if d > 0 and d > plan.no_charge_under_s:
        steps = _tariff(plan, dest, ntype)
        dd = max(d - plan.included_s, 0)
        pos, time = 0, Fraction(0)
        connect = Fraction(plan.connect_fee)
        if any(b.has_tariff for b in plan.bands):
            assert answer is not None
            k = _band_at(plan, answer)
            if k is not None and plan.bands[k].connect_fee is not None:
                connect = Fraction(plan.bands[k].connect_fee)
            pos, time = _band_time(plan, dd, answer + timedelta(seconds=plan.included_s),
                                   dest, ntype)
        while pos < dd:
            _, inc, price = [s for s in steps if s[0] <= pos][-1]
            for sec in range(pos, pos + inc):
                f = (_factor(plan, answer + timedelta(seconds=plan.included_s + sec))
                     if plan.bands else 1)
                time += price * f
            pos += inc
        billed = pos * plan.legs
        leg = max(connect + time, Fraction(plan.min_cost))
        if plan.max_cost is not None:
            leg = min(leg, Fraction(plan.max_cost))
        total += plan.legs * leg
    if plan.rounding.per == "call":
        total = _round(total, plan.rounding.decimals, plan.rounding.method)
    return billed, total


# -- CDR tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    billsec: int
    answered: bool
    answer_s: float  # seconds from EPOCH
    dest: int  # index into DESTS
    ntype: int  # index into NTYPES


def table(calls: list[Call]) -> CDRTable:
    cols = empty_columns(len(calls))
    cols["billsec"][:] = [c.billsec for c in calls]
    cols["talk_s"][:] = [max(c.billsec - 0.5, 0) if c.answered else 0 for c in calls]
    cols["disposition"][:] = [encode("disposition", "ANSWERED" if c.answered else "NO ANSWER")
                              for c in calls]
    cols["answer"][:] = [c.answer_s if c.answered else np.nan for c in calls]
    cols["start"][:] = [c.answer_s - 5 for c in calls]
    cols["end"][:] = [c.answer_s + c.billsec for c in calls]
    cols["destination"][:] = [c.dest for c in calls]
    cols["number_type"][:] = [c.ntype for c in calls]
    cats = open_categories(destination=DESTS, number_type=NTYPES)
    return CDRTable(cols, cats, epoch=EPOCH, tz="Asia/Shanghai")


def exact(plan_calls: Any, i: int) -> Fraction:
    return Fraction(int(plan_calls.units[i]), plan_calls.den)


# -- strategies -------------------------------------------------------------------------

# random amounts, plus round ones whose per-second charges end in 5 (rounding ties)
amount = st.builds(lambda n, e: f"{Decimal(n).scaleb(-e)}", st.integers(0, 5000),
                   st.integers(0, 6)) | st.sampled_from(["0", "0.03", "0.06", "0.15", "1.5"])
steps_st = st.lists(st.tuples(st.integers(1, 90), amount, st.sampled_from([1, 6, 7, 60]),
                              st.integers(1, 60)), min_size=1, max_size=3)


@st.composite
def band_st(draw: st.DrawFn) -> dict[str, Any]:
    """A band: a factor, or its own connect fee and / or tariff; with or without an end."""
    h, m, h2, m2 = draw(st.tuples(st.integers(0, 23), st.sampled_from([0, 1, 30]),
                                  st.integers(0, 23), st.sampled_from([0, 2, 45])))
    band: dict[str, Any] = {
        "days": draw(st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat",
                                               "sun"]), min_size=1, max_size=7,
                              unique=True)),
        "start": f"{h:02d}:{m:02d}"}
    if draw(st.booleans()):
        band["end"] = f"{h2:02d}:{m2:02d}"
    kind = draw(st.sampled_from(["factor", "factor", "connect", "xy", "steps"]))
    if kind == "factor" or draw(st.booleans()):
        band["factor"] = draw(amount)
    if kind == "connect" or (kind != "factor" and draw(st.booleans())):
        band["connect_fee"] = draw(amount)
    if kind == "xy":
        band["price_per_min"] = draw(amount)
        band["increments"] = f"{draw(st.integers(1, 90))}/{draw(st.integers(1, 60))}"
    elif kind == "steps":
        steps, at = [], 0
        for gap, price, unit, inc in draw(steps_st):
            steps.append({"from_s": at, "price": price, "unit_s": unit, "increment_s": inc})
            at += gap
        band["steps"] = steps
    return band


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    raw: dict[str, Any] = {"name": "p", "currency": "CNY"}
    if draw(st.booleans()):
        raw["price_per_min"] = draw(amount)
        raw["increments"] = f"{draw(st.integers(1, 90))}/{draw(st.integers(1, 60))}"
    else:
        steps, at = [], 0
        for gap, price, unit, inc in draw(steps_st):
            steps.append({"from_s": at, "price": price, "unit_s": unit, "increment_s": inc})
            at += gap
        raw["steps"] = steps
    for key in ("connect_fee", "per_attempt_fee", "min_cost"):
        if draw(st.booleans()):
            raw[key] = draw(amount)
    if draw(st.booleans()):
        raw["max_cost"] = str(Decimal(raw.get("min_cost", "0")) + Decimal(draw(amount)))
    raw["no_charge_under_s"] = draw(st.sampled_from([0, 0, 3, 10]))
    raw["included_s"] = draw(st.sampled_from([0, 0, 5, 30]))
    raw["legs"] = draw(st.sampled_from([1, 1, 2]))
    # per-invoice plans keep exact per-call values: nothing hides behind rounding
    raw["rounding"] = {"decimals": draw(st.integers(0, 8)),
                       "method": draw(st.sampled_from(["up", "half_up", "down"])),
                       "per": draw(st.sampled_from(["call", "invoice"]))}
    if draw(st.booleans()):
        raw["bands"] = [draw(band_st()) for _ in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        dests = []
        for key in draw(st.lists(st.sampled_from(["86", "86138", "8613", "44", "mobile",
                                                  "landline"]), max_size=3, unique=True)):
            d: dict[str, Any] = ({"number_type": key} if key.isalpha() else {"prefix": key})
            if draw(st.booleans()):
                d["price_per_min"] = draw(amount)
            else:
                d["price_per_min"] = draw(amount)
                d["increments"] = f"{draw(st.integers(1, 60))}/{draw(st.integers(1, 60))}"
            dests.append(d)
        raw["destinations"] = dests
    try:
        (plan,) = plans_from_dict({"plan": [raw]})
    except PlanError as exc:  # generated bands that overlap or are empty
        if not all(".bands[" in line for line in exc.problems):
            raise
        assume(False)
    return plan


def _edges(plan: Plan) -> list[int]:
    """Seconds from EPOCH (a Friday) of every band start and end in the first two weeks."""
    friday = 4
    return [(day - friday) * 86400 + at + week * 7 * 86400
            for b in plan.bands for day in b.days for at in (b.start_s, b.end_s)
            if at is not None for week in (0, 1)]


@st.composite
def calls_for(draw: st.DrawFn, plan: Plan) -> list[Call]:
    """Calls answered anywhere in two weeks, or shortly before one of the plan's band edges
    (so that calls cross them, also after ``included_s`` free seconds)."""
    uniform = st.floats(0, 14 * 86400, allow_nan=False).map(lambda x: round(x, 1))
    edges = _edges(plan)
    near = (st.builds(lambda e, back: e - back + 0.5, st.sampled_from(edges),
                      st.integers(0, 300) | st.just(0)) if edges else uniform)
    return draw(st.lists(st.builds(
        Call, st.integers(0, 400) | st.sampled_from([0, 1, 59, 60, 61]), st.booleans(),
        uniform | near, st.integers(0, len(DESTS) - 1), st.integers(0, len(NTYPES) - 1)),
        min_size=1, max_size=12))


@st.composite
def plan_and_calls(draw: st.DrawFn) -> tuple[Plan, list[Call]]:
    plan = draw(plans())
    return plan, draw(calls_for(plan))


def _check(plan: Plan, calls: list[Call]) -> None:
    rating = rate(table(calls), [plan])
    pc = rating.per_call("p")
    epoch = datetime.fromisoformat(EPOCH)
    total = Fraction(0)
    for i, c in enumerate(calls):
        answer = epoch + timedelta(seconds=math.floor(c.answer_s))
        billed, charge = oracle(plan, c.billsec, c.answered, answer, DESTS[c.dest],
                                NTYPES[c.ntype])
        assert int(pc.billed_s[i]) == billed, (i, c)
        assert exact(pc, i) == charge, (i, c, exact(pc, i), charge)
        assert charge >= 0
        total += charge
        one = plan.charge(c.billsec, answered=c.answered, answer=answer,
                          destination=DESTS[c.dest] or None, number_type=NTYPES[c.ntype] or None)
        if plan.rounding.per == "call":
            assert one == Decimal(charge.numerator) / Decimal(charge.denominator)
    expect = _round(total, plan.rounding.decimals, plan.rounding.method)
    assert Fraction(rating.summary("p").telecom) == expect


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(plan_and_calls())
def test_rater_agrees_with_oracle(case: tuple[Plan, list[Call]]) -> None:
    _check(*case)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(plan_and_calls())
def test_kernel_path_agrees_with_oracle(case: tuple[Plan, list[Call]]) -> None:
    """Calls beyond the lookup table take the kernel; tiny chunks, and the histogram
    totals of a many-plan pass: same answers."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rater, "TABLE_MAX_S", 7)
        mp.setattr(rater, "CHUNK", 3)
        mp.setattr(rater, "HIST_MIN_PLANS", 1)
        _check(*case)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["up", "half_up", "down"]), st.sampled_from(["0.03", "0.3", "0.09"]),
       st.sampled_from(["1/1", "6/6", "30/6"]), st.lists(st.integers(0, 200), min_size=1,
                                                          max_size=10))
def test_rounding_ties(method: str, price: str, increments: str, billsec: list[int]) -> None:
    """Per-second prices ending in 5 one place past the rounding: every method exact."""
    decimals = len(price) - 1  # 0.03/min = 0.0005/s: a tie at 3 decimals for odd seconds
    (plan,) = plans_from_dict({"plan": [{"name": "p", "currency": "CNY", "price_per_min": price,
                                         "increments": increments,
                                         "rounding": {"decimals": decimals,
                                                      "method": method}}]})
    _check(plan, [Call(b, True, 0.0, 0, 0) for b in billsec])


def test_huge_denominators_use_exact_python_ints() -> None:
    """Prices with many decimals and odd units overflow int64 units: object path, exact."""
    (plan,) = plans_from_dict({"plan": [{
        "name": "p", "currency": "CNY", "rounding": {"decimals": 12, "per": "invoice"},
        "steps": [{"from_s": 0, "price": "0.123456789123456789", "unit_s": 7,
                   "increment_s": 1},
                  {"from_s": 13, "price": "0.987654321987654321", "unit_s": 11,
                   "increment_s": 3}],
        "bands": [{"start": "00:00", "end": "12:00", "factor": "0.333333333"}],
        "connect_fee": "0.000000000000000001"}]})
    calls = [Call(b, True, 43_000.0 + 17 * b, 0, 0) for b in (0, 1, 12, 13, 14, 400, 9_999)]
    rating = rate(table(calls), [plan])
    pc = rating.per_call("p")
    assert pc.units.dtype == object
    epoch = datetime.fromisoformat(EPOCH)
    for i, c in enumerate(calls):
        answer = epoch + timedelta(seconds=c.answer_s)
        assert exact(pc, i) == oracle(plan, c.billsec, True, answer)[1]


# -- properties -------------------------------------------------------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(plans(), st.floats(0, 14 * 86400), st.integers(0, len(DESTS) - 1))
def test_charge_non_decreasing_in_talk_time(plan: Plan, answer_s: float, dest: int) -> None:
    calls = [Call(b, True, answer_s, dest, 0) for b in range(0, 400, 3)]
    pc = rate(table(calls), [plan]).per_call("p")
    charges = [exact(pc, i) for i in range(len(calls))]
    assert all(c >= 0 for c in charges)
    assert all(a <= b for a, b in zip(charges, charges[1:], strict=False))


@settings(max_examples=80, deadline=None)
@given(amount, st.integers(1, 90), st.integers(1, 60),
       st.lists(st.floats(0.001, 5000), min_size=1, max_size=20))
def test_billed_covers_talk_by_less_than_one_increment(price: str, x: int, y: int,
                                                       talks: list[float]) -> None:
    (plan,) = plans_from_dict({"plan": [{"name": "p", "currency": "CNY",
                                         "price_per_min": price, "increments": f"{x}/{y}"}]})
    calls = [Call(math.ceil(t), True, 0.0, 0, 0) for t in talks]
    pc = rate(table(calls), [plan]).per_call("p")
    for t, billed in zip(talks, pc.billed_s.tolist(), strict=True):
        assert t <= billed < t + (x if t <= x else y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(plans(), st.lists(st.tuples(st.integers(0, 300), st.booleans()), min_size=1,
                         max_size=10))
def test_zero_second_and_unanswered_calls_pay_only_per_attempt_fees(
        plan: Plan, calls: list[tuple[int, bool]]) -> None:
    cdrs = [Call(0 if ans else b, ans, 1000.0, 1, 1) for b, ans in calls]
    pc = rate(table(cdrs), [plan]).per_call("p")
    fee = Fraction(plan.per_attempt_fee)
    if plan.rounding.per == "call":
        fee = _round(fee, plan.rounding.decimals, plan.rounding.method)
    assert all(exact(pc, i) == fee for i in range(len(cdrs)))
    assert not pc.billed_s.any()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(plan_and_calls(), st.randoms(use_true_random=False), st.integers(1, 11))
def test_order_and_chunking_do_not_matter(case: tuple[Plan, list[Call]], rnd: Any,
                                          cut: int) -> None:
    plan, calls = case
    whole = rate(table(calls), [plan])
    order = list(range(len(calls)))
    rnd.shuffle(order)
    shuffled = rate(table([calls[i] for i in order]), [plan])
    a, b = whole.per_call("p"), shuffled.per_call("p")
    assert [exact(a, i) for i in order] == [exact(b, j) for j in range(len(calls))]
    assert whole.summary("p").telecom == shuffled.summary("p").telecom
    cut = min(cut, len(calls))
    parts = [rate(table(part), [plan]).per_call("p") for part in (calls[:cut], calls[cut:])
             if part]
    joined = [exact(p, i) for p in parts for i in range(len(p.units))]
    assert joined == [exact(a, i) for i in range(len(calls))]
