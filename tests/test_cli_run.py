"""``dialsim run``: outputs, refusal to overwrite, atomic folders, every scenario in quick mode."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SCENARIOS

import sim.scenario
from sim.cdrio import read_cdrs
from sim.cli import main

SCENARIO_FILES = sorted(SCENARIOS.glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_scenario_runs_in_quick_mode(path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(path), "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Contacts per agent-hour" in text
    for name in ("cdrs.csv", "agents.csv", "summary.json"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 1 and summary["kpis"]["dials"] > 0
    assert summary["scenario"]["values"]["list"]["size"] <= sim.scenario.QUICK_MAX_LEADS
    imported = read_cdrs(out / "cdrs.csv")
    assert len(imported.cdrs) == summary["kpis"]["dials"]
    if summary.get("costs"):
        assert (out / "costs.csv").is_file() and (out / "charges.csv").is_file()


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    scenario = str(SCENARIOS / "baseline.toml")
    assert main(["run", scenario, "--quick", "--out", str(out)]) == 0
    before = (out / "cdrs.csv").read_bytes()
    capsys.readouterr()
    assert main(["run", scenario, "--quick", "--seed", "2", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "cdrs.csv").read_bytes() == before
    assert main(["run", scenario, "--quick", "--seed", "2", "--out", str(out), "--force"]) == 0
    assert (out / "cdrs.csv").read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_default_output_folder_is_new_each_time(tmp_path):
    scenario = str(SCENARIOS / "baseline.toml")
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "sim", "run", scenario, "--quick"],
                              cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["baseline-001",
                                                                     "baseline-002"]


def test_asterisk_export_and_same_seed_identical(tmp_path):
    scenario = str(SCENARIOS / "baseline.toml")
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}"
        assert main(["run", scenario, "--quick", "--seed", "5", "--asterisk",
                     "--out", str(out)]) == 0
        outs.append(out)
    assert (outs[0] / "cdrs.csv").read_bytes() == (outs[1] / "cdrs.csv").read_bytes()
    master = read_cdrs(outs[0] / "Master.csv", format="asterisk")
    native = read_cdrs(outs[0] / "cdrs.csv")
    assert master.report.rejected == () and len(master.cdrs) == len(native.cdrs)
    assert list(master.cdrs["billsec"]) == list(native.cdrs["billsec"])


def test_readme_starts_with_the_two_commands():
    lines = [ln.strip() for ln in (ROOT / "README.md").read_text().splitlines()
             if ln.strip().startswith("python -m pip")]
    assert lines[:2] == [
        "python -m pip install -e . && dialsim run scenarios/baseline.toml",
        "python -m pip install -e '.[test]' && python -m pytest",
    ]


def test_writer_threads_are_joined_and_their_errors_raised():
    import threading
    import time

    from sim.commands.run import Writers

    done: list[str] = []

    def slow(name: str) -> None:
        time.sleep(0.05)
        done.append(name)

    def broken() -> None:
        raise OSError("disk full")

    with Writers() as w:
        w.submit("a.csv", slow, "a")
        w.submit("b.csv", broken)
        assert w.names == ["a.csv", "b.csv"]
        with pytest.raises(OSError, match="disk full"):
            w.wait()
        assert done == ["a"]  # wait() joined every thread before raising
    # leaving the block joins the threads even when the caller fails first
    with pytest.raises(RuntimeError), Writers() as w:
        w.submit("c.csv", slow, "c")
        raise RuntimeError("the caller failed")
    assert done == ["a", "c"]
    assert not [t for t in threading.enumerate() if t.name.startswith("dialsim: writing")]


@pytest.mark.parametrize("given, expected", [(None, "1"), ("3", "3")])
def test_cli_runs_openblas_single_threaded_unless_told_otherwise(given, expected):
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    code = ("import os, sys; from sim.cli import main; main(['validate', sys.argv[1]]); "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    out = subprocess.run([sys.executable, "-c", code, str(SCENARIOS / "baseline.toml")],
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("scenario, code", [("baseline.toml", 0), ("no-such-file.toml", 2)])
def test_console_exits_with_mains_code_and_the_collector_frozen(scenario, code):
    """The dialsim program freezes every object out of the collector before exiting,
    so the interpreter's last collection does not walk everything the command built."""
    prog = ("import atexit, gc; from sim.cli import console; "
            "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); console()")
    proc = subprocess.run([sys.executable, "-c", prog, "validate", str(SCENARIOS / scenario)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == code
    assert proc.stdout.strip().splitlines()[-1] == "frozen True"
