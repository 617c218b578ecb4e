"""Model fidelity (issue 17): give-up time, a talk-time law, the billsec convention."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _factory import tiny, tiny_dict
from scipy import stats

import sim
from sim.errors import ScenarioError
from sim.scenario import scenario_from_dict


def _binomial_ci(k: int, n: int, z: float = 3.3) -> tuple[float, float]:
    p = k / n
    h = z * math.sqrt(p * (1 - p) / n)
    return p - h, p + h


# -- dialer.give_up ----------------------------------------------------------------------

@pytest.mark.parametrize("give_up, answered", [(6, 0), (10, 1), (40, 1)])
def test_constant_give_up_decides_pickup_exactly(give_up, answered):
    # everyone would pick up after 8 s: a line let ring 6 s is never answered
    s = tiny({"list.size": 20, "dialer.give_up": give_up})
    cdrs = sim.run(s, seed=2).cdrs
    assert int(cdrs.answered.sum()) == answered * 20
    ring = cdrs["ring_s"][~cdrs.answered]
    assert np.all(ring == min(give_up, 25))  # capped by the ring timeout


def test_give_up_absent_is_the_ring_timeout():
    cdrs = sim.run(tiny({"list.size": 10, "customers.p_pickup": 0.0}), seed=2).cdrs
    assert np.all(cdrs["ring_s"] == 25)


def test_answered_share_is_p_pickup_times_ring_cdf_at_give_up():
    # ring uniform on [0, 20], give-up 10 s: P(answered) = 0.6 × 0.5
    n = 4000
    s = tiny({"list.size": n, "agents.count": 40, "customers.p_pickup": 0.6,
              "customers.ring": {"dist": "uniform", "low": 0, "high": 20},
              "dialer.give_up": 10, "agents.wrap": 0,
              "script.stages[0].duration": 5})
    cdrs = sim.run(s, seed=5).cdrs
    assert len(cdrs) == n
    lo, hi = _binomial_ci(int(cdrs.answered.sum()), n)
    assert lo <= 0.3 <= hi
    assert cdrs["ring_s"][cdrs.answered].max() <= 10


@pytest.mark.parametrize("mode", ["progressive", "poisson"])
def test_agent_time_per_unanswered_dial_is_mean_of_capped_give_up(mode):
    # nobody answers; give-up uniform on [0, 40] capped at the 25 s timeout:
    # E[min(G, 25)] = (25²/2 + 15·25) / 40 = 17.1875 s
    n = 3000
    over = {"list.size": n, "customers.p_pickup": 0.0, "agents.count": 1,
            "dialer.give_up": {"dist": "uniform", "low": 0, "high": 40},
            "campaign.windows": [["00:00", "24:00"]], "campaign.days": 2}
    if mode == "poisson":
        over.update({"dialer.mode": "poisson", "dialer.rate_per_min": 20})
    cdrs = sim.run(tiny(over), seed=3).cdrs
    assert len(cdrs) == n
    ring = cdrs["ring_s"]
    assert ring.max() <= 25 + 1e-6
    want = (25**2 / 2 + 15 * 25) / 40
    sd = math.sqrt(np.var(ring) / n)
    assert abs(ring.mean() - want) < 4 * sd
    if mode == "progressive":  # the agent owns its line: it dials again at the hang-up
        start = cdrs["start"]
        np.testing.assert_allclose(np.diff(start), ring[:-1], atol=1e-6)


def test_give_up_draws_are_paired_across_dialer_modes():
    over = {"list.size": 400, "agents.count": 4, "customers.p_pickup": 0.3,
            "customers.ring": {"dist": "uniform", "low": 2, "high": 24},
            "dialer.give_up": {"dist": "exponential", "mean": 15}}
    a = sim.run(tiny(over), seed=9).cdrs
    b = sim.run(tiny({**over, "dialer.ratio": 2.0}), seed=9).cdrs
    ka = dict(zip(a["lead_id"].tolist(), a["ring_s"].tolist(), strict=True))
    kb = dict(zip(b["lead_id"].tolist(), b["ring_s"].tolist(), strict=True))
    assert len(ka) == len(kb) == 400
    na = dict(zip(a["lead_id"].tolist(), a.answered.tolist(), strict=True))
    nb = dict(zip(b["lead_id"].tolist(), b.answered.tolist(), strict=True))
    assert na == nb  # the same people pick up
    assert all(abs(ka[k] - kb[k]) < 1e-9 for k in ka if not na[k])


def test_shorter_give_up_raises_contacts_per_agent_hour():
    over = {"list.size": 3000, "agents.count": 5, "customers.p_pickup": 0.2,
            "customers.ring": {"dist": "uniform", "low": 2, "high": 12},
            "agents.wrap": 0}
    slow = sim.run(tiny(over), seed=4).kpis
    fast = sim.run(tiny({**over, "dialer.give_up": 13}), seed=4).kpis
    assert fast["contacts_per_agent_hour"] > slow["contacts_per_agent_hour"]


# -- script.talk -------------------------------------------------------------------------

def _talk_scenario(talk, **over):
    raw = tiny_dict()
    raw["script"] = {"p_convert": 0.1, "talk": talk}
    return scenario_from_dict(raw, overrides={"list.size": 2000, "agents.count": 20,
                                              "agents.wrap": 0, **over})


def test_talk_law_reproduces_its_distribution():
    law = {"dist": "lognormal", "median": 23, "sigma": 1.2}
    s = _talk_scenario(law)
    cdrs = sim.run(s, seed=1).cdrs
    conv = (cdrs["talk_s"] - cdrs["wait_s"])[~np.isnan(cdrs["connect"])]
    assert len(conv) == 2000
    ks = stats.kstest(conv, stats.lognorm(s=1.2, scale=23).cdf)
    assert ks.pvalue > 0.001
    assert set(cdrs.labels("result")[cdrs.answered]) <= {"converted", "declined"}
    lo, hi = _binomial_ci(int(cdrs.mask("result", "converted").sum()), 2000)
    assert lo <= 0.1 <= hi


def test_variants_of_the_talk_law_are_paired():
    a = sim.run(_talk_scenario({"dist": "lognormal", "median": 23, "sigma": 1.0}), seed=3).cdrs
    b = sim.run(_talk_scenario({"dist": "lognormal", "median": 46, "sigma": 1.0}), seed=3).cdrs
    ta = dict(zip(a["lead_id"].tolist(), a["talk_s"].tolist(), strict=True))
    tb = dict(zip(b["lead_id"].tolist(), b["talk_s"].tolist(), strict=True))
    ratio = np.array([tb[k] / ta[k] for k in ta])
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-9)  # the same quantile, each customer


def test_talk_law_in_pooled_dialing_stays_in_its_support():
    s = _talk_scenario({"dist": "uniform", "low": 3, "high": 9},
                       **{"dialer.mode": "predictive", "list.size": 600, "agents.count": 4})
    cdrs = sim.run(s, seed=2).cdrs
    conn = ~np.isnan(cdrs["connect"])
    conv = (cdrs["talk_s"] - cdrs["wait_s"])[conn]
    assert conn.sum() > 100 and conv.min() >= 3 - 1e-9 and conv.max() <= 9 + 1e-9


def test_talk_and_stages_are_mutually_exclusive():
    with pytest.raises(ScenarioError, match=r"script\.talk.*mutually exclusive"):
        tiny({"script.talk": 30})
    raw = tiny_dict()
    raw["script"] = {"p_convert": 0.1}
    with pytest.raises(ScenarioError, match=r"script\.stages.*script\.talk"):
        scenario_from_dict(raw)


# -- customers.billsec -------------------------------------------------------------------

@pytest.mark.parametrize("talk, method, want", [
    (60.4, "ceil", 61), (60.4, "floor", 60), (60.4, "round", 60), (60.5, "round", 61),
    (60.0, "ceil", 60), (0.4, "floor", 0), (0.5, "round", 1)])
def test_billsec_convention(talk, method, want):
    s = tiny({"list.size": 6, "script.stages[0].duration": talk, "customers.billsec": method,
              "customers.p_pickup": 0.5})
    cdrs = sim.run(s, seed=1).cdrs
    ans = cdrs.answered
    assert ans.any() and (~ans).any()
    assert np.all(cdrs["billsec"][ans] == want)
    assert np.all(cdrs["billsec"][~ans] == 0)


def test_billsec_default_is_ceil_and_bad_values_are_named():
    assert tiny().customers.billsec == "ceil"
    with pytest.raises(ScenarioError, match=r"customers\.billsec"):
        tiny({"customers.billsec": "up"})


# -- dialer.mode = "ratio" (VICIdial RATIO) --------------------------------------------

def test_ratio_mode_keeps_level_times_agents_lines_in_flight():
    # nobody answers, so every agent stays ready: lines in flight = round(2.5 × 4) = 10
    s = tiny({"list.size": 3000, "agents.count": 4, "customers.p_pickup": 0.0,
              "dialer.mode": "ratio", "dialer.ratio": 2.5})
    cdrs = sim.run(s, seed=1).cdrs
    t = np.arange(9 * 3600 + 60, 10 * 3600, 0.7)  # s from local midnight, 09:01-10:00
    start, end = cdrs["start"], cdrs["end"]
    in_flight = np.array([np.sum((start <= x) & (end > x)) for x in t])
    assert in_flight.max() == 10
    assert in_flight.mean() > 9  # topped up every 2.5 s, lines last 25 s


def test_ratio_mode_counts_busy_agents_in_its_goal():
    # everyone answers at once and talks 60 s: 4 agents at level 2 keep the talkers plus
    # round(2 × (idle + talking)) − talking − waiting lines; abandonment follows
    s = tiny({"list.size": 400, "agents.count": 4, "customers.p_pickup": 1.0,
              "customers.ring": 1, "dialer.mode": "ratio", "dialer.ratio": 2.0})
    r = sim.run(s, seed=1)
    assert r.kpis["abandoned"] > 0 and r.kpis["contacts"] > 0
    assert r.pacer["level"] == 2.0


def test_talk_law_has_no_stage_to_hand_over_at():
    raw = tiny_dict()
    raw["script"] = {"talk": 30}
    with pytest.raises(ScenarioError, match=r"dialer\.robot_transfer_stage"):
        scenario_from_dict(raw, overrides={"dialer.mode": "robot", "dialer.channels": 2,
                                           "dialer.robot_transfer_stage": 0})
