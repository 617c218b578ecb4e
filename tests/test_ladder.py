"""The dialer ladder (issues 6 and 17): predictive pacing against the baselines, same customers.

The acceptance figures of issue 6: at 20 agents, over 20 replications, predictive
keeps abandonment ≤ 3 % in at least 18 and gives ≥ 35 % more contacts per agent-hour
than progressive 1:1, and more than the tuned Poisson dialer, power ratio per idle
agent, VICIdial RATIO level and the VICIdial-style adaptive controller; ≥ 25 % at 10
agents, ≥ 15 % at 5 and ≥ 40 % at 50. Issue 17: the tuned baselines are tuned on other
seeds than they are scored on. benchmarks/bench_ladder.py prints the whole table.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from conftest import SCENARIOS

import sim
import sim.ladder as ladder_mod
from sim.analysis.stats import mean_ci
from sim.ladder import TUNE_SEED_OFFSET, format_ladder, ladder, markdown_ladder

# Baselines tuned to the 3 % cap by benchmarks/bench_ladder.py on seeds 10001-10004
# (bisection, 8 steps, on the mean abandonment; 2026-12-02 run, see the README), never
# on the seeds 1-20 they are scored on here.
TUNED_POWER = {5: 1.46, 10: 2.04, 20: 2.64, 50: 3.54}
TUNED_RATIO = {20: 1.32}
TUNED_POISSON_PER_MIN = {20: 22.3}


class _FakeReplications:
    """What ``replicate`` returns, for a made-up dialer whose abandonment is
    0.01 × the tuned parameter, 0.005 higher on the scoring seeds 1-10."""

    def __init__(self, scenario, reps, seed, log):
        d = scenario.dialer
        x = d.rate_per_min / 10 if d.mode == "poisson" else d.ratio
        self.ab = [0.01 * x + (0.005 if s <= 10 else 0.0) for s in range(seed, seed + reps)]
        log.append((d.mode, x, seed, reps))

    def values(self, metric):
        return self.ab if metric == "abandonment_rate" else [1.0] * len(self.ab)

    def estimate(self, metric):
        return mean_ci(self.values(metric))


def test_tuned_baselines_are_tuned_on_other_seeds_than_they_are_scored_on(monkeypatch):
    log = []
    monkeypatch.setattr(ladder_mod, "replicate", lambda sc, reps, seed, executor=None:
                        _FakeReplications(sc, reps, seed, log))
    base = sim.load_scenario(SCENARIOS / "dialer_ladder.toml")
    rows = {r.strategy: r for r in ladder(
        base, [5], reps=10, seed=1, tune_reps=3, tune_steps=12,
        strategies=("progressive 1:1", "power ratio per idle agent", "VICIdial RATIO level"))}
    scored = {(m, x) for m, x, seed, reps in log if seed == 1}
    tuning = [(seed, reps) for _, _, seed, reps in log if seed != 1]
    assert tuning and all(seed == 1 + TUNE_SEED_OFFSET and reps == 3 for seed, reps in tuning)
    assert len(scored) == 3  # each strategy scored once, at its tuned value
    for name in ("power ratio per idle agent", "VICIdial RATIO level"):
        r = rows[name]
        assert r.tuned_on == (1 + TUNE_SEED_OFFSET, 3) and r.seeds == (1, 10)
        assert r.parameter == pytest.approx(3.0, abs=1e-3)  # 0.01 x ≤ 3 % on the tuning seeds
        # scored on new seeds, it runs over the cap — and says so
        assert r.abandonment.mean == pytest.approx(0.035, abs=1e-4)
        assert r.reps_over_cap == 10 and "3.50% abandoned, 10/10 days over" in r.label
    assert rows["progressive 1:1"].tuned_on is None
    table = markdown_ladder(list(rows.values()))
    assert "| 5 |" in table and "@3" in table and "(10/10)" in table
    with pytest.raises(ValueError, match="overlap"):
        ladder(base, [5], reps=10, seed=1, tune_seed=8, strategies=("poisson",))


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


@pytest.mark.slow
def test_twenty_agents_predictive_beats_every_baseline(base, pool):
    tuned = {("power ratio per idle agent", 20): TUNED_POWER[20],
             ("VICIdial RATIO level", 20): TUNED_RATIO[20],
             ("poisson", 20): TUNED_POISSON_PER_MIN[20]}
    rows = by_strategy(ladder(base, [20], reps=20, seed=1, tuned=tuned, executor=pool,
                              strategies=[s for s in ladder_mod.STRATEGIES
                                          if s != "predictive, margin 0.1"]))
    print("\n" + format_ladder(list(rows.values())))
    pred = rows["predictive"]
    assert pred.reps - pred.reps_over_cap >= 18
    gain = pred.contacts_per_agent_hour.mean / rows["progressive 1:1"].contacts_per_agent_hour.mean
    assert gain >= 1.35
    for other in ("poisson", "power ratio per idle agent", "VICIdial RATIO level", "adaptive"):
        assert pred.contacts_per_agent_hour.mean > rows[other].contacts_per_agent_hour.mean
    # the baselines behave as users of them know: 1:1 never abandons, adaptive
    # overshoots the cap in most runs, the tuned ones sit at the cap on average
    assert rows["progressive 1:1"].abandonment.mean == 0
    assert rows["adaptive"].reps_over_cap > rows["adaptive"].reps // 2
    for tuned_one in ("power ratio per idle agent", "VICIdial RATIO level", "poisson"):
        assert abs(rows[tuned_one].abandonment.mean - 0.03) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("agents, reps, want", [(5, 8, 1.15), (10, 8, 1.25), (50, 4, 1.40)])
def test_gain_over_progressive_at_other_sizes(base, pool, agents, reps, want):
    rows = by_strategy(ladder(base, [agents], reps=reps, seed=1,
                              strategies=("progressive 1:1", "power ratio per idle agent",
                                          "predictive"),
                              tuned={("power ratio per idle agent", agents):
                                     TUNED_POWER[agents]},
                              executor=pool))
    pred = rows["predictive"]
    assert pred.reps_over_cap <= reps // 10
    assert pred.contacts_per_agent_hour.mean >= want * \
        rows["progressive 1:1"].contacts_per_agent_hour.mean
    assert pred.contacts_per_agent_hour.mean > \
        rows["power ratio per idle agent"].contacts_per_agent_hour.mean


@pytest.mark.slow
def test_abandon_margin_trades_days_over_the_cap_for_contacts(base, pool):
    # 5 agents, the smallest team of the ladder (the noisiest days): the default margin
    # (aim at 0.8 × cap) keeps every day under the cap; no margin runs closer to it and
    # buys contacts
    from sim.experiment import replicate

    sc = base.with_overrides({"agents.count": 5, "list.size": 6000})
    assert sc.dialer.abandon_margin == 0.2
    default = replicate(sc, 6, seed=201, executor=pool)
    none = replicate(sc.with_overrides({"dialer.abandon_margin": 0.0}), 6, seed=201,
                     executor=pool)
    ab_d, ab_n = default.values("abandonment_rate"), none.values("abandonment_rate")
    assert max(ab_d) <= 0.03
    assert sum(ab_n) / 6 > sum(ab_d) / 6 + 0.002
    gain = [n - d for n, d in zip(none.values("contacts_per_agent_hour"),
                                  default.values("contacts_per_agent_hour"), strict=True)]
    assert sum(gain) / 6 > 0
