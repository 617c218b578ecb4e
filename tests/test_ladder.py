"""The dialer ladder (issue 6): predictive pacing against the baselines, same customers.

The acceptance figures of the issue: at 20 agents, over 20 replications, predictive
keeps abandonment ≤ 3 % in at least 18 and gives ≥ 35 % more contacts per agent-hour
than progressive 1:1, and more than Poisson at the cap, the best fixed dial level and
the VICIdial-style adaptive controller; ≥ 25 % at 10 agents, ≥ 15 % at 5 and ≥ 40 %
at 50. benchmarks/bench_ladder.py prints the whole table (5-100 agents).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from conftest import SCENARIOS

import sim
from sim.ladder import format_ladder, ladder

pytestmark = pytest.mark.slow

# Baselines tuned to the 3 % cap by benchmarks/bench_ladder.py (bisection on the mean
# abandonment over 4 replications on the same seeds; 2026-11-27 run, see the README).
TUNED_FIXED = {5: 1.53, 10: 2.11, 20: 2.72, 50: 3.6}
TUNED_POISSON_PER_MIN = {20: 23.3}


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(max_workers=2,
                             mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


@pytest.fixture(scope="module")
def base() -> sim.Scenario:
    return sim.load_scenario(SCENARIOS / "dialer_ladder.toml")


def by_strategy(rows):
    return {r.strategy: r for r in rows}


def test_twenty_agents_predictive_beats_every_baseline(base, pool):
    tuned = {("fixed level at cap", 20): TUNED_FIXED[20],
             ("poisson at cap", 20): TUNED_POISSON_PER_MIN[20]}
    rows = by_strategy(ladder(base, [20], reps=20, seed=1, tuned=tuned, executor=pool))
    print("\n" + format_ladder(list(rows.values())))
    pred = rows["predictive"]
    assert pred.reps - pred.reps_over_cap >= 18
    gain = pred.contacts_per_agent_hour.mean / rows["progressive 1:1"].contacts_per_agent_hour.mean
    assert gain >= 1.35
    for other in ("poisson at cap", "fixed level at cap", "adaptive"):
        assert pred.contacts_per_agent_hour.mean > rows[other].contacts_per_agent_hour.mean
    # the baselines behave as users of them know: 1:1 never abandons, adaptive
    # overshoots the cap in most runs, the tuned ones sit at the cap on average
    assert rows["progressive 1:1"].abandonment.mean == 0
    assert rows["adaptive"].reps_over_cap > rows["adaptive"].reps // 2
    for tuned_one in ("fixed level at cap", "poisson at cap"):
        assert abs(rows[tuned_one].abandonment.mean - 0.03) < 0.01


@pytest.mark.parametrize("agents, reps, want", [(5, 8, 1.15), (10, 8, 1.25), (50, 4, 1.40)])
def test_gain_over_progressive_at_other_sizes(base, pool, agents, reps, want):
    rows = by_strategy(ladder(base, [agents], reps=reps, seed=1,
                              strategies=("progressive 1:1", "fixed level at cap", "predictive"),
                              tuned={("fixed level at cap", agents): TUNED_FIXED[agents]},
                              executor=pool))
    pred = rows["predictive"]
    assert pred.reps_over_cap <= reps // 10
    assert pred.contacts_per_agent_hour.mean >= want * \
        rows["progressive 1:1"].contacts_per_agent_hour.mean
    assert pred.contacts_per_agent_hour.mean > \
        rows["fixed level at cap"].contacts_per_agent_hour.mean
