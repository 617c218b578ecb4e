"""The one money / number formatter (sim.fmt) and the tariff describer."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from sim import fmt
from sim.billing import plans_from_dict

E_NOTATION = re.compile(r"\d[eE][+-]?\d")


def test_money_totals_use_the_minor_unit_with_separators():
    assert fmt.money(Decimal("65580.4"), "CNY") == "65,580.40"
    assert fmt.money(6212.409, "GBP") == "6,212.41"
    assert fmt.money(Decimal("-0.001"), "USD") == "0.00"  # no "-0.00"
    assert fmt.money(1234.5, "JPY") == "1,235"
    assert fmt.money(Decimal("26.515"), "CNY", code=True) == "CNY 26.52"  # half up
    assert fmt.money(None) == "-"


def test_unit_cost_columns_share_places_and_never_use_e_notation():
    col = fmt.money_column([Decimal("0.05714"), Decimal("0.0629"), Decimal("1.4158")],
                           "CNY", unit=True)
    assert col == ["0.0571", "0.0629", "1.4158"]
    assert len({c.partition(".")[2].__len__() for c in col}) == 1
    tiny = fmt.money_column([9.358e-05, 0.5], "USD", unit=True)
    assert tiny == ["0.000094", "0.500000"] and not any(E_NOTATION.search(c) for c in tiny)
    assert fmt.money_column([6212.409, 6372], "CNY") == ["6,212.41", "6,372.00"]


def test_half_widths_have_two_significant_digits():
    assert fmt.half_width(38.27) == "38"
    assert fmt.half_width(0.01512) == "0.015"
    assert fmt.half_width(9.358e-05) == "0.000094"
    assert fmt.half_width(1234.0) == "1,200"
    assert fmt.ci(65580.0, 38.27, "CNY") == "65,580.00 ± 38"
    assert fmt.ci(0.2229, 0.0093, "CNY") == "0.2229 ± 0.0093"
    assert fmt.ci(-0.02071, 0.015, "CNY", sign=True) == "-0.021 ± 0.015"


def test_ci_column_keeps_one_count_of_places():
    cells = fmt.ci_column([0.4629, 7.302], [0.02046, 1.732], "CNY")
    assert cells == ["0.463 ± 0.020", "7.302 ± 1.7"]


def test_numbers_are_fixed_point_at_any_magnitude():
    for x in (1.39e4, 6.558e4, 1e-7, 123456789.0):
        assert not E_NOTATION.search(fmt.number(x))
    assert fmt.number(13900.0) == "13,900"
    assert fmt.plain(1.5) == "1.5" and fmt.plain(20.0) == "20" and fmt.plain(1e-4) == "0.0001"
    assert fmt.pct(0.6556) == "65.6%"
    assert fmt.count(1234) == "1,234"


def test_axis_formatter_writes_money_without_offsets():
    f = fmt.money_formatter("CNY")
    assert f(13900.0, 0) == "13,900" and f(0.25, 0) == "0.25"


def test_format_table_pads_and_aligns():
    text = fmt.format_table([["a", "1"], ["bbb", "22"]], ["k", "v"])
    assert text.splitlines() == ["k     v", "---  --", "a     1", "bbb  22"]


def _plan(**kw):
    base = {"name": "p", "currency": "CNY"}
    return plans_from_dict({"plan": [{**base, **kw}]})[0]


@pytest.mark.parametrize(("terms", "text"), [
    ({"price_per_min": "0", "increments": "60/60", "connect_fee": "0.20",
      "no_charge_under_s": 3}, "0.20 per connected call > 3 s"),
    ({"price_per_min": "0", "increments": "60/60", "per_attempt_fee": "0.08"}, "0.08 per dial"),
    ({"price_per_min": "0.10", "increments": "1/1", "connect_fee": "0.05"},
     "0.10/min 1/1 + 0.05 connect"),
    ({"increments": "60/60", "bundle": {"minutes": 50000, "price": "10000",
                                        "overage_per_min": "0.20"}},
     "bundle 50,000 min for 10,000, then 0.20/min 60/60"),
    ({"price_per_min": "0.12", "increments": "60/60", "seat_per_month": "400"},
     "0.12/min 60/60 + seat 400/mo"),
    ({"price_per_min": "0", "increments": "60/60"}, "free"),
])
def test_tariff_text_states_the_real_terms(terms, text):
    assert _plan(**terms).tariff_text == text


def test_bills_time_tells_flat_fee_plans_apart():
    from sim.billing.describe import bills_time

    assert not bills_time(_plan(price_per_min="0", increments="60/60", connect_fee="0.2"))
    assert bills_time(_plan(price_per_min="0.1", increments="6/6"))
