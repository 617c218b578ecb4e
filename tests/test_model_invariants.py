"""Invariants of the model on random small scenarios (hypothesis), and determinism."""

from __future__ import annotations

import numpy as np
from _factory import tiny
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.cdr import CDRTable

probs = st.floats(0.0, 1.0)
times = st.one_of(st.floats(0.0, 40.0),
                  st.builds(lambda lo, w: {"dist": "uniform", "low": lo, "high": lo + w},
                            st.floats(0.0, 20.0), st.floats(0.0, 30.0)),
                  st.builds(lambda m: {"dist": "exponential", "mean": m}, st.floats(0.5, 60.0)))


@st.composite
def scenarios(draw):
    p_fail = draw(st.floats(0.0, 0.3))
    over = {
        "list.size": draw(st.integers(1, 60)),
        "list.max_attempts": draw(st.integers(1, 4)),
        "list.max_per_24h": draw(st.integers(1, 4)),
        "list.max_per_5min": draw(st.integers(1, 3)),
        "list.lockout_after_abandon_h": draw(st.sampled_from([0, 0.1, 2])),
        "list.retry.no_answer_s": draw(st.sampled_from([30, 300, 3600])),
        "list.retry.busy_s": draw(times),
        "list.retry.machine_s": draw(st.sampled_from([60, 86400])),
        "customers.p_fail": p_fail,
        "customers.p_busy": draw(st.floats(0.0, 1.0 - p_fail)),
        "customers.p_pickup": draw(probs),
        "customers.p_machine": draw(probs),
        "customers.ring": draw(times),
        "customers.machine_ring": draw(times),
        "customers.patience": draw(times),
        "customers.pickup_by_hour": {"10": draw(st.floats(0.0, 2.0))},
        "agents.count": draw(st.integers(1, 4)),
        "agents.wrap": draw(times),
        "dialer.mode": draw(st.sampled_from(["preview", "progressive", "progressive",
                                             "poisson", "adaptive", "predictive", "robot"])),
        "dialer.rate_per_min": draw(st.sampled_from([0.0, 2.0, 20.0])),
        "dialer.robot_transfer_stage": draw(st.sampled_from([-1, 0, 1])),
        "dialer.ratio": draw(st.sampled_from([1.0, 1.0, 1.5, 2.0, 3.0])),
        "dialer.ring_timeout_s": draw(st.sampled_from([15, 25])),
        "dialer.abandon_threshold_s": draw(st.sampled_from([0, 2, 10])),
        "dialer.channels": draw(st.sampled_from([0, 0, 1, 3])),
        "dialer.amd.enabled": draw(st.booleans()),
        "script.stages[0].duration": draw(times),
        "script.stages[0].p_hangup": draw(probs),
        "script.stages[0].p_decline": draw(probs),
        "script.p_convert": draw(probs),
        "campaign.days": draw(st.integers(1, 3)),
        "campaign.windows": draw(st.sampled_from([[["09:00", "09:20"]],
                                                   [["09:00", "09:10"], ["10:00", "10:15"]]])),
    }
    if over["dialer.mode"] == "preview":
        over["dialer.ratio"] = 1.0
    if over["dialer.mode"] == "poisson" and not over["dialer.rate_per_min"]:
        over["dialer.rate_per_min"] = 5.0
    if over["dialer.mode"] == "robot" and not over["dialer.rate_per_min"]:
        over["dialer.channels"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        over["script.stages[1]"] = None  # placeholder, replaced below
    two_stages = over.pop("script.stages[1]", False) is None
    segments = draw(st.sampled_from([None, [0, 0], [0, 1]]))
    sc = tiny(over)
    if two_stages:
        raw = dict(sc.raw)
        raw["script"] = {**raw["script"], "stages": [
            *raw["script"]["stages"], {"name": "close", "duration": draw(times),
                                       "p_hangup": draw(probs)}]}
        sc = sim.scenario.scenario_from_dict(raw)
    if segments is not None:
        raw = dict(sc.raw)
        raw["list"] = {**raw["list"], "segments": [
            {"name": "a", "share": 0.5, "tz_offset_h": segments[0], "p_invalid": 0.2},
            {"name": "b", "share": 0.5, "tz_offset_h": segments[1], "number_type": "landline",
             "prefix": "021"}]}
        sc = sim.scenario.scenario_from_dict(raw)
    return sc


def check_invariants(scenario: sim.Scenario, cdrs: CDRTable, lead_status: dict,
                     agent_start: np.ndarray) -> None:
    n = len(cdrs)
    lead, att = cdrs["lead_id"], cdrs["attempt"]
    # every attempt has exactly one CDR, attempts numbered 1..k per lead, k <= max
    pairs = lead.astype(np.int64) * 1000 + att
    assert len(np.unique(pairs)) == n
    for ld in np.unique(lead):
        a = np.sort(att[lead == ld])
        assert list(a) == list(range(1, len(a) + 1))
        assert len(a) <= scenario.list.max_attempts
        # a lead's attempts never overlap in time and respect the caps
        starts = np.sort(cdrs["start"][lead == ld])
        for t in starts:
            assert np.sum((starts > t - 86400 + 1e-6) & (starts <= t)) <= scenario.list.max_per_24h
            assert np.sum((starts > t - 300 + 1e-6) & (starts <= t)) <= scenario.list.max_per_5min
    # an agent never handles two calls at once
    agent = cdrs["agent_id"]
    for ag in np.unique(agent[agent >= 0]):
        m = agent == ag
        # an agent works from when it joins (connect, or a robot's hand-over)
        order = np.argsort(agent_start[m])
        busy_from = agent_start[m][order]
        busy_to = (cdrs["end"] + cdrs["wrap_s"])[m][order]
        assert np.all(busy_from[1:] >= busy_to[:-1] - 1e-6)
    # no dial outside the calling windows of the lead's local time
    seg_off = {s.name: s.tz_offset_s for s in scenario.list.segments}
    offs = np.array([seg_off.get(lab, 0) for lab in cdrs.labels("segment")], dtype=float)
    local = (cdrs["start"] + offs) % 86400
    inside = np.zeros(n, dtype=bool)
    for a, b in scenario.campaign.windows:
        inside |= (local >= a) & (local < b)
    assert inside.all()
    # billsec = ceil(talk_s); abandoned ⇒ a person answered and was never connected
    assert np.array_equal(cdrs["billsec"], np.ceil(cdrs["talk_s"]).astype(np.int64))
    ab = cdrs["abandoned"]
    assert np.all(cdrs.labels("answered_by")[ab] == "person")
    assert np.all(np.isnan(cdrs["connect"][ab]))
    # times are ordered and durations non-negative
    ans = cdrs.answered
    assert np.all(cdrs["end"] >= cdrs["start"])
    assert np.all(cdrs["answer"][ans] >= cdrs["start"][ans])
    assert np.all(cdrs["talk_s"] >= 0) and np.all(cdrs["wait_s"] >= -1e-9)
    assert np.all(np.isnan(cdrs["answer"][~ans]))
    assert np.all(cdrs["billsec"][~ans] == 0)
    # trunk channels are never exceeded
    if scenario.dialer.channels:
        ev = np.concatenate([cdrs["start"], cdrs["end"]])
        d = np.concatenate([np.ones(n), -np.ones(n)])
        order = np.lexsort((d, ev))  # ends before starts at the same instant
        assert np.cumsum(d[order]).max(initial=0) <= scenario.dialer.channels
    # every dialled lead is accounted for
    dialled = len(np.unique(lead))
    untouched = lead_status["untouched"] + lead_status["dnc"]
    assert dialled + untouched == scenario.list.size
    # the CDRs tell the call list's story: a lead is closed as converted exactly when
    # one of its calls converted (agent-owned dialing works the fates out afterwards)
    converted = cdrs.mask("result", "converted")
    assert len(np.unique(lead[converted])) == lead_status["converted"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 2**31))
def test_invariants_hold_on_random_scenarios(scenario, seed):
    r = sim.run(scenario, seed=seed)
    check_invariants(scenario, r.cdrs, r.lead_status, r.agent_start)


def test_same_seed_same_csv_bytes_and_different_seed_differs(tmp_path):
    s = tiny({"customers.p_pickup": 0.5, "customers.ring": {"dist": "uniform", "low": 3,
                                                            "high": 20},
              "list.size": 300, "list.max_attempts": 3, "list.retry.no_answer_s": 600,
              "agents.count": 3, "dialer.ratio": 1.5})
    from sim.cdrio import write_cdrs

    paths = []
    for i, seed in enumerate((7, 7, 8)):
        p = tmp_path / f"c{i}.csv"
        write_cdrs(sim.run(s, seed=seed).cdrs, p)
        paths.append(p.read_bytes())
    assert paths[0] == paths[1]
    assert paths[0] != paths[2]
