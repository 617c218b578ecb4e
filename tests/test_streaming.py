"""Streaming runs (issue #16): the run in chunks equals the run in memory, byte for byte.

Every shipped scenario (shortened, ``quick``) and random small scenarios are run whole
and streamed at chunk sizes 1, 7 and 2**16: the same CDR columns and categories, KPIs,
agent start times, agent log, timeline, dialer figures and compliance; the CLI writes
the same files (CDRs as CSV and Parquet, Master.csv, charges, costs, summary).
"""

from __future__ import annotations

import filecmp
import warnings

import numpy as np
import pytest
from conftest import SCENARIOS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_invariants import scenarios as random_scenarios

import sim
from sim.agentlog import AGENT_STATES, AgentLog
from sim.cli import main
from sim.scenario import quick

SIZES = (1, 7, 1 << 16)
SHIPPED = sorted(SCENARIOS.glob("*.toml"))


def _same_table(a: sim.CDRTable, b: sim.CDRTable) -> None:
    assert len(a) == len(b)
    for name, col in a.columns.items():
        other = b.columns[name]
        assert col.dtype == other.dtype, name
        assert np.array_equal(col, other, equal_nan=col.dtype.kind == "f"), name
    assert dict(a.categories) == dict(b.categories)
    assert (a.epoch, a.tz, dict(a.meta)) == (b.epoch, b.tz, dict(b.meta))


def _same_analyses(a, b, rows=None) -> None:
    """``b``'s figures are ``a``'s to the last bit; ``rows``: the agent log chunks a lean
    run handed out (else ``b.agents`` is a whole log)."""
    assert repr(a.kpis) == repr(b.kpis)  # repr: NaN equals NaN, floats to the last bit
    assert a.lead_status == b.lead_status
    assert repr(a.compliance) == repr(b.compliance)
    assert a.notes == b.notes
    la = a.agents
    for state in AGENT_STATES:
        assert repr(la.total(state)) == repr(b.agents.total(state)), state
    assert repr(la.logged_in()) == repr(b.agents.logged_in())
    assert len(la) == len(b.agents)
    if rows is not None:
        lb = AgentLog(*(np.concatenate([getattr(r, f) for r in rows]) if rows else
                        getattr(la, f)[:0] for f in ("agent_id", "state", "start", "end")))
    else:
        lb = b.agents
    for f in ("agent_id", "state", "start", "end"):
        assert np.array_equal(getattr(la, f), getattr(lb, f)), f
    assert a.timeline.keys() == b.timeline.keys()
    for k, v in a.timeline.items():
        assert np.array_equal(v, b.timeline[k]), k
    assert repr(a.dialer) == repr(b.dialer)


def _check(scenario: sim.Scenario, seed: int, sizes=SIZES) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sim.run(scenario, seed)
        for size in sizes:
            seen: list[int] = []
            kept = sim.run(scenario, seed, chunk_rows=size,
                           on_chunk=[lambda c, a, seen=seen: seen.append(len(c))])
            _same_table(whole.cdrs, kept.cdrs)
            assert np.array_equal(whole.agent_start, kept.agent_start, equal_nan=True)
            _same_analyses(whole, kept)
            assert sum(seen) == len(whole.cdrs)
            rows: list[AgentLog] = []
            lean = sim.run(scenario, seed, chunk_rows=size, keep_cdrs=False,
                           on_agents=[rows.append])
            assert isinstance(lean, sim.model.StreamedResult)
            _same_analyses(whole, lean, rows)
            assert lean.streamed[2] == dict(whole.cdrs.categories)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_streams_as_it_runs_in_memory(path):
    scenario = quick(sim.load_scenario(path))
    _check(scenario, 3)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_scenarios(), st.integers(0, 2**16))
def test_random_scenarios_stream_as_they_run_in_memory(scenario, seed):
    _check(scenario, seed)


def test_chunks_come_in_dial_order_and_number_on():
    scenario = quick(sim.load_scenario(SCENARIOS / "ai_robot.toml"))
    chunks: list[sim.CDRTable] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(scenario, 1, chunk_rows=50, keep_cdrs=False,
                on_chunk=[lambda c, a: chunks.append(c)])
    assert len(chunks) > 3
    ids = np.concatenate([c["call_id"] for c in chunks])
    assert np.array_equal(ids, np.arange(len(ids)))
    start = np.concatenate([c["start"] for c in chunks])
    assert (np.diff(start) >= 0).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("name", ["baseline", "ai_robot"])
def test_cli_streamed_files_are_byte_identical(tmp_path, capsys, fmt, name):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path = str(SCENARIOS / f"{name}.toml")
    common = ["run", path, "--quick", "--seed", "4", "--cdr-format", fmt, "-q"]
    if fmt == "csv":
        common.append("--asterisk")
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--chunk-rows", "7", "--out", str(tmp_path / "b")]) == 0
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.left_only and not cmp.right_only
    files = [p.name for p in (tmp_path / "a").iterdir() if p.is_file()]
    assert "charges.csv" in files and "summary.json" in files
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files,
                                               shallow=False)
    assert not mismatch and not errors
    chunks = list(sim.iter_cdrs(tmp_path / "b" / f"cdrs.{fmt}", rows=100))
    assert sum(map(len, chunks)) == len(sim.read_cdrs(tmp_path / "a" / f"cdrs.{fmt}").cdrs)


def test_chunk_rows_must_be_positive(tmp_path, capsys):
    path = str(SCENARIOS / "baseline.toml")
    assert main(["run", path, "--quick", "--chunk-rows", "0", "--out", str(tmp_path)]) == 2
    assert "--chunk-rows" in capsys.readouterr().err
    with pytest.raises(ValueError, match="chunk_rows"):
        sim.run(quick(sim.load_scenario(path)), 1, chunk_rows=0)
    with pytest.raises(ValueError, match="on_agents"):  # it would never be called
        sim.run(quick(sim.load_scenario(path)), 1, chunk_rows=7, on_agents=[print])
