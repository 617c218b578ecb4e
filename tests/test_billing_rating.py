"""Hand-computed rating cases: DESIGN.md §6 and VALIDATION.md "Rating", each term alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from sim.billing import Plan, load_plans, plans_from_dict, rate
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.errors import CDRFormatError, PlanError

D = Decimal
MONDAY = datetime(2026, 3, 2)


def plan(**kw: Any) -> Plan:
    (p,) = plans_from_dict({"plan": [{"name": "p", "currency": "CNY", **kw}]})
    return p


def xy(price: str, increments: str, **kw: Any) -> Plan:
    return plan(price_per_min=price, increments=increments, **kw)


def cdrs(billsec: list[int], *, answered: list[bool] | None = None,
         answer_s: list[float] | None = None, destination: list[str] | None = None,
         number_type: list[str] | None = None, epoch: str = "2026-03-02T00:00:00") -> CDRTable:
    n = len(billsec)
    cols = empty_columns(n)
    ans = answered if answered is not None else [True] * n
    cols["billsec"][:] = billsec
    cols["talk_s"][:] = [b if a else 0 for b, a in zip(billsec, ans, strict=True)]
    cols["disposition"][:] = [encode("disposition", "ANSWERED" if a else "NO ANSWER")
                              for a in ans]
    at = answer_s if answer_s is not None else [36_000.0] * n
    cols["answer"][:] = [t if a else np.nan for t, a in zip(at, ans, strict=True)]
    cols["start"][:] = np.asarray(at) - 10
    cols["end"][:] = np.asarray(at) + np.asarray(billsec)
    dests = destination or [""] * n
    types = number_type or [""] * n
    cats = open_categories(destination=dests, number_type=types)
    cols["destination"][:] = [cats["destination"].index(d) for d in dests]
    cols["number_type"][:] = [cats["number_type"].index(t) for t in types]
    return CDRTable(cols, cats, epoch=epoch, tz="Asia/Shanghai")


# DESIGN.md §6, the X/Y table: billed seconds for talk 0, 5, 31, 61, 100 s.
XY_TABLE = {
    "1/1": [0, 5, 31, 61, 100],
    "6/6": [0, 6, 36, 66, 102],
    "30/6": [0, 30, 36, 66, 102],
    "60/1": [0, 60, 60, 61, 100],
    "60/60": [0, 60, 60, 120, 120],
}


@pytest.mark.parametrize("increments", XY_TABLE)
def test_design_xy_table(increments: str) -> None:
    talks = [0, 5, 31, 61, 100]
    r = rate(cdrs(talks), [xy("0.6", increments)])
    assert r.per_call("p").billed_s.tolist() == XY_TABLE[increments]
    # 0.6 per minute is 0.01 per billed second
    assert [r.per_call("p").charge(i) for i in range(5)] == [
        D(b) / 100 for b in XY_TABLE[increments]]


# VALIDATION.md, Rating.
@pytest.mark.parametrize(("price", "increments", "talk_s", "expected"), [
    ("0.006", "30/6", 32, "0.0036"),
    ("0.006", "30/6", 57, "0.006"),
    ("0.006", "30/6", 75, "0.0078"),
    ("0.01", "60/60", 5, "0.01"),
    ("0.01", "60/60", 50, "0.01"),
    ("0.01", "6/6", 5, "0.001"),
    ("0.1", "1/1", 120, "0.2"),   # exact: not 0.2004 from per-increment rounding
    ("0.05", "1/1", 90, "0.075"),  # exact: not 0.0747
])
def test_validation_rating_cases(price: str, increments: str, talk_s: int,
                                 expected: str) -> None:
    p = xy(price, increments)
    assert p.charge(talk_s) == D(expected)
    assert rate(cdrs([talk_s]), [p]).per_call("p").charge(0) == D(expected)


def test_zero_second_call_costs_nothing_and_pays_no_connect_fee() -> None:
    p = xy("0.1", "60/60", connect_fee="0.05")
    assert p.charge(0) == 0
    assert p.charge(0.2) == D("0.15")  # 0.2 s is billsec 1: a connected call
    r = rate(cdrs([0, 1]), [p])
    assert [r.per_call("p").charge(i) for i in (0, 1)] == [0, D("0.15")]


def test_unanswered_and_zero_second_calls_pay_only_the_per_attempt_fee() -> None:
    p = xy("0.1", "60/60", connect_fee="0.05", per_attempt_fee="0.08")
    # a NO ANSWER row with billsec > 0 (an IVR answered it): answered is the disposition
    r = rate(cdrs([0, 30, 0, 30], answered=[False, False, True, True]), [p])
    pc = r.per_call("p")
    assert [pc.charge(i) for i in range(4)] == [D("0.08"), D("0.08"), D("0.08"), D("0.23")]
    assert pc.billed_s.tolist() == [0, 0, 0, 60]
    assert p.charge(30, answered=False) == D("0.08")


def test_band_crossing_splits_at_the_band_start() -> None:
    evening = [{"start": "18:00", "end": "24:00", "factor": "0.5"}]
    at = datetime(2026, 3, 2, 17, 59, 30)
    # per second at 0.01/s: 30 s full price (0.30), 60 s half price (0.30)
    assert xy("0.6", "1/1", bands=evening).charge(90, answer=at) == D("0.6")
    # 60/60 bills 120 s: 30 s full, 90 s half (billed time continues past the talk)
    assert xy("0.6", "60/60", bands=evening).charge(90, answer=at) == D("0.75")
    # calls are placed by floor(answer): 17:59:29.7 counts from 17:59:29, 31 s full price
    sec = (at - MONDAY).total_seconds() - 0.3
    r = rate(cdrs([90], answer_s=[sec]), [xy("0.6", "1/1", bands=evening)])
    assert r.per_call("p").charge(0) == D("0.605")


def test_band_crossing_keeps_the_step_position_from_answer() -> None:
    # first minute 0.6/min, later 0.3/min; evening half price; answered 17:59:30, 90 s
    p = plan(bands=[{"start": "18:00", "end": "24:00", "factor": "0.5"}], steps=[
        {"from_s": 0, "price": "0.6", "unit_s": 60, "increment_s": 1},
        {"from_s": 60, "price": "0.3", "unit_s": 60, "increment_s": 1}])
    # 30 s x 0.01 + 30 s x 0.005 (first step, evening) + 30 s x 0.0025 (second step)
    assert p.charge(90, answer=datetime(2026, 3, 2, 17, 59, 30)) == D("0.525")


def test_band_after_included_seconds_and_across_midnight_into_the_weekend() -> None:
    p = xy("0.6", "1/1", included_s=30, bands=[
        {"days": ["fri"], "start": "18:00", "end": "24:00", "factor": "0.5"},
        {"days": ["sat", "sun"], "factor": "0.2"}])
    # the free 30 s end at 18:00:10: all 70 billable seconds are in the evening band
    assert p.charge(100, answer=datetime(2026, 3, 6, 17, 59, 40)) == D("0.35")
    # Friday 23:59:00, 120 s billable: 60 s evening (0.3), 60 s weekend (0.12)
    assert p.charge(150, answer=datetime(2026, 3, 6, 23, 58, 30)) == D("0.42")
    # a Sunday-night band running into Monday morning wraps around the week
    q = xy("0.6", "1/1", bands=[{"days": ["sun"], "start": "22:00", "end": "06:00",
                                  "factor": "0"}])
    assert q.charge(120, answer=datetime(2026, 3, 9, 5, 59)) == D("0.6")
    assert q.charge(120, answer=datetime(2026, 3, 10, 5, 59)) == D("1.2")


def test_destination_prices_longest_prefix_then_number_type() -> None:
    p = xy("0.6", "1/1", destinations=[
        {"prefix": "86", "price_per_min": "0.12"},
        {"prefix": "86138", "price_per_min": "0.3"},
        {"number_type": "mobile", "price_per_min": "0.24"},
        {"prefix": "44", "price_per_min": "1.2", "increments": "60/60"}])
    dests = ["8613812345678", "+8613812345678", "8610123", "", "4420", "99"]
    types = ["mobile", "", "mobile", "mobile", "", ""]
    r = rate(cdrs([60, 60, 60, 60, 5, 60], destination=dests, number_type=types), [p])
    pc = r.per_call("p")
    assert [pc.charge(i) for i in range(6)] == [D("0.3"), D("0.3"), D("0.12"), D("0.24"),
                                                D("1.2"), D("0.6")]
    assert pc.billed_s.tolist() == [60, 60, 60, 60, 60, 60]
    assert p.charge(60, destination="86138000", number_type="mobile") == D("0.3")
    assert p.charge(60, number_type="mobile") == D("0.24")


def test_destination_steps_replace_the_whole_tariff() -> None:
    p = xy("0.6", "1/1", destinations=[{"number_type": "landline", "steps": [
        {"from_s": 0, "price": "0", "unit_s": 60, "increment_s": 60},
        {"from_s": 60, "price": "0.06", "unit_s": 6, "increment_s": 6}]}])
    assert p.charge(61, number_type="landline") == D("0.06")
    assert p.charge(61) == D("0.61")


def test_min_and_max_cost() -> None:
    p = xy("0.06", "1/1", min_cost="0.05", max_cost="0.1")
    assert [p.charge(t) for t in (0, 10, 60, 120)] == [0, D("0.05"), D("0.06"), D("0.1")]
    # the connect fee counts toward the minimum and the cap
    q = xy("0.06", "1/1", connect_fee="0.02", min_cost="0.05", max_cost="0.1")
    assert [q.charge(t) for t in (10, 60, 100)] == [D("0.05"), D("0.08"), D("0.1")]


def test_legs_bill_both_legs() -> None:
    p = xy("0.1", "60/60", legs=2, connect_fee="0.01", per_attempt_fee="0.002")
    assert p.charge(30) == D("0.222")
    r = rate(cdrs([30, 0]), [p])
    assert r.per_call("p").billed_s.tolist() == [120, 0]


def test_included_seconds_and_no_charge_threshold() -> None:
    p = xy("0.6", "1/1", included_s=10, connect_fee="0.1")
    assert [p.charge(t) for t in (5, 10, 25)] == [D("0.1"), D("0.1"), D("0.25")]
    q = xy("0.6", "6/6", no_charge_under_s=3, connect_fee="0.2")
    assert [q.charge(t) for t in (2, 3, 4)] == [0, 0, D("0.26")]
    r = rate(cdrs([3, 4]), [q])
    assert r.per_call("p").billed_s.tolist() == [0, 6]


@pytest.mark.parametrize(("method", "one_s", "three_s"), [
    ("up", "0.001", "0.002"), ("half_up", "0.001", "0.002"), ("down", "0", "0.001")])
def test_rounding_methods_with_ties(method: str, one_s: str, three_s: str) -> None:
    # 0.03 per minute = 0.0005 per second: 1 s and 3 s are exact ties at 3 decimals
    p = xy("0.03", "1/1", rounding={"decimals": 3, "method": method})
    assert (p.charge(1), p.charge(3)) == (D(one_s), D(three_s))


def test_rounding_once_per_call_and_once_per_invoice() -> None:
    per_call = xy("0.1", "1/1", rounding={"decimals": 2, "method": "up"})
    per_inv = xy("0.1", "1/1", rounding={"decimals": 2, "method": "half_up", "per": "invoice"})
    r = rate(cdrs([1, 1, 1]), [per_call, per_inv.__class__(**{
        **{f: getattr(per_inv, f) for f in per_inv.__dataclass_fields__}, "name": "inv"})])
    assert r.summary("p").telecom == D("0.03")  # 0.01 x 3
    assert r.summary("inv").telecom == D("0.01")  # 3 x 0.001666... = 0.005 -> 0.01
    assert r.per_call("inv").charge(0) == D("0.001666666667")


def test_segmented_steps_with_increments_that_overshoot_the_next_step() -> None:
    # increments of 45 s from 0; the second step starts at 60 but its first increment
    # starts where the first step's chain reaches it: at 90 s
    p = plan(steps=[{"from_s": 0, "price": "0.6", "unit_s": 60, "increment_s": 45},
                    {"from_s": 60, "price": "0.06", "unit_s": 60, "increment_s": 1}])
    assert p.charge(1) == D("0.45")
    assert p.charge(90) == D("0.9")
    assert p.charge(91) == D("0.901")


def test_rate_rejects_duplicate_names_and_negative_billsec() -> None:
    p = xy("0.1", "1/1")
    with pytest.raises(PlanError, match="unique"):
        rate(cdrs([1]), [p, p])
    with pytest.raises(CDRFormatError, match="have a negative billsec"):
        rate(cdrs([-5]), [p])


def test_long_calls_beyond_the_lookup_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.billing.rater as rater
    monkeypatch.setattr(rater, "TABLE_MAX_S", 100)
    p = xy("0.6", "60/60", destinations=[{"prefix": "1", "price_per_min": "1.2"}])
    r = rate(cdrs([50, 100, 101, 7200, 101], destination=["", "", "", "", "1"]), [p])
    assert r.per_call("p").billed_s.tolist() == [60, 120, 120, 7200, 120]
    assert [r.per_call("p").charge(i) for i in range(5)] == [
        D("0.6"), D("1.2"), D("1.2"), D("72"), D("2.4")]


def test_outputs_widen_when_long_calls_come_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table that grows past int32 charges mid-pass moves the outputs to int64."""
    import sim.billing.rater as rater
    monkeypatch.setattr(rater, "CHUNK", 2)
    # 3,000 per second = 300,000 units: a 4,095 s table fits int32, 9,000 s does not
    p = xy("180000", "1/1", rounding={"decimals": 2})
    r = rate(cdrs([1, 2, 0, 3, 9000, 5]), [p])
    pc = r.per_call("p")
    assert pc.units.dtype == np.int64
    assert [pc.charge(i) for i in range(6)] == [D(3000), D(6000), 0, D(9000), D(27_000_000),
                                                D(15000)]
    assert r.summary("p").telecom == sum(pc.charge(i) for i in range(6))


@pytest.mark.parametrize("price", ["0.10", "90000000"])
def test_one_pass_totals_equal_the_sums_of_the_per_call_outputs(price: str) -> None:
    """One plan's totals come from one pass over its packed outputs when the sums fit
    (cheap prices), from two sums otherwise (9e7/min: a call's units near 2**31)."""
    rng = np.random.default_rng(3)
    billsec = rng.integers(0, 1400, 70_000).tolist()  # more than one chunk of calls
    answered = (rng.random(70_000) < 0.7).tolist()
    r = rate(cdrs(billsec, answered=answered), [xy(price, "6/6", connect_fee="0.05")])
    pc = r.per_call("p")
    assert pc.billed_total_s == int(pc.billed_s.astype(np.int64).sum()) > 0
    assert pc.units_total == int(pc.units.astype(object).sum()) > 0
    assert r.summary("p").billed_s == pc.billed_total_s


def test_many_plans_together_equal_each_alone() -> None:
    """With several plans the pass keeps a histogram for the totals: same as alone."""
    from pathlib import Path
    plans = load_plans(Path(__file__).resolve().parents[1] / "scenarios/plans/china.toml")
    table = cdrs([0, 1, 5, 29, 30, 31, 59, 60, 61, 119, 3600, 7201],
                 answered=[True] * 11 + [False])
    together = rate(table, plans)
    for p in plans:
        alone = rate(table, [p])
        assert together.summary(p.name) == alone.summary(p.name)
        assert together.per_call(p.name).units.tolist() == alone.per_call(p.name).units.tolist()
        assert (together.per_call(p.name).billed_s.tolist()
                == alone.per_call(p.name).billed_s.tolist())


def test_empty_table() -> None:
    r = rate(cdrs([]), [xy("0.1", "1/1")])
    s = r.summary("p")
    assert (s.calls, s.telecom, s.total, s.per_dial()) == (0, 0, 0, None)


def test_rating_never_imports_simpy() -> None:
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import sim.billing
        from sim.cdr import CDRTable, empty_columns, open_categories
        cols = empty_columns(3)
        cols["billsec"][:] = [0, 10, 70]
        plans = sim.billing.plans_from_dict({"plan": [{"name": "p", "currency": "CNY",
            "price_per_min": "0.1", "increments": "60/60"}]})
        r = sim.billing.rate(CDRTable(cols, open_categories()), plans)
        print(sim.billing.format_comparison(r))
        assert "simpy" not in sys.modules, "rating imported simpy"
    """)
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "cheapest: p" in out.stdout
