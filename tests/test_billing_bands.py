"""Band tariffs: hand-computed calls that start in one band and end in another.

The plan is the rating-engine example of issue 18 (peak 0.2 connect + 1.2/min at 60/1,
off-peak 0.1 connect + 0.01/min at 1/1), plus a weekend band of 30/10 blocks at 0.6/min
with a 0.05 connect fee. Bands have no ``end``: each runs until the next band's start.
Each increment is priced by the band in force where it starts, its step by its position
from the answer; the connect fee is the band's at the answer (sim/billing/bandrate.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest

from sim.billing import plans_from_dict, rate
from sim.billing.plans import band_segments
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.errors import PlanError

MON = "2026-03-02T00:00:00"  # a Monday
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def banded(**kw: Any) -> Any:
    raw = {"name": "p", "currency": "EUR", "price_per_min": "9", "increments": "1/1",
           "rounding": {"decimals": 4, "method": "half_up"},
           "bands": [
               {"name": "peak", "days": WEEKDAYS, "start": "08:00", "connect_fee": "0.2",
                "price_per_min": "1.2", "increments": "60/1"},
               {"name": "off-peak", "days": WEEKDAYS, "start": "19:00",
                "connect_fee": "0.1", "price_per_min": "0.01", "increments": "1/1"},
               {"name": "weekend", "days": ["sat"], "start": "00:00", "connect_fee": "0.05",
                "steps": [{"from_s": 0, "price": "0.6", "unit_s": 60, "increment_s": 30},
                          {"from_s": 30, "price": "0.6", "unit_s": 60, "increment_s": 10}]},
           ], **kw}
    (p,) = plans_from_dict({"plan": [raw]})
    return p


def table(calls: list[tuple[float, int]]) -> CDRTable:
    cols = empty_columns(len(calls))
    cols["answer"][:] = [a for a, _ in calls]
    cols["start"][:] = [a - 10 for a, _ in calls]
    cols["billsec"][:] = [b for _, b in calls]
    cols["talk_s"][:] = [b - 0.5 for _, b in calls]
    cols["end"][:] = [a + b for a, b in calls]
    cols["disposition"][:] = encode("disposition", "ANSWERED")
    return CDRTable(cols, open_categories(), epoch=MON, tz="Europe/Paris")


def hms(day: int, h: int, m: int, s: int) -> float:
    return float(day * 86400 + h * 3600 + m * 60 + s)


@pytest.mark.parametrize(("answer", "billsec", "billed", "charge"), [
    # peak 60/1 first block started 18:59:30 ends at 19:00:30, then 40 s off-peak 1/1
    (hms(0, 18, 59, 30), 100, 100, D("1.4067")),  # 0.2 + 1.2 + 40 * 0.01/60
    # the whole call in its first peak block
    (hms(0, 18, 59, 50), 30, 60, D("1.4000")),
    # 60 s block + 60 s per second in peak, then 30 s off-peak
    (hms(0, 18, 58, 0), 150, 150, D("2.6050")),  # 0.2 + 2.4 + 30 * 0.01/60
    # answered at the band start: off-peak connect and tariff
    (hms(0, 19, 0, 0), 61, 61, D("0.1102")),  # 0.1 + 61 * 0.01/60
    # answered before 08:00 (Monday morning: still the weekend band, from Saturday)
    (hms(0, 7, 59, 50), 20, 30, D("0.3500")),  # 0.05 + one 30 s block at 0.6/min
    # Friday night off-peak into the weekend: 20 one-second increments, then a 30 s block
    # at position 20 (step 0 of 30/10: from_s 0 <= 20 < 30)
    (hms(4, 23, 59, 40), 45, 50, D("0.4033")),  # 0.1 + 20 * 0.01/60 + 0.3
    # 10 s off-peak, a 30 s block from position 10, then a 10 s block at position 40
    (hms(4, 23, 59, 50), 45, 50, D("0.5017")),  # 0.1 + 10 * 0.01/60 + 0.3 + 0.1
])
def test_calls_crossing_band_starts(answer: float, billsec: int, billed: int,
                                    charge: D) -> None:
    plan = banded()
    pc = rate(table([(answer, billsec)]), [plan]).per_call("p")
    assert int(pc.billed_s[0]) == billed
    assert pc.charge(0) == charge
    at = datetime.fromisoformat(MON).timestamp() + answer
    assert plan.charge(billsec, answer=datetime.fromtimestamp(at)) == charge


def test_bands_without_end_run_to_the_next_start() -> None:
    plan = banded()
    segs = band_segments(plan.bands)
    day, h = 86400, 3600
    # Monday 00:00-08:00 belongs to the weekend band that started on Saturday
    assert segs[0] == (0, 8 * h, 2)
    assert segs[1] == (8 * h, 19 * h, 0) and segs[2] == (19 * h, day + 8 * h, 1)
    assert segs[-2] == (4 * day + 19 * h, 5 * day, 1)  # Friday night until Saturday
    assert segs[-1] == (5 * day, 7 * day, 2)


def test_latest_start_wins_over_an_open_band() -> None:
    """A band with an end inside an open-ended one: in force from its (later) start."""
    (p,) = plans_from_dict({"plan": [{
        "name": "p", "currency": "EUR", "price_per_min": "0.6", "increments": "1/1",
        "bands": [{"name": "day", "days": ["mon"], "start": "00:00", "factor": "1"},
                  {"name": "lunch", "days": ["mon"], "start": "12:00", "end": "13:00",
                   "factor": "0.5"}]}]})
    segs = band_segments(p.bands)
    assert segs[:2] == [(0, 12 * 3600, 0), (12 * 3600, 13 * 3600, 1)]
    # the open band ran until lunch started; after lunch nothing until next Monday
    assert (13 * 3600, 7 * 86400, 0) not in segs and segs[2:] == []


def test_band_connect_fee_alone_and_factor_apply_to_band_tariffs() -> None:
    (p,) = plans_from_dict({"plan": [{
        "name": "p", "currency": "EUR", "price_per_min": "0.6", "increments": "6/6",
        "connect_fee": "0.5", "rounding": {"decimals": 3},
        "bands": [{"name": "night", "start": "20:00", "end": "08:00", "connect_fee": "0"},
                  {"name": "evening", "start": "18:00", "end": "20:00", "factor": "2",
                   "price_per_min": "0.3", "increments": "60/60"}]}]})
    calls = [(hms(0, 12, 0, 0), 7), (hms(0, 21, 0, 0), 7), (hms(0, 18, 30, 0), 7),
             (hms(0, 19, 59, 0), 90)]
    pc = rate(table(calls), [p]).per_call("p")
    assert [pc.charge(i) for i in range(4)] == [
        D("0.620"),  # 0.5 + 12 s at 0.01/s
        D("0.120"),  # night: no connect fee, plan tariff
        D("1.100"),  # 0.5 + 60 s at 0.3/min x 2
        # 18:59 evening 60/60: 60 s block in the evening, then 20:00 night: 6/6 from 60
        D("1.400")]  # 0.5 + 0.6 + 30 s at 0.01/s
    assert pc.billed_s.tolist() == [12, 12, 60, 90]


def test_plain_plans_and_factor_bands_are_untouched() -> None:
    plan = banded()
    assert plan.bands[0].has_tariff and plan.bands[0].end_s is None
    (f,) = plans_from_dict({"plan": [{"name": "f", "currency": "EUR",
                                      "price_per_min": "0.6", "increments": "1/1",
                                      "bands": [{"start": "18:00", "end": "24:00",
                                                 "factor": "0.5"}]}]})
    assert not f.bands[0].has_tariff
    pc = rate(table([(hms(0, 17, 59, 50), 20)]), [f]).per_call("f")
    assert pc.charge(0) == D("0.15")  # per-second split: 10 s at 0.01 + 10 s at 0.005
    assert np.array_equal(pc.billed_s, [20])


@pytest.mark.parametrize(("band", "message"), [
    ({"start": "08:00"}, "bands[0].factor: is required"),
    ({"start": "08:00", "price_per_min": "0.1"}, "bands[0].increments: is required"),
    ({"start": "08:00", "factor": 1, "stepz": []}, "did you mean 'steps'"),
])
def test_bad_bands_are_named(band: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match="plan\\[0\\]") as exc:
        plans_from_dict({"plan": [{"name": "p", "currency": "EUR", "price_per_min": "0.1",
                                   "increments": "1/1", "bands": [band]}]})
    assert message in str(exc.value)


def test_two_bands_starting_together_are_an_error() -> None:
    with pytest.raises(PlanError, match="starts on mon at 08:00 like plan\\[0\\].bands\\[0\\]"):
        plans_from_dict({"plan": [{"name": "p", "currency": "EUR", "price_per_min": "0.1",
                                   "increments": "1/1",
                                   "bands": [{"days": ["mon"], "start": "08:00", "factor": 1},
                                             {"days": ["mon"], "start": "08:00",
                                              "factor": 2}]}]})
