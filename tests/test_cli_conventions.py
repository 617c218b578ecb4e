"""CLI conventions shared by run, compare and sweep: --json, -q, --seed, --out -, --set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

BASE = str(Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml")


@pytest.mark.parametrize("argv", [
    ["run", BASE, "--quick"],
    ["compare", BASE, "--quick", "--reps", "2", "--variant", "quick exit"],
    ["sweep", BASE, "--quick", "--vary", "agents.count=2,3", "--reps", "1", "--workers", "1",
     "--no-plots"],
])
def test_json_is_alone_on_stdout_and_quiet_silences_stderr(argv, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "o"), "--json", "-q"]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)  # nothing but the JSON document
    assert data["out"] == str(tmp_path / "o")
    assert cap.err == ""


def test_run_json_keeps_shares_as_shares(tmp_path, capsys):
    assert main(["run", BASE, "--quick", "--out", str(tmp_path / "o"), "--json"]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    assert 0 <= data["kpis"]["occupancy"] <= 1 and 0 <= data["kpis"]["contact_rate"] <= 1
    assert f"wrote {tmp_path / 'o'}/" in cap.err  # notes on stderr


def test_human_tables_show_shares_in_percent(tmp_path, capsys):
    assert main(["sweep", BASE, "--quick", "--vary", "agents.count=2", "--reps", "1",
                 "--workers", "1", "--no-plots", "--out", str(tmp_path / "s"), "-q"]) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.count("%") >= 3  # contact rate, abandonment, occupancy


@pytest.mark.parametrize("cmd", ["run", "compare", "sweep"])
def test_negative_seed_and_dash_out_exit_2(cmd, tmp_path, capsys):
    extra = ["--vary", "agents.count=2"] if cmd == "sweep" else []
    with pytest.raises(SystemExit) as exc:
        main([cmd, BASE, "--quick", "--seed", "-1", *extra, "--out", str(tmp_path / "a")])
    assert exc.value.code == 2
    assert "--seed: must be an integer >= 0 (got -1)" in capsys.readouterr().err
    assert main([cmd, BASE, "--quick", *extra, "--out", "-"]) == 2
    assert "--out -: dialsim writes a folder" in capsys.readouterr().err
    assert not Path("-").exists()


def test_a_bad_set_names_the_set_not_the_file(tmp_path, capsys):
    assert main(["run", BASE, "--quick", "--set", "dialer.ratio=abc",
                 "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "--set dialer.ratio=abc: dialer.ratio: must be a number" in err
    assert "baseline.toml" not in err


def test_a_broken_file_is_still_blamed_on_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(BASE).read_text().replace('mode = "progressive"', 'mode = "nope"'))
    assert main(["run", str(bad), "--set", "agents.count=3", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml: dialer.mode" in err and "--set" not in err


def test_unknown_variant_lists_the_known_ones(tmp_path, capsys):
    assert main(["compare", BASE, "--quick", "--variant", "nope",
                 "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "no variant named 'nope'" in err
    assert "short greeting, quick exit, power 1.3" in err


def test_validate_blames_a_bad_set_too(capsys):
    assert main(["validate", BASE, "--set", "agents.count=-2"]) == 2
    err = capsys.readouterr().err
    assert "--set agents.count=-2: agents.count: must be an integer >= 1" in err


def test_python_run_warns_when_the_list_runs_out_early() -> None:
    # 5 leads for an 8-hour shift: the list is done within minutes
    import pytest
    from _factory import tiny

    import sim
    from sim.errors import ListExhaustedWarning

    with pytest.warns(ListExhaustedWarning, match="call list ran out at 09:"):
        result = sim.run(tiny(), seed=1)
    assert result.notes and result.list_exhausted_s is not None
    full = tiny(list={"size": 5000})  # more leads than the day can dial: no warning
    assert sim.run(full, seed=1).notes == []
