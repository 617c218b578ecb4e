"""Negotiation: indifference prices (VALIDATION.md) and bundle sizing (critical fractile)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from sim.billing import Bundle, CampaignInfo, plans_from_dict
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.cli import main
from sim.decide.negotiate import (
    Demand,
    expected_bundle_cost,
    indifference_price,
    negotiate,
    plan_total,
    size_bundle,
    with_price,
)

CAMPAIGN = CampaignInfo(seats=3, channels=4, numbers=1, days=Decimal(2))


def plan(**kw: Any) -> Any:
    (p,) = plans_from_dict({"plan": [{"name": kw.pop("name", "p"), "currency": "CNY", **kw}]})
    return p


def calls(n: int = 400, seed: int = 7) -> CDRTable:
    """Outbound-shaped calls: 40 % unanswered, many short answered calls, some long."""
    rng = np.random.default_rng(seed)
    answered = rng.random(n) < 0.6
    talk = np.where(rng.random(n) < 0.4, rng.integers(1, 8, n),
                    np.ceil(rng.lognormal(np.log(60), 0.9, n))).astype(int)
    billsec = np.where(answered, talk, 0)
    cols = empty_columns(n)
    cols["call_id"][:] = np.arange(n)
    cols["billsec"][:] = billsec
    cols["talk_s"][:] = billsec
    cols["disposition"][:] = np.where(answered, encode("disposition", "ANSWERED"),
                                      encode("disposition", "NO ANSWER"))
    start = 36_000.0 + 30.0 * np.arange(n)
    cols["start"][:] = start
    cols["answer"][:] = np.where(answered, start + 8, np.nan)
    cols["end"][:] = start + 8 + billsec
    return CDRTable(cols, open_categories(), epoch="2026-03-02T00:00:00", tz="Asia/Shanghai")


def floor_places(x: Fraction, places: int) -> Decimal:
    return Decimal(x.numerator * 10**places // x.denominator).scaleb(-places)


@pytest.mark.parametrize("increments", ["1/1", "6/6", "30/6", "60/1", "60/60"])
def test_xy_plan_without_fees_is_total_over_billed_minutes(increments: str) -> None:
    # VALIDATION.md: for a per-minute plan with no fees, the indifference price against a
    # current total T is T / that plan's billed minutes.
    cdrs = calls()
    current = plan(name="cur", price_per_min="0.12", increments="60/60",
                   rounding={"decimals": 2, "method": "up"})
    offer = plan(name="offer", price_per_min="0.15", increments=increments,
                 rounding={"decimals": 12, "method": "half_up", "per": "invoice"})
    target = plan_total(cdrs, current, CAMPAIGN)
    billed_s = sim_billed(cdrs, offer)
    res = indifference_price(cdrs, offer, target, campaign=CAMPAIGN, places=6)
    assert res.exact == Fraction(target) / Fraction(billed_s, 60)
    assert res.indifference == floor_places(res.exact, 6)
    # and it is the indifference price: at it the offer costs no more, one step up more
    at = plan_total(cdrs, with_price(offer, "price_per_min", res.indifference), CAMPAIGN)
    above = plan_total(cdrs, with_price(offer, "price_per_min",
                                        res.indifference + Decimal("0.000001")), CAMPAIGN)
    assert at <= target < above


def sim_billed(cdrs: CDRTable, p: Any) -> int:
    from sim.billing import rate

    return rate(cdrs, [p], campaign=CAMPAIGN).summary(p.name).billed_s


OFFERS = [
    (dict(price_per_min="0.10", increments="1/1", connect_fee="0.05",
          rounding={"decimals": 3, "method": "up"}), "price_per_min", 3),
    (dict(price_per_min="0.10", increments="6/6", min_cost="0.02",
          rounding={"decimals": 2, "method": "up"}), "price_per_min", 3),
    (dict(price_per_min="0.09", increments="30/6", connect_fee="0.03",
          rounding={"decimals": 2, "method": "half_up"}), "connect_fee", 3),
    (dict(price_per_min="0", increments="60/60", per_attempt_fee="0.05",
          rounding={"decimals": 2, "method": "up"}), "per_attempt_fee", 3),
    (dict(increments="60/60", bundle={"minutes": 5000, "price": "600",
                                      "overage_per_min": "0.2"},
          rounding={"decimals": 2, "method": "up"}), "bundle_price", 0),
    (dict(increments="60/60", bundle={"minutes": 100, "price": "3",
                                      "overage_per_min": "0.2"},
          rounding={"decimals": 2, "method": "up"}), "overage_per_min", 3),
    (dict(price_per_min="0.08", increments="60/60", seat_per_month="30",
          rounding={"decimals": 2, "method": "up"}), "price_per_min", 3),
]


@pytest.mark.parametrize(("kw", "free", "places"), OFFERS)
def test_bisection_agrees_with_a_brute_force_grid(kw: dict[str, Any], free: str,
                                                  places: int) -> None:
    # The staircase of per-call rounding, minimums, bundles and fees: the largest price on
    # a 10**-places grid whose total does not exceed the current one, found by scanning.
    cdrs = calls(150)
    current = plan(name="cur", price_per_min="0.12", increments="60/60",
                   rounding={"decimals": 2, "method": "up"})
    offer = plan(name="offer", **kw)
    target = plan_total(cdrs, current, CAMPAIGN)
    res = indifference_price(cdrs, offer, target, free=free, campaign=CAMPAIGN,
                             places=places)
    assert res.indifference is not None
    k_star = int(res.indifference.scaleb(places))
    assert 5 < k_star < 400  # the scan below stays small
    # scan every grid price up to well past the answer
    totals = [plan_total(cdrs, with_price(offer, free, Decimal(k).scaleb(-places)), CAMPAIGN)
              for k in range(0, 2 * k_star + 20)]
    assert all(a <= b for a, b in zip(totals, totals[1:], strict=False))  # monotone
    brute = max(k for k, t in enumerate(totals) if t <= target)
    assert brute == k_star
    # the saving at the listed price is the difference of the exact totals
    assert res.saving_at_listed == target - plan_total(cdrs, offer, CAMPAIGN)


def test_no_price_when_fixed_costs_alone_exceed_current() -> None:
    cdrs = calls(100)
    current = plan(name="cur", price_per_min="0.01", increments="1/1")
    offer = plan(name="offer", price_per_min="0.05", increments="1/1", seat_per_month="3000")
    res = indifference_price(cdrs, offer, plan_total(cdrs, current, CAMPAIGN),
                             campaign=CAMPAIGN)
    assert res.indifference is None and "even at price_per_min = 0" in res.note


def test_negotiate_lists_every_other_plan_and_templates() -> None:
    cdrs = calls(200)
    plans = plans_from_dict({"plan": [
        {"name": "a-60/60", "currency": "CNY", "price_per_min": "0.12", "increments": "60/60"},
        {"name": "b-1/1", "currency": "CNY", "price_per_min": "0.18", "increments": "1/1"},
        {"name": "c-usd", "currency": "USD", "price_per_min": "0.02", "increments": "1/1"}]})
    neg = negotiate(cdrs, plans, "a-60/60", templates=["6/6"], campaign=CAMPAIGN)
    assert [p.plan for p in neg.plans] == ["b-1/1", "template 6/6"]
    assert any("c-usd" in s and "USD" in s for s in neg.skipped)
    assert neg.current_total == plan_total(cdrs, plans[0], CAMPAIGN)


def test_uniform_demand_gives_the_critical_fractile_quantile() -> None:
    # c = 6000 / 50000 = 0.12 per minute, o = 0.20: F(Q*) = (0.20 - 0.12) / 0.20 = 0.4;
    # D ~ U(40,000, 60,000) -> Q* = 40,000 + 0.4 * 20,000 = 48,000.
    bundle = Bundle(minutes=50_000, price=Decimal(6000), overage_per_min=Decimal("0.20"))
    demand = Demand.plus_minus(50_000, Decimal("0.2"))
    res = size_bundle(bundle, demand)
    assert res.fractile == Fraction(2, 5)
    assert res.best_minutes == 48_000
    c, o = Fraction(6000, 50_000), Fraction(1, 5)
    best = expected_bundle_cost(48_000, c, o, demand)
    for q in (0, 40_000, 47_999, 48_001, 50_000, 60_000):
        assert expected_bundle_cost(q, c, o, demand) >= best
    assert res.current_cost == expected_bundle_cost(50_000, c, o, demand) > best


def test_sampled_demand_quantile_and_no_bundle_when_overage_is_cheap() -> None:
    samples = [100, 300, 200, 500, 400]  # sorted 100..500; fractile 0.5 -> 3rd = 300
    bundle = Bundle(minutes=250, price=Decimal(25), overage_per_min=Decimal("0.2"))
    assert size_bundle(bundle, Demand.from_samples(samples)).best_minutes == 300
    cheap = Bundle(minutes=250, price=Decimal(100), overage_per_min=Decimal("0.2"))
    assert size_bundle(cheap, Demand.from_samples(samples)).best_minutes == 0


def test_cli_json_on_a_native_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cdrio import write_cdrs

    cdrs = calls(120)
    path = tmp_path / "calls.csv"
    write_cdrs(cdrs, path)
    plans = tmp_path / "plans.toml"
    plans.write_text('[[plan]]\nname = "cur"\ncurrency = "CNY"\nprice_per_min = "0.12"\n'
                     'increments = "60/60"\n\n[[plan]]\nname = "six"\ncurrency = "CNY"\n'
                     'price_per_min = "0.15"\nincrements = "6/6"\n')
    code = main(["negotiate", str(path), "--plans", str(plans), "--current", "cur", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"current", "current_total", "plans"}
    (row,) = data["plans"]
    assert set(row) >= {"plan", "free", "listed", "indifference", "saving_at_listed"}
    assert row["plan"] == "six" and row["free"] == "price_per_min" and row["listed"] == "0.15"
    # decimal strings, and the price is the one the library computes
    from sim.decide.negotiate import negotiate as py_negotiate

    expected = py_negotiate(cdrs, plans_from_dict({"plan": [
        {"name": "cur", "currency": "CNY", "price_per_min": "0.12", "increments": "60/60"},
        {"name": "six", "currency": "CNY", "price_per_min": "0.15", "increments": "6/6"}]}),
        "cur")
    assert Decimal(data["current_total"]) == expected.current_total
    assert Decimal(row["indifference"]) == expected.plans[0].indifference


@pytest.mark.parametrize(("argv", "needle"), [
    (["--current", "nope"], "--current 'nope': no such plan; its plans: cur, six"),
    (["--current", "cur", "--free", "bogus"], "--free: must be one of"),
    (["--current", "cur", "--variant", "x"], "--variant: needs --scenario"),
])
def test_cli_bad_input_exits_2(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                               argv: list[str], needle: str) -> None:
    from sim.cdrio import write_cdrs

    path = tmp_path / "calls.csv"
    write_cdrs(calls(20), path)
    plans = tmp_path / "plans.toml"
    plans.write_text('[[plan]]\nname = "cur"\ncurrency = "CNY"\nprice_per_min = "0.12"\n'
                     'increments = "60/60"\n\n[[plan]]\nname = "six"\ncurrency = "CNY"\n'
                     'price_per_min = "0.15"\nincrements = "6/6"\n')
    assert main(["negotiate", str(path), "--plans", str(plans), *argv]) == 2
    assert needle in capsys.readouterr().err


def test_simulated_variant_gives_cis_over_replications() -> None:
    from conftest import SCENARIOS

    from sim.billing import load_plans
    from sim.decide.simulated import negotiate_simulated
    from sim.scenario import load_scenario, quick

    scenario = quick(load_scenario(SCENARIOS / "baseline.toml"))
    plans = [p for p in load_plans(SCENARIOS / "plans" / "china.toml")
             if p.name in ("cn-60/60", "cn-6/6", "cn-bundle-50k")]
    out = negotiate_simulated(scenario.variant("quick exit"), plans, "cn-60/60", reps=3,
                              seed=1)
    six = next(p for p in out["plans"] if p["plan"] == "cn-6/6")
    ci = six["indifference_ci"]
    assert ci["n"] == 3 and float(ci["low"]) <= float(six["indifference"]) <= float(ci["high"])
    assert out["bundles"] and out["bundles"][0]["plan"] == "cn-bundle-50k"


def test_decide_never_imports_the_simulation_engine() -> None:
    # STYLE.md: decide works on CDRs through the rater; the model only via experiment.
    import subprocess
    import sys

    code = ("import sys, sim.decide.negotiate, sim.decide.optimize, "
            "sim.decide.uncertainty, sim.decide.simulated; print('simpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_stepped_tariffs_scale_from_their_quoted_step() -> None:
    # "first 10 s free, then 0.2/min": the price is the 0.2, the free part stays free;
    # steps 0.15 -> 0.10 (a ratio with no finite decimal) still negotiate.
    cdrs = calls(200)
    current = plan(name="cur", price_per_min="0.12", increments="60/60")
    free_start = plan(name="free-start", steps=[
        {"from_s": 0, "price": "0", "unit_s": 60, "increment_s": 1},
        {"from_s": 10, "price": "0.2", "unit_s": 60, "increment_s": 1}])
    at_own = with_price(free_start, "price_per_min", Decimal("0.2"))
    assert [st.price for st in at_own.steps] == [Decimal(0), Decimal("0.2")]
    assert plan_total(cdrs, at_own, CAMPAIGN) == plan_total(cdrs, free_start, CAMPAIGN)
    segmented = plan(name="segmented", steps=[
        {"from_s": 0, "price": "0.15", "unit_s": 60, "increment_s": 60},
        {"from_s": 60, "price": "0.10", "unit_s": 60, "increment_s": 6}])
    neg = negotiate(cdrs, [current, free_start, segmented], "cur", campaign=CAMPAIGN)
    got = {p.plan: p for p in neg.plans}
    assert got["free-start"].listed == Decimal("0.2")
    assert got["segmented"].listed == Decimal("0.15")
    target = neg.current_total
    for name, p in (("free-start", free_start), ("segmented", segmented)):
        price = got[name].indifference
        assert price is not None
        assert plan_total(cdrs, with_price(p, "price_per_min", price), CAMPAIGN) <= target
        above = with_price(p, "price_per_min", price + Decimal("0.000001"))
        assert plan_total(cdrs, above, CAMPAIGN) > target


def test_a_plan_that_cannot_be_negotiated_is_skipped_not_fatal() -> None:
    cdrs = calls(100)
    current = plan(name="cur", price_per_min="0.12", increments="60/60")
    tiers = plan(name="tiers", increments="60/60", tiers=[
        {"up_to_min": 500, "price_per_min": "0.10"}, {"price_per_min": "0.08"}])
    six = plan(name="six", price_per_min="0.15", increments="6/6")
    neg = negotiate(cdrs, [current, tiers, six], "cur", campaign=CAMPAIGN)
    assert [p.plan for p in neg.plans] == ["six"]
    assert any(s.startswith("tiers: ") and "volume tiers" in s for s in neg.skipped)
