"""Rounding analysis: every total reconciles exactly with the rater's billed seconds.

Hand-made calls against plans whose billing is written out by hand (DESIGN §6: "X/Y"
bills X s for 0 < d <= X, then X + ceil((d - X) / Y) * Y), a property test over random
X/Y plans and call lengths, and a simulated run under plans with time bands, per-
destination prices, free seconds and two legs.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from conftest import SCENARIOS
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.analysis.rounding import block_edges, rounding_analysis
from sim.billing import plans_from_dict, rate
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.costing import load_plan_files, rate_run
from sim.scenario import quick


def calls(billsec: list[int], answered: list[bool] | None = None) -> CDRTable:
    """Calls of the given whole-second lengths, answered unless said otherwise."""
    n = len(billsec)
    cols = empty_columns(n)
    ans = np.ones(n, dtype=bool) if answered is None else np.asarray(answered)
    d = np.asarray(billsec, dtype=np.int64) * ans
    cols["billsec"][:] = d
    cols["talk_s"][:] = d - 0.5 * (d > 0)  # billsec = ceil(talk_s)
    cols["start"][:] = np.arange(n) * 1000.0
    cols["answer"][:] = np.where(ans, cols["start"] + 8, np.nan)
    cols["end"][:] = cols["start"] + 8 + cols["talk_s"]
    cols["disposition"][:] = np.where(ans, encode("disposition", "ANSWERED"),
                                      encode("disposition", "NO ANSWER"))
    cols["answered_by"][:] = np.where(ans, encode("answered_by", "person"), 0)
    return CDRTable(cols, open_categories(), epoch="2026-03-02T00:00:00")


def plan(**kw: object):
    base = {"name": "p", "currency": "CNY", "rounding": {"decimals": 4, "method": "up"}}
    return plans_from_dict({"plan": [{**base, **kw}]})[0]


P6060 = plan(name="60/60", price_per_min="0.12", increments="60/60")
HAND = [5, 60, 61, 62, 65, 119, 120, 121, 130, 181]


def test_hand_computed_60_60_account():
    cdrs = calls([0, *HAND], answered=[False] + [True] * len(HAND))
    r = rounding_analysis(cdrs, [P6060], trims_s=(1, 2, 5, 10), n_blocks=3)["60/60"]
    assert (r.calls, r.answered) == (11, 10)
    assert r.billed_s == 1320 and r.billable_s == 924 and r.rounding_s == 396
    assert r.billsec_s == 924 and r.free_s == 0
    assert r.rounding_share == pytest.approx(396 / 1320)
    assert (r.first_block_s, r.next_block_s) == (60, 60)
    # Shorter than the first block: only the 5 s call, billed a whole minute.
    assert (r.short_calls, r.short_billable_s, r.short_billed_s) == (1, 5, 60)
    assert r.short_charge == Decimal("0.12")
    assert r.telecom == Decimal("2.64")  # 22 billed minutes at 0.12
    # Just past a boundary (after the first block): 61, 121, 181 end 1 s past; 62 two;
    # 65 five; 130 ten.
    by_k = {t.trim_s: t for t in r.trims}
    assert [(by_k[k].calls, by_k[k].saved_billed_s, by_k[k].saved) for k in (1, 2, 5, 10)] == [
        (3, 180, Decimal("0.36")), (4, 240, Decimal("0.48")), (5, 300, Decimal("0.60")),
        (6, 360, Decimal("0.72"))]
    assert by_k[10].trimmed_s == 1 + 1 + 1 + 2 + 5 + 10
    assert by_k[1].saved_share == pytest.approx(0.36 / 2.64)
    rows = [(b.block, b.lo_s, b.hi_s, b.calls, b.billable_s, b.billed_s, b.rounding_s)
            for b in r.blocks]
    assert rows == [(1, 0, 60, 2, 65, 120, 55), (2, 60, 120, 5, 427, 600, 173),
                    (3, 120, 180, 2, 251, 360, 109), (0, 180, -1, 1, 181, 240, 59)]


@pytest.mark.parametrize(("increments", "edges"), [
    ("60/60", [60, 120, 180]), ("30/6", [30, 36, 42]), ("60/1", [60, 61, 62]),
    ("1/1", [1, 2, 3]), ("6/6", [6, 12, 18])])
def test_block_edges_of_shorthand_plans(increments, edges):
    p = plan(price_per_min="0.1", increments=increments)
    assert block_edges(p, count=3).tolist() == edges
    assert block_edges(p, up_to_s=edges[1]).tolist() == edges[:2]


def test_block_edges_of_steps_and_free_seconds():
    seg = plan(steps=[{"from_s": 0, "price": "0.20", "unit_s": 60, "increment_s": 60},
                      {"from_s": 60, "price": "0.10", "unit_s": 60, "increment_s": 6}])
    assert block_edges(seg, count=4).tolist() == [60, 66, 72, 78]
    free = plan(price_per_min="0.1", increments="60/60", included_s=10, no_charge_under_s=3)
    assert block_edges(free, count=3).tolist() == [70, 130, 190]


def test_free_seconds_legs_and_connect_fee():
    p = plan(name="cb", price_per_min="0.10", increments="60/60", legs=2, included_s=10,
             no_charge_under_s=3, connect_fee="0.01")
    cdrs = calls([3, 5, 70, 71, 200])
    r = rounding_analysis(cdrs, [p], trims_s=(1,))["cb"]
    rated = rate(cdrs, [p]).summary("cb")
    # 3 s: free; 5 s: all included (billable 0, connect fee only); 70: 60 billable.
    assert r.free_calls == 2 and r.free_s == 3 + 5 + 10 + 10 + 10
    assert r.billable_s == 60 + 61 + 190
    assert r.billed_s == rated.billed_s == 2 * (60 + 120 + 240)
    assert r.legs * r.billable_s + r.rounding_s == r.billed_s
    assert r.trims[0].calls == 1 and r.trims[0].saved_billed_s == 2 * 60  # the 71 s call


@settings(max_examples=60, deadline=None)
@given(x=st.integers(1, 90), y=st.integers(1, 60),
       d=st.lists(st.integers(0, 400), min_size=1, max_size=40))
def test_reconciles_with_the_design_formula_and_the_rater(x, y, d):
    p = plan(name="xy", price_per_min="0.06", increments=f"{x}/{y}")
    cdrs = calls(d)
    r = rounding_analysis(cdrs, [p], trims_s=(1, 3, 7), n_blocks=4)["xy"]
    dd = np.asarray(d)
    billed = np.where(dd == 0, 0, np.where(dd <= x, x, x + -(-(dd - x) // y) * y))
    assert r.billed_s == int(billed.sum()) == rate(cdrs, [p]).summary("xy").billed_s
    assert r.billable_s == int(dd.sum()) and r.rounding_s == int((billed - dd).sum())
    assert sum(b.billed_s for b in r.blocks) == r.billed_s
    assert sum(b.rounding_s for b in r.blocks) == r.rounding_s
    assert sum(b.calls for b in r.blocks) == int((dd > 0).sum())
    assert r.short_calls == int(((dd > 0) & (dd < x)).sum())
    over = (dd - x - 1) % y + 1
    for t in r.trims:
        hit = (dd > x) & (over <= t.trim_s)
        assert t.calls == int(hit.sum())
        assert t.saved_billed_s == y * t.calls
        assert t.trimmed_s == int(over[hit].sum())
        assert t.saved == Decimal(y * t.calls) * Decimal("0.001")  # 0.06/min = 0.001/s


def test_simulated_run_under_banded_destination_plans():
    scenario = quick(sim.load_scenario(SCENARIOS / "survey_power.toml"), leads=200)
    result = sim.run(scenario, seed=4)
    plans = load_plan_files(scenario.plans)
    rating = rate_run(scenario, result.cdrs, result.agents, plans)
    ra = rounding_analysis(result.cdrs, rating)
    assert len(ra) == len(plans)
    for p in ra:
        s = rating.summary(p.plan)
        assert p.billed_s == s.billed_s
        assert p.legs * p.billable_s + p.rounding_s == p.billed_s
        assert sum(b.billed_s for b in p.blocks) == p.billed_s
        assert p.telecom == s.telecom
        assert p.short_charge <= p.telecom
        assert all(0 <= t.saved <= p.telecom for t in p.trims)
        assert [t.calls for t in p.trims] == sorted(t.calls for t in p.trims)
    per_second = ra["uk-per-second-banded"]
    assert per_second.rounding_s == 0 and per_second.short_calls == 0
    assert ra["uk-60/1-connect"].first_block_s == 60
    assert math.isfinite(ra["uk-60/1-connect"].rounding_share)


def test_takes_plans_or_a_rating_and_converts():
    cdrs = calls(HAND)
    a = rounding_analysis(cdrs, [P6060])
    b = rounding_analysis(cdrs, rate(cdrs, [P6060]))
    assert a["60/60"] == b["60/60"]
    assert "60/60" in a.format()
    pd = pytest.importorskip("pandas")
    frame = a.to_pandas()
    assert isinstance(frame, pd.DataFrame) and frame.loc["60/60", "rounding_s"] == 396
    with pytest.raises(ValueError, match="trims_s"):
        rounding_analysis(cdrs, [P6060], trims_s=(0,))
