"""Parameter recovery (issue 13): fit exports made from known truths, over 40 seeds, and
count how often each truth lies inside its 95 % CI (>= 90 % required).

Two kinds of data: exports drawn straight from the laws (:func:`sim.fit.synthetic.
draw_export`: fast, exact truths — a 15 s ring timeout with short calls, and a
25 s timeout, 4 attempts, whole-second timestamps), and a smaller set through the
simulator itself (hourly pick-up, 4 attempts, a 15 s timeout), whose truths are the
scenario's values.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_fit import campaign_dict

import sim
from sim.fit.data import prepare
from sim.fit.estimate import wilson
from sim.fit.ring import fit_ring
from sim.fit.synthetic import draw_export
from sim.fit.talk import fit_talk
from sim.scenario import scenario_from_dict

# Seeds 0..199: the issue asks for 90 % coverage over 40 seeds; 200 make the check's own
# noise small (a calibrated 95 % interval covers in fewer than 90 % of 200 seeds with
# probability ~0.1 %, but in fewer than 90 % of 40 with ~14 % per parameter). Chosen as
# a range from 0, not by their results (coverage over seeds 0..399 is 92-97 % for each).
SEEDS = range(200)
TALK = {"dist": "mixture", "weights": [0.4, 0.6], "components": [
    {"dist": "lognormal", "median": 5, "sigma": 0.25},
    {"dist": "lognormal", "median": 60, "sigma": 0.8}]}


def _coverage(hits: dict[str, list[bool]]) -> dict[str, float]:
    return {k: sum(v) / len(v) for k, v in hits.items()}


@pytest.mark.slow
def test_recovery_on_exports_drawn_from_the_laws():
    hits: dict[str, list[bool]] = {}
    for seed in SEEDS:
        # 15 s timeout (censoring cuts the ring law above its median), short calls
        d = prepare(draw_export(leads=10_000, seed=seed, p_pickup=0.5, ring_timeout_s=15,
                                talk=TALK, max_attempts=1))
        e = {**fit_ring(d).estimates, **fit_talk(d.talk_bins(), d.talk_values()).estimates}
        for key, truth in (("customers.p_pickup", 0.5), ("ring.median_s", 12),
                           ("talk.short_share", 0.4), ("talk.short_median_s", 5)):
            hits.setdefault(f"15s {key}", []).append(key in e and e[key].covers(truth))
        # 25 s timeout, 4 attempts, timestamps to the second
        d = prepare(draw_export(leads=1500, seed=1000 + seed, p_pickup=0.3, ring_timeout_s=25,
                                ring={"dist": "lognormal", "median": 8, "sigma": 0.6},
                                max_attempts=4, whole_seconds=True))
        e = fit_ring(d).estimates
        for key, truth in (("customers.p_pickup", 0.3), ("ring.median_s", 8)):
            hits.setdefault(f"25s {key}", []).append(e[key].covers(truth))
    cov = _coverage(hits)
    assert all(c >= 0.9 for c in cov.values()), cov


@pytest.mark.slow
def test_recovery_through_the_simulator():
    raw = campaign_dict()
    raw["list"]["size"] = 1500
    scenario = scenario_from_dict(raw)
    hits: dict[str, list[bool]] = {}
    seeds = range(1, 11)
    for seed in seeds:
        f = sim.fit(sim.run(scenario, seed=seed).cdrs)
        e = f.estimates
        # the fit's hour multipliers average 1 over the dials that rang; the truth's are
        # 1 outside 09:00 and 16:00: the attempt-1 level on the fit's scale is 0.5 x the
        # true multipliers' mean over those dials
        rang = f.dials.answered | f.dials.no_answer
        mult = np.ones(24)
        mult[9], mult[16] = 0.8, 1.2
        level = 0.5 * float(mult[f.dials.hour[rang]].mean())
        for key, truth in (("customers.p_fail", 0.03), ("customers.p_busy", 0.05),
                           ("ring.median_s", 12), ("customers.p_pickup.scenario", level),
                           ("talk.short_median_s", 4)):
            hits.setdefault(key, []).append(key in e and e[key].covers(truth))
        assert f.raw["list"]["max_attempts"] == 4 and f.raw["dialer"]["ring_timeout_s"] == 15
    cov = _coverage(hits)
    assert all(c >= 0.9 for c in cov.values()), cov


def _hour_effect_flagged(seed: int, pickup_by_hour: dict[int, float] | None = None) -> bool:
    d = prepare(draw_export(leads=3000, seed=seed, max_attempts=3,
                            ring={"dist": "lognormal", "median": 12, "sigma": 0.5},
                            pickup_by_hour=pickup_by_hour))
    est = fit_ring(d).estimates["customers.pickup_by_hour"]
    return est.method.startswith("censored MLE by hour")


@pytest.mark.slow
def test_hour_effect_test_keeps_its_level_on_effect_free_exports():
    # sparse hours (a few retries late in the evening) once had free multipliers and
    # unbounded pick-up probabilities: 13.5 % false effects at a nominal 5 %
    flags = [_hour_effect_flagged(seed) for seed in range(80)]
    rate, low, _ = wilson(sum(flags), len(flags))
    assert low <= 0.05 and rate <= 0.1, (sum(flags), len(flags))


def test_hour_effect_test_finds_a_real_hour_effect():
    effect = {9: 0.7, 10: 0.7, 15: 1.3, 16: 1.3}
    assert sum(_hour_effect_flagged(seed, effect) for seed in range(5)) >= 4
