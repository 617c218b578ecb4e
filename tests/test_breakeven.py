"""Break-even between plans: numerical crossings against hand-computed ones.

Plans priced so that a billed second is a whole number of thousandths (0.06 CNY/min =
0.001/s), so every charge is exact and the expected costs below can be written by hand.
With ``sigma = 0`` every conversation lasts the mean (split between the two whole
seconds around it), so expected costs are piecewise linear in the mean talk time.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from sim.analysis.breakeven import (
    CallMix,
    breakeven_map,
    charge_table,
    cost_curve,
    short_share_crossings,
)
from sim.billing import plans_from_dict
from sim.errors import PlanError


def plans(*specs: dict) -> tuple:
    base = {"currency": "CNY", "rounding": {"decimals": 4, "method": "up"}}
    return plans_from_dict({"plan": [{**base, **s} for s in specs]})


PER_S, MIN60, CHEAP_CONNECT, PER_S_12 = plans(
    {"name": "per-second 0.18", "price_per_min": "0.18", "increments": "1/1"},
    {"name": "60/60 0.12", "price_per_min": "0.12", "increments": "60/60"},
    {"name": "0.06 + 0.03 connect", "price_per_min": "0.06", "increments": "1/1",
     "connect_fee": "0.03"},
    {"name": "per-second 0.12", "price_per_min": "0.12", "increments": "1/1"},
)
MEANS = np.linspace(1, 200, 200)


def test_connection_fee_breaks_even_where_the_fee_is_paid_back():
    # 0.002 * m = 0.03 + 0.001 * m  =>  m = 30 s, any call-length distribution.
    for sigma in (0.0, 0.9):
        curve = cost_curve([PER_S_12, CHEAP_CONNECT], MEANS, sigma=sigma)
        (c,) = curve.crossings
        assert (c.left, c.right) == ("per-second 0.12", "0.06 + 0.03 connect")
        if sigma == 0:
            assert c.mean_talk_s == pytest.approx(30.0, abs=1e-9)
            assert c.cost == pytest.approx(0.06, abs=1e-12)
        else:  # lognormal talk: billsec = ceil(talk) averages about half a second more
            assert c.mean_talk_s == pytest.approx(29.5, abs=0.01)


def test_per_second_against_60_60_crosses_three_times():
    # per second at 0.003/s against 0.12 per started minute:
    #   m <= 60: 0.003 m = 0.12                      -> m = 40
    #   60 < m < 61: 0.12 + 0.12 (m - 60) = 0.003 m -> m = 7.08 / 0.117 = 60.5128...
    #   61 <= m <= 120: 0.003 m = 0.24              -> m = 80; beyond, 60/60 stays cheaper
    curve = cost_curve([PER_S, MIN60], MEANS, sigma=0)
    got = [(c.left, c.right, c.mean_talk_s) for c in curve.crossings]
    want = [("per-second 0.18", "60/60 0.12", 40.0),
            ("60/60 0.12", "per-second 0.18", 7.08 / 0.117),
            ("per-second 0.18", "60/60 0.12", 80.0)]
    assert [g[:2] for g in got] == [w[:2] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[2] == pytest.approx(w[2], abs=1e-8)
    assert curve.cheapest[0] == "per-second 0.18" and curve.cheapest[-1] == "60/60 0.12"


def test_short_call_share_break_even():
    # Conversations of 90 s: per second 0.27, 60/60 0.24. Short calls of 1-9 s (mean 5):
    # per second 0.015, 60/60 0.12. 0.27 - 0.255 p = 0.24 - 0.12 p  =>  p = 0.03 / 0.135.
    (c,) = short_share_crossings([PER_S, MIN60], 90, short_max_s=9, sigma=0)
    assert (c.left, c.right) == ("60/60 0.12", "per-second 0.18")
    assert c.p_short == pytest.approx(0.03 / 0.135, abs=1e-12)
    assert c.cost == pytest.approx(0.24 - 0.12 * 0.03 / 0.135, abs=1e-12)
    # The map agrees on both sides of the line.
    bmap = breakeven_map([PER_S, MIN60], [90.0], [0.20, 0.25], short_max_s=9, sigma=0)
    assert bmap.cheapest_at(90, 0.20) == "60/60 0.12"
    assert bmap.cheapest_at(90, 0.25) == "per-second 0.18"


def test_no_crossing_when_one_plan_always_wins():
    assert cost_curve([PER_S, PER_S_12], MEANS, sigma=0.5).crossings == ()
    assert short_share_crossings([PER_S, PER_S_12], 100) == ()


def test_fixed_costs_per_call_shift_the_break_even():
    # 0.02 of rent per answered call on the per-second plan: 0.002 m + 0.02 = 0.03 +
    # 0.001 m  =>  m = 10 s.
    curve = cost_curve([PER_S_12, CHEAP_CONNECT], MEANS, sigma=0,
                       fixed_per_call={"per-second 0.12": Decimal("0.02")})
    assert curve.crossings[0].mean_talk_s == pytest.approx(10.0, abs=1e-9)


def test_per_attempt_fees_count_per_dial():
    robot = plans({"name": "robot", "price_per_min": "0", "increments": "60/60",
                   "per_attempt_fee": "0.08"})[0]
    t = charge_table([robot], 10, dials_per_answer=2.5)
    assert t.expected(CallMix(mean_talk_s=5, sigma=0).pmf(10)[None, :])[0, 0] == \
        pytest.approx(0.08 * 2.5)


def test_call_mix_distribution():
    mix = CallMix(mean_talk_s=42.25, p_short=0.3, short_max_s=4, sigma=0)
    p = mix.pmf()
    assert p.sum() == pytest.approx(1.0)
    assert (np.arange(p.size) * p).sum() == pytest.approx(0.3 * 2.5 + 0.7 * 42.25)
    lognormal = CallMix(mean_talk_s=180, sigma=0.93).pmf()
    assert lognormal.sum() == pytest.approx(1.0, abs=1e-12)
    # billsec = ceil(talk): its mean is within a second above the talk mean
    assert 180 < (np.arange(lognormal.size) * lognormal).sum() < 181
    with pytest.raises(ValueError):
        CallMix(mean_talk_s=0.5)
    with pytest.raises(ValueError):
        CallMix(mean_talk_s=10, p_short=1.5)


def test_map_shape_and_winners():
    bmap = breakeven_map([PER_S, MIN60, CHEAP_CONNECT], np.geomspace(5, 600, 30),
                         np.linspace(0, 0.9, 10))
    assert bmap.cheapest.shape == (10, 30) and bmap.costs.shape == (3, 10, 30)
    assert set(bmap.winners()) <= {"per-second 0.18", "60/60 0.12", "0.06 + 0.03 connect"}
    assert (bmap.margin >= 0).all()
    pd = pytest.importorskip("pandas")
    assert isinstance(bmap.to_pandas(), pd.DataFrame)
    assert len(cost_curve([PER_S, MIN60], MEANS, sigma=0).to_pandas()) == MEANS.size


def test_mixed_currencies_are_refused():
    gbp = plans({"name": "uk", "currency": "GBP", "price_per_min": "0.01",
                 "increments": "1/1"})[0]
    with pytest.raises(PlanError, match="one currency"):
        cost_curve([PER_S, gbp], MEANS)
