"""Resumable sweeps: interrupted (Ctrl-C, a crash, a killed worker) and restarted, a sweep
computes only the missing runs and gives the same table as an uninterrupted one."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest
from _factory import tiny
from conftest import ROOT, SCENARIOS

import sim
from sim.errors import OutputExistsError, SweepError
from sim.sweeps.store import SweepStore

GRID = {"agents.count": [1, 2, 3], "dialer.ratio": [1, 1.5, 2]}
REPS = 2
TOTAL = 9 * REPS


def scenario():
    return tiny({"list.size": 24, "agents.count": 2, "customers.p_pickup": 0.6,
                 "customers.ring": {"dist": "uniform", "low": 3, "high": 12},
                 "script.stages[0].duration": {"dist": "lognormal", "median": 30,
                                               "sigma": 0.8}})


def run(out, **kw):
    kw.setdefault("workers", 1)
    return sim.sweep(scenario(), grid=GRID, replications=REPS, seed=11, plans=(), out=out, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "sweep"
    return run(out)


def stop_after(k):
    def progress(p):
        if p.runs_done - p.reused >= k:
            raise KeyboardInterrupt

    return progress


def saved_runs(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("p*.json")}


def test_ctrl_c_then_resume_runs_only_the_missing(reference, tmp_path):
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        run(out, workers=2, progress=stop_after(5))
    assert multiprocessing.active_children() == []  # workers terminated, none leaked
    before = saved_runs(out)
    assert 5 <= len(before) < TOTAL
    assert not (out / "sweep.csv").exists()

    resumed = run(out)  # same arguments (the worker count is not one of them)
    assert (resumed.reused, resumed.computed) == (len(before), TOTAL - len(before))
    assert resumed.table == reference.table
    after = saved_runs(out)
    assert len(after) == TOTAL
    assert {k: after[k] for k in before} == before  # finished runs were not made again
    assert (out / "sweep.csv").read_bytes() == (reference.out / "sweep.csv").read_bytes()
    assert (out / "aggregate.csv").read_bytes() == (reference.out / "aggregate.csv").read_bytes()

    again = run(out)  # a finished sweep: nothing left to do
    assert (again.reused, again.computed) == (TOTAL, 0) and again.table == reference.table


def test_killed_worker_is_replaced_and_nothing_is_lost(reference, tmp_path):
    killed = []

    def kill_one(p):
        children = multiprocessing.active_children()
        if not killed and children:
            os.kill(children[0].pid, signal.SIGKILL)
            killed.append(children[0].pid)

    res = run(tmp_path / "k", workers=2, progress=kill_one)
    assert killed and res.failures == () and res.table == reference.table
    assert multiprocessing.active_children() == []


def test_crashed_command_resumes_from_its_folder(tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "sim", "sweep", str(SCENARIOS / "baseline.toml"), "--quick",
           "--set", "list.size=100", "--vary", "agents.count=2:4:1",
           "--vary", "dialer.ratio=1,1.6", "--reps", "2", "--workers", "1",
           "--no-plots", "--plans", str(SCENARIOS / "plans" / "uk.toml"), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "runs").is_dir() and len(list((out / "runs").glob("p*.json"))) >= 2:
            proc.kill()  # a crash: no clean-up of any kind
            break
        time.sleep(0.01)
    proc.communicate()
    before = saved_runs(out)
    assert before, "the sweep saved nothing before the crash"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(saved_runs(out)) == 12
    if len(before) < 12:
        assert f"{len(before)} resumed" in done.stderr
    ref = sim.sweep(sim.scenario.quick(sim.load_scenario(SCENARIOS / "baseline.toml",
                                                         overrides={"list.size": 100})),
                    grid={"agents.count": [2, 3, 4], "dialer.ratio": [1, 1.6]},
                    replications=2, seed=1, workers=1,
                    plans=[SCENARIOS / "plans" / "uk.toml"], out=tmp_path / "ref")
    assert (out / "sweep.csv").read_bytes() == (ref.out / "sweep.csv").read_bytes()


def test_a_different_sweep_is_refused_unless_forced(tmp_path):
    out = tmp_path / "s"
    sim.sweep(scenario(), grid={"agents.count": [1, 2]}, seed=1, workers=1, plans=(), out=out)
    with pytest.raises(OutputExistsError, match=r"different sweep \(differs in: seeds\)"):
        sim.sweep(scenario(), grid={"agents.count": [1, 2]}, seed=2, workers=1, plans=(),
                  out=out)
    with pytest.raises(OutputExistsError, match=r"differs in: points\)"):
        sim.sweep(scenario(), grid={"agents.count": [1, 3]}, workers=1, plans=(), out=out)
    res = sim.sweep(scenario(), grid={"agents.count": [1, 3]}, workers=1, plans=(), out=out,
                    force=True)
    assert res.reused == 0 and sorted(saved_runs(out)) == ["p000000-r000.json",
                                                           "p000001-r000.json"]
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["identity"]["points"] == [{"agents.count": 1}, {"agents.count": 3}]


def test_leftovers_of_a_crash_and_a_busy_folder(tmp_path):
    out = tmp_path / "s"
    first = sim.sweep(scenario(), grid={"agents.count": [1, 2]}, workers=1, plans=(), out=out)
    (out / "runs" / "p000001-r000.json").unlink()
    tmp = out / "runs" / ".p000001-r000.json.x1y2.tmp"
    tmp.write_text('{"half": ')  # a write cut short by a crash
    again = sim.sweep(scenario(), grid={"agents.count": [1, 2]}, workers=1, plans=(), out=out)
    assert (again.reused, again.computed) == (1, 1) and again.table == first.table
    assert not tmp.exists()
    identity = json.loads((out / "sweep.json").read_text())["identity"]
    with SweepStore.open(out, identity), pytest.raises(SweepError, match="another sweep"):
        SweepStore.open(out, identity)
