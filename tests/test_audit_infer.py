"""Tariff inference: the tariff of every plan in scenarios/plans/ is recovered from the
charges the rater gives its calls, and a price change is dated."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

import sim
from sim.audit import infer_tariff, infer_with_change
from sim.audit.infer import billed_seconds
from sim.cdr import CDRTable, empty_columns, open_categories
from tests.conftest import SCENARIOS

PLANS = [p for f in sorted((SCENARIOS / "plans").glob("*.toml")) for p in sim.load_plans(f)]


def calls(n: int = 4000, seed: int = 1) -> CDRTable:
    """Answered and unanswered calls to a landline, Monday 10:00 (no band applies)."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    ans = rng.random(n) < 0.7
    talk = np.where(ans, np.rint(rng.lognormal(3.5, 1.2, n)), 0).astype(np.int64)
    talk[:8] = [1, 2, 3, 4, 5, 6, 7, 8]  # short calls present, and answered
    ans[:8] = True
    cols["billsec"][:] = talk
    cols["talk_s"][:] = talk.astype(np.float64)
    cols["disposition"][:] = np.where(ans, 0, 1).astype(np.int8)
    cols["start"][:] = 10 * 3600 + np.arange(n) * 0.5
    cols["answer"][:] = np.where(ans, cols["start"] + 5, np.nan)
    cols["end"][:] = cols["start"] + 5 + talk
    cols["number_type"][:] = 1
    cols["destination"][:] = 1
    return CDRTable(cols, open_categories(number_type=["landline"], destination=["02079460000"]),
                    epoch="2026-03-02T00:00:00", tz="Europe/London")


@pytest.fixture(scope="module")
def table() -> CDRTable:
    return calls()


@pytest.mark.parametrize("plan", PLANS, ids=[p.name for p in PLANS])
def test_inference_recovers_every_plan(plan, table):
    pc = sim.rate(table, [plan]).per_call(plan.name)
    d = np.where(table.answered, table["billsec"], 0)
    got = infer_tariff(d, np.asarray(pc.units, dtype=np.int64), plan.rounding.decimals)
    assert got.rows == len(table)
    assert got.share_exact == 1.0, got.text()
    legs = plan.legs
    assert got.per_attempt_fee == plan.per_attempt_fee
    if plan.price_per_min is None:
        # CGRateS steps (cn-segmented: 0.20 for the first minute, then 0.10 per minute in
        # 6 s blocks) are the same charges as 60/6 at 0.10 with a 0.10 connection fee
        assert plan.name == "cn-segmented"
        assert (got.increments, got.price_per_min, got.connect_fee) == (
            "60/6", Decimal("0.1"), Decimal("0.1"))
        return
    if plan.price_per_min == 0 or plan.bundle is not None:
        assert got.increments is None and got.price_per_min == 0  # no time charged
    else:
        assert got.increments == plan.increments
        assert got.price_per_min == plan.price_per_min * legs
    if plan.connect_fee > plan.min_cost:  # a minimum below the fee never binds
        assert got.connect_fee == plan.connect_fee * legs
    if plan.no_charge_under_s:
        assert got.no_charge_under_s == plan.no_charge_under_s


def test_inference_reports_the_share_it_cannot_reproduce():
    rng = np.random.default_rng(4)
    d = np.maximum(1, np.rint(rng.lognormal(3.5, 1.0, 3000))).astype(np.int64)
    units = -(-billed_seconds(d, 30, 6) * 140 // 60)  # 0.14/min 30/6, 3 places, up
    off = rng.choice(len(d), 90, replace=False)
    units[off] += 7  # hand-made corrections nobody can explain
    got = infer_tariff(d, units, 3)
    assert (got.increments, got.price_per_min) == ("30/6", Decimal("0.14"))
    assert got.rows_exact == len(d) - 90


def test_a_price_change_is_found_and_dated():
    rng = np.random.default_rng(5)
    n = 3000
    d = np.maximum(1, np.rint(rng.lognormal(3.5, 1.0, n))).astype(np.int64)
    t = np.sort(rng.uniform(0, 30 * 86400, n))
    change = 17 * 86400.0
    minutes = billed_seconds(d, 60, 60) // 60
    units = np.where(t < change, minutes * 120, minutes * 126)  # 0.120 -> 0.126, 3 places
    got = infer_with_change(d, units, 3, t, label=lambda s: f"day {int(s // 86400)}")
    assert (got.increments, got.price_per_min) == ("60/60", Decimal("0.12"))
    assert [(c.at, c.price_per_min) for c in got.changes] == [("day 17", Decimal("0.126"))]
    assert got.changes[0].at_s == t[t >= change][0]
    assert got.share_exact == 1.0


@pytest.mark.parametrize(("x", "y", "connect"), [(45, 15, 0), (17, 7, 30), (60, 30, 5)])
def test_any_increment_model_up_to_60_s(x, y, connect):
    rng = np.random.default_rng(x * y)
    d = np.maximum(1, np.rint(rng.lognormal(3.5, 1.0, 3000))).astype(np.int64)
    units = -(-billed_seconds(d, x, y) * 200 // 60) + connect  # 0.2/min, 3 places, up
    got = infer_tariff(d, units, 3)
    assert (got.increments, got.price_per_min, got.connect_fee) == (
        f"{x}/{y}", Decimal("0.2"), Decimal(connect).scaleb(-3).normalize())
    assert got.share_exact == 1.0


def test_charges_no_tariff_explains_give_a_low_share_not_an_error():
    rng = np.random.default_rng(8)
    d = np.maximum(1, np.rint(rng.lognormal(3.5, 1.0, 1200))).astype(np.int64)
    got = infer_with_change(d, rng.integers(0, 1000, len(d)), 3, np.arange(len(d)) * 60.0)
    assert got.share_exact < 0.05 and got.connect_fee >= 0 and got.price_per_min >= 0
