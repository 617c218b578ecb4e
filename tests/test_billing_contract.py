"""Contract terms per billing period: minimum spend, volume tiers, bundle expiry and
rollover, tax, the period's anchor day; hand-computed vectors and properties."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.billing import CampaignInfo, plans_from_dict, rate
from sim.billing.contract import billing_periods, tier_charge
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.errors import PlanError

DAY = 86_400.0
APR = "2026-04-01T00:00:00"


def table(calls: list[tuple[float, int]], epoch: str = APR) -> CDRTable:
    """(dial time s from epoch, billsec) per call; billsec 0 = unanswered."""
    cols = empty_columns(len(calls))
    cols["start"][:] = [t for t, _ in calls]
    cols["answer"][:] = [t + 5 if b else np.nan for t, b in calls]
    cols["billsec"][:] = [b for _, b in calls]
    cols["talk_s"][:] = [max(b - 0.5, 0) for _, b in calls]
    cols["end"][:] = [t + 5 + b for t, b in calls]
    cols["disposition"][:] = [encode("disposition", "ANSWERED" if b else "NO ANSWER")
                              for _, b in calls]
    return CDRTable(cols, open_categories(), epoch=epoch, tz="Asia/Shanghai")


def plan(**kw: Any) -> Any:
    raw = {"name": "p", "currency": "CNY", "increments": "1/1",
           "rounding": {"decimals": 2}, **kw}
    raw.setdefault("price_per_min", "0.1")
    (p,) = plans_from_dict({"plan": [raw]})
    return p


def days(n: int | str) -> CampaignInfo:
    return CampaignInfo(days=D(n))


def test_minimum_monthly_is_topped_up_and_prorated() -> None:
    cdrs = table([(3600.0, 60_000)])  # 1,000 min at 0.1 = 100
    s = rate(cdrs, [plan(min_monthly="300")], campaign=days(30)).summary("p")
    assert s.telecom == D("100.00") and s.fees.minimum == D("200.00") and s.total == D(300)
    s = rate(cdrs, [plan(min_monthly="300")], campaign=days(15)).summary("p")
    assert s.fees.minimum == D("50.00") and s.total == D(150)
    s = rate(cdrs, [plan(min_monthly="80")], campaign=days(30)).summary("p")
    assert s.fees.minimum == 0 and s.total == D(100)


TIERS = [{"up_to_min": 1000, "price_per_min": "0.10"},
         {"up_to_min": 5000, "price_per_min": "0.08"}, {"price_per_min": "0.05"}]


@pytest.mark.parametrize(("mode", "volume"), [("graduated", D("470.00")),
                                              ("all_units", D("300.00"))])
def test_volume_tiers(mode: str, volume: D) -> None:
    """6,000 min: 1,000 x 0.10 + 4,000 x 0.08 + 1,000 x 0.05 = 470; all at 0.05 = 300."""
    p = plan(price_per_min="0", tiers=TIERS, tier_mode=mode)
    s = rate(table([(3600.0, 360_000)]), [p], campaign=days(30)).summary("p")
    assert s.telecom == 0 and s.fees.volume == volume and s.total == volume
    # half a month: tier limits halve (500 / 2,500 min) for 3,000 min
    half = rate(table([(3600.0, 180_000)]), [p], campaign=days(15)).summary("p")
    expect = {"graduated": D("50") + D("160") + D("25"), "all_units": D("150")}[mode]
    assert half.fees.volume == expect


def test_tiers_need_a_zero_time_price_and_ordered_limits() -> None:
    with pytest.raises(PlanError, match="price_per_min: must be 0 or absent"):
        plan(price_per_min="0.1", tiers=TIERS)
    with pytest.raises(PlanError, match=r"tiers\[1\].up_to_min: must be greater than"):
        plan(price_per_min="0", tiers=[{"up_to_min": 10, "price_per_min": "1"},
                                       {"up_to_min": 5, "price_per_min": "1"},
                                       {"price_per_min": "1"}])
    with pytest.raises(PlanError, match="period_start: must be an integer >= 1 and <= 28"):
        plan(period_start=31)
    with pytest.raises(PlanError, match="tax_on: must be a list of items"):
        plan(tax_rate="0.06", tax_on=["seats"])


def test_billing_periods_follow_the_anchor_day() -> None:
    cdrs = table([(-7 * DAY + 3600, 60), (4 * DAY + 3600, 60)])  # 25 March, 5 April
    index, labels, spans = billing_periods(cdrs, 1)
    assert labels == ["2026-03-01..2026-03-31", "2026-04-01..2026-04-30"]
    assert spans == [7, 5] and index.tolist() == [0, 1]
    index, labels, spans = billing_periods(cdrs, 15)
    assert labels == ["2026-03-15..2026-04-14"] and spans == [12]


BUNDLE = {"minutes": 1000, "price": "100", "overage_per_min": "0.2"}


@pytest.mark.parametrize(("expires", "rollover", "overage"), [
    ("period", False, D("300.00")),  # 2,500 - 1,000
    ("period", True, D("93.33")),  # (2,500 - 1,000 - 1,033.33) x 0.2: one period back only
    ("never", False, D(0)),  # 1,000 + 1,033.33 + 1,000 >= 2,500
])
def test_bundle_expiry_and_rollover_over_three_periods(expires: str, rollover: bool,
                                                      overage: D) -> None:
    """April (30 days), May (31) and June (30): nothing used until 2,500 min in June."""
    cdrs = table([(3600.0, 0), (90 * DAY + 3600, 150_000)])  # 1 April, 30 June
    p = plan(price_per_min="0", bundle={**BUNDLE, "expires": expires, "rollover": rollover})
    s = rate(cdrs, [p], campaign=days(91)).summary("p")
    assert [x.days for x in s.fees.periods] == [30, 31, 30]
    assert s.fees.bundle == D("100") + D("103.33") + D("100")
    assert s.fees.overage == overage
    assert s.total == s.fees.bundle + overage


def test_one_period_bundle_matches_the_prorated_bundle() -> None:
    cdrs = table([(3600.0, 600), (2 * DAY, 6000)])
    p = plan(price_per_min="0", bundle=BUNDLE)
    f = rate(cdrs, [p], campaign=days(3)).summary("p").fees
    assert (f.bundle, f.bundle_min, f.bundle_used_min, f.overage_min, f.overage) == (
        D("10.00"), D(100), D(100), D(10), D("2.00"))


def test_tax_on_the_stated_items() -> None:
    cdrs = table([(3600.0, 6000)])  # 100 min at 0.1 = 10
    p = plan(tax_rate="0.06", seat_per_month="300")
    s = rate(cdrs, [p], campaign=CampaignInfo(seats=1, days=D(30))).summary("p")
    assert s.tax == D("18.60") and s.total == D("328.60")
    q = plan(tax_rate="0.06", tax_on=["calls"], seat_per_month="300")
    s = rate(cdrs, [q], campaign=CampaignInfo(seats=1, days=D(30))).summary("p")
    assert s.tax == D("0.60") and s.total == D("310.60")
    assert s.row()["tax"] == D("0.60")


def test_tier_charge_is_exact() -> None:
    from sim.billing.contract import Tier

    tiers = (Tier(up_to_min=10, price_per_min=D("1")), Tier(up_to_min=None,
                                                            price_per_min=D("0.5")))
    assert tier_charge(tiers, "graduated", Fraction(25, 2), Fraction(1)) == Fraction(45, 4)
    assert tier_charge(tiers, "all_units", Fraction(10), Fraction(1)) == 10
    assert tier_charge(tiers, "all_units", Fraction(21, 2), Fraction(1)) == Fraction(21, 4)


# -- properties -------------------------------------------------------------------------

# dial times (days after 1 April, seconds of day) and billsec, for calls in April and May
calls_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 86_000),
                              st.integers(0, 3000)), min_size=1, max_size=30)


def _contract_plan(**kw: Any) -> Any:
    # amounts whose products stay exact at 4 decimals: a split adds up to the sub-unit
    return plan(price_per_min="0", connect_fee="0.01", min_monthly="300",
                tiers=[{"up_to_min": 100, "price_per_min": "0.12"},
                       {"price_per_min": "0.06"}],
                bundle={"minutes": 50, "price": "6", "overage_per_min": "0"},
                tax_rate="0.5", rounding={"decimals": 4}, **kw)


@settings(max_examples=40, deadline=None)
@given(calls_st, st.sampled_from(["graduated", "all_units"]))
def test_a_campaign_split_over_two_periods_costs_the_two_invoices(
        raw: list[tuple[int, int, int]], mode: str) -> None:
    """April calls + May calls: the whole campaign's bill = the April invoice + the May
    invoice (each part spans its own days: a call on 30 April and on 1 May)."""
    p = _contract_plan(tier_mode=mode)
    calls = [(d * DAY + s, b) for d, s, b in raw] + [(29 * DAY + 100, 0), (30 * DAY + 100, 0)]
    april = [c for c in calls if c[0] < 30 * DAY]
    may = [c for c in calls if c[0] >= 30 * DAY]

    def span(cs: list[tuple[float, int]]) -> int:
        return int(max(c[0] for c in cs) // DAY) - int(min(c[0] for c in cs) // DAY) + 1

    whole = rate(table(calls), [p], campaign=days(span(calls))).summary("p")
    parts = [rate(table(cs), [p], campaign=days(span(cs))).summary("p") for cs in (april, may)]
    assert len(whole.fees.periods) == 2
    assert whole.total == parts[0].total + parts[1].total
    assert whole.fees.minimum == parts[0].fees.minimum + parts[1].fees.minimum


@settings(max_examples=40, deadline=None)
@given(calls_st, st.sampled_from(["0", "1", "50", "300", "10000"]), st.integers(1, 60))
def test_minimum_spend_never_lowers_a_bill(raw: list[tuple[int, int, int]], minimum: str,
                                          n_days: int) -> None:
    cdrs = table([(d * DAY + s, b) for d, s, b in raw])
    base = rate(cdrs, [plan(tax_rate="0.06")], campaign=days(n_days)).summary("p")
    topped = rate(cdrs, [plan(tax_rate="0.06", min_monthly=minimum)],
                  campaign=days(n_days)).summary("p")
    assert topped.total >= base.total and topped.fees.minimum >= 0
    assert topped.total - topped.tax >= D(minimum) * D(n_days) / 30 - D("0.01") * 3


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 100_000), st.lists(st.integers(1, 500), min_size=1, max_size=4,
                                         unique=True),
       st.lists(st.sampled_from(["0.01", "0.02", "0.05", "0.1", "0.2"]), min_size=5,
                max_size=5))
def test_graduated_and_all_units_order(minutes: int, limits: list[int],
                                       prices: list[str]) -> None:
    """Rising prices: graduated <= all-units; falling (volume discounts): the reverse."""
    from sim.billing.contract import Tier

    limits = sorted(limits)
    for ordered in (sorted(prices, key=D), sorted(prices, key=D, reverse=True)):
        tiers = tuple(Tier(up_to_min=u, price_per_min=D(x))
                      for u, x in zip([*limits, None], ordered, strict=False))
        grad = tier_charge(tiers, "graduated", Fraction(minutes), Fraction(1))
        units = tier_charge(tiers, "all_units", Fraction(minutes), Fraction(1))
        rising = ordered == sorted(prices, key=D)
        assert (grad <= units) if rising else (units <= grad)
