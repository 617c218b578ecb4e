"""The dialer timeline folded chunk by chunk (issue #16) equals the whole-table figures.

:class:`sim.analysis.dialer.TimelineFold` fed CDR chunks (1, 7, 2**16 rows) and the
agent log in shuffled random groups gives :func:`timeline` and :func:`dialer_stats` of
the whole run to the last bit, on shipped scenarios and on edge cases; the exact sums
equal an oracle in exact fractions and the float formula they replaced.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from conftest import SCENARIOS

import sim
from sim.agentlog import AgentLog
from sim.analysis.dialer import TIMELINE_KEYS, TimelineFold, dialer_stats, timeline
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.exact import SCALE_BITS, fixed_seconds
from sim.scenario import quick

SIZES = (1, 7, 1 << 16)
NAMES = ("baseline", "ai_robot", "collections_preview", "survey_power")


@pytest.fixture(scope="module", params=NAMES)
def run(request):
    scenario = quick(sim.load_scenario(SCENARIOS / f"{request.param}.toml"), leads=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sim.run(scenario, 5)


def _chunks(cdrs: CDRTable, size: int):
    for i in range(0, len(cdrs), size):
        yield cdrs.select(np.arange(i, min(i + size, len(cdrs))))


def _agent_groups(agents: AgentLog, rng: np.random.Generator):
    """The log's rows shuffled and cut into random groups (some empty)."""
    order = rng.permutation(len(agents))
    cuts = np.sort(rng.integers(0, len(agents) + 1, size=max(1, len(agents) // 50)))
    for rows in np.split(order, cuts):
        yield agents.agent_id[rows], agents.state[rows], agents.start[rows], agents.end[rows]


def _fold(cdrs: CDRTable, agents: AgentLog, size: int, seed: int, *,
          agents_first: bool = False) -> TimelineFold:
    fold = TimelineFold()
    groups = list(_agent_groups(agents, np.random.default_rng(seed)))
    while agents_first and groups:
        fold.add_agent_rows(*groups.pop())
    for chunk in _chunks(cdrs, size):
        fold.add_calls(chunk)
        if groups and not agents_first:  # agent rows interleaved with the calls
            fold.add_agent_rows(*groups.pop())
    for g in groups:
        fold.add_agent_rows(*g)
    return fold


def _same(fold: TimelineFold, cdrs: CDRTable, agents: AgentLog) -> None:
    whole = timeline(cdrs, agents)
    got = fold.timeline()
    assert tuple(got) == tuple(whole) == TIMELINE_KEYS
    for k in TIMELINE_KEYS:
        assert got[k].dtype == whole[k].dtype == np.float64, k
        assert np.array_equal(got[k], whole[k]), k
    want = dialer_stats(cdrs, agents, whole)
    assert repr(fold.stats()) == repr(want)  # repr: NaN equals NaN, floats to the bit
    assert repr(fold.stats({"mode": "x", "mean_dial_level": -1})) == repr({"mode": "x", **want})


@pytest.mark.parametrize("size", SIZES)
def test_fold_over_chunks_equals_the_whole_run(run, size):
    cdrs, agents = run.cdrs, run.agents
    assert len(cdrs) > 100 and len(agents) > 10
    _same(_fold(cdrs, agents, size, seed=size), cdrs, agents)
    assert repr(dialer_stats(cdrs, agents)) == repr(
        {k: v for k, v in run.dialer.items() if k not in run.pacer})


def test_fold_takes_the_agent_log_before_the_calls(run):
    _same(_fold(run.cdrs, run.agents, 97, seed=1, agents_first=True), run.cdrs, run.agents)


def test_fold_memory_follows_the_campaign_length_not_the_calls(run):
    fold = _fold(run.cdrs, run.agents, 1, seed=2)
    ends = max(float(run.cdrs["end"].max()), float(run.agents.end.max()))
    starts = min(float(run.cdrs["start"].min()), float(run.agents.start.min()))
    span = int(ends // 300) - int(starts // 300) + 1
    assert span / 2 < fold._acc.shape[1] <= 2 * span  # doubling growth: twice the span


def test_a_million_calls_in_a_day_take_a_day_of_bins():
    rng = np.random.default_rng(3)
    start = np.sort(rng.uniform(8 * 3600, 20 * 3600, 1_000_000))
    cdrs = _calls(start, start + rng.exponential(20.0, start.size))
    agents = _agents(np.full(50, 8 * 3600.0), np.full(50, 20 * 3600.0 + 600))
    fold = TimelineFold()
    for chunk in _chunks(cdrs, 1 << 16):
        fold.add_calls(chunk)
    fold.add_agents(agents)
    assert fold._acc.shape[1] <= 2 * (12 * 12 + 3)  # 12 h of 5-minute bins, doubled
    tl = fold.timeline()
    assert tl["t"].size == 12 * 12 + 2
    assert tl["lines_in_flight"][:-2].mean() == pytest.approx(1e6 / (12 * 3600) * 20, rel=0.01)


# -- the figures against the float formula they replaced and an exact oracle ------------

def _old_timeline(cdrs: CDRTable, agents: AgentLog, bin_s: float = 300.0):
    """The float formula before issue #16 (cumulative sums of sorted endpoints)."""
    def integral(starts, ends, edges):
        s, e = np.sort(starts), np.sort(ends)
        cs, ce = np.concatenate([[0.0], np.cumsum(s)]), np.concatenate([[0.0], np.cumsum(e)])
        ns, ne = np.searchsorted(s, edges), np.searchsorted(e, edges)
        return (ns * edges - cs[ns]) - (ne * edges - ce[ne])

    t0 = float(np.floor(cdrs["start"].min() / bin_s) * bin_s)
    t1 = float(max(np.nanmax(cdrs["end"]), agents.end.max() if len(agents) else 0.0))
    edges = np.arange(t0, t1 + bin_s, bin_s)
    stop = np.where(np.isnan(cdrs["answer"]), cdrs["end"], cdrs["answer"])
    lines = np.diff(integral(cdrs["start"], stop, edges)) / bin_s
    logged = np.diff(integral(agents.start, agents.end, edges)) / bin_s
    m = agents.state == 0
    idle = np.diff(integral(agents.start[m], agents.end[m], edges)) / bin_s
    person = cdrs.mask("answered_by", "person")
    live = np.histogram(cdrs["answer"][person], edges)[0].astype(float)
    ab = np.histogram(cdrs["answer"][person & cdrs["abandoned"]], edges)[0].astype(float)
    keep = logged > 1e-9
    return {"t": edges[:-1][keep], "lines_in_flight": lines[keep],
            "agents_logged_in": logged[keep], "agents_idle": idle[keep],
            "live": live[keep], "abandoned": ab[keep]}, \
        {"ring": float(np.sum(np.maximum(stop - cdrs["start"], 0.0))),
         "logged": agents.logged_in(), "idle": agents.total("idle")}


def test_exact_timeline_matches_the_old_float_formula(run):
    old, sums = _old_timeline(run.cdrs, run.agents)
    new = run.timeline
    for k, v in old.items():
        assert v.shape == new[k].shape, k
        # the old cumulative sums cancel: their error is relative to the column's scale
        assert np.allclose(new[k], v, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(v).max())), k
    assert np.array_equal(old["live"], new["live"]) and np.array_equal(old["t"], new["t"])
    stats = dialer_stats(run.cdrs, run.agents)
    assert stats["mean_dial_level"] == pytest.approx(sums["ring"] / sums["logged"], rel=1e-9)
    handled = int(((run.cdrs["agent_id"] >= 0) & ~np.isnan(run.cdrs["connect"])).sum())
    assert stats["agent_wait_between_calls_s"] == pytest.approx(sums["idle"] / handled,
                                                                rel=1e-9)


def _calls(start, stop, answered_at=None, end=None, abandoned=None) -> CDRTable:
    """Calls ringing start -> stop, unanswered or answered by a person at
    ``answered_at`` (NaN: unanswered) and ending at ``end`` (default: ``stop``)."""
    n = len(start)
    cols = empty_columns(n)
    cols["start"][:] = start
    cols["end"][:] = stop if end is None else end
    if answered_at is not None:
        at = np.asarray(answered_at, dtype=float)
        cols["answer"][:] = at
        cols["answered_by"][:] = np.where(np.isnan(at), 0, encode("answered_by", "person"))
        cols["connect"][:] = at
        cols["agent_id"][:] = np.where(np.isnan(at), -1, 0)
    if abandoned is not None:
        cols["abandoned"][:] = abandoned
    return CDRTable(cols, open_categories())


def _agents(start, end, state=None) -> AgentLog:
    n = len(start)
    return AgentLog(agent_id=np.zeros(n, dtype=np.int32),
                    state=np.zeros(n, dtype=np.int8) if state is None
                    else np.asarray(state, dtype=np.int8),
                    start=np.asarray(start, dtype=float), end=np.asarray(end, dtype=float))


def _oracle_integral(starts, ends, t: np.ndarray, bin_s: float = 300.0) -> list[Fraction]:
    """∫ (intervals open) dt per bin starting at ``t``, in exact fractions of the grid."""
    b = int(fixed_seconds(bin_s))
    qs, qe = fixed_seconds(np.asarray(starts)), fixed_seconds(np.asarray(ends))
    out = []
    for k in (np.asarray(t) / bin_s).astype(np.int64):
        lo, hi = int(k) * b, (int(k) + 1) * b
        out.append(Fraction(sum(max(0, min(int(e), hi) - max(int(s), lo))
                                for s, e in zip(qs, qe, strict=True)), b))
    return out


def test_overlaps_equal_an_exact_oracle():
    rng = np.random.default_rng(7)
    start = np.sort(rng.uniform(1e4, 9e4, 300))
    stop = start + rng.exponential(400.0, 300)  # many ring past a bin, a few past several
    ag_start = rng.uniform(0, 5e4, 40)
    ag_end = ag_start + rng.uniform(0, 4e4, 40)
    state = rng.integers(0, 4, 40)
    cdrs, agents = _calls(start, stop), _agents(ag_start, ag_end, state)
    tl = timeline(cdrs, agents)
    assert tl["t"].size > 100
    for key, (s, e) in {"lines_in_flight": (start, stop),
                        "agents_logged_in": (ag_start, ag_end),
                        "agents_idle": (ag_start[state == 0], ag_end[state == 0])}.items():
        want = [float(x) for x in _oracle_integral(s, e, tl["t"])]
        assert tl[key].tolist() == want, key


# -- edge cases ---------------------------------------------------------------------------

def test_empty_calls_and_empty_fold():
    empty = _calls([], [])
    fold = TimelineFold()
    fold.add_calls(empty)
    fold.add_agent_rows(*(np.zeros(0),) * 4)
    tl = fold.timeline()
    assert tuple(tl) == TIMELINE_KEYS and all(v.size == 0 for v in tl.values())
    stats = fold.stats()
    assert stats["mean_dial_level"] == 0.0 and stats["mean_lines_in_flight"] == 0.0
    assert np.isnan(stats["dials_per_contact"]) and np.isnan(stats["agent_wait_between_calls_s"])
    agents = _agents([0.0], [3600.0])
    _same(_fold(empty, agents, 7, seed=0), empty, agents)  # agents but no calls: nothing
    assert timeline(empty, agents)["t"].size == 0


def test_calls_spanning_many_bins_and_an_agent_spanning_days():
    start = np.array([100.0, 250.0, 299.5, 86_000.0])
    stop = np.array([10_100.0, 251.0, 300.5, 90_000.0])  # 34 bins, in one, across an edge
    cdrs = _calls(start, stop)
    agents = _agents([50.0, 400.0], [3 * 86_400.0 + 10.0, 500.0], state=[0, 2])
    tl = timeline(cdrs, agents)
    assert tl["t"][0] == 0.0 and tl["t"][-1] == 3 * 86_400.0  # to the agent's end
    assert tl["t"].size == 3 * 288 + 1
    assert tl["agents_logged_in"][0] == pytest.approx(250 / 300)
    assert tl["agents_logged_in"][1] == pytest.approx(1 + 100 / 300)  # 400-500 too
    assert np.all(tl["agents_logged_in"][2:-1] == 1.0)
    assert tl["agents_idle"][1] == 1.0 and tl["agents_logged_in"][-1] == 10 / 300
    lines = tl["lines_in_flight"]
    assert lines[0] == (200 + 1 + 0.5) / 300 and lines[1] == 1 + 0.5 / 300
    assert np.all(lines[2:33] == 1.0) and lines[33] == 200 / 300
    stats = dialer_stats(cdrs, agents, tl)
    assert stats["mean_dial_level"] == (10_000 + 1 + 1 + 4_000) / (3 * 86_400 + 10 - 50 + 100)
    for size in (1, 3):
        _same(_fold(cdrs, agents, size, seed=size), cdrs, agents)


def test_answers_by_answer_time_and_the_cumulative_abandon_rate():
    at = np.array([5.0, np.nan, 305.0, 601.0, 900.0])  # the last one at the last edge
    cdrs = _calls([0.0, 10.0, 290.0, 600.0, 850.0], np.where(np.isnan(at), 30.0, at), at,
                  end=[35.0, 30.0, 335.0, 631.0, 900.0],
                  abandoned=[False, False, True, False, True])
    agents = _agents([0.0], [900.0])
    tl = timeline(cdrs, agents)
    assert tl["t"].tolist() == [0.0, 300.0, 600.0]
    assert tl["live"].tolist() == [1.0, 1.0, 2.0]  # the last bin is closed on the right
    assert tl["abandoned"].tolist() == [0.0, 1.0, 1.0]
    assert tl["abandon_rate"].tolist() == [0.0, 0.5, 0.5]
    assert tl["lines_in_flight"].tolist() == [(5 + 20 + 10) / 300, 5 / 300, (1 + 50) / 300]
    old, _ = _old_timeline(cdrs, agents)
    assert np.array_equal(old["live"], tl["live"]) and np.array_equal(old["t"], tl["t"])
    stats = dialer_stats(cdrs, agents, tl)
    assert stats["dials_per_contact"] == 5 / 4
    assert stats["agent_wait_between_calls_s"] == 900 / 4
    for size in (1, 2):
        _same(_fold(cdrs, agents, size, seed=size), cdrs, agents)


def test_no_agents_logged_in_drops_every_bin():
    cdrs = _calls([10.0, 700.0], [40.0, 730.0])
    for agents in (_agents([], []), _agents([2000.0], [2000.0])):
        tl = timeline(cdrs, agents)
        assert tuple(tl) == TIMELINE_KEYS and all(v.size == 0 for v in tl.values())
        stats = dialer_stats(cdrs, agents)
        assert stats["mean_dial_level"] == 0.0 and stats["mean_lines_in_flight"] == 0.0
        _same(_fold(cdrs, agents, 1, seed=0), cdrs, agents)


def test_bin_width_must_be_positive():
    for bad in (0.0, -300.0, float("nan"), float("inf"), 2.0 ** -(SCALE_BITS + 2)):
        with pytest.raises(ValueError, match="bin_s"):
            TimelineFold(bad)


def test_a_call_without_an_end_stays_in_flight_as_before():
    cdrs = _calls([10.0, 400.0, 410.0], [50.0, np.nan, 420.0])  # NaN: the end never came
    agents = _agents([0.0], [1500.0])
    tl = timeline(cdrs, agents)
    assert tl["lines_in_flight"].tolist() == [40 / 300, (200 + 10) / 300, 1.0, 1.0, 1.0]
    assert np.allclose(tl["lines_in_flight"], _old_timeline(cdrs, agents)[0]["lines_in_flight"],
                       rtol=1e-12)
    assert dialer_stats(cdrs, agents)["mean_dial_level"] == (40 + 10) / 1500  # finite rings
    for size in (1, 2):
        _same(_fold(cdrs, agents, size, seed=size), cdrs, agents)


def test_a_fold_without_bins_gives_the_figures_only(run):
    fold = TimelineFold(binned=False)
    for chunk in _chunks(run.cdrs, 7):
        fold.add_calls(chunk)
    fold.add_agents(run.agents)
    assert fold._acc.size == 0
    tl = run.timeline
    assert repr(fold.figures(tl["lines_in_flight"])) == repr(dialer_stats(run.cdrs, run.agents))
    with pytest.raises(ValueError, match="binned"):
        fold.timeline()
