"""Lean runs to a file (issue #16): ``sim.run(..., keep_cdrs=False, cdr_file=PATH)``.

The CDRs are written chunk by chunk and ``result.cdrs`` is a lazy :class:`sim.CDRFile`:
its length, zone, epoch, categories and meta are known without reading the file; what
it reads (chunks, a column, the whole table) equals the in-memory run's table -- bit
for bit from Parquet, to the microsecond (native CSV's precision) from CSV -- and
``sim.rate`` on it gives the in-memory rating. A failed run leaves no file; an existing
one is kept unless ``force``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS
from test_streaming import _same_analyses, _same_table

import sim
from sim.agentlog import AgentLog
from sim.cdr import COLUMNS
from sim.cdrio._parquet import _File
from sim.errors import CDRFormatError, OutputExistsError, SimError
from sim.scenario import quick

FORMATS = ["parquet", "csv"]
PLANS = SCENARIOS / "plans" / "china.toml"


def _scenario(name: str) -> sim.Scenario:
    return quick(sim.load_scenario(SCENARIOS / f"{name}.toml"))  # a few thousand calls


def _run(scenario: sim.Scenario, seed: int, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sim.run(scenario, seed, **kw)


def _path(tmp_path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    return tmp_path / f"calls.{fmt}"


@pytest.fixture(scope="module")
def baseline():
    scenario = _scenario("baseline")
    return scenario, _run(scenario, 5)


def _equal_to_the_microsecond(whole: sim.CDRTable, lazy: sim.CDRTable) -> None:
    """``lazy`` is ``whole`` with times and durations rounded to the µs (native CSV)."""
    assert len(whole) == len(lazy)
    for c in COLUMNS:
        a, b = whole[c.name], lazy[c.name]
        assert a.dtype == b.dtype, c.name
        if c.kind == "float":
            assert np.array_equal(np.isnan(a), np.isnan(b)), c.name
            ok = ~np.isnan(a)
            assert np.abs(a[ok] - b[ok]).max(initial=0) <= 0.5e-6 + 1e-9, c.name
        else:
            assert np.array_equal(a, b), c.name
    assert dict(whole.categories) == dict(lazy.categories)
    assert (whole.epoch, whole.tz, dict(whole.meta)) == (lazy.epoch, lazy.tz, dict(lazy.meta))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["baseline", "ai_robot"])
def test_a_run_to_a_file_reads_back_as_the_in_memory_run(tmp_path, fmt, name):
    path = _path(tmp_path, fmt)
    scenario = _scenario(name)
    whole = _run(scenario, 2)
    rows: list[AgentLog] = []
    lean = _run(scenario, 2, chunk_rows=300, keep_cdrs=False, cdr_file=path,
                on_agents=[rows.append])
    assert isinstance(lean, sim.model.StreamedResult)
    lazy = lean.cdrs
    assert isinstance(lazy, sim.CDRFile) and lazy.path == path and path.is_file()
    assert lazy.format == ("parquet" if fmt == "parquet" else "native")
    assert len(lazy) == len(whole.cdrs) and lean.streamed[1] > 3  # several chunks
    _same_analyses(whole, lean, rows)  # the file changes none of the run's figures
    loaded = lazy.load()
    if fmt == "parquet":
        _same_table(whole.cdrs, loaded)
    else:
        _equal_to_the_microsecond(whole.cdrs, loaded)
        # ... and exactly what a native file of the in-memory table reads back as
        sim.write_cdrs(whole.cdrs, tmp_path / "ref.csv")
        _same_table(sim.CDRFile.open(tmp_path / "ref.csv").load(), loaded)
    chunks = list(lazy.chunks(rows=700))
    assert [len(c) for c in chunks[:-1]] == [700] * (len(chunks) - 1)
    assert sum(map(len, chunks)) == len(lazy)
    _same_table(loaded, sim.CDRTable.concat(chunks))
    frame = lazy.to_pandas(times="seconds")
    assert len(frame) == len(whole.cdrs)
    assert np.array_equal(frame["billsec"].to_numpy(), whole.cdrs["billsec"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_the_file_holds_is_known_without_reading_it(tmp_path, fmt, baseline,
                                                         monkeypatch):
    scenario, whole = baseline
    path = _path(tmp_path, fmt)
    lazy = _run(scenario, 5, keep_cdrs=False, cdr_file=path).cdrs  # chunk_rows implied
    opened = sim.CDRFile.open(path)
    for f in (lazy, opened):
        assert (len(f), f.epoch, f.tz) == (len(whole.cdrs), whole.cdrs.epoch, whole.cdrs.tz)
        assert dict(f.categories) == dict(whole.cdrs.categories)
        assert dict(f.meta) == dict(whole.cdrs.meta)
        assert f.vocabulary("stage") == whole.cdrs.vocabulary("stage")
        assert f.vocabulary("disposition") == whole.cdrs.vocabulary("disposition")
    with pytest.raises(AttributeError, match="cdrs.load"):
        _ = lazy.columns
    path.unlink()  # nothing above reads the file again
    assert len(lazy) == len(whole.cdrs) and lazy.vocabulary("number")
    with pytest.raises(CDRFormatError):
        lazy.load()


def test_a_parquet_column_is_read_alone(tmp_path, baseline, monkeypatch):
    scenario, whole = baseline
    path = _path(tmp_path, "parquet")
    lazy = _run(scenario, 5, keep_cdrs=False, cdr_file=path).cdrs

    def whole_table(*_a, **_k):
        raise AssertionError("read the whole table")

    monkeypatch.setattr(_File, "table", whole_table)
    for name in ("talk_s", "answer", "billsec", "stage", "number", "disposition"):
        col = lazy[name]
        assert col.dtype == whole.cdrs[name].dtype, name
        assert np.array_equal(col, whole.cdrs[name], equal_nan=col.dtype.kind == "f"), name
    assert np.array_equal(lazy.answered, whole.cdrs.answered)
    assert np.array_equal(lazy.mask("stage", "pitch"), whole.cdrs.mask("stage", "pitch"))
    assert lazy.mask("stage", "pitch").any()
    assert np.array_equal(lazy.labels("destination"), whole.cdrs.labels("destination"))
    with pytest.raises(KeyError):
        lazy["no_such_column"]


def test_a_csv_column_and_selection_load_the_file(tmp_path, baseline):
    scenario, whole = baseline
    lazy = _run(scenario, 5, keep_cdrs=False, cdr_file=tmp_path / "c.csv").cdrs
    assert (tmp_path / "c.meta.json").is_file()
    assert np.array_equal(lazy["billsec"], whole.cdrs["billsec"])
    sel = whole.cdrs.answered
    _equal_to_the_microsecond(whole.cdrs.select(sel), lazy.select(sel))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_existing_file_is_kept_unless_forced(tmp_path, fmt, baseline):
    scenario, _ = baseline
    path = _path(tmp_path, fmt)
    first = _run(scenario, 5, keep_cdrs=False, cdr_file=path).cdrs
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="force=True") as err:
        _run(scenario, 6, keep_cdrs=False, cdr_file=path)
    assert isinstance(err.value, SimError) and str(path) in str(err.value)
    assert path.read_bytes() == before
    again = _run(scenario, 6, keep_cdrs=False, cdr_file=path, force=True)
    assert path.read_bytes() != before
    assert len(again.cdrs) == len(_run(scenario, 6).cdrs) and len(first) > 0
    assert dict(sim.CDRFile.open(path).meta)["seed"] == 6


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_run_that_fails_leaves_no_file(tmp_path, fmt, baseline):
    scenario, _ = baseline
    path = _path(tmp_path, fmt)
    seen: list[int] = []

    def third_chunk_fails(cdrs, _agent_start):
        seen.append(len(cdrs))
        if len(seen) == 3:
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        _run(scenario, 5, chunk_rows=200, keep_cdrs=False, cdr_file=path,
             on_chunk=[third_chunk_fails])
    assert len(seen) == 3
    assert list(tmp_path.iterdir()) == []  # no file, no sidecar, no temporary
    # over an existing file (force): the old file stays as it was
    _run(scenario, 7, keep_cdrs=False, cdr_file=path)
    before = path.read_bytes()
    seen.clear()
    with pytest.raises(RuntimeError, match="disk gone"):
        _run(scenario, 5, chunk_rows=200, keep_cdrs=False, cdr_file=path, force=True,
             on_chunk=[third_chunk_fails])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name] + (["calls.meta.json"] if fmt == "csv" else []))


def test_bad_combinations_are_refused_before_the_run(tmp_path, baseline):
    scenario, _ = baseline
    path = tmp_path / "calls.csv"
    with pytest.raises(ValueError, match="keep_cdrs=False"):
        sim.run(scenario, 5, cdr_file=path)  # keep_cdrs=True is the default
    with pytest.raises(ValueError, match="keep_cdrs=False"):
        sim.run(scenario, 5, chunk_rows=100, keep_cdrs=True, cdr_file=path)
    with pytest.raises(SimError, match="is a folder"):
        sim.run(scenario, 5, keep_cdrs=False, cdr_file=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_analyses_refuses_figures_of_no_calls(tmp_path, baseline):
    scenario, whole = baseline
    lean = _run(scenario, 5, keep_cdrs=False, cdr_file=tmp_path / "c.csv", analyses=False)
    assert repr(lean.kpis) == repr(whole.kpis)
    for what in ("compliance", "timeline", "dialer"):
        with pytest.raises(ValueError, match="analyses=True"):
            getattr(lean, what)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rating_a_file_equals_rating_the_in_memory_table(tmp_path, fmt, baseline):
    scenario, whole = baseline
    path = _path(tmp_path, fmt)
    lazy = _run(scenario, 5, chunk_rows=250, keep_cdrs=False, cdr_file=path).cdrs
    plans = sim.load_plans(PLANS)
    ours, theirs = sim.rate(lazy, plans), sim.rate(whole.cdrs, plans)
    assert isinstance(ours, type(theirs))
    assert repr(ours.campaign) == repr(theirs.campaign)
    assert np.array_equal(ours.call_id, theirs.call_id)
    for name, s in theirs.summaries.items():
        o = ours.summaries[name]
        assert (o.total, o.billed_s, o.calls, o.answered) == (s.total, s.billed_s, s.calls,
                                                              s.answered), name
        a, b = ours.calls[name], theirs.calls[name]
        assert (a.units_total, a.billed_total_s, a.den) == (b.units_total, b.billed_total_s,
                                                            b.den), name
        assert a.units.dtype == b.units.dtype and np.array_equal(a.units, b.units), name
        assert np.array_equal(a.billed_s, b.billed_s), name
    if fmt == "parquet":  # bit for bit: even the talk-time float sum
        assert repr(ours.summaries) == repr(theirs.summaries)
        lean = _run(scenario, 5, keep_cdrs=False, cdr_file=tmp_path / "again.parquet")
        run_rated = sim.rate_run(scenario, lean.cdrs, lean.agents, plans)  # fees, labour
        assert repr(run_rated.summaries) == repr(
            sim.rate_run(scenario, whole.cdrs, whole.agents, plans).summaries)
    chunked = sim.rate_chunks(lazy.chunks(), plans)
    assert all(chunked.summaries[n].total == s.total for n, s in theirs.summaries.items())


def test_open_refuses_a_file_it_cannot_describe(tmp_path):
    bare = tmp_path / "bare.csv"
    bare.write_text("a,b\n1,2\n")
    with pytest.raises(CDRFormatError, match="sim.read_cdrs"):
        sim.CDRFile.open(bare)
