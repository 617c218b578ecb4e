"""VALIDATION.md V7 (progressive 1:1) and V8 (fixed ratio k): exact and within CIs.

V7: p = 0.25, E[T_answer] = 8 s, E[T_fail] = 25 s, talk 120 s, wrap 30 s ⇒ occupancy
150 / (150 + 8 + 3·25) = 0.6438 and 3600 / 233 = 15.45 contacts per agent-hour.
V8: ratio k lines per idle agent, all outcomes after D = 20 s, zero patience ⇒
q = 1 − (1 − p)^k, abandoned / live = (kp − q) / (kp), occupancy = 150 / (150 + D/q).
Source: VALIDATION.md "Formulas" and cases V7, V8.
"""

from __future__ import annotations

import numpy as np
import pytest
from _factory import tiny

import sim
from sim.analysis.stats import mean_ci

V7 = {"customers.p_pickup": 0.25, "customers.ring": 8, "dialer.ring_timeout_s": 25,
      "script.stages[0].duration": 120, "agents.wrap": 30, "list.size": 100_000,
      "campaign.windows": [["09:00", "17:00"]]}


def test_v7_constant_times_occupancy_is_exact_given_the_outcomes():
    r = sim.run(tiny(V7, agents={"count": 5}), seed=3)
    c = r.cdrs
    contacts = int((~np.isnan(c["connect"])).sum())
    misses = len(c) - contacts
    # Agents dial back to back, so logged-in time = 8 s per contact + 25 s per miss
    # + 150 s of handle per contact: occupancy follows exactly from the realised counts.
    expected = 150 * contacts / (150 * contacts + 8 * contacts + 25 * misses)
    assert r.kpis["occupancy"] == pytest.approx(expected, rel=1e-12)
    assert r.kpis["abandoned"] == 0


def test_v7_everyone_answers_is_exact():
    r = sim.run(tiny({**V7, "customers.p_pickup": 1.0}, agents={"count": 3}), seed=1)
    assert r.kpis["occupancy"] == pytest.approx(150 / 158, rel=1e-12)


@pytest.mark.parametrize("random_times", [False, True])
def test_v7_within_99ci(random_times):
    over = dict(V7)
    if random_times:
        over.update({"customers.ring": {"dist": "uniform", "low": 4, "high": 12},
                     "script.stages[0].duration": {"dist": "exponential", "mean": 120},
                     "agents.wrap": {"dist": "gamma", "mean": 30, "sd": 10}})
    s = tiny(over, agents={"count": 10})
    runs = [sim.run(s, seed=seed) for seed in range(12)]
    occ = mean_ci([r.kpis["occupancy"] for r in runs], 0.99)
    cph = mean_ci([r.kpis["contacts_per_agent_hour"] for r in runs], 0.99)
    assert occ.covers(150 / 233), occ
    assert cph.covers(3600 / 233), cph
    assert all(r.kpis["abandoned"] == 0 for r in runs)


def _v8_expected(k: int, p: float = 0.25, d: float = 20.0) -> tuple[float, float]:
    q = 1 - (1 - p) ** k
    return (k * p - q) / (k * p), 150 / (150 + d / q)


def test_v8_reference_values():
    assert _v8_expected(2)[0] == pytest.approx(0.125)
    assert _v8_expected(3)[0] == pytest.approx(0.229, abs=5e-4)
    assert _v8_expected(2)[1] == pytest.approx(0.766, abs=5e-4)
    assert _v8_expected(3)[1] == pytest.approx(0.813, abs=5e-4)


def test_v8_everyone_answers_is_exact():
    r = sim.run(tiny({"dialer.ratio": 3, "customers.ring": 20, "list.size": 3000,
                      "script.stages[0].duration": 120, "agents.wrap": 30}), seed=1)
    assert r.kpis["abandonment_rate"] == pytest.approx(2 / 3, rel=1e-12)
    assert r.kpis["occupancy"] == pytest.approx(150 / 170, rel=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_v8_within_99ci(k):
    # One agent, so every line rung is rung for it (the formula's assumption); the
    # failed attempts take D = 20 s too (busy signal at 20 s, ring timeout above).
    s = tiny({"dialer.ratio": k, "customers.p_pickup": 0.25, "customers.ring": 20,
              "customers.p_busy": 0.0, "dialer.ring_timeout_s": 20,
              "script.stages[0].duration": 120, "agents.wrap": 30,
              "list.size": 20_000, "campaign.days": 5})
    runs = [sim.run(s, seed=seed) for seed in range(10)]
    want_ab, want_occ = _v8_expected(k)
    ab = mean_ci([r.kpis["abandonment_rate"] for r in runs], 0.99)
    occ = mean_ci([r.kpis["occupancy"] for r in runs], 0.99)
    assert ab.covers(want_ab), (ab, want_ab)
    assert occ.covers(want_occ), (occ, want_occ)
