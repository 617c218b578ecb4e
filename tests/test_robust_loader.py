"""Scenario and plan values at the edges (issue 20): rejected with a located error, or a
quick run finishes in its time budget with finite KPIs and no absurd CDR.

Property tests (hypothesis, few examples each so the file stays fast) put edge values —
0, negatives, NaN, ±inf, 10^±300, 2^63, 400-digit integers, strings, end-of-calendar
dates, deep nesting — at every numeric key of a small scenario or plan.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal

import numpy as np
import pytest
from _factory import tiny_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.billing import plans_from_dict, rate
from sim.errors import PlanError, ScenarioError, SimError
from sim.model import run
from sim.scenario import load_scenario, parse_override, scenario_from_dict

EDGES = [0, -1, -0.0, 0.5, 1, 7, 1e-300, 5e-324, 1e300, -1e300, math.nan, math.inf, -math.inf,
         2**63, 2**63 - 1, -(2**63), 10**400, -(10**400), "1e30", "abc", "", True, [], {}]

#: Numeric keys of a scenario (and one of each kind of distribution parameter).
SCENARIO_KEYS = [
    "campaign.days", "list.size", "list.max_attempts", "list.max_per_24h",
    "list.max_per_5min", "list.lockout_after_abandon_h", "list.p_dnc",
    "customers.p_fail", "customers.p_busy", "customers.p_pickup", "customers.p_machine",
    "customers.ring", "customers.patience", "customers.pickup_by_attempt",
    "agents.count", "agents.wrap", "agents.preview", "agents.hourly_cost",
    "dialer.ratio", "dialer.ring_timeout_s", "dialer.abandon_threshold_s", "dialer.channels",
    "dialer.calls_per_second", "dialer.rate_per_min", "dialer.max_level",
    "dialer.adapt_offset", "dialer.robot_transfer_stage", "script.p_convert",
    "script.decline_exit", "script.stages[0].duration", "script.stages[0].p_hangup",
    "list.retry.busy_s", "billing.numbers", "compliance.threshold_s",
    "compliance.lockout_h",
]

DIST_PARAMS = {
    "exponential": ["mean", "rate"],
    "lognormal": ["median", "sigma", "mu", "mean", "sd", "cv"],
    "gamma": ["shape", "scale", "mean", "sd"],
    "weibull": ["shape", "scale"],
    "uniform": ["low", "high"],
    "triangular": ["low", "mode", "high"],
}
FINITE_EDGES = [0, 1e-300, 5e-324, 1e-9, 0.3, 1, 60, 800, 1e10, 1e300, 1.7e308, 2**63,
                10**400, -1, math.nan, math.inf]

QUICK_S = 20.0  # a quick run of an accepted edge value must finish within this


def _located(exc: SimError, key: str) -> None:
    text = str(exc)
    assert "Traceback" not in text
    head = key.split("[")[0].split(".")[0]
    assert head in text, (key, text)  # the message names the key's section at least


def _check_quick_run(overrides: dict) -> None:
    sc = scenario_from_dict(tiny_dict(), overrides={"list.size": 40, **overrides})
    t0 = time.perf_counter()
    res = run(sc, seed=1)
    assert time.perf_counter() - t0 < QUICK_S
    for k, v in res.kpis.items():  # NaN is "undefined" (a ratio over no contacts), never inf
        if isinstance(v, float):
            assert not math.isinf(v), (k, v)
            assert math.isnan(v) or v >= 0 or k == "adapt_offset", (k, v)
        elif isinstance(v, int):
            assert 0 <= v < 10**9, (k, v)
    c = res.cdrs
    if len(c):
        start, end = np.asarray(c["start"]), np.asarray(c["end"])
        assert np.isfinite(start).all() and np.isfinite(end).all()
        assert (end >= start).all()
        assert (np.asarray(c["billsec"]) >= 0).all()
        assert (end - start).max() < 1e9
        horizon = sc.campaign.days * 86_400 + 1e9
        assert end.max() - start.min() < horizon


@settings(max_examples=70, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=st.sampled_from(SCENARIO_KEYS), value=st.sampled_from(EDGES))
def test_scenario_edge_values_are_rejected_or_run(key, value):
    try:
        scenario_from_dict(tiny_dict(), source="edge.toml", overrides={key: value})
    except ScenarioError as exc:
        _located(exc, key)
        assert key.split("[")[0].rsplit(".", 1)[-1].split(".")[0] in str(exc) or \
            key.split(".")[0] in str(exc)
        return
    _check_quick_run({key: value})


@settings(max_examples=70, deadline=None, suppress_health_check=list(HealthCheck))
@given(dist=st.sampled_from(sorted(DIST_PARAMS)), data=st.data())
def test_distribution_edges_are_rejected_or_sane(dist, data):
    names = DIST_PARAMS[dist]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    spec = {"dist": dist, **{n: data.draw(st.sampled_from(FINITE_EDGES), label=n)
                             for n in chosen}}
    key = data.draw(st.sampled_from(["customers.ring", "script.stages[0].duration",
                                     "list.retry.no_answer_s", "agents.wrap"]))
    try:
        sc = scenario_from_dict(tiny_dict(), source="edge.toml", overrides={key: spec})
    except ScenarioError as exc:
        _located(exc, key)
        assert key.replace("[0]", "") in str(exc).replace("[0]", "")
        return
    # accepted: what it draws is finite, >= 0 and bounded
    node = sc.raw
    for part in key.replace("[0]", ".0").split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    _check_quick_run({key: spec, "list.max_attempts": 3})


@pytest.mark.parametrize(("spec", "what"), [
    ({"dist": "lognormal", "median": 60, "sd": 1e300}, "unknown key"),
    ({"dist": "lognormal", "mean": 10, "sd": 1e300}, "overflow"),
    ({"dist": "lognormal", "mu": 800, "sigma": 1}, "overflow"),
    ({"dist": "lognormal", "mean": 1e308, "cv": 1e10}, "not finite"),
    ({"dist": "exponential", "rate": 5e-324}, "not finite"),
    ({"dist": "exponential", "rate": 10**400}, "below 2^63"),
    ({"dist": "weibull", "shape": 1e-300, "scale": 1}, "overflow"),
    ({"dist": "uniform", "low": 0, "high": 1e12}, "99.9th percentile"),
    ({"dist": "lognormal", "median": 60, "sigma": 3.3}, "one-in-a-billion"),
])
def test_distributions_that_would_draw_absurd_values(spec, what):
    with pytest.raises(ScenarioError, match="customers.patience") as err:
        scenario_from_dict(tiny_dict(), source="s.toml", overrides={"customers.patience": spec})
    assert what in str(err.value)


def test_deep_nesting_and_huge_integers_in_files(tmp_path):
    good = (tmp_path / "ok.toml")
    deep = "x = " + "[" * 1000 + "]" * 1000 + "\n"
    long_int = "x = 1" + "0" * 5000 + "\n"
    for name, text, what in [("deep.toml", deep, "nested deeper"),
                             ("long.toml", long_int, "more than 4300 digits"),
                             ("dotted.toml", "x" + ".y" * 500 + " = 1\n", "nested deeper")]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ScenarioError, match=what) as err:
            load_scenario(path)
        assert str(path) in str(err.value)
    with pytest.raises(ScenarioError, match="nested deeper"):
        parse_override("customers.ring=" + "{a=" * 1000 + "1" + "}" * 1000)
    with pytest.raises(ScenarioError, match="nested deeper"):
        scenario_from_dict(tiny_dict(), overrides={"customers.ring": _deep(200)})
    with pytest.raises(ScenarioError, match="more than 4300 digits"):
        parse_override("agents.count=1" + "0" * 5000)
    del good


def _deep(n: int) -> dict:
    node: dict = {}
    for _ in range(n):
        node = {"a": node}
    return node


@pytest.mark.parametrize("start", ["9999-12-31", "9999-12-25", "0001-01-01", "2999-12-31"])
def test_end_of_calendar_dates_are_located_errors(start):
    with pytest.raises(ScenarioError, match="campaign.start"):
        scenario_from_dict(tiny_dict(), source="s.toml",
                           overrides={"campaign.start": start, "campaign.days": 3})


def test_huge_times_and_rates_do_not_explode():
    for key, value in [("dialer.ring_timeout_s", 1e12), ("dialer.ring_timeout_s", 1e9),
                       ("dialer.rate_per_min", 1e9), ("agents.hourly_cost", "1e30"),
                       ("script.stages[0].duration", 1e29)]:
        with pytest.raises(ScenarioError, match=key.replace("[", r"\[").replace("]", r"\]")):
            scenario_from_dict(tiny_dict(), source="s.toml", overrides={key: value})
    # the largest accepted values still run quickly
    _check_quick_run({"dialer.ring_timeout_s": 600, "customers.ring": 550,
                      "customers.p_pickup": 0.5, "list.max_attempts": 3})
    _check_quick_run({"dialer.mode": "robot", "dialer.rate_per_min": 100_000,
                      "dialer.channels": 50})


@pytest.mark.parametrize("text", ["٠٩:٠٠", "０９:００", "9:٣٠"])
def test_unicode_digits_are_not_clock_times(text):
    with pytest.raises(ScenarioError, match="windows"):
        scenario_from_dict(tiny_dict(), source="s.toml",
                           overrides={"campaign.windows": [[text, "17:00"]]})


def test_unicode_digits_are_not_prefixes_or_amounts():
    with pytest.raises(ScenarioError, match="prefix"):
        scenario_from_dict(tiny_dict(), source="s.toml", overrides={
            "list.segments": [{"name": "a", "share": 1, "prefix": "١٣٨"}]})
    with pytest.raises(ScenarioError, match="hourly_cost"):
        scenario_from_dict(tiny_dict(), source="s.toml", overrides={"agents.hourly_cost": "١٢"})
    with pytest.raises(ScenarioError, match=r"pickup_by_hour.٩: must be an hour"):
        scenario_from_dict(tiny_dict(), source="s.toml",
                           overrides={"customers.pickup_by_hour": {"٩": 1.2}})


def test_segment_shares_must_add_up_to_one():
    segs = [{"name": "a", "share": 0.8}, {"name": "b", "share": 0.3}]
    with pytest.raises(ScenarioError, match=r"list.segments: must be shares that add up to 1 "
                                            r"\(got '0.8 \+ 0.3 = 1.1'\)"):
        scenario_from_dict(tiny_dict(), source="s.toml", overrides={"list.segments": segs})
    segs = [{"name": "a", "share": 0.7}, {"name": "b", "share": 0.2},
            {"name": "c", "share": 0.1}]
    assert len(scenario_from_dict(tiny_dict(), overrides={"list.segments": segs})
               .list.segments) == 3


def test_plan_paths_are_confined_to_the_scenario_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    outside = tmp_path / "outside.toml"
    outside.write_text('[[plan]]\nname = "x"\ncurrency = "CNY"\nprice_per_min = "0.1"\n'
                       'increments = "60/60"\n')
    (tmp_path / "sub" / "in.toml").write_text(outside.read_text())
    source = str(tmp_path / "sub" / "s.toml")
    for bad in (str(outside), "../outside.toml", "in.toml/../../outside.toml"):
        with pytest.raises(ScenarioError, match=r"billing.plans\[0\]: must be a plan file "
                                                "inside the scenario's folder"):
            scenario_from_dict(tiny_dict(), source=source, overrides={"billing.plans": [bad]})
    (tmp_path / "sub" / "link.toml").symlink_to(outside)
    with pytest.raises(ScenarioError, match="inside the scenario's folder"):
        scenario_from_dict(tiny_dict(), source=source, overrides={"billing.plans": ["link.toml"]})
    sc = scenario_from_dict(tiny_dict(), source=source, overrides={"billing.plans": ["in.toml"]})
    assert sc.plans == (tmp_path / "sub" / "in.toml",)


def test_invalid_variant_overrides_fail_naming_the_variant():
    raw = tiny_dict()
    raw["variant"] = [{"name": "neg", "set": {"agents.count": -3}},
                      {"name": "mode", "set": {"dialer.mode": "warp"}},
                      {"name": "typo", "set": {"dialer.ratoi": 2}},
                      {"name": "fine", "set": {"dialer.ratio": 2}}]
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(raw, source="v.toml")
    lines = err.value.problems
    assert len(lines) == 3
    assert lines[0].startswith("v.toml: variant 'neg': agents.count: must be an integer >= 1")
    assert lines[1].startswith("v.toml: variant 'mode': dialer.mode: must be one of")
    assert lines[2] == "v.toml: variant 'typo': dialer.ratoi: unknown key (did you mean 'ratio'?)"


# -- plans -------------------------------------------------------------------------------

PLAN = {"name": "p", "currency": "CNY", "price_per_min": "0.12", "increments": "60/60"}
PLAN_KEYS = ["price_per_min", "connect_fee", "per_attempt_fee", "min_cost", "max_cost",
             "no_charge_under_s", "included_s", "legs", "seat_per_month", "number_per_month",
             "increments", "channel_per_month"]
PLAN_EDGES = [*EDGES, "1e-999999", "1e999999", "0.1", "-0.1", "6/6", "٦/٦", "1/99999999",
              "999999999999", "0.0000000000001"]


def _cdrs():
    sc = scenario_from_dict(tiny_dict(), overrides={"list.size": 30})
    return run(sc, seed=2).cdrs


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=st.sampled_from(PLAN_KEYS), value=st.sampled_from(PLAN_EDGES))
def test_plan_edge_values_are_rejected_or_rate_quickly(key, value):
    plan = {**PLAN, key: value}
    try:
        plans = plans_from_dict({"plan": [plan]}, source="p.toml")
    except PlanError as exc:
        assert f"p.toml: plan[0].{key}" in str(exc) or "p.toml: plan[0]" in str(exc), str(exc)
        return
    t0 = time.perf_counter()
    r = rate(CDRS, plans)
    assert time.perf_counter() - t0 < 5.0
    for s in r.summaries.values():
        assert isinstance(s.total, Decimal) and s.total.is_finite()
        assert s.total < Decimal(10) ** 30


def test_plan_integers_beyond_int64_and_absurd_amounts_are_located():
    for key, value in [("included_s", 2**63), ("max_cost", "1e30"),
                       ("price_per_min", "1e-999999"), ("connect_fee", "1e999999"),
                       ("no_charge_under_s", 10**400)]:
        with pytest.raises(PlanError, match=rf"p.toml: plan\[0\].{key}: must be"):
            plans_from_dict({"plan": [{**PLAN, key: value}]}, source="p.toml")
    steps = [{"from_s": 0, "price": "0.1", "increment_s": 2**63}]
    plan = {k: v for k, v in PLAN.items() if k not in ("price_per_min", "increments")}
    with pytest.raises(PlanError, match=r"steps\[0\].increment_s: must be"):
        plans_from_dict({"plan": [{**plan, "steps": steps}]}, source="p.toml")
    steps = [{"from_s": 0, "price": "0.1", "increment_s": 6},
             {"from_s": 2**63, "price": "0.1", "increment_s": 6}]
    with pytest.raises(PlanError, match=r"steps\[1\].from_s: must be"):
        plans_from_dict({"plan": [{**plan, "steps": steps}]}, source="p.toml")


CDRS = _cdrs()


def test_memory_is_estimated_from_the_work_and_checked_before_the_run():
    from sim.model.leads import BYTES_PER_LEAD, check_memory, estimate_run_bytes

    big = scenario_from_dict(tiny_dict(), source="big.toml",
                             overrides={"list.size": 50_000_000, "list.max_attempts": 3})
    need, dials = estimate_run_bytes(big)
    # one agent on one line for one 8-hour day: the dials are the line's, not the list's
    assert dials <= (8 + 48) * 3600 / 5 < 50_000_000
    assert need < 50_000_000 * BYTES_PER_LEAD * 1.1
    with pytest.raises(ScenarioError, match=r"big.toml: list.size: the run would need about "
                                            r"[0-9.,]+ GiB of memory \(50,000,000 leads"):
        check_memory(big, available=2**30)
    check_memory(big, available=2**40)
    check_memory(big, available=50_000_000 * BYTES_PER_LEAD + 2**30, streamed=True)
    with pytest.raises(ScenarioError, match="smaller list"):  # streamed: sized by the list
        check_memory(big, available=2**30, streamed=True)
    with pytest.raises(ScenarioError, match="GiB of memory"):  # before anything is allocated
        run(scenario_from_dict(tiny_dict(), overrides={
            "list.size": 50_000_000, "agents.count": 100_000, "campaign.days": 3000,
            "dialer.mode": "predictive", "list.max_attempts": 100}), seed=1)
