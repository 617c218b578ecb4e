"""sim.sweep: designs, up-front validation, identical tables on any executor, aggregates."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest
from _factory import tiny
from conftest import SCENARIOS

import sim
from sim.analysis.stats import mean_ci
from sim.costing import load_plan_files
from sim.errors import OutputExistsError, SweepError
from sim.experiment import row_from_result, run_row
from sim.sweeps import SweepRunError, design, parse_range, parse_values, parse_vary

PLANS = SCENARIOS / "plans" / "china.toml"


def noisy(over=None):
    """A tiny campaign with real randomness: pick-ups, talk times and power dialing."""
    return tiny({"list.size": 24, "agents.count": 2, "customers.p_pickup": 0.6,
                 "customers.ring": {"dist": "uniform", "low": 3, "high": 12},
                 "customers.patience": {"dist": "exponential", "mean": 3},
                 "script.stages[0].duration": {"dist": "lognormal", "median": 30, "sigma": 0.8},
                 **(over or {})})


GRID = {"dialer.ratio": [1, 1.5], "agents.count": [1, 2, 3]}


# -- designs ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "values"), [
    ("1,1.5,2", [1, 1.5, 2]),
    ("20:60:10", [20, 30, 40, 50, 60]),
    ("1:2:0.25", [1.0, 1.25, 1.5, 1.75, 2.0]),
    ("1:1.3:0.1", [1.0, 1.1, 1.2, 1.3]),
    ("progressive,predictive", ["progressive", "predictive"]),
    ("true,false", [True, False]),
    ('{dist="constant", value=20},{dist="constant", value=30}',
     [{"dist": "constant", "value": 20}, {"dist": "constant", "value": 30}]),
    ("5", [5]),
])
def test_vary_values(text, values):
    assert parse_values("k", text) == values


@pytest.mark.parametrize(("text", "needle"), [
    ("20:10:5", "stop 10 is below start 20"),
    ("1:5:0", "step must be > 0"),
    ("1:5", "needs a step"),
    ("1,2,1", "value 1 is repeated"),
    ("", "no values"),
    ("1:1000000:1", "at most"),
])
def test_malformed_vary_names_the_key(text, needle):
    with pytest.raises(SweepError, match=needle) as err:
        parse_vary(f"agents.count={text}")
    assert "agents.count" in str(err.value)


def test_range_parsing():
    assert parse_range("dialer.ratio=1:2.5") == ("dialer.ratio", (1, 2.5))
    for bad, needle in [("dialer.ratio=2:1", "below high"), ("dialer.ratio=a:b", "low:high"),
                        ("dialer.ratio", "dotted.key=low:high")]:
        with pytest.raises(SweepError, match=needle):
            parse_range(bad)


def test_grid_is_a_cartesian_product_first_key_slowest():
    d = design(GRID)
    assert d.kind == "grid" and d.params == ("dialer.ratio", "agents.count")
    assert [tuple(p.values()) for p in d.points] == [
        (1, 1), (1, 2), (1, 3), (1.5, 1), (1.5, 2), (1.5, 3)]
    # numpy grids come back as plain Python numbers
    assert design({"dialer.ratio": np.linspace(1, 2, 3)}).points[1] == {"dialer.ratio": 1.5}


def test_latin_hypercube_is_seeded_stratified_and_typed():
    ranges = {"agents.count": (1, 10), "dialer.ratio": (1.0, 2.0)}
    a = design(samples=10, ranges=ranges, seed=7)
    assert a == design(samples=10, ranges=ranges, seed=7)
    assert a.points != design(samples=10, ranges=ranges, seed=8).points
    counts = [p["agents.count"] for p in a.points]
    assert all(isinstance(c, int) for c in counts) and sorted(counts) == list(range(1, 11))
    ratios = [p["dialer.ratio"] for p in a.points]
    assert sorted(int((r - 1.0) * 10) for r in ratios) == list(range(10))  # one per stratum
    # integer bounds over a key the scenario holds as a float still give floats
    floats = design(samples=6, ranges={"dialer.ratio": (1, 2), "agents.count": (1, 3)},
                    scenario=noisy())
    assert all(isinstance(p["dialer.ratio"], float) for p in floats.points)
    assert len({p["dialer.ratio"] for p in floats.points}) == 6
    assert all(isinstance(p["agents.count"], int) for p in floats.points)
    both = design({"dialer.mode": ["progressive", "preview"]}, samples=3,
                  ranges={"agents.count": (1, 4)}, seed=1)
    assert both.kind == "grid+lhs" and len(both) == 6


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({}, "nothing to vary"),
    ({"samples": 4}, "needs ranges"),
    ({"ranges": {"a.b": (1, 2)}}, "need samples"),
    ({"grid": {"a.b": [1]}, "samples": 2, "ranges": {"a.b": (1, 2)}}, "vary a key once"),
    ({"grid": {"a.b": 3}}, "must be a sequence"),
])
def test_bad_designs(kwargs, needle):
    with pytest.raises(SweepError, match=needle):
        design(**kwargs)


@pytest.mark.parametrize(("grid", "needles"), [
    ({"dialer.ratoi": [1, 2]}, ["dialer.ratoi", "did you mean 'ratio'"]),
    ({"agents.count": [2, 0, -1]}, ["agents.count", "(got 0)", "2 of 3 sweep points"]),
    ({"dialer.ratio": [1, 0.5], "agents.count": [1, 2]},
     ["dialer.ratio", "(and 1 more points)"]),
])
def test_bad_points_are_rejected_before_any_run(grid, needles, tmp_path):
    calls = []
    with pytest.raises(SweepError) as err:
        sim.sweep(noisy(), grid=grid, workers=1, plans=(), out=tmp_path / "out",
                  progress=calls.append)
    for needle in needles:
        assert needle in str(err.value)
    assert "nothing was run" in str(err.value)
    assert calls == [] and not (tmp_path / "out").exists()


# -- running ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def serial():
    return sim.sweep(noisy(), grid=GRID, replications=2, seed=3, workers=1, plans=[PLANS])


def test_tidy_table_rows_columns_and_seeds(serial):
    t = serial.table
    assert len(t) == 6 * 2 and serial.seeds == (3, 4)
    assert t.columns[:5] == ("point", "dialer.ratio", "agents.count", "replication", "seed")
    assert [(r["point"], r["replication"], r["seed"]) for r in t][:4] == [
        (0, 0, 3), (0, 1, 4), (1, 0, 3), (1, 1, 4)]
    assert {"contacts", "abandonment_rate", "total:cn-60/60",
            "campaign_per_contact:cn-per-second"} <= set(serial.metrics)
    assert serial.plans[0] == "cn-60/60" and serial.computed == 12 and serial.reused == 0
    df = serial.to_pandas()
    assert df.shape == (12, len(t.columns)) and df["agents.count"].tolist()[:2] == [1, 1]


def test_rows_are_run_rows_with_their_point(serial):
    plans = load_plan_files([PLANS])
    point = serial.design.points[4]
    expected = run_row(noisy().with_overrides(point), 4, plans)
    row = next(r for r in serial.table if r["point"] == 4 and r["replication"] == 1)
    assert {k: row[k] for k in expected} == expected


def test_row_from_result_equals_run_row():
    scenario = noisy({"dialer.ratio": 1.5})
    plans = load_plan_files([PLANS])
    result = sim.run(scenario, seed=9)
    assert row_from_result(result, plans) == run_row(scenario, 9, plans)


def test_common_random_numbers_across_points(serial):
    # the number of agents does not change who the customers are: with one attempt per
    # lead and no abandonment at ratio 1, every point dials and reaches the same people
    for rep in (0, 1):
        reached = {r["live_answers"] for r in serial.table
                   if r["replication"] == rep and r["dialer.ratio"] == 1}
        assert len(reached) == 1


def test_aggregate_is_mean_ci_per_point_and_metric(serial):
    agg = serial.aggregate()
    assert agg.columns == ("point", "dialer.ratio", "agents.count", "metric", "n", "mean",
                           "low", "high")
    assert len(agg) == 6 * len(serial.metrics)
    for r in list(agg)[::37]:
        e = mean_ci(serial.values(r["point"], r["metric"]))
        assert r["n"] == e.n <= 2
        for got, want in ((r["mean"], e.mean), (r["low"], e.low), (r["high"], e.high)):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12) or (
                math.isnan(got) and math.isnan(want))
    e = serial.estimate(2, "contacts")
    assert e.low <= e.mean <= e.high
    assert serial.best("campaign_total:cn-60/60") in range(6)


def test_two_workers_give_the_same_table(serial):
    parallel = sim.sweep(noisy(), grid=GRID, replications=2, seed=3, workers=2, plans=[PLANS])
    assert parallel.table == serial.table
    assert multiprocessing.active_children() == []  # the pool is gone


def test_any_executor_and_a_module_imported_first(serial):
    import sim.sweeps.points  # the package (sim.sweeps) never shadows the function

    assert callable(sim.sweep) and sim.sweep is sim.sweeps.sweep

    with ThreadPoolExecutor(3) as pool:
        res = sim.sweep(noisy(), grid=GRID, replications=2, seed=3, executor=pool,
                        plans=[PLANS])
    assert res.table == serial.table


class FailingExecutor(ThreadPoolExecutor):
    """Fails every run of point 2, as a crashing model or a lost worker would."""

    def submit(self, fn, /, *args, **kwargs):
        if args and getattr(args[0], "point", None) == 2:
            fut: Future = Future()
            fut.set_exception(RuntimeError("model exploded"))
            return fut
        return super().submit(fn, *args, **kwargs)


def test_a_failing_point_is_reported_and_the_others_finish(serial, tmp_path):
    with FailingExecutor(2) as pool, pytest.raises(SweepRunError) as err:
        sim.sweep(noisy(), grid=GRID, replications=2, seed=3, executor=pool, plans=[PLANS],
                  out=tmp_path / "s")
    text = str(err.value)
    assert "2 of 12 runs failed" in text and "dialer.ratio=1, agents.count=3" in text
    assert "RuntimeError: model exploded" in text
    res = err.value.result
    assert len(res.table) == 10 and {f.point for f in res.failures} == {2}
    assert [r for r in res.table] == [r for r in serial.table if r["point"] != 2]
    # the failed point is simply missing from the folder: a rerun makes only it
    again = sim.sweep(noisy(), grid=GRID, replications=2, seed=3, workers=1, plans=[PLANS],
                      out=tmp_path / "s")
    assert (again.computed, again.reused) == (2, 10) and again.table == serial.table


def test_keep_cdrs_writes_each_run_and_needs_out(tmp_path):
    with pytest.raises(SweepError, match="needs out"):
        sim.sweep(noisy(), grid={"agents.count": [1, 2]}, keep_cdrs=True, plans=())
    res = sim.sweep(noisy(), grid={"agents.count": [1, 2]}, workers=1, plans=(),
                    out=tmp_path / "k", keep_cdrs=True)
    files = sorted((tmp_path / "k" / "cdrs").glob("*.csv"))
    assert [f.name for f in files] == ["p000000-r000.csv", "p000001-r000.csv"]
    assert sorted(p.name for p in (tmp_path / "k" / "cdrs").glob("*.meta.json")) == [
        "p000000-r000.meta.json", "p000001-r000.meta.json"]  # their sidecars
    assert len(sim.read_cdrs(files[1]).cdrs) == res.table.column("dials")[1]


def test_kept_cdrs_are_streamed_with_the_same_rows_and_bytes(tmp_path, monkeypatch):
    """A point whose CDRs are kept runs streamed (chunks to disk, rated on the way):
    its row equals the in-memory run's, and its file the in-memory table written."""
    import sim.sweeps._worker as worker
    from sim.cdrio import write_cdrs

    monkeypatch.setattr(worker, "CHUNK_ROWS", 7)  # many chunks, windows straddling them
    grid = {"agents.count": [1, 2]}
    kept = sim.sweep(noisy(), grid=grid, replications=2, seed=5, workers=1, plans=[PLANS],
                     out=tmp_path / "k", keep_cdrs=True)
    plain = sim.sweep(noisy(), grid=grid, replications=2, seed=5, workers=1, plans=[PLANS])
    assert kept.table == plain.table
    row = next(r for r in kept.table if (r["point"], r["replication"]) == (1, 1))
    whole = sim.run(noisy({"agents.count": 2}), seed=row["seed"])
    write_cdrs(whole.cdrs, tmp_path / "whole.csv")
    assert (tmp_path / "k" / "cdrs" / "p000001-r001.csv").read_bytes() == \
        (tmp_path / "whole.csv").read_bytes()


def test_options_are_checked(tmp_path):
    s = noisy()
    for kwargs, needle in [({"workers": 0}, "workers"), ({"replications": 0}, "replications"),
                           ({"workers": 2, "executor": ThreadPoolExecutor(1)}, "not both"),
                           ({"errors": "ignore"}, "errors")]:
        with pytest.raises(SweepError, match=needle):
            sim.sweep(s, grid={"agents.count": [1]}, plans=(), **kwargs)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="does not hold a dialsim sweep"):
        sim.sweep(s, grid={"agents.count": [1]}, plans=(), out=tmp_path / "x")
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_sweep_from_a_file_with_its_own_plans_and_samples(tmp_path):
    res = sim.sweep(SCENARIOS / "baseline.toml", samples=3,
                    ranges={"list.size": (40, 80), "dialer.ratio": (1.0, 1.6)},
                    workers=1, seed=2)
    assert res.design.kind == "lhs" and len(res.table) == 3
    assert len(res.plans) > 3 and all(40 <= n <= 80 for n in res.table.column("list.size"))


def test_a_warm_pool_serves_several_sweeps(serial):
    from sim.sweeps import local_pool

    with local_pool(1) as pool:  # one warm worker serves both sweeps
        a = sim.sweep(noisy(), grid=GRID, replications=2, seed=3, executor=pool, plans=[PLANS])
        b = sim.sweep(noisy(), grid={"agents.count": [1]}, seed=3, executor=pool, plans=())
    assert a.table == serial.table and len(b.table) == 1
    assert multiprocessing.active_children() == []


def test_progress_snapshots_and_bar():
    import io

    from sim.sweeps import ProgressBar

    seen = []
    sim.sweep(noisy(), grid={"agents.count": [1, 2]}, replications=2, workers=1, plans=(),
              progress=seen.append)
    assert [(p.runs_done, p.points_done) for p in seen] == [(1, 0), (2, 1), (3, 1), (4, 2)]
    assert seen[-1].left_s == 0 and seen[0].rate_per_s > 0
    buf = io.StringIO()
    bar = ProgressBar("sweep tiny", stream=buf, enabled=True)
    for p in seen:
        bar(p)
    bar.close()
    last = buf.getvalue().split("\r")[-1]
    assert "[#########################] 100%" in last and "0:00 left" in last
    assert "2/2 points  4/4 runs" in last


def test_workers_import_only_what_a_run_needs():
    import subprocess
    import sys

    code = ("import sys; import sim.sweeps._worker as w; w.warm_up(); "
            "print(sorted(m for m in ('scipy.stats', 'matplotlib', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"  # each of these adds start-up time to every worker
