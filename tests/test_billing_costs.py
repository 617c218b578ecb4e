"""Plan-level fees, bundles, summaries and the cost files, with hand-computed numbers."""

from __future__ import annotations

import csv
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.billing import CampaignInfo, Plan, format_comparison, plans_from_dict, rate, write_costs
from sim.billing.costs import decimal_strings
from sim.billing.fees import peak_concurrency
from sim.cdr import CDRTable, empty_columns, encode, open_categories

D = Decimal
MONTH = CampaignInfo(seats=0, channels=0, numbers=0, days=D(30))


def plan(name: str = "p", currency: str = "CNY", **kw: Any) -> Plan:
    (p,) = plans_from_dict({"plan": [{"name": name, "currency": currency, **kw}]})
    return p


def cdrs(billsec: list[int], answered: list[bool] | None = None) -> CDRTable:
    n = len(billsec)
    cols = empty_columns(n)
    ans = answered if answered is not None else [True] * n
    cols["billsec"][:] = billsec
    cols["talk_s"][:] = [max(b - 0.5, 0) if a else 0 for b, a in zip(billsec, ans, strict=True)]
    cols["disposition"][:] = [encode("disposition", "ANSWERED" if a else "NO ANSWER")
                              for a in ans]
    cols["start"][:] = np.arange(n) * 100.0
    cols["answer"][:] = np.where(ans, cols["start"] + 5, np.nan)
    cols["end"][:] = cols["start"] + 5 + np.asarray(billsec)
    return CDRTable(cols, open_categories(), epoch="2026-03-02T08:00:00", tz="Asia/Shanghai")


def test_bundle_minutes_are_consumed_before_money() -> None:
    # 10 minutes for 5.00, overage 0.50/min, billed 60/60; one month
    p = plan(increments="60/60", bundle={"minutes": 10, "price": "5", "overage_per_min": "0.5"},
             rounding={"decimals": 2})
    under = rate(cdrs([30] * 9), [p], campaign=MONTH).summary("p")
    assert (under.telecom, under.fees.bundle, under.fees.overage) == (0, D("5.00"), 0)
    assert (under.fees.bundle_used_min, under.fees.overage_min) == (D(9), D(0))
    over = rate(cdrs([30] * 5 + [61] * 3), [p], campaign=MONTH).summary("p")  # 5 + 6 min
    assert over.billed_s == 11 * 60
    assert (over.fees.bundle_used_min, over.fees.overage_min) == (D(10), D(1))
    assert (over.fees.bundle, over.fees.overage, over.total) == (D("5.00"), D("0.50"),
                                                                 D("5.50"))


def test_bundle_is_prorated_to_the_campaign() -> None:
    p = plan(increments="60/60", bundle={"minutes": 10, "price": "5", "overage_per_min": "0.5"},
             rounding={"decimals": 2})
    half = CampaignInfo(days=D(15))
    s = rate(cdrs([30] * 5 + [61] * 3), [p], campaign=half).summary("p")
    assert (s.fees.bundle_min, s.fees.bundle, s.fees.overage) == (D(5), D("2.50"), D("3.00"))


def test_channel_tiers_price_all_units() -> None:
    p = plan(price_per_min="0", increments="1/1", rounding={"decimals": 2}, channel_per_month=[
        {"from_channels": 1, "price": "900"}, {"from_channels": 30, "price": "800"},
        {"from_channels": 100, "price": "700"}])
    fee = {n: rate(cdrs([]), [p], campaign=CampaignInfo(channels=n, days=D(30)))
           .summary("p").fees.channels for n in (0, 1, 29, 30, 99, 100)}
    assert fee == {0: 0, 1: D(900), 29: D(26100), 30: D(24000), 99: D(79200),
                   100: D(70000)}


def test_seat_number_and_channel_rent_prorated_by_days() -> None:
    p = plan(price_per_min="0", increments="1/1", seat_per_month="400", number_per_month="50",
             channel_per_month="600", rounding={"decimals": 2, "method": "up"})
    c = CampaignInfo(seats=10, channels=3, numbers=2, days=D(3))
    f = rate(cdrs([]), [p], campaign=c).summary("p").fees
    assert (f.seats, f.channels, f.numbers) == (D(400), D(180), D(10))
    # a third of a month of 100/month rounds up once, to 33.34
    q = plan(price_per_min="0", increments="1/1", seat_per_month="100",
             rounding={"decimals": 2, "method": "up"})
    assert rate(cdrs([]), [q], campaign=CampaignInfo(seats=1, days=D(10))).summary(
        "p").fees.seats == D("33.34")


def _table_with_outcomes() -> CDRTable:
    t = cdrs([5, 61, 0, 200, 30], answered=[True, True, False, True, True])
    cols = dict(t.columns)
    cols["answered_by"] = np.array([encode("answered_by", x) for x in
                                    ("person", "person", "none", "person", "machine")],
                                   dtype=np.int8)
    cols["connect"] = np.array([5.0, 6.0, np.nan, np.nan, 8.0])  # call 3 abandoned
    cols["result"] = np.array([encode("result", x) for x in
                               ("declined", "converted", "none", "none", "none")], dtype=np.int8)
    return CDRTable(cols, t.categories, t.epoch, t.tz)


def test_summary_counts_minutes_and_costs_per_outcome() -> None:
    p = plan(price_per_min="0.6", increments="60/60", per_attempt_fee="0.01",
             rounding={"decimals": 2})
    c = CampaignInfo(days=D(1), labour=D("100"))
    s = rate(_table_with_outcomes(), [p], campaign=c).summary("p")
    assert (s.calls, s.answered, s.contacts, s.conversions) == (5, 4, 2, 1)
    assert s.talk_s == pytest.approx(4.5 + 60.5 + 199.5 + 29.5)
    assert s.billed_s == 60 + 120 + 240 + 60
    assert s.overhead_min == pytest.approx((480 - 294) / 60)
    assert s.overhead_pct == pytest.approx(100 * (480 - 294) / 294)
    assert s.telecom == D("0.6") + D("1.2") + D("2.4") + D("0.6") + D("0.05")
    assert (s.total, s.per_dial(), s.per_contact(), s.per_conversion()) == (
        D("4.85"), D("0.9700"), D("2.4250"), D("4.8500"))
    assert s.campaign_total == D("104.85")
    row = s.row()
    assert row["campaign_per_contact"] == D("52.4250")
    assert row["total"] == D("4.85") and row["per_dial"] == D("0.9700")


def test_comparison_is_sorted_and_names_the_cheapest_and_the_gap() -> None:
    plans = [plan("sixty", price_per_min="0.12", increments="60/60", rounding={"decimals": 2}),
             plan("second", price_per_min="0.18", increments="1/1", rounding={"decimals": 2}),
             plan("gbp", currency="GBP", price_per_min="0.01", increments="1/1")]
    r = rate(cdrs([5, 10, 20]), plans, campaign=MONTH)
    assert [s.plan for s in r.ranked()] == ["second", "sixty", "gbp"]  # by currency
    text = format_comparison(r)
    lines = text.splitlines()
    assert lines.index(next(x for x in lines if x.startswith("second"))) < lines.index(
        next(x for x in lines if x.startswith("sixty")))
    assert "cheapest: second at CNY 0.11; runner-up sixty costs CNY 0.25 more (+227.3 %)" in text
    assert "cheapest: gbp at GBP" in text
    assert r.totals() == {"sixty": D("0.36"), "second": D("0.11"), "gbp": D("0.0058")}


def test_write_costs_round_trips_exact_charges(tmp_path: Path) -> None:
    plans = [plan("a,b", price_per_min="0.1", increments="6/6", connect_fee="0.013"),
             plan("inv", price_per_min="0.1", increments="1/1",
                  rounding={"decimals": 2, "per": "invoice"})]
    r = rate(cdrs([0, 1, 7, 61, 3600]), plans, campaign=MONTH)
    costs, charges = write_costs(r, tmp_path)
    with costs.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [row["plan"] for row in rows] == ["a,b", "inv"]
    assert D(rows[0]["total"]) == r.summary("a,b").total
    assert rows[0]["per_conversion"] == ""  # no conversions: no cost per conversion
    with charges.open() as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["call_id", "a,b:billed_s", "a,b:charge", "inv:billed_s", "inv:charge"]
    ab = r.per_call("a,b")
    assert [D(row[2]) for row in table[1:]] == [ab.charge(i) for i in range(5)]
    assert [int(row[1]) for row in table[1:]] == ab.billed_s.tolist()
    assert table[2][4] == "0.001666666667"
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**15) | st.integers(0, 10**22), min_size=1, max_size=20),
       st.sampled_from([1, 10, 1000, 10**6, 60, 6000, 7 * 10**5, 3 * 10**9]))
def test_decimal_strings_are_exact(units: list[int], den: int) -> None:
    huge = max(units) >= 1 << 62  # per-call charges of huge plans are Python ints
    got = decimal_strings(np.asarray(units, dtype=object if huge else np.int64), den)
    for u, text in zip(units, got, strict=True):
        q = Fraction(u, den)
        if str(den).rstrip("0") == "1":
            assert Fraction(D(text)) == q
        else:
            assert abs(Fraction(D(text)) - q) <= Fraction(1, 2 * 10**12)


def test_campaign_estimated_from_cdrs() -> None:
    t = cdrs([10, 20, 30])
    cols = dict(t.columns)
    cols["agent_id"] = np.array([3, 3, 7], dtype=np.int32)
    # the epoch is Monday 08:00: the last call starts Wednesday 02:26, the third day
    cols["start"] = np.array([0.0, 10.0, 86_400.0 * 2 - 20_000])
    cols["end"] = np.array([50.0, 20.0, 86_400.0 * 2])
    t = CDRTable(cols, t.categories, t.epoch, t.tz)
    c = CampaignInfo.from_cdrs(t)
    assert (c.seats, c.channels, c.numbers, c.days, c.estimated) == (2, 2, 1, D(3), True)
    assert peak_concurrency(t) == 2
    r = rate(t, [plan(price_per_min="0", increments="1/1")])
    assert r.campaign == c and "estimated from the CDRs" in format_comparison(r)


def test_campaign_info_validates() -> None:
    assert CampaignInfo(days=2.5, labour="10").days == D("2.5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seats"):
        CampaignInfo(seats=-1)
    with pytest.raises(ValueError, match="days"):
        CampaignInfo(days=D(-1))
