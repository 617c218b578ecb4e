"""Chunked rating equals whole-table rating exactly: per-plan totals, billed seconds,
bundles and rent, minimum and maximum charges, bands, destinations, and traffic terms
whose day / week / month windows straddle chunks."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_billing_oracle import plans as oracle_plans
from test_cdrio import realistic_table

from sim.billing import (
    CampaignInfo,
    Plan,
    Rating,
    format_comparison,
    load_plans,
    plans_from_dict,
    rate,
    rate_chunks,
)
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.cdrio import iter_cdrs, write_cdrs
from sim.errors import CDRFormatError

ROOT = Path(__file__).resolve().parents[1]
DESTS = ("", "86138", "8610", "44", "4420")

TERMS = [
    {"name": "short-day", "metric": "short_share", "max_s": 6, "threshold": "0.15",
     "fee_per_call": "0.015", "window": "day", "zone": "Asia/Shanghai", "min_calls": 3},
    {"name": "zero-week", "metric": "zero_share", "threshold": "0.25", "window": "week",
     "fee_per_call": "0.01", "applies_to": "excess", "min_calls": 5},
    {"name": "asr-month", "metric": "asr", "threshold": "0.6", "window": "month",
     "uplift": "1.10", "applies_to": "all", "min_calls": 2},
    {"name": "acd", "metric": "acd_s", "threshold": "200", "window": "campaign",
     "fee_per_call": "0.002", "min_calls": 1},
]

PLANS: tuple[Plan, ...] = plans_from_dict({"plan": [
    {"name": "bundle-invoice", "currency": "USD", "price_per_min": "0", "connect_fee": "0.0013",
     "increments": "6/6", "seat_per_month": "149", "number_per_month": "2",
     "bundle": {"minutes": 20, "price": "50", "overage_per_min": "0.011"},
     "rounding": {"decimals": 2, "per": "invoice"}, "traffic_terms": TERMS},
    {"name": "periods", "currency": "USD", "increments": "60/60", "min_monthly": "3",
     "period_start": 25, "tiers": [{"up_to_min": 40, "price_per_min": "0.02"},
                                   {"price_per_min": "0.01"}],
     "tier_mode": "graduated", "tax_rate": "0.06",
     "rounding": {"decimals": 2, "method": "up"}},
    {"name": "rollover", "currency": "USD", "increments": "6/6",
     "bundle": {"minutes": 30, "price": "9", "overage_per_min": "0.02", "expires": "period",
                "rollover": True}, "rounding": {"decimals": 2, "method": "up"}},
    {"name": "min-max", "currency": "USD", "price_per_min": "0.037", "increments": "30/6",
     "connect_fee": "0.004", "per_attempt_fee": "0.0007", "min_cost": "0.02",
     "max_cost": "0.15", "no_charge_under_s": 3, "legs": 2,
     "rounding": {"decimals": 4, "method": "half_up"}},
    {"name": "banded-dest", "currency": "USD", "price_per_min": "0.02", "increments": "60/1",
     "bands": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
                "end": "18:00", "factor": "1.5"},
               {"days": ["sat", "sun"], "start": "00:00", "connect_fee": "0.05"}],
     "destinations": [{"prefix": "44", "price_per_min": "0.09", "increments": "60/60"},
                      {"prefix": "86138", "price_per_min": "0.01"}],
     "rounding": {"decimals": 3, "method": "down"}, "traffic_terms": TERMS[:2]},
]})


def calls(n: int, seed: int, *, days: int = 40, tz: str = "Europe/London") -> CDRTable:
    """``n`` calls in dial order over ``days`` days (DST and a month end included), many
    short and 0-second ones; talk times exact in binary, so float sums are order-free."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    start = np.sort(rng.uniform(0, days * 86400.0, n))
    ans = rng.random(n) < 0.6
    billsec = np.where(ans, rng.choice([0, 1, 3, 6, 7, 30, 61, 200, 900], n), 0)
    cols["start"][:] = start
    cols["answer"][:] = np.where(ans, start + 5, np.nan)
    cols["end"][:] = start + 5 + billsec
    cols["billsec"][:] = billsec
    cols["talk_s"][:] = np.maximum(billsec - 0.5, 0) * ans
    cols["disposition"][:] = np.where(ans, encode("disposition", "ANSWERED"),
                                      encode("disposition", "NO ANSWER"))
    cols["answered_by"][:] = np.where(ans, rng.integers(1, 3, n), 0)
    cols["connect"][:] = np.where(ans & (rng.random(n) < 0.7), start + 6, np.nan)
    cols["agent_id"][:] = np.where(ans, rng.integers(0, 9, n), -1)
    cols["result"][:] = np.where(ans, rng.integers(0, 3, n), 0)
    cols["destination"][:] = rng.integers(0, len(DESTS), n)
    cols["lead_id"][:] = rng.integers(0, 50, n)
    return CDRTable(cols, open_categories(destination=DESTS), "2026-03-20T00:00:00", tz)


def cut(t: CDRTable, size: int) -> list[CDRTable]:
    return [t.select(np.arange(i, min(i + size, len(t)))) for i in range(0, len(t), size)]


def assert_equal(whole: Rating, chunked: Any) -> None:
    assert chunked.campaign == whole.campaign
    assert chunked.campaign.estimated == whole.campaign.estimated
    for name, s in whole.summaries.items():
        assert chunked.summaries[name] == s, name
        assert chunked.summaries[name].row() == s.row(), name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 160), st.integers(0, 2**32), st.sampled_from([1, 7, 65536]),
       st.sampled_from([1, 7, 64, 65536]), st.booleans())
def test_chunked_equals_whole(n: int, seed: int, size: int, block: int,
                              estimate: bool) -> None:
    t = calls(n, seed)
    campaign = None if estimate else CampaignInfo(seats=7, channels=20, numbers=3,
                                                  days=D("12.5"), labour=D("99.99"))
    whole = rate(t, PLANS, campaign=campaign)
    assert_equal(whole, rate_chunks(cut(t, size), PLANS, campaign=campaign, block=block))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(oracle_plans(), st.integers(1, 80), st.integers(0, 2**32), st.sampled_from([1, 7]))
def test_chunked_equals_whole_for_random_plans(plan: Plan, n: int, seed: int,
                                               block: int) -> None:
    t = calls(n, seed, days=9, tz="Asia/Shanghai")
    assert_equal(rate(t, [plan]), rate_chunks(cut(t, 7), [plan], block=block))


def test_a_window_straddling_chunks_counts_whole() -> None:
    # 4 calls of 3 s and 6 of 60 s on one day: 40 % short, over min_calls only together
    term = {"name": "short", "metric": "short_share", "max_s": 6, "threshold": "0.15",
            "fee_per_call": "0.5", "window": "day", "min_calls": 10}
    (plan,) = plans_from_dict({"plan": [{"name": "p", "currency": "USD",
                                         "price_per_min": "0.06", "increments": "1/1",
                                         "traffic_terms": [term]}]})
    t = calls(10, 1, days=1)
    t.columns["disposition"][:] = encode("disposition", "ANSWERED")
    t.columns["billsec"][:] = [3, 60, 3, 60, 60, 3, 60, 60, 3, 60]
    t.columns["answer"][:] = t["start"] + 5
    whole = rate(t, [plan])
    chunked = rate_chunks(cut(t, 3), [plan], block=1)
    (res,) = chunked.summary("p").traffic
    assert res.fired and res.cost == D("2.0") and len(res.windows) == 1
    assert chunked.summary("p") == whole.summary("p")


def test_large_table_and_parquet_chunks_equal_whole(tmp_path: Path) -> None:
    """Default blocks: beyond one block of 65,536 calls, real float talk times, shipped
    plans (bundles, bands, destinations, minimums); chunks from a Parquet file."""
    t = realistic_table(140_000, seed=11)
    plans = [p for f in ("china", "uk", "us")
             for p in load_plans(ROOT / f"scenarios/plans/{f}.toml")]
    whole = rate(t, plans)
    assert_equal(whole, rate_chunks(cut(t, 50_000), plans))
    path = tmp_path / "calls.parquet"
    write_cdrs(t, path, format="parquet")
    seen: list[int] = []
    units: list[np.ndarray] = []

    def keep(block: CDRTable, r: Rating) -> None:
        seen.append(len(block))
        units.append(np.asarray(r.per_call("cn-bundle-50k").units))

    chunked = rate_chunks(iter_cdrs(path, rows=30_000), plans, on_block=keep)
    assert_equal(whole, chunked)
    assert seen == [65536, 65536, 140_000 - 2 * 65536]
    assert np.array_equal(np.concatenate(units), whole.per_call("cn-bundle-50k").units)
    assert format_comparison(chunked) == format_comparison(whole)


def test_calls_out_of_dial_order_need_the_campaign() -> None:
    t = calls(50, 2)
    backwards = cut(t, 10)[::-1]
    with pytest.raises(CDRFormatError, match="not in dial order.*give campaign="):
        rate_chunks(backwards, PLANS, block=10)
    given = CampaignInfo(seats=1, channels=1, numbers=1, days=D(3))
    assert_equal(rate(CDRTable.concat(backwards), PLANS, campaign=given),
                 rate_chunks(backwards, PLANS, campaign=given, block=10))


def test_chunks_of_different_tables_are_refused() -> None:
    a, b = calls(5, 1), calls(5, 2, tz="UTC")
    with pytest.raises(CDRFormatError, match="epoch/zone"):
        rate_chunks([a, b], PLANS)


def test_dialsim_rate_chunked_writes_what_the_whole_table_path_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    from sim.cli import main

    t = calls(3000, 9).with_meta()
    t.columns["direction"][:50] = encode("direction", "inbound")  # excluded, counted
    path = tmp_path / "calls.parquet"
    write_cdrs(t, path, format="parquet")
    plans = str(ROOT / "scenarios/plans/uk.toml")
    base = ["rate", str(path), "--plans", plans]
    assert main([*base, "--out", str(tmp_path / "whole")]) == 0
    assert main([*base, "--chunked", "--out", str(tmp_path / "chunked")]) == 0
    out = capsys.readouterr().out
    assert "rated chunk by chunk (1 blocks): 3,000 rows read = 2,950 accepted + 0 rejected" \
           " + 50 excluded" in out
    for name in ("costs.csv", "comparison.txt"):
        assert (tmp_path / "whole" / name).read_text() == \
            (tmp_path / "chunked" / name).read_text(), name
    with open(tmp_path / "whole/charges.csv") as a, open(tmp_path / "chunked/charges.csv") as b:
        whole = [{k: v for k, v in r.items() if not k.startswith("source_")}
                 for r in csv.DictReader(a)]
        assert whole == list(csv.DictReader(b))
    assert len(whole) == 2950


def test_dialsim_rate_chunked_refuses_a_partial_campaign(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    path = tmp_path / "calls.parquet"
    write_cdrs(calls(10, 1), path, format="parquet")
    code = main(["rate", str(path), "--plans", str(ROOT / "scenarios/plans/uk.toml"),
                 "--chunked", "--seats", "3"])
    assert code == 2
    assert "give all of --seats, --channels, --numbers, --days or none" in \
        capsys.readouterr().err


@pytest.mark.parametrize("block", [1, 7, 65536])
def test_calls_without_a_time_are_billed_in_the_first_period(block: int) -> None:
    # unanswered rows with no dial time have no time at all: both paths bill them (and
    # their per-attempt fees) in the campaign's first billing period, whatever the block
    t = calls(120, 4)
    gone = np.random.default_rng(4).random(120) < 0.1
    t.columns["start"][gone] = np.nan
    assert (~np.isfinite(t["start"]) & ~np.isfinite(t["answer"])).any()
    campaign = CampaignInfo(seats=7, channels=20, numbers=3, days=D("12.5"))
    whole = rate(t, PLANS, campaign=campaign)
    assert any(len(s.fees.periods) > 1 for s in whole.summaries.values())
    assert_equal(whole, rate_chunks(cut(t, 7), PLANS, campaign=campaign, block=block))
