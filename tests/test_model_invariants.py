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
                                             "poisson", "adaptive", "predictive", "robot",
                                             "ratio"])),
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
        "customers.billsec": draw(st.sampled_from(["ceil", "ceil", "floor", "round"])),
        "campaign.days": draw(st.integers(1, 3)),
        "campaign.windows": draw(st.sampled_from([[["09:00", "09:20"]],
                                                   [["09:00", "09:10"], ["10:00", "10:15"]]])),
    }
    if draw(st.booleans()):
        over["dialer.give_up"] = draw(times)
    if draw(st.booleans()):  # a hold queue: people wait as long as their patience
        over["dialer.abandon_threshold_s"] = "inf"
        over["customers.patience"] = draw(st.sampled_from([1e9, {"dist": "exponential",
                                                                   "mean": 600}]))
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
    if not two_stages and over["dialer.robot_transfer_stage"] < 0 and draw(st.booleans()):
        raw = dict(sc.raw)  # the talk-time law instead of the stages
        raw["script"] = {k: v for k, v in raw["script"].items() if k != "stages"}
        raw["script"]["talk"] = draw(times)
        sc = sim.scenario.scenario_from_dict(raw)
    if two_stages:
        raw = dict(sc.raw)
        raw["script"] = {**raw["script"], "stages": [
            *raw["script"]["stages"], {"name": "close", "duration": draw(times),
                                       "p_hangup": draw(probs)}]}
        sc = sim.scenario.scenario_from_dict(raw)
    if segments is not None:
        raw = dict(sc.raw)
        raw["list"] = {**raw["list"], "segments": [
            {"name": "a", "share": 1, "tz_offset_h": segments[0], "p_invalid": 0.2},
            {"name": "b", "share": 1, "tz_offset_h": segments[1], "number_type": "landline",
             "prefix": "021"}]}
        sc = sim.scenario.scenario_from_dict(raw)
    return sc


def _support_max(dist) -> float:
    """The largest value ``dist`` can draw (its inverse CDF just below 1)."""
    return float(dist.ppf(np.array([np.nextafter(1.0, 0.0)]))[0])


def check_window_close(scenario: sim.Scenario, cdrs: CDRTable, sessions) -> None:
    """A person answered and never connected waits (and is billed) at most
    min(patience, abandon threshold, until the last agent who could take them left);
    a connected call's conversation never exceeds the script's longest play."""
    ans = cdrs.answered
    amd_hung_up = cdrs.labels("amd") == "machine"
    never = ans & np.isnan(cdrs["connect"]) & ~amd_hung_up & (cdrs.labels("answered_by")
                                                               == "person")
    wait, answer = cdrs["wait_s"][never], cdrs["answer"][never]
    assert np.allclose(wait, cdrs["talk_s"][never]) and np.all(
        cdrs["billsec"][never] <= np.ceil(wait + 1e-9))
    # with AMD, the verdict's latency comes first (the person waits from the answer)
    amd = scenario.dialer.amd
    slack = (_support_max(amd.latency) if amd.enabled else 0.0) + 1e-6
    assert np.all(wait <= scenario.dialer.abandon_threshold_s + slack)
    if scenario.customers.patience.is_constant:
        assert np.all(wait <= scenario.customers.patience.mean + slack)
    _, s_start, s_end = sessions
    for w, t in zip(wait, answer, strict=True):
        open_at = (s_start <= t + 1e-9) & (s_end >= t - 1e-9)
        last_off = s_end[open_at].max() if open_at.any() else t
        assert w <= last_off - t + slack
    sc = scenario.script
    if sc.talk is not None:
        longest = _support_max(sc.talk)
    else:
        longest = sum(_support_max(st.duration) for st in sc.stages) + _support_max(
            sc.decline_exit)
    if scenario.dialer.mode != "robot":
        person = cdrs.labels("answered_by") == "person"
        conn = ~np.isnan(cdrs["connect"]) & person
        conv = (cdrs["talk_s"] - cdrs["wait_s"])[conn]
        assert np.all(conv <= longest * (1 + 1e-9) + 1e-6)


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
    # billsec = ceil(talk_s) (or floor / round half up); abandoned ⇒ a person answered
    # and was never connected
    talk = cdrs["talk_s"]
    whole = {"ceil": np.ceil(talk), "floor": np.floor(talk),
             "round": np.floor(talk + 0.5)}[scenario.customers.billsec]
    assert np.array_equal(cdrs["billsec"], whole.astype(np.int64))
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
    check_window_close(scenario, r.cdrs, r.sessions)


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


def test_callers_waiting_at_the_close_are_served_then_hung_up_on():
    # one agent at power ratio 3 on a 2-minute window, hold queue (no threshold, patience
    # 10^9 s): three people answer at 8 s; the agent talks 60 + wraps 10 s per call, so
    # the third is taken at 148 s, after the close, by the agent still on — not left
    # waiting for 10^9 s. Lines answered once every agent has gone are hung up at once.
    s = tiny({"list.size": 50, "dialer.ratio": 3.0, "customers.patience": 1e9,
              "dialer.abandon_threshold_s": "inf", "campaign.windows": [["09:00", "09:02"]]})
    r = sim.run(s, seed=1)
    c = r.cdrs
    assert len(c) == 3 and np.all(~np.isnan(c["connect"]))
    np.testing.assert_allclose(np.sort(c["wait_s"]), [0, 70, 140])
    assert r.sessions[2].max() == 9 * 3600 + 218  # logged off after the last call's wrap-up
    check_window_close(s, c, r.sessions)
    s2 = s.with_overrides({"campaign.windows": [["09:00", "09:05"]], "agents.count": 2,
                           "dialer.ratio": 2.0})
    r2 = sim.run(s2, seed=1)
    late = r2.cdrs.answered & np.isnan(r2.cdrs["connect"])
    assert late.sum() == 4  # dialled at 296 s, answered at 304 s, when nobody is left
    assert np.all(r2.cdrs["wait_s"][late] == 0)
    assert np.all(r2.cdrs.labels("hangup_by")[late] == "dialer")
    check_window_close(s2, r2.cdrs, r2.sessions)


def test_robot_hand_overs_nobody_can_take_end_when_the_last_agent_leaves():
    # the robot talks 100 s before handing over to the one agent, whose shift (the
    # 1-minute window) is over by then: the people on hold (patience 10^9 s) are hung
    # up on at the hand-over, billed for the robot's 100 s, not for 10^9 s
    s = tiny({"list.size": 10, "dialer.mode": "robot", "dialer.channels": 2,
              "dialer.robot_transfer_stage": 1, "customers.patience": 1e9,
              "campaign.windows": [["09:00", "09:01"]]},
             script={"stages": [{"name": "greeting", "duration": 100},
                                {"name": "talk", "duration": 120}]})
    r = sim.run(s, seed=2)
    c = r.cdrs
    assert len(c) == 2 and np.all(c.labels("hangup_by") == "dialer")
    np.testing.assert_allclose(c["end"] - c["answer"], 100.0)
    assert np.all(c["billsec"] == 100) and np.all(c["agent_id"] == -1)
    assert r.sessions[2].max() == 9 * 3600 + 60
