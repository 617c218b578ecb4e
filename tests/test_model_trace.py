"""Exact event traces of tiny deterministic campaigns (constant times, p = 0 or 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _factory import tiny

import sim
import sim.model as M

T0 = 9 * 3600.0  # the window opens at 09:00


def trace(result: sim.model.RunResult) -> list[tuple]:
    c = result.cdrs
    return [(float(c["start"][i]) - T0, None if math.isnan(c["answer"][i]) else
             float(c["answer"][i]) - T0, None if math.isnan(c["connect"][i]) else
             float(c["connect"][i]) - T0, float(c["end"][i]) - T0, int(c["agent_id"][i]),
             str(c.labels("disposition")[i]), bool(c["abandoned"][i]))
            for i in range(len(c))]


def test_progressive_one_agent_everyone_answers():
    # dial, ring 8 s, talk 60 s, wrap 10 s: the next dial 78 s after the previous one
    r = sim.run(tiny(list={"size": 3}), seed=1)
    assert trace(r) == [
        (0.0, 8.0, 8.0, 68.0, 0, "ANSWERED", False),
        (78.0, 86.0, 86.0, 146.0, 0, "ANSWERED", False),
        (156.0, 164.0, 164.0, 224.0, 0, "ANSWERED", False),
    ]
    assert list(r.cdrs["billsec"]) == [60, 60, 60]
    assert list(r.cdrs["lead_id"]) == [0, 1, 2]
    # logged in from 09:00 until the last wrap-up ends (list worked out)
    assert r.agents.logged_in() == pytest.approx(234.0)
    assert r.kpis["occupancy"] == pytest.approx(3 * 70 / 234)


def test_progressive_nobody_answers_rings_to_timeout():
    r = sim.run(tiny({"customers.p_pickup": 0.0}, list={"size": 2}), seed=1)
    assert trace(r) == [
        (0.0, None, None, 25.0, -1, "NO ANSWER", False),
        (25.0, None, None, 50.0, -1, "NO ANSWER", False),
    ]
    assert list(r.cdrs["billsec"]) == [0, 0]


def test_busy_and_failed_end_at_their_signal_time():
    r = sim.run(tiny({"customers.p_busy": 1.0}, list={"size": 2}), seed=1)
    assert [row[:4] for row in trace(r)] == [(0.0, None, None, 4.0), (4.0, None, None, 8.0)]
    assert set(r.cdrs.labels("disposition")) == {"BUSY"}
    r = sim.run(tiny({"customers.p_fail": 1.0}, list={"size": 2}), seed=1)
    assert [row[3] for row in trace(r)] == [3.0, 6.0]
    assert set(r.cdrs.labels("disposition")) == {"FAILED"}


def test_preview_time_comes_before_the_dial():
    r = sim.run(tiny({"dialer.mode": "preview"}, list={"size": 2}), seed=1)
    assert [row[:4] for row in trace(r)] == [(5.0, 13.0, 13.0, 73.0), (88.0, 96.0, 96.0, 156.0)]
    assert r.agents.total("preview") == pytest.approx(10.0)


def test_retry_after_no_answer_waits_for_the_delay():
    r = sim.run(tiny({"customers.p_pickup": 0.0, "list.max_attempts": 3,
                      "list.retry.no_answer_s": 100}, list={"size": 1}), seed=1)
    assert [row[0] for row in trace(r)] == [0.0, 125.0, 250.0]
    assert list(r.cdrs["attempt"]) == [1, 2, 3]
    assert r.lead_status["exhausted"] == 1


def test_idle_agents_take_retries_longest_idle_first_and_go_home_when_worked_out():
    # One lead, three agents; an answering machine reaches an agent (8 s ring, 5 s
    # talk, 10 s wrap) and the lead is retried 100 s after each call ends. Each retry
    # is dialled the moment it is due, by the agent idle longest; once the last
    # attempt is dialled the idle agents go home, the busy one after its wrap-up.
    s = tiny({"customers.p_machine": 1.0, "list.max_attempts": 3,
              "list.retry.machine_s": 100, "agents.count": 3}, list={"size": 1})
    r = sim.run(s, seed=1)
    assert [(row[0], row[4]) for row in trace(r)] == [(0.0, 0), (113.0, 1), (226.0, 2)]
    agent, start, end = r.sessions
    assert list(agent) == [0, 1, 2]
    assert list(start - T0) == [0.0, 0.0, 0.0]
    assert list(end - T0) == [226.0, 226.0, 249.0]


def test_power_ratio_two_one_agent_everyone_answers_abandons_half():
    # V8 with p = 1 and k = 2: both lines answer after 8 s, the agent takes one,
    # the other person has zero patience and is abandoned by the dialer.
    r = sim.run(tiny({"dialer.ratio": 2}, list={"size": 4}), seed=1)
    rows = trace(r)
    assert [row[:2] for row in rows] == [(0.0, 8.0), (0.0, 8.0), (78.0, 86.0), (78.0, 86.0)]
    assert [row[6] for row in rows] == [False, True, False, True]
    assert r.kpis["abandonment_rate"] == pytest.approx(0.5)
    ab = r.cdrs["abandoned"]
    assert np.all(np.isnan(r.cdrs["connect"][ab]))
    assert set(r.cdrs.labels("answered_by")[ab]) == {"person"}
    # an abandoned call is still answered and billed by the carrier: 8 s + 0 s wait
    assert list(r.cdrs["billsec"][ab]) == [0, 0]


def test_calling_window_stops_dials_and_next_day_resumes():
    s = tiny({"campaign.days": 2, "campaign.windows": [["09:00", "09:02"]],
              "list.size": 4})
    r = sim.run(s, seed=1)
    starts = r.cdrs["start"]
    assert list(starts) == [T0, T0 + 78.0, T0 + 86400.0, T0 + 86400.0 + 78.0]


def test_the_garbage_collector_is_restored_after_a_run():
    import gc

    assert gc.isenabled()
    sim.run(tiny(list={"size": 2}), seed=1)
    assert gc.isenabled()
    gc.disable()
    try:
        sim.run(tiny(list={"size": 2}), seed=1)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize("offsets_h", [[0], [8], [-5, 0, 9]])
def test_pickup_mult_is_the_loops_hour_test_for_many_dials(offsets_h):
    """Agent-owned dialing records no fates: Recorder.cdrs works out which calls were
    picked up with the vectorised pickup_mult, which must equal the loop's hour_mult
    for every dial, hour boundaries included."""
    segs = [{"name": f"s{i}", "share": 1 / len(offsets_h), "tz_offset_h": h}
            for i, h in enumerate(offsets_h)]
    sc = tiny({"list.size": 200, "customers.pickup_by_hour": {str(h): 0.1 + h / 10
                                                               for h in range(24)}})
    raw = dict(sc.raw)
    raw["list"] = {**raw["list"], "segments": segs}
    sc = sim.scenario.scenario_from_dict(raw)
    traits = M.lead_traits(sc, 1)
    camp = M.Campaign(sc, traits, M.Draws(sc, 1, traits, layout=M.OWNED_LAYOUT), None)
    rng = np.random.default_rng(5)
    lead = rng.integers(0, 200, 5000)
    start = np.concatenate([rng.uniform(0, 5 * 86_400.0, 4000),
                            3600.0 * rng.integers(0, 120, 1000)])  # exact hour edges
    start[-1] = np.nextafter(7200.0, 0.0)
    got = camp.pickup_mult(lead, start)
    want = [camp.hour_mult(int(ld), float(t)) for ld, t in zip(lead, start, strict=True)]
    assert got.tolist() == want
