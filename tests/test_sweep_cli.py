"""``dialsim sweep``: summary table, sweep.csv, aggregate.csv, plots, resume and refusals."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SCENARIOS

from sim.cli import main

BASE = [str(SCENARIOS / "baseline.toml"), "--quick", "--set", "list.size=60",
        "--plans", str(SCENARIOS / "plans" / "uk.toml"), "--workers", "1"]


def sweep(*args):
    return main(["sweep", *BASE, *args])


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_grid_prints_a_summary_and_writes_tables_and_a_heat_map(tmp_path, capsys):
    out = tmp_path / "s"
    assert sweep("--vary", "dialer.ratio=1,1.5", "--vary", "agents.count=2:4:1",
                 "--reps", "2", "--out", str(out)) == 0
    text = capsys.readouterr().out
    header = text.splitlines()[1].split()
    assert header[:3] == ["point", "dialer.ratio", "agents.count"]
    assert "contacts_per_agent_hour" in header and header[-2:] == ["cheapest", "plan"]
    assert "6 points × 2 replications (grid), seeds 1..2" in text and " ± " in text
    tidy = rows(out / "sweep.csv")
    assert len(tidy) == 12 and [r["seed"] for r in tidy[:2]] == ["1", "2"]
    assert {r["agents.count"] for r in tidy} == {"2", "3", "4"}
    agg = rows(out / "aggregate.csv")
    assert list(agg[0])[:6] == ["point", "dialer.ratio", "agents.count", "metric", "n", "mean"]
    pngs = sorted(p.name for p in (out / "plots").iterdir())
    assert "contacts_per_agent_hour.png" in pngs and len(pngs) == 5
    assert all((out / "plots" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_one_parameter_with_chosen_metrics(tmp_path, capsys):
    out = tmp_path / "s"
    assert sweep("--vary", "agents.count=2,4", "--metric", "occupancy", "--metric",
                 "campaign_total:uk-per-second-banded", "--out", str(out)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:4] == ["point", "agents.count", "occupancy",
                                    "campaign_total:uk-per-second-banded"]
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "campaign_total_uk-per-second-banded.png", "occupancy.png"]
    assert sweep("--vary", "agents.count=2,4", "--metric", "ocupancy", "--out", str(out)) == 2
    assert "did you mean 'occupancy'" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "needles"), [
    (["--vary", "agents.cont=2,3"], ["agents.cont", "did you mean 'count'"]),
    (["--vary", "agents.count=20:10:5"], ["agents.count", "stop 10 is below start 20"]),
    (["--vary", "dialer.ratio=1,0.5"], ["dialer.ratio", "(got 0.5)"]),
    (["--vary", "dialer.ratio=1", "--vary", "dialer.ratio=2"], ["dialer.ratio: given twice"]),
    (["--range", "dialer.ratio=1:2"], ["need samples"]),
    (["--samples", "3", "--range", "dialer.ratio=2:1"], ["dialer.ratio", "below high"]),
    ([], ["nothing to vary"]),
])
def test_bad_input_exits_2_before_any_work(args, needles, tmp_path, capsys):
    out = tmp_path / "s"
    assert sweep(*args, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("dialsim sweep: error:") and "Traceback" not in err
    for needle in needles:
        assert needle in err
    assert not out.exists()


def test_same_command_resumes_a_different_one_is_refused(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["--vary", "agents.count=2,3", "--reps", "2", "--no-plots", "--out", str(out)]
    assert sweep(*args) == 0
    first = (out / "sweep.csv").read_bytes()
    capsys.readouterr()
    assert sweep(*args) == 0
    err = capsys.readouterr().err
    assert "0 runs in" in err and "4 resumed" in err
    assert (out / "sweep.csv").read_bytes() == first
    assert sweep(*args[:-2], "--seed", "5", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "different sweep (differs in: seeds)" in err and "--force" in err
    assert (out / "sweep.csv").read_bytes() == first
    assert sweep(*args[:-2], "--seed", "5", "--out", str(out), "--force") == 0
    assert (out / "sweep.csv").read_bytes() != first


def test_latin_hypercube_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "s"
    assert sweep("--samples", "4", "--range", "dialer.ratio=1:2", "--range",
                 "agents.count=2:5", "--reps", "1", "--metric", "contacts", "--out",
                 str(out)) == 0
    assert "4 points × 1 replications (lhs)" in capsys.readouterr().out
    tidy = rows(out / "sweep.csv")
    assert sorted(int(r["agents.count"]) for r in tidy) == [2, 3, 4, 5]
    assert (out / "plots" / "contacts.png").is_file()


def test_example_script_runs_as_a_plain_script(tmp_path):
    env = {**os.environ, "DIALSIM_QUICK": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(ROOT / "scenarios" / "sweep_example.py"),
                           "--out", str(tmp_path / "ex")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cheapest point" in proc.stdout
    assert (tmp_path / "ex" / "sweep.csv").is_file()
    assert (tmp_path / "ex" / "contacts_per_agent_hour.png").is_file()


def test_failed_runs_are_listed_and_exit_1(tmp_path, capsys, monkeypatch):
    import sim.sweeps.runner as runner

    real = runner.run_task

    def flaky(task):
        if task.overrides.get("agents.count") == 3:
            raise MemoryError("out of memory")
        return real(task)

    monkeypatch.setattr(runner, "run_task", flaky)  # workers=1 runs tasks in this process
    out = tmp_path / "s"
    assert sweep("--vary", "agents.count=2,3", "--reps", "2", "--no-plots",
                 "--out", str(out)) == 1
    cap = capsys.readouterr()
    assert "2 runs failed" in cap.err and "point 1 (agents.count=3), replication 0" in cap.err
    assert "MemoryError: out of memory" in cap.err and "failed" in cap.out
    assert len(rows(out / "sweep.csv")) == 2
    monkeypatch.setattr(runner, "run_task", real)
    assert sweep("--vary", "agents.count=2,3", "--reps", "2", "--no-plots",
                 "--out", str(out)) == 0  # the retry makes only the failed runs
    assert "2 runs in" in capsys.readouterr().err and len(rows(out / "sweep.csv")) == 4
