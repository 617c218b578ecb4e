"""Variants on the same customers: paired differences, and why pairing matters.

Common random numbers (DESIGN §4): customer behaviour is keyed by (seed, lead,
attempt), so a variant run on the base's seeds meets the same customers and the
per-seed difference cancels most of the noise. The test below measures it: the paired
interval of a difference is much narrower than the interval from independent seeds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _factory import tiny
from conftest import SCENARIOS

import sim
from sim.billing import plans_from_dict
from sim.cli import main
from sim.errors import ScenarioError
from sim.variants import BASE, Comparison, independent_diff

PLANS = plans_from_dict({"plan": [
    {"name": "60/60", "currency": "CNY", "price_per_min": "0.12", "increments": "60/60",
     "rounding": {"decimals": 2, "method": "up"}},
    {"name": "per-second", "currency": "CNY", "price_per_min": "0.18", "increments": "1/1",
     "rounding": {"decimals": 3, "method": "up"}},
]})


def noisy(**over: object):
    """Random pickups, interest and talk times, two variants of the script."""
    base = {"customers.p_pickup": 0.5, "customers.interest": {"dist": "gamma", "mean": 1,
                                                              "sd": 0.6},
            "script.p_convert": 0.4,
            "script.stages": [
                {"name": "greeting", "duration": {"dist": "lognormal", "median": 9,
                                                  "sigma": 0.3},
                 "p_hangup": 0.3, "p_decline": 0.1},
                {"name": "pitch", "duration": {"dist": "lognormal", "median": 60,
                                               "sigma": 0.5},
                 "p_hangup": 0.1, "p_decline": 0.3}],
            "script.decline_exit": {"dist": "uniform", "low": 6, "high": 14},
            "list.size": 150, "agents.count": 3, **over}
    sc = tiny(base)
    raw = dict(sc.raw)
    raw["variant"] = [
        {"name": "short greeting", "description": "5 s greeting",
         "set": {"script.stages[0].duration": {"dist": "lognormal", "median": 5,
                                                "sigma": 0.3}}},
        {"name": "quick exit", "set": {"script.decline_exit": 3}},
    ]
    from sim.scenario import scenario_from_dict

    return scenario_from_dict(raw)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    return sim.compare(noisy(), reps=6, seed=11, plans=PLANS)


def test_every_variant_runs_on_the_base_seeds(comparison):
    assert comparison.names == (BASE, "short greeting", "quick exit")
    for name in comparison.names:
        assert comparison.runs[name].seeds == list(range(11, 17))
    rows = comparison.rows()
    metrics = {(r.metric, r.plan) for r in rows}
    for plan in ("60/60", "per-second"):
        assert ("per_contact", plan) in metrics and ("per_conversion", plan) in metrics
    assert {("conversions", ""), ("abandonment_rate", ""), ("contacts", "")} <= metrics
    assert all((r.diff is None) == (r.variant == BASE) for r in rows)


def test_paired_difference_is_the_mean_of_per_seed_differences(comparison):
    key = "per_contact:60/60"
    a = comparison.values("quick exit", key)
    b = comparison.values(BASE, key)
    d = comparison.diff("quick exit", key)
    assert d.mean == pytest.approx(float(np.mean(a - b)), rel=1e-12)
    assert d.n == 6 and d.low <= d.mean <= d.high


def test_same_customers_same_contacts(comparison):
    # Every lead is dialled once in each run; a script change alters how calls go, not
    # who picks up: contacts are identical seed by seed, their difference exactly 0.
    for name in comparison.variants:
        assert list(comparison.values(name, "dials")) == [150.0] * 6
        assert list(comparison.values(name, "contacts")) == list(
            comparison.values(BASE, "contacts"))
        d = comparison.diff(name, "contacts")
        assert (d.mean, d.low, d.high) == (0.0, 0.0, 0.0)
    assert comparison.values(BASE, "contacts").std() > 0  # ...though seeds differ


def test_pairing_narrows_the_interval_of_the_difference():
    scenario = noisy()
    variant = scenario.variant("quick exit")
    key = "per_contact:per-second"
    paired = sim.compare(scenario, reps=8, seed=1, plans=PLANS, variants=["quick exit"])
    d_paired = paired.diff("quick exit", key)
    # The same variant on independent seeds (1000 on): the customers differ.
    indep = sim.replicate(variant, 8, seed=1000, plans=PLANS)
    d_indep = independent_diff(indep.values(key), paired.values(BASE, key))
    assert math.isfinite(d_paired.half_width) and math.isfinite(d_indep.half_width)
    assert d_paired.half_width < 0.5 * d_indep.half_width, (d_paired, d_indep)
    # Both estimate the same effect: the intervals overlap.
    assert d_paired.low <= d_indep.high and d_indep.low <= d_paired.high


def test_independent_diff_is_welch():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0, 10.0]
    e = independent_diff(a, b)
    assert e.mean == pytest.approx(2.5 - 6.0)
    # Welch: se^2 = var(a)/4 + var(b)/5, df from Welch-Satterthwaite
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 5
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 4)
    from scipy import stats

    h = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert e.half_width == pytest.approx(h, rel=1e-12)


def test_unknown_variant_is_a_scenario_error():
    with pytest.raises(ScenarioError, match="did you mean"):
        sim.compare(noisy(), reps=2, variants=["quick exitt"])


def test_records_convert(comparison):
    data = json.loads(json.dumps(comparison.to_dict(), default=str))
    assert [v["name"] for v in data["variants"]] == list(comparison.names)
    assert data["variants"][1]["overrides"]
    pd = pytest.importorskip("pandas")
    frame = comparison.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3 * 6
    assert set(frame["variant"]) == set(comparison.names)
    assert len(comparison.summary_frame()) == len(comparison.rows())
    assert "vs base" in comparison.format()


def test_sim_compare_is_the_function():
    import sim.variants

    assert sim.compare is sim.variants.compare
    assert "compare" in sim.__all__ and "Comparison" in sim.__all__


def test_cli_compare_writes_a_reportable_folder(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(SCENARIOS / "baseline.toml"), "--quick", "--reps", "2",
                 "--variant", "quick exit", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "quick exit" in text and "vs base (paired)" in text
    data = json.loads((out / "compare.json").read_text())
    assert [v["name"] for v in data["variants"]] == ["base", "quick exit"]
    assert data["seeds"] == [1, 2]
    for name in ("summary.json", "cdrs.csv", "agents.csv", "costs.csv", "compare.csv"):
        assert (out / name).is_file(), name
    assert main(["compare", str(SCENARIOS / "baseline.toml"), "--quick", "--reps", "2",
                 "--out", str(out)]) == 2  # never over results without --force
    assert "already exists" in capsys.readouterr().err


def test_cli_compare_rejects_bad_input(tmp_path, capsys):
    base = str(SCENARIOS / "baseline.toml")
    assert main(["compare", base, "--quick", "--reps", "1", "--out", str(tmp_path / "a")]) == 2
    assert "--reps" in capsys.readouterr().err
    assert main(["compare", base, "--quick", "--variant", "nope", "--out",
                 str(tmp_path / "b")]) == 2
    assert "no variant named 'nope'" in capsys.readouterr().err
    assert main(["compare", str(SCENARIOS / "bench_progressive.toml"), "--quick",
                 "--out", str(tmp_path / "c")]) == 2
    assert "no [[variant]]" in capsys.readouterr().err
