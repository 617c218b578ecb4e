"""The streamed agent log (issue #16, bounded memory): rows handed out as a run goes.

Shipped scenarios (small), each dialer mode, chunks of 1, 7 and 2**16 calls: the rows
:class:`sim.model.agentstream.AgentLogStream` hands out, concatenated, are the whole
run's ``agent_log()`` exactly, agents.csv (and agents.parquet) written chunk by chunk
have the bytes of the file written from the whole log, and what the stream holds stays
a few rows per agent over a run of many thousand rows.
"""

from __future__ import annotations

import filecmp
import math
import warnings

import numpy as np
import pytest
from conftest import SCENARIOS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_invariants import scenarios as random_scenarios

import sim
import sim.model
from sim.agentlog import AgentLog
from sim.commands.run import AgentLogWriter, write_agent_log
from sim.model.agentstream import AgentLogStream
from sim.model.recorder import Recorder
from sim.model.stream import Streamer
from sim.scenario import quick

FIELDS = ("agent_id", "state", "start", "end")
SIZES = (1, 7, 1 << 16)
#: (scenario, dialer mode or None: the scenario's own, leads), each mode at least once
CASES = [("baseline", None, 300), ("collections_preview", "predictive", 150),
         ("collections_preview", None, 300), ("survey_power", "preview", 300),
         ("bench_progressive", "progressive", 300), ("ai_robot", None, 4000)]


def _scenario(name: str, mode: str | None, leads: int = 300) -> sim.Scenario:
    sc = quick(sim.load_scenario(SCENARIOS / f"{name}.toml"), leads=leads)
    if mode is not None:
        sc = sc.with_overrides({"dialer.mode": mode})
    assert sc.dialer.mode == (mode or sc.dialer.mode)
    return sc


class _Probe(Streamer):
    """The run's streamer with an agent log stream on it: fed with the watermark each
    chunk was cut at (what :meth:`Streamer.emit` was given)."""

    made: list[_Probe] = []
    writers: list = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.w = -math.inf
        self.parts: list[AgentLog] = []
        self.held: list[dict[str, int]] = []
        self.writers = [make() for make in _Probe.writers]
        self.stream = AgentLogStream([self.parts.append, *(w.write for w in self.writers)])
        feed = self.stream.attach(self.rec, lambda: self.w)

        def on_chunk(cdrs, agent_start) -> None:
            feed(cdrs, agent_start)
            self.held.append(self.stream.held())

        self.sinks.append(on_chunk)
        _Probe.made.append(self)

    def emit(self, w: float) -> None:
        self.w = w
        super().emit(w)

    def finish(self) -> None:
        super().finish()
        self.stream.finish()
        for writer in self.writers:
            writer.close()


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setattr(sim.model, "Streamer", _Probe)
    _Probe.made.clear()
    _Probe.writers = []
    yield _Probe
    _Probe.writers = []


def _streamed(probe, scenario: sim.Scenario, seed: int, size: int) -> _Probe:
    probe.made.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(scenario, seed, chunk_rows=size, keep_cdrs=False)
    (p,) = probe.made
    return p


def _joined(parts: list[AgentLog]) -> AgentLog:
    return AgentLog(*(np.concatenate([getattr(x, f) for x in parts]) if parts
                      else np.zeros(0) for f in FIELDS))


def _whole(scenario: sim.Scenario, seed: int) -> sim.model.RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sim.run(scenario, seed)


@pytest.mark.parametrize("name, mode, leads", CASES, ids=lambda x: str(x))
def test_streamed_rows_are_the_whole_runs_agent_log_and_the_csv_its_bytes(probe, tmp_path,
                                                                          name, mode, leads):
    sc = _scenario(name, mode, leads)
    whole = _whole(sc, 5)
    ref = whole.agents
    assert len(ref) > 100 and set(np.unique(ref.state)) >= {0, 2}
    epoch, tz = whole.cdrs.epoch, whole.cdrs.tz
    write_agent_log(ref, tmp_path / "whole.csv", epoch=epoch, tz=tz)
    for size in SIZES:
        out = tmp_path / f"streamed{size}.csv"
        probe.writers = [lambda out=out: AgentLogWriter(out, epoch=epoch, tz=tz)]
        p = _streamed(probe, sc, 5, size)
        got = _joined(p.parts)
        for f in FIELDS:
            assert getattr(got, f).dtype == getattr(ref, f).dtype, f
            assert np.array_equal(getattr(got, f), getattr(ref, f)), (size, f)
        assert p.stream.rows_out == len(ref)
        assert filecmp.cmp(tmp_path / "whole.csv", out, shallow=False), size
        if size == 1:  # handed out as the run went, not all at the end
            assert len(p.parts) > 10 and max(map(len, p.parts)) < len(ref) / 4
        assert p.stream.held() == {"rows": 0, "events": 0, "open_idle": 0,
                                   "agents": p.stream.held()["agents"]}


def test_streamed_parquet_has_the_bytes_of_the_whole_logs(probe, tmp_path):
    pytest.importorskip("pyarrow")
    from sim.cdrio._parquet import AgentParquetWriter, write_agent_parquet

    sc = _scenario("baseline", None)
    ref = _whole(sc, 2).agents
    write_agent_parquet(ref, tmp_path / "whole.parquet", row_group=200)
    assert len(ref) > 600  # several row groups
    probe.writers = [lambda: AgentParquetWriter(tmp_path / "s.parquet", row_group=200)]
    _streamed(probe, sc, 2, 7)
    assert filecmp.cmp(tmp_path / "whole.parquet", tmp_path / "s.parquet", shallow=False)


def test_what_the_stream_holds_stays_a_few_rows_per_agent(probe):
    # two calling days of the baseline: thousands of rows per agent, held a few at a time
    sc = quick(sim.load_scenario(SCENARIOS / "baseline.toml"), days=2, leads=6000)
    p = _streamed(probe, sc, 1, 64)
    agents = sc.agents.count
    assert p.stream.rows_out > 400 * agents
    rows = max(h["rows"] for h in p.held)
    events = max(h["events"] for h in p.held)
    assert rows <= 30 * agents, rows
    assert events <= 10 * agents, events
    assert max(h["open_idle"] for h in p.held) <= agents
    assert p.stream.peak_rows <= 30 * agents + 64 * 3


def test_the_in_memory_log_is_in_time_order_and_per_agent_intervals_do_not_overlap():
    log = _whole(_scenario("baseline", None), 1).agents
    keys = np.lexsort((log.end, log.state, log.agent_id, log.start))
    assert np.array_equal(keys, np.arange(len(log)))
    for a in np.unique(log.agent_id):  # per-agent code groups itself
        m = log.agent_id == a
        assert np.all(log.start[m][1:] >= log.end[m][:-1])
    assert len(np.unique(log.agent_id[:20])) > 1  # not agent-major


def _feed(stream: AgentLogStream, w: float, calls=(), sessions=(), previews=(), opened=None):
    calls = np.asarray(calls, dtype=float).reshape(-1, 4)  # agent, agent start, end, wrap

    def iv(rows):
        r = np.asarray(rows, dtype=float).reshape(-1, 3)
        return r[:, 0].astype(np.int32), r[:, 1], r[:, 2]

    stream.feed(calls[:, 0].astype(np.int32), calls[:, 1], calls[:, 2], calls[:, 3], w,
                iv(sessions), iv(previews), opened or {})


def test_an_idle_row_goes_once_the_work_that_closes_it_is_known():
    out: list[AgentLog] = []
    s = AgentLogStream([out.append])
    _feed(s, 5.0, opened={0: 0.0})  # agent 0 logged in at 0, nothing else yet
    assert not out and s.held()["open_idle"] == 1
    _feed(s, 20.0, calls=[(0, 10.0, 30.0, 4.0)], opened={0: 0.0})
    rows = _joined(out)
    assert rows.state.tolist() == [0, 2] and rows.start.tolist() == [0.0, 10.0]
    assert rows.end.tolist() == [10.0, 30.0]  # talk is final at once; wrap starts at 30 >= W
    _feed(s, 100.0, sessions=[(0, 0.0, 60.0)])
    s.finish()
    rows = _joined(out)
    assert rows.state.tolist() == [0, 2, 3, 0]
    assert rows.start.tolist() == [0.0, 10.0, 30.0, 34.0]
    assert rows.end.tolist() == [10.0, 30.0, 34.0, 60.0]


def test_rows_are_held_behind_another_agents_open_idle_row():
    out: list[AgentLog] = []
    s = AgentLogStream([out.append])
    _feed(s, 50.0, calls=[(1, 5.0, 20.0, 0.0)], opened={0: 0.0, 1: 0.0})
    # agent 1's idle 0-5 and talk 5-20 wait behind agent 0's idle open since 0
    assert [len(x) for x in out] == [] and s.held()["rows"] == 2
    _feed(s, 80.0, calls=[(0, 60.0, 70.0, 0.0)], opened={0: 0.0, 1: 0.0})
    rows = _joined(out)
    assert list(zip(rows.agent_id.tolist(), rows.state.tolist(), rows.start.tolist(),
                    strict=True)) == [(0, 0, 0.0), (1, 0, 0.0), (1, 2, 5.0)]
    assert s.held()["rows"] == 1  # agent 0's talk at 60 waits behind agent 1's idle from 20


def test_the_stream_refuses_a_watermark_going_back_or_an_event_before_what_it_processed():
    s = AgentLogStream()
    _feed(s, 10.0, opened={0: 0.0})
    with pytest.raises(ValueError, match="watermark went back"):
        _feed(s, 5.0)
    with pytest.raises(RuntimeError, match="came after"):
        _feed(s, 20.0, calls=[(0, 0.0, 3.0, 0.0)])  # work at 0, already past


def test_recorder_hands_out_sessions_and_previews_once_and_knows_the_open_ones():
    rec = Recorder()
    rec.login(0, 1.0)
    rec.login(1, 2.0)
    rec.previews(0, 3.0, 4.0)
    assert rec.open_sessions == {0: 1.0, 1: 2.0}
    sessions, previews, mark = rec.intervals_since()
    assert len(sessions[0]) == 0 and previews[1].tolist() == [3.0]
    rec.session(0, 1.0, 9.0)
    rec.session(1, 2.0, 2.0)  # empty: not recorded, but no longer open
    assert rec.open_sessions == {}
    sessions, previews, mark = rec.intervals_since(mark)
    assert sessions[0].tolist() == [0] and sessions[2].tolist() == [9.0]
    assert len(previews[0]) == 0 and mark == (1, 1)


def test_a_call_running_into_the_next_shift_keeps_both_sessions_and_streams(probe):
    # windows a minute apart and 2-minute wrap-ups: predictive agents still on a call at
    # 10:00 are logged in again at 10:01; their morning session ends there (it used to
    # be lost: the new login overwrote its start and it was never recorded); some go
    # home twice from one login (two sessions from one start), which the stream allows
    sc = _scenario("baseline", "predictive", 2000).with_overrides(
        {"campaign.windows": [["09:00", "10:00"], ["10:01", "11:00"]],
         "agents.wrap": {"dist": "constant", "value": 120}})
    whole = _whole(sc, 1)
    sa, ss, se = whole.sessions
    ran_on = (ss == 9 * 3600) & (se == 10 * 3600 + 60)  # ended by the next login, not by going home
    assert ran_on.sum() >= 2
    assert set(sa[ss == 9 * 3600].tolist()) == set(range(sc.agents.count))  # none lost
    assert not (np.diff(np.sort(se[sa == sa[ran_on][0]])) == 0).any()
    ref = whole.agents
    for size in SIZES:
        got = _joined(_streamed(probe, sc, 1, size).parts)
        for f in FIELDS:
            assert np.array_equal(getattr(got, f), getattr(ref, f)), (size, f)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_scenarios(), st.integers(0, 2**16))
def test_random_scenarios_stream_their_agent_log(scenario, seed):
    ref = _whole(scenario, seed).agents
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim.model, "Streamer", _Probe)
        for size in (1, 7):
            _Probe.made.clear()
            got = _joined(_streamed(_Probe, scenario, seed, size).parts)
            for f in FIELDS:
                assert np.array_equal(getattr(got, f), getattr(ref, f)), (size, f)
