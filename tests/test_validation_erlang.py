"""Erlang B/C/A formulas (V1–V5, V9) exactly, and the model against them through the
``poisson`` dialer (V4–V6) and the robot's trunk (Erlang B) within 99 % CIs.

Sources: VALIDATION.md cases V1–V9; DESIGN.md §7 (Ofcom formula).
"""

from __future__ import annotations

import numpy as np
import pytest
from _factory import tiny

import sim
from sim.analysis.compliance import ofcom_rate
from sim.analysis.erlang import erlang_a, erlang_b, erlang_c, erlang_c_asa, erlang_c_service_level
from sim.analysis.stats import mean_ci


def test_formulas_reproduce_the_reference_values():
    assert erlang_b(1, 1) == pytest.approx(0.5) and erlang_b(1, 2) == pytest.approx(0.2)  # V1
    for n, want in ((15, 0.036497), (16, 0.022302), (17, 0.012949)):  # V2
        assert erlang_b(10, n) == pytest.approx(want, abs=5e-7)
    mu = 1 / 180
    assert erlang_c(10, 14) == pytest.approx(0.1741, abs=5e-5)  # V3
    assert erlang_c_service_level(10, 14, mu, 20) == pytest.approx(0.8884, abs=5e-5)
    assert erlang_c_asa(10, 14, mu) == pytest.approx(0.1741 / (14 / 180 - 100 / 1800), rel=1e-3)
    lam = 100 / 1800
    v4 = erlang_a(lam, mu, 14, 1 / 300)  # V4
    assert v4.p_wait == pytest.approx(0.14526, abs=5e-6)
    assert v4.p_abandon == pytest.approx(0.013984, abs=5e-7)
    assert v4.occupancy == pytest.approx(0.704297, abs=5e-7)
    for n, want in ((10, 0.109438), (12, 0.042711), (16, 0.003876)):  # V5
        assert erlang_a(lam, mu, n, 1 / 300).p_abandon == pytest.approx(want, abs=5e-7)
    assert erlang_b(13.997, 20) == pytest.approx(0.0300, abs=5e-5)  # V6
    assert 13.997 * (1 - erlang_b(13.997, 20)) / 20 == pytest.approx(0.679, abs=5e-4)


def test_v9_ofcom_formula_exactly():
    assert ofcom_rate(29, 9, 7) == pytest.approx(0.644444, abs=5e-7)
    assert round(100 * ofcom_rate(29, 9, 7), 2) == 64.44


def _poisson(n_agents: int, rate_per_min: float, talk: dict, patience,
             days: int = 1) -> sim.Scenario:
    # Every dial is a live answer after 5 s (p = 1): live answers are Poisson at the
    # dial rate. Handle = talk (wrap 0). No abandon threshold: patience decides.
    return tiny({"dialer.mode": "poisson", "dialer.rate_per_min": rate_per_min,
                 "dialer.abandon_threshold_s": "inf", "customers.ring": 5,
                 "customers.patience": patience, "agents.count": n_agents, "agents.wrap": 0,
                 "script.stages[0].duration": talk, "list.size": 60_000,
                 "campaign.days": days, "campaign.windows": [["08:00", "20:00"]]})


WARM_S = 3600.0  # the campaign starts with every agent idle: skip the first hour
T0 = 8 * 3600.0 + WARM_S  # the window opens at 08:00
T1 = 20 * 3600.0  # ... and closes at 20:00


def _live(r: sim.model.RunResult) -> np.ndarray:
    """Live answers in the steady-state part of the day."""
    c = r.cdrs
    return c.mask("answered_by", "person") & (c["answer"] >= T0) & (c["answer"] < T1)


def _abandon(r: sim.model.RunResult) -> float:
    live = _live(r)
    return float(r.cdrs["abandoned"][live].mean())


def _p_wait(r: sim.model.RunResult) -> float:
    return float((r.cdrs["wait_s"][_live(r)] > 1e-9).mean())


def _occupancy(r: sim.model.RunResult) -> float:
    """Share of agent time in [T0, T1) spent talking or in wrap-up."""
    a = r.agents
    s, e = np.clip(a.start, T0, T1), np.clip(a.end, T0, T1)
    busy = (a.state == 2) | (a.state == 3)
    return float((e - s)[busy].sum() / (e - s).sum())


@pytest.mark.slow
@pytest.mark.parametrize("n, p_ab", [(14, 0.013984), (10, 0.109438), (12, 0.042711),
                                     (16, 0.003876)])
def test_v4_v5_erlang_a_through_the_poisson_dialer(n, p_ab):
    s = _poisson(n, 100 / 30, {"dist": "exponential", "mean": 180},
                 {"dist": "exponential", "mean": 300})
    runs = [sim.run(s, seed=seed) for seed in range(12)]
    ab = mean_ci([_abandon(r) for r in runs], 0.99)
    assert ab.covers(p_ab), ab
    if n == 14:  # V4 also fixes P(wait) and occupancy
        assert mean_ci([_p_wait(r) for r in runs], 0.99).covers(0.14526)
        assert mean_ci([_occupancy(r) for r in runs], 0.99).covers(0.704297)


@pytest.mark.slow
def test_v6_erlang_b_with_lognormal_handle_through_the_poisson_dialer():
    # 13.997 live answers per 150 s, handle lognormal mean 150 s with CV 1.5, nobody
    # waits (zero patience): abandoned share = Erlang B for any handle distribution.
    s = _poisson(20, 13.997 / 150 * 60, {"dist": "lognormal", "mean": 150, "cv": 1.5}, 0)
    runs = [sim.run(s, seed=seed) for seed in range(12)]
    ab = mean_ci([_abandon(r) for r in runs], 0.99)
    occ = mean_ci([_occupancy(r) for r in runs], 0.99)
    assert ab.covers(erlang_b(13.997, 20)), ab
    assert occ.covers(0.679), occ


def test_robot_trunk_blocking_is_erlang_b():
    # C = 10 robot channels, Poisson attempts, holding = 5 s ring + talk (exp 60 s):
    # attempts finding every channel busy are lost with probability B(A, C).
    c, hold = 10, 65.0
    a = 8.0
    s = tiny({"dialer.mode": "robot", "dialer.channels": c, "dialer.rate_per_min": a / hold * 60,
              "customers.ring": 5, "script.stages[0].duration": {"dist": "exponential",
                                                                 "mean": 60},
              "list.size": 60_000, "campaign.windows": [["08:00", "20:00"]]})
    shares = []
    for seed in range(8):
        r = sim.run(s, seed=seed)
        shares.append(r.dialer["blocked_share"])
        assert r.dialer["blocked"] > 0
        # a robot call is a contact, handled by no human agent
        assert (r.cdrs["agent_id"] == -1).all() and r.kpis["contacts"] > 0
    est = mean_ci(shares, 0.99)
    assert est.covers(erlang_b(a, c)), (est, erlang_b(a, c))


def test_amd_false_positives_are_binomial_and_undetected_machines_cost_agent_time():
    f = 0.06
    s = tiny({"dialer.amd.enabled": True, "dialer.amd.p_false_positive": f,
              "dialer.amd.p_detect": 0.7, "dialer.amd.latency": 3, "customers.p_machine": 0.3,
              "customers.machine_talk": 5, "list.size": 20_000, "agents.count": 10,
              "campaign.days": 3})
    r = sim.run(s, seed=4)
    c = r.cdrs
    person = c.mask("answered_by", "person")
    machine = c.mask("answered_by", "machine")
    fp = person & c.mask("amd", "machine")
    n = int(person.sum())
    assert n > 3000
    sd = np.sqrt(n * f * (1 - f))
    assert abs(fp.sum() - n * f) < 3.3 * sd  # Binomial(n, f) within ~99.9 %
    assert c["abandoned"][fp].all() and np.isnan(c["connect"][fp]).all()
    # detected machines: hung up by the dialer after the 3 s verdict, and billed
    detected = machine & c.mask("amd", "machine")
    assert (c.labels("hangup_by")[detected] == "dialer").all()
    assert (c["billsec"][detected] == 3).all()
    m = int(machine.sum())
    assert abs(detected.sum() - 0.7 * m) < 3.3 * np.sqrt(m * 0.21)
    # undetected machines reach agents: 5 s of agent talk each (after the 3 s verdict)
    missed = machine & ~c.mask("amd", "machine")
    assert (c["agent_id"][missed] >= 0).all()
    assert c["end"][missed] - c["connect"][missed] == pytest.approx(np.full(missed.sum(), 5.0))
    # the UK rule counts false positives as abandoned
    uk = next(x for x in r.compliance if x["rule"] == "uk")
    assert uk["value"] > 0
