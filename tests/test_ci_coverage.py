"""Confidence intervals cover the truth about 95 % of the time.

A 95 % interval that covers a known answer far less (or far more) often than 95 % of
the time misleads every comparison built on it. Two checks, each within binomial
tolerance of 0.95:

* the Student-t intervals of :mod:`sim.analysis.stats` on data of a known normal
  distribution (means and paired differences);
* the model itself, through :func:`sim.replicate`: progressive 1:1 dialing with the
  VALIDATION.md V7 inputs (p = 0.25, ring 8 s, talk 120 s, wrap 30 s) on a list small
  enough to be worked through, so every lead is dialled once and the contact rate is a
  binomial proportion with mean exactly p = 0.25.
"""

from __future__ import annotations

import math

import numpy as np
from _factory import tiny

import sim
from sim.analysis.stats import mean_ci, paired_diff


def tolerance(trials: int, p: float = 0.95, z: float = 3.5) -> float:
    """Half-width of the band a binomial coverage count stays in (z standard errors)."""
    return z * math.sqrt(p * (1 - p) / trials)


def test_t_interval_covers_a_normal_mean():
    rng = np.random.default_rng(20260302)
    trials, n = 2000, 6
    data = rng.normal(3.0, 2.0, size=(trials, n))
    covered = sum(mean_ci(row).covers(3.0) for row in data)
    assert abs(covered / trials - 0.95) <= tolerance(trials), covered / trials
    covered_99 = sum(mean_ci(row, 0.99).covers(3.0) for row in data[:1000])
    assert abs(covered_99 / 1000 - 0.99) <= tolerance(1000, 0.99)


def test_paired_difference_covers_the_true_effect():
    # Paired runs share a large common component (the "customers"); the effect is 0.5.
    rng = np.random.default_rng(7)
    trials, n = 2000, 8
    common = rng.normal(0, 5.0, size=(trials, n))
    a = common + 0.5 + rng.normal(0, 1.0, size=(trials, n))
    b = common + rng.normal(0, 1.0, size=(trials, n))
    covered = sum(paired_diff(x, y).covers(0.5) for x, y in zip(a, b, strict=True))
    assert abs(covered / trials - 0.95) <= tolerance(trials)


def test_replications_cover_the_analytic_contact_rate():
    p = 0.25  # VALIDATION.md V7
    scenario = tiny({"customers.p_pickup": p, "customers.ring": 8,
                     "script.stages[0].duration": 120, "agents.wrap": 30,
                     "list.size": 40}, agents={"count": 2})
    experiments, reps = 100, 4
    covered = 0
    for j in range(experiments):
        result = sim.replicate(scenario, reps, seed=10_000 + j * reps)
        assert result.values("dials") == [40.0] * reps  # the list is worked through
        covered += result.estimate("contact_rate").covers(p)
    # 100 experiments: a coverage of 0.95 stays within about ±0.076 (3.5 SE)
    assert abs(covered / experiments - 0.95) <= tolerance(experiments), covered
