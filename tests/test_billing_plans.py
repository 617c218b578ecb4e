"""Plan files: every shipped plan loads; malformed files give every problem at once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.billing import Plan, Step, load_plans, plans_from_dict
from sim.errors import PlanError

ROOT = Path(__file__).resolve().parents[1]
PLAN_FILES = sorted((ROOT / "scenarios" / "plans").glob("*.toml"))


def _one(**kw: object) -> dict[str, object]:
    return {"plan": [{"name": "p", "currency": "CNY", **kw}]}


def _problems(raw: dict[str, object]) -> tuple[str, ...]:
    with pytest.raises(PlanError) as exc:
        plans_from_dict(raw, source="plans.toml")
    return exc.value.problems


@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda p: p.name)
def test_every_plan_file_loads(path: Path) -> None:
    plans = load_plans(path)
    assert plans and len({p.name for p in plans}) == len(plans)
    assert all(p.charge(0) >= 0 and p.charge(0, answered=False) >= 0 for p in plans
               if not p.bands)


def test_china_library_has_the_schemes_of_the_issue() -> None:
    plans = {p.name: p for p in load_plans(ROOT / "scenarios/plans/china.toml")}
    assert len(plans) >= 8
    incs = {p.increments for p in plans.values()}
    assert {"60/60", "1/1", "6/6", "30/6", "60/1"} <= incs
    assert any(p.connect_fee and p.increments == "1/1" for p in plans.values())
    assert any(p.per_attempt_fee for p in plans.values())
    assert any(p.bundle for p in plans.values())
    assert any(p.seat_per_month for p in plans.values())
    assert any(p.legs == 2 for p in plans.values())
    assert all(p.currency == "CNY" for p in plans.values())
    # DESIGN §6: outbound minutes 0.08-0.30 CNY, robot attempts 0.08, seats 200-700
    assert all(Decimal("0.08") <= p.price_per_min <= Decimal("0.30")
               for p in plans.values() if p.price_per_min)


def test_non_china_example_exists() -> None:
    others = [p for f in PLAN_FILES for p in load_plans(f) if p.currency != "CNY"]
    assert others and any(p.bands for p in others) and any(p.destinations for p in others)


def test_shorthand_becomes_anchored_steps() -> None:
    (p,) = plans_from_dict(_one(price_per_min="0.12", increments="30/6"))
    assert p.steps == (Step(from_s=0, price=Decimal("0.12"), unit_s=60, increment_s=30),
                       Step(from_s=30, price=Decimal("0.12"), unit_s=60, increment_s=6))
    (q,) = plans_from_dict(_one(price_per_min=0.1, increments="60/60"))
    assert q.steps == (Step(from_s=0, price=Decimal("0.1"), unit_s=60, increment_s=60),)


def test_amounts_are_exact_from_strings_and_numbers() -> None:
    (p,) = plans_from_dict(_one(price_per_min=0.1, increments="1/1", connect_fee="0.05",
                                min_cost=1, max_cost="2.50"))
    assert p.price_per_min == Decimal("0.1") and p.connect_fee == Decimal("0.05")
    assert p.min_cost == Decimal(1) and p.max_cost == Decimal("2.50")


def test_full_plan_with_every_key() -> None:
    raw = {"plan": [{
        "name": "all", "currency": "GBP", "description": "d",
        "steps": [{"from_s": 0, "price": "0.2", "unit_s": 60, "increment_s": 60},
                  {"from_s": 60, "price": "0.1", "unit_s": 60, "increment_s": 6}],
        "connect_fee": "0.01", "per_attempt_fee": "0.002", "no_charge_under_s": 2,
        "included_s": 3, "min_cost": "0.01", "max_cost": "5", "legs": 2,
        "rounding": {"decimals": 3, "method": "up", "per": "invoice"},
        "bands": [{"name": "night", "days": ["Mon", "tue"], "start": "22:00", "end": "06:00",
                   "factor": "0.5"}],
        "destinations": [{"prefix": "+447", "price_per_min": "0.3"},
                         {"number_type": "landline", "price_per_min": "0.05",
                          "increments": "6/6"}],
        "seat_per_month": "35", "number_per_month": "1",
        "channel_per_month": [{"from_channels": 1, "price": 9}, {"from_channels": 10,
                                                                  "price": 8}],
    }]}
    (p,) = plans_from_dict(raw)
    assert p.legs == 2 and p.rounding.per == "invoice" and p.rounding.method == "up"
    assert p.bands[0].days == (0, 1) and p.bands[0].start_s == 22 * 3600
    assert p.destinations[0].prefix == "447"
    assert p.destinations[1].steps is not None and len(p.destinations[1].steps) == 1
    assert [t.from_channels for t in p.channel_tiers] == [1, 10]


@pytest.mark.parametrize(("plan", "expected"), [
    (dict(price_per_min="0.1", increments="6/0"),
     'plans.toml: plan[0].increments: must be "X/Y" with whole seconds X, Y >= 1, '
     "like \"6/6\" (got '6/0')"),
    (dict(steps=[{"from_s": 0, "price": "0.1", "unit_s": 60, "increment_s": 0}]),
     "plans.toml: plan[0].steps[0].increment_s: must be an integer >= 1 (got 0)"),
    (dict(price_per_min="-0.1", increments="1/1"),
     "plans.toml: plan[0].price_per_min: must be a decimal amount"),
    (dict(price_per_min="abc", increments="1/1"),
     "plans.toml: plan[0].price_per_min: must be a decimal amount"),
    (dict(price_per_min="0.1", increments="1/1", rounding={"method": "ceil"}),
     "plans.toml: plan[0].rounding.method: must be one of 'up', 'half_up', 'down'"),
    (dict(price_per_min="0.1", increments="1/1", conect_fee="0.1"),
     "plans.toml: plan[0].conect_fee: unknown key (did you mean 'connect_fee'?)"),
    (dict(price_per_min="0.1"), "plans.toml: plan[0].increments: is required"),
    (dict(increments="1/1"), "plans.toml: plan[0].price_per_min: is required"),
    (dict(price_per_min="0.1", increments="1/1", min_cost="2", max_cost="1"),
     "plans.toml: plan[0].max_cost: must be >= min_cost 2 (got '1')"),
    (dict(price_per_min="0.1", increments="1/1", legs=0),
     "plans.toml: plan[0].legs: must be an integer >= 1"),
    (dict(price_per_min="0.1", increments="1/1",
          steps=[{"from_s": 0, "price": "1", "increment_s": 1}]),
     "plans.toml: plan[0].price_per_min: cannot be combined with steps"),
    (dict(steps=[{"from_s": 0, "price": "1", "increment_s": 6},
                 {"from_s": 0, "price": "1", "increment_s": 1}]),
     "plans.toml: plan[0].steps[1].from_s: must be greater than the previous step's 0"),
    (dict(steps=[{"from_s": 5, "price": "1", "increment_s": 6}]),
     "plans.toml: plan[0].steps[0].from_s: must be 0 for the first step (got 5)"),
    (dict(price_per_min="0.1", increments="1/1",
          bands=[{"days": ["mon"], "start": "25:00", "factor": "1"}]),
     "plans.toml: plan[0].bands[0].start: must be a time"),
    (dict(price_per_min="0.1", increments="1/1",
          bands=[{"days": ["funday"], "factor": "1"}]),
     "plans.toml: plan[0].bands[0].days: must be a non-empty list of weekdays"),
    (dict(price_per_min="0.1", increments="1/1",
          bands=[{"days": ["fri"], "start": "18:00", "end": "08:00", "factor": "0.5"},
                 {"days": ["sat"], "end": "24:00", "factor": "0.5"}]),
     "plans.toml: plan[0].bands[1]: overlaps plan[0].bands[0] on sat at 00:00"),
    (dict(price_per_min="0.1", increments="1/1",
          destinations=[{"prefix": "86", "number_type": "mobile", "price_per_min": "1"}]),
     "plans.toml: plan[0].destinations[0]: must give exactly one of prefix or number_type"),
    (dict(price_per_min="0.1", increments="1/1",
          destinations=[{"prefix": "86", "price_per_min": "1"},
                        {"prefix": "+86", "price_per_min": "2"}]),
     "plans.toml: plan[0].destinations[1]: repeats prefix 86 of plan[0].destinations[0]"),
    (dict(price_per_min="0.1", increments="1/1", destinations=[{"prefix": "8a6",
                                                                 "price_per_min": "1"}]),
     "plans.toml: plan[0].destinations[0].prefix: must be digits"),
    (dict(price_per_min="0.1", increments="60/60",
          bundle={"minutes": 100, "price": "10", "overage_per_min": "0.2"}),
     "plans.toml: plan[0].price_per_min: must be 0 or absent in a bundle plan"),
    (dict(increments="60/60", bundle={"minutes": 0, "price": "10", "overage_per_min": "1"}),
     "plans.toml: plan[0].bundle.minutes: must be an integer >= 1 (got 0)"),
    (dict(price_per_min="0.1", increments="1/1",
          channel_per_month=[{"from_channels": 1, "price": "9"},
                             {"from_channels": 1, "price": "8"}]),
     "plans.toml: plan[0].channel_per_month[1].from_channels: must be greater than"),
    (dict(price_per_min="0.1", increments="1/1", currency="yuan"),
     "plans.toml: plan[0].currency: must be a 3-letter currency code"),
])
def test_bad_plan_names_file_and_key(plan: dict[str, object], expected: str) -> None:
    raw = {"plan": [{"name": "p", "currency": "CNY", **plan}]}
    problems = _problems(raw)
    assert any(line.startswith(expected) for line in problems), problems


def test_all_problems_reported_at_once() -> None:
    raw = {"plan": [
        {"name": "a", "currency": "CNY", "price_per_min": "x", "increments": "1/1"},
        {"name": "a", "currency": "CNY", "price_per_min": "0.1", "increments": "1/1",
         "legs": 0},
        {"currency": "CNY", "steps": [{"from_s": 0, "price": "1", "increment_s": 0}]},
    ], "plans": []}
    problems = _problems(raw)
    keys = [line.split(": ")[1] for line in problems]
    assert keys == ["plans", "plan[0].price_per_min", "plan[1].legs", "plan[1].name",
                    "plan[2].name", "plan[2].steps[0].increment_s"]


def test_empty_file_and_unreadable_files(tmp_path: Path) -> None:
    assert _problems({}) == ("plans.toml: plan: must have at least one [[plan]] table "
                             "(got none)",)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[plan]\nname = 1\n")
    with pytest.raises(PlanError, match="bad.toml: invalid TOML"):
        load_plans(bad)
    with pytest.raises(PlanError, match="no such file"):
        load_plans(tmp_path / "missing.toml")


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(allow_nan=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "currency", "price_per_min", "increments", "steps", "from_s",
                         "price", "unit_s", "increment_s", "bands", "days", "start", "end",
                         "factor", "legs", "rounding", "bundle", "minutes", "prefix",
                         "destinations", "channel_per_month", "decimals", "method"]),
        inner, max_size=5),
    max_leaves=20))
def test_malformed_input_raises_plan_error_only(plan: object) -> None:
    """Whatever the TOML holds, the loader returns plans or raises PlanError — no crash."""
    try:
        plans = plans_from_dict({"plan": [plan]}, source="fuzz.toml")
    except PlanError as exc:
        assert exc.problems and all(line.startswith("fuzz.toml: ") for line in exc.problems)
    else:
        assert all(isinstance(p, Plan) for p in plans)


_VALID = {
    "name": "v", "currency": "CNY", "price_per_min": "0.1", "increments": "6/6",
    "connect_fee": "0.01", "min_cost": "0", "max_cost": "9", "legs": 1,
    "rounding": {"decimals": 3, "method": "up"},
    "bands": [{"days": ["mon"], "start": "08:00", "end": "18:00", "factor": "2"}],
    "destinations": [{"prefix": "86", "price_per_min": "0.2"}],
    "channel_per_month": [{"from_channels": 1, "price": "9"}],
    "bundle": {"minutes": 10, "price": "1", "overage_per_min": "0"},
}
_JUNK = (st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=4)
         | st.lists(st.integers(), max_size=2) | st.just({}) | st.just([{}]))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_VALID)), _JUNK, st.booleans())
def test_one_bad_value_in_a_valid_plan(key: str, junk: object, nested: bool) -> None:
    """A realistic plan with one value replaced by junk (at top level or one level down)."""
    plan = {k: v for k, v in _VALID.items() if k not in ("bundle",)} | {"price_per_min": "0.1"}
    if nested and isinstance(_VALID[key], dict | list):
        inner = _VALID[key]
        first = inner[0] if isinstance(inner, list) else inner
        sub = dict(first) | {sorted(first)[0]: junk}
        plan[key] = [sub] if isinstance(inner, list) else sub
    else:
        plan[key] = junk
    try:
        plans_from_dict({"plan": [plan]}, source="f.toml")
    except PlanError as exc:
        assert all(line.startswith("f.toml: plan") for line in exc.problems), exc.problems
