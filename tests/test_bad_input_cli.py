"""Bad input on every command: one clear line naming the file, key or line, exit code 2,
never a traceback; and an import accounts for every row (read = accepted + rejected +
excluded) when a row is bad but the file is not.

Run in-process (``sim.cli.main``). Every failing case fails before any simulation or
rating, so the whole file takes seconds.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
from _factory import tiny
from conftest import SCENARIOS

import sim
from sim.cli import main

BASE = str(SCENARIOS / "baseline.toml")
TWO_PLANS = """
[[plan]]
name = "60/60"
currency = "CNY"
price_per_min = "0.12"
increments = "60/60"

[[plan]]
name = "per-second"
currency = "CNY"
price_per_min = "0.18"
increments = "1/1"
"""
#: Options that make each simulating command cheap and complete (it must fail anyway).
SIM_EXTRA = {
    "run": [],
    "compare": ["--reps", "2"],
    "sweep": ["--vary", "agents.count=2,3", "--reps", "1", "--workers", "1", "--no-plots"],
    "optimize": ["--objective", "contacts", "--maximize", "--vary", "agents.count=2,3",
                 "--budget", "4", "--reps", "2"],
}
SIM_COMMANDS = list(SIM_EXTRA)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Good and bad inputs: plan files, scenarios, CDR files, folders."""
    d = tmp_path_factory.mktemp("bad")
    out: dict[str, Path] = {"dir": d / "adir", "file": d / "afile"}
    out["dir"].mkdir()
    out["file"].write_text("x\n")
    texts = {
        "plans.toml": TWO_PLANS,
        "empty.toml": "",
        "syntax.toml": "[agents\ncount = \n",
        "plan_syntax.toml": TWO_PLANS.replace('increments = "1/1"', 'increments = "1/1'),
        "plan_type.toml": TWO_PLANS.replace('price_per_min = "0.18"', "price_per_min = [1, 2]"),
        "plan_noprice.toml": TWO_PLANS.replace('price_per_min = "0.18"\n', ""),
        "empty.csv": "",
    }
    for name, text in texts.items():
        out[name] = d / name
        out[name].write_text(text)
    out["binary"] = d / "binary.csv"
    out["binary"].write_bytes(bytes(range(256)) * 8)
    # a small CDR file, and copies with one bad date and with negative durations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sim.run(tiny(list={"size": 40, "max_attempts": 2},
                              customers={"p_pickup": 0.6, "p_busy": 0.2}), seed=3)
    out["good.csv"] = d / "good.csv"
    sim.write_cdrs(result.cdrs, out["good.csv"])
    with open(out["good.csv"], newline="") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    start, end, billsec = head.index("start"), head.index("end"), head.index("billsec")
    bad_date = [r[:] for r in rows]
    bad_date[3][start] = "2026-13-45T99:00:00"
    neg = [r[:] for r in rows]
    neg[4][start], neg[4][end] = rows[4][end], rows[4][start]  # ends before it starts
    neg[6][billsec] = "-5"
    for name, table in (("baddate.csv", bad_date), ("negdur.csv", neg),
                        ("header.csv", rows[:1])):
        out[name] = d / name
        with open(out[name], "w", newline="") as fh:
            csv.writer(fh).writerows(table)
    return out


@pytest.fixture(scope="module")
def n_rows(files) -> int:
    """Data rows in good.csv (and in its bad copies)."""
    with open(files["good.csv"], newline="") as fh:
        return sum(1 for _ in fh) - 1


def _code_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``dialsim ARGV``; assert exit code 2 and no traceback; return stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors (a bad --seed)
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    return err


def fails(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    """Run ``dialsim ARGV``; assert exit code 2, no traceback and one error line holding
    every needle; return that line."""
    err = _code_2(argv, capsys)
    lines = [ln for ln in err.splitlines() if f"dialsim {argv[0]}: error:" in ln]
    assert len(lines) == 1, err
    line = lines[0]
    for needle in needles:
        assert needle in line, (needle, err)
    return line


def _p(files: dict[str, Path], name: str) -> str:
    return str(files[name])


# -- a missing input, a folder for a file, an empty file, a binary file -----------------


@pytest.mark.parametrize("cmd", [*SIM_COMMANDS, "validate"])
@pytest.mark.parametrize(("which", "expected"), [
    ("missing", "no such file"), ("dir", "is a directory, expected a TOML file"),
    ("binary", "not UTF-8 text"), ("syntax.toml", "invalid TOML"),
    ("empty.toml", "is required")])
def test_scenario_commands_name_the_bad_file(cmd, which, expected, files, tmp_path, capsys):
    path = str(tmp_path / "nope.toml") if which == "missing" else _p(files, which)
    extra = SIM_EXTRA.get(cmd, [])
    argv = [cmd, path, *extra] if cmd == "validate" else \
        [cmd, path, "--quick", *extra, "--out", str(tmp_path / "o")]
    if which == "empty.toml":  # every missing key at once (the loaders' rule), each a line
        err = _code_2(argv, capsys)
        head, *problems = err.strip().splitlines()
        assert head == f"dialsim {cmd}: error: 4 problems found:", err
        assert [p.split(": ")[:2] for p in problems] == [
            [path, k] for k in ("campaign.start", "list.size", "agents.count", "script.stages")]
        return
    line = fails(argv, capsys, expected)
    assert path in line
    assert not (tmp_path / "o").exists()


CDR_COMMANDS = {
    "rate": lambda f, src, out: ["rate", src, "--plans", _p(f, "plans.toml"), "--out", out],
    "fit": lambda f, src, out: ["fit", src, "--reps", "0", "--out", out],
    "negotiate": lambda f, src, out: ["negotiate", src, "--plans", _p(f, "plans.toml"),
                                      "--current", "60/60"],
    "audit ours": lambda f, src, out: ["audit", src, _p(f, "good.csv"), "--plan",
                                       _p(f, "plans.toml") + ":60/60", "--out", out],
    "audit theirs": lambda f, src, out: ["audit", _p(f, "good.csv"), src, "--plan",
                                         _p(f, "plans.toml") + ":60/60", "--out", out],
    "rate chunked": lambda f, src, out: ["rate", src, "--plans", _p(f, "plans.toml"),
                                         "--chunked", "--out", out],
}


@pytest.mark.parametrize("cmd", list(CDR_COMMANDS))
@pytest.mark.parametrize(("which", "expected"), [
    ("missing", "No such file"), ("dir", "folder"), ("empty.csv", "empty file"),
    ("binary", "not a CSV text file"),
    ("header.csv", "0 rows read = 0 accepted + 0 rejected + 0 excluded")])
def test_cdr_commands_name_the_bad_file(cmd, which, expected, files, tmp_path, capsys):
    if cmd == "negotiate" and which == "missing":
        expected = "no such file"
    path = str(tmp_path / "nope.csv") if which == "missing" else _p(files, which)
    line = fails(CDR_COMMANDS[cmd](files, path, str(tmp_path / "o")), capsys, path, expected)
    assert "\\x" not in line and len(line) < 400  # no raw bytes quoted from a binary file
    assert not (tmp_path / "o").exists()


def test_a_binary_file_forced_to_a_format_is_still_refused(files, capsys):
    fails(["rate", _p(files, "binary"), "--format", "native", "--plans",
           _p(files, "plans.toml")], capsys, "not a CSV text file")
    # forced to a headerless format every row is rejected: nothing to price
    fails(["rate", _p(files, "binary"), "--format", "asterisk", "--plans",
           _p(files, "plans.toml")], capsys, "no CDR row to price", "0 accepted",
          "line 1: expected 16 to 21 fields")


@pytest.mark.parametrize("which", ["missing", "file", "dir"])
def test_report_names_what_is_not_a_run_folder(which, files, tmp_path, capsys):
    path = str(tmp_path / "nope") if which == "missing" else _p(files, which)
    fails(["report", path], capsys, path, "not a dialsim run folder",
          {"missing": "no such folder", "file": "a file", "dir": "no summary.json"}[which])


# -- bad rows in a good file: every row accounted for ----------------------------------


@pytest.mark.parametrize(("which", "rejected", "reason"), [
    ("baddate.csv", 1, "column 'start': expected a timestamp"),
    ("negdur.csv", 2, "end before start")])
def test_bad_rows_are_rejected_with_their_line_and_counted(which, rejected, reason, files,
                                                           n_rows, tmp_path, capsys):
    n = n_rows
    out = tmp_path / "o"
    assert main(["rate", _p(files, which), "--plans", _p(files, "plans.toml"),
                 "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert f"{n} rows read = {n - rejected} accepted + {rejected} rejected + 0 excluded" \
        in text.out + text.err
    imp = json.loads((out / "import.json").read_text())
    assert imp["rows_read"] == imp["accepted"] + imp["rejected"] + imp["excluded"] == n
    assert imp["rejected"] == rejected
    with open(out / "rejections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == rejected and reason in rows[0]["reason"]
    # the other CDR commands account for the same rows
    assert main(["negotiate", _p(files, which), "--plans", _p(files, "plans.toml"),
                 "--current", "60/60", "-q"]) == 0
    assert main(["fit", _p(files, which), "--reps", "0"]) == 0
    assert f"{n} rows read, {n - rejected} accepted, {rejected} rejected, 0 excluded" \
        in capsys.readouterr().out
    # under --strict the first bad row is the error, with its line
    fails(["rate", _p(files, which), "--plans", _p(files, "plans.toml"), "--strict"],
          capsys, _p(files, which) + ":", "row rejected", "strict")


# -- --set, --seed ----------------------------------------------------------------------


@pytest.mark.parametrize("cmd", [*SIM_COMMANDS, "validate", "negotiate"])
@pytest.mark.parametrize(("item", "expected"), [
    ("agents.cuont=3", "--set agents.cuont=3: agents.cuont: unknown key (did you mean 'count'?)"),
    ("agents.count=abc", "--set agents.count=abc: agents.count: must be an integer >= 1"),
    ("agents.count", "--set 'agents.count': must be dotted.key=value")])
def test_a_bad_set_is_blamed_on_the_set(cmd, item, expected, files, tmp_path, capsys):
    if cmd == "validate":
        argv = ["validate", BASE]
    elif cmd == "negotiate":
        argv = ["negotiate", "--scenario", BASE, "--quick", "--plans",
                _p(files, "plans.toml"), "--current", "60/60"]
    else:
        argv = [cmd, BASE, "--quick", *SIM_EXTRA[cmd], "--out", str(tmp_path / "o")]
    line = fails([*argv, "--set", item], capsys, expected)
    assert "baseline.toml" not in line


@pytest.mark.parametrize("cmd", [*SIM_COMMANDS, "fit", "negotiate"])
@pytest.mark.parametrize("seed", ["-1", "x"])
def test_a_bad_seed_is_refused(cmd, seed, files, tmp_path, capsys):
    if cmd == "fit":
        argv = ["fit", _p(files, "good.csv")]
    elif cmd == "negotiate":
        argv = ["negotiate", "--scenario", BASE, "--quick", "--plans",
                _p(files, "plans.toml"), "--current", "60/60"]
    else:
        argv = [cmd, BASE, "--quick", *SIM_EXTRA[cmd], "--out", str(tmp_path / "o")]
    fails([*argv, "--seed", seed], capsys, "--seed", "must be an integer >= 0",
          f"(got {seed if seed == '-1' else repr(seed)})")


# -- plan files and plan names ----------------------------------------------------------


PLAN_USERS = {
    "run": lambda f, plans, out: ["run", BASE, "--quick", "--plans", plans, "--out", out],
    "compare": lambda f, plans, out: ["compare", BASE, "--quick", "--reps", "2", "--plans",
                                      plans, "--out", out],
    "sweep": lambda f, plans, out: ["sweep", BASE, "--quick", *SIM_EXTRA["sweep"],
                                    "--plans", plans, "--out", out],
    "rate": lambda f, plans, out: ["rate", _p(f, "good.csv"), "--plans", plans, "--out", out],
    "negotiate": lambda f, plans, out: ["negotiate", _p(f, "good.csv"), "--plans", plans,
                                        "--current", "60/60"],
    "audit": lambda f, plans, out: ["audit", _p(f, "good.csv"), _p(f, "good.csv"), "--plan",
                                    plans, "--out", out],
    "validate": lambda f, plans, out: ["validate", plans],
}


BAD_PLANS = [
    ("plan_syntax.toml", "invalid TOML: Illegal character '\\n' (at line 12, column 18)"),
    ("plan_type.toml", "plan[1].price_per_min: must be a decimal amount"),
    ("plan_noprice.toml", "plan[1].price_per_min: is required"),
    ("empty.toml", "plan: must have at least one [[plan]] table"),
    ("dir", "is a directory, expected a TOML file")]


@pytest.mark.parametrize(("cmd", "which", "expected"), [
    (cmd, which, expected) for cmd in PLAN_USERS for which, expected in BAD_PLANS
    # validate reads an empty file as a scenario (test_scenario_commands_name_the_bad_file)
    if (cmd, which) != ("validate", "empty.toml")])
def test_a_malformed_plan_file_is_named_with_its_key(cmd, which, expected, files, tmp_path,
                                                     capsys):
    plans = _p(files, which)
    fails(PLAN_USERS[cmd](files, plans, str(tmp_path / "o")), capsys, plans, expected)
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def run_folder(files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    assert main(["run", BASE, "--quick", "--plans", _p(files, "plans.toml"), "--out", str(out),
                 "-q"]) == 0
    return out


def test_an_unknown_plan_name_is_named_with_the_known_ones(files, run_folder, tmp_path,
                                                           capsys):
    plans = _p(files, "plans.toml")
    known = "its plans: 60/60, per-second"
    fails(["rate", _p(files, "good.csv"), "--plans", plans, "--current", "60/6"], capsys,
          f"--current '60/6': no such plan in {plans} (did you mean '60/60'?); {known}")
    fails(["negotiate", _p(files, "good.csv"), "--plans", plans, "--current", "60/6"], capsys,
          "--current '60/6': no such plan (did you mean '60/60'?)", known)
    fails(["report", str(run_folder), "--current", "per-secnd"], capsys,
          f"--current 'per-secnd': no such plan in {run_folder}", "did you mean 'per-second'",
          known)
    fails(["audit", _p(files, "good.csv"), _p(files, "good.csv"), "--plan", plans + ":nope"],
          capsys, f"--plan 'nope': no such plan in {plans}; {known}")
    out = tmp_path / "o"
    fails(["compare", BASE, "--quick", "--reps", "2", "--plans", plans, "--uncertain",
           "customers.p_pickup=0.2:0.4", "--sure-plan", "nope", "--out", str(out)], capsys,
          "--sure-plan 'nope': no such plan", known)
    assert not out.exists()  # refused before the comparison ran
    fails(["optimize", BASE, "--quick", "--objective", "per_contact:nope", "--vary",
           "agents.count=2,3", "--budget", "4", "--reps", "2", "--out", str(out)], capsys,
          "--objective per_contact:nope: plan 'nope': no such plan in the scenario; its plans: ")


# -- output folders ---------------------------------------------------------------------


def _simulating(cmd: str):
    return lambda f, out: [cmd, BASE, "--quick", *SIM_EXTRA[cmd], "--out", out]


OUT_USERS = {
    **{cmd: _simulating(cmd) for cmd in SIM_COMMANDS},
    "rate": lambda f, out: ["rate", _p(f, "good.csv"), "--plans", _p(f, "plans.toml"),
                            "--out", out],
    "fit": lambda f, out: ["fit", _p(f, "good.csv"), "--reps", "0", "--out", out],
    "audit": lambda f, out: ["audit", _p(f, "good.csv"), _p(f, "good.csv"), "--plan",
                             _p(f, "plans.toml") + ":60/60", "--out", out],
}


@pytest.mark.parametrize("cmd", list(OUT_USERS))
def test_output_folder_problems_are_found_before_the_work(cmd, files, tmp_path, capsys):
    exists = tmp_path / "exists"
    exists.mkdir()
    (exists / "notes.txt").write_text("mine\n")
    fails(OUT_USERS[cmd](files, str(exists)), capsys, str(exists), "--force")
    assert [p.name for p in exists.iterdir()] == ["notes.txt"]  # left alone
    afile = _p(files, "file")
    fails(OUT_USERS[cmd](files, afile), capsys, afile,
          "is a file, expected an output folder; choose another --out")
    under = str(files["file"] / "sub")
    fails(OUT_USERS[cmd](files, under), capsys, under, f"{afile} is not a folder")
    assert files["file"].read_text() == "x\n"


def test_report_refuses_to_overwrite_a_report(run_folder, capsys):
    assert main(["report", str(run_folder)]) == 0
    capsys.readouterr()
    fails(["report", str(run_folder)], capsys, "report.html: a report already exists",
          "--force")


# -- options of one command -------------------------------------------------------------


@pytest.mark.parametrize("which", ["missing", "dir", "binary"])
def test_audit_infer_names_a_file_it_cannot_read(which, files, tmp_path, capsys):
    path = str(tmp_path / "nope.csv") if which == "missing" else _p(files, which)
    line = fails(["audit", "--infer", path], capsys, path,
                 {"missing": "no such file", "dir": "is a folder",
                  "binary": "not a CSV text file"}[which])
    assert len(line) < 300


def test_audit_country_must_be_a_calling_code(files, capsys):
    fails(["audit", _p(files, "good.csv"), _p(files, "good.csv"), "--plan",
           _p(files, "plans.toml") + ":60/60", "--country", "ZZZ"], capsys,
          "--country: must be a country calling code of 1 to 3 digits", "(got 'ZZZ')")


@pytest.mark.parametrize(("content", "found"), [
    (None, "No such file or directory"), (b"\xff\xfe", "not UTF-8 text"),
    (b"{", "invalid JSON"), (b'{"x": 1}', "no 'estimates' list")])
def test_negotiate_fit_names_what_it_found(content, found, files, tmp_path, capsys):
    path = tmp_path / "fit.json"
    if content is not None:
        path.write_bytes(content)
    fails(["negotiate", "--scenario", BASE, "--quick", "--plans", _p(files, "plans.toml"),
           "--current", "60/60", "--fit", str(path)], capsys,
          f"{path}: --fit: expected the fit.json of `dialsim fit`, found: {found}")


@pytest.mark.parametrize("cmd", ["compare", "negotiate"])
@pytest.mark.parametrize(("item", "expected"), [
    ("customers.p_pikup=0.1:0.2", "customers.p_pikup: unknown key (did you mean 'p_pickup'?)"),
    ("customers.p_pickup=0.1:2", "customers.p_pickup: must be a number >= 0 and <= 1 (got 2)")])
def test_uncertain_ranges_are_checked_before_the_work(cmd, item, expected, files, tmp_path,
                                                      capsys):
    out = tmp_path / "o"
    argv = (["compare", BASE, "--quick", "--reps", "2", "--plans", _p(files, "plans.toml"),
             "--out", str(out)] if cmd == "compare" else
            ["negotiate", "--scenario", BASE, "--quick", "--plans", _p(files, "plans.toml"),
             "--current", "60/60"])
    line = fails([*argv, "--uncertain", item], capsys, f"--uncertain {item}: {expected}")
    assert "baseline.toml" not in line and not out.exists()


# -- counts of replications, samples and runs -------------------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", BASE, "--quick", "--reps", "100000000"],
     "--reps: must be an integer from 1 to 10,000 (got 100000000)"),
    (["run", BASE, "--quick", "--reps", "0"],
     "--reps: must be an integer from 1 to 10,000 (got 0)"),
    (["compare", BASE, "--quick", "--reps", "1"],
     "--reps: must be an integer from 2 (for confidence intervals) to 10,000 (got 1)"),
    (["compare", BASE, "--quick", "--reps", "10001"], "--reps: must be an integer from 2"),
    (["compare", BASE, "--quick", "--reps", "2", "--samples", "20000"],
     "--samples: must be an integer from 1 to 10,000 (got 20000)"),
    (["sweep", BASE, "--quick", "--vary", "agents.count=2,3", "--reps", "100000000"],
     "--reps: must be an integer from 1 to 10,000 (got 100000000)"),
    (["sweep", BASE, "--quick", "--range", "dialer.ratio=1:2", "--samples", "0"],
     "--samples: must be an integer from 1 to 10,000 (got 0)"),
    (["sweep", BASE, "--quick", "--vary", "agents.count=1:1000:1", "--reps", "5000"],
     "1,000 points × 5,000 replications = 5,000,000 runs, more than 1,000,000 in one sweep"),
    (["optimize", BASE, "--quick", "--objective", "contacts", "--vary", "agents.count=2,3",
      "--reps", "100000000"],
     "--reps: must be an integer from 2 (for ranking and selection) to 10,000"),
    (["optimize", BASE, "--quick", "--objective", "contacts", "--vary", "agents.count=2,3",
      "--validate-reps", "50000"], "--validate-reps: must be an integer from 1 to 10,000"),
    (["optimize", BASE, "--quick", "--objective", "contacts", "--vary", "agents.count=2,3",
      "--budget", "10000000"], "--budget: must be an integer from 1 to 1,000,000"),
    (["negotiate", "--scenario", BASE, "--quick", "--current", "60/60", "--reps", "100000000"],
     "--reps: must be an integer from 1 to 10,000 (got 100000000)"),
    (["negotiate", "--scenario", BASE, "--quick", "--current", "60/60", "--samples", "0"],
     "--samples: must be an integer from 1 to 10,000 (got 0)"),
    (["fit", "CDRS", "--reps", "100000000"],
     "--reps: must be an integer from 0 (no twin check) to 10,000 (got 100000000)")])
def test_counts_are_bounded_before_the_work(argv, expected, files, tmp_path, capsys):
    out = tmp_path / "o"
    argv = [_p(files, "good.csv") if a == "CDRS" else a for a in argv]
    if argv[0] == "negotiate":
        argv += ["--plans", _p(files, "plans.toml")]
    else:
        argv += ["--out", str(out)]
    fails(argv, capsys, expected)
    assert not out.exists()


# -- metric names: checked against what a run holds, before the runs --------------------


SWEEP = ["sweep", BASE, "--quick", *SIM_EXTRA["sweep"]]
OPTIMIZE = ["optimize", BASE, "--quick", "--vary", "agents.count=2,3", "--budget", "4",
            "--reps", "2"]


@pytest.mark.parametrize(("argv", "expected"), [
    ([*SWEEP, "--metric", "bogus"], "--metric bogus: no such figure; the KPIs: dials, "),
    ([*SWEEP, "--metric", "ocupancy"],
     "--metric ocupancy: no such figure (did you mean 'occupancy'?)"),
    ([*SWEEP, "--metric", "per_contact"], "--metric per_contact: a plan figure needs its plan: "
     "per_contact:PLAN, e.g. per_contact:60/60"),
    ([*SWEEP, "--metric", "per_contact:60/6"], "--metric per_contact:60/6: plan '60/6': no such "
     "plan in PLANS (did you mean '60/60'?); its plans: 60/60, per-second"),
    ([*SWEEP, "--metric", "per_contct:60/60"], "--metric per_contct:60/60: plan '60/60' has no "
     "figure 'per_contct' (did you mean 'per_contact'?); its figures: total, "),
    ([*OPTIMIZE, "--objective", "contacts", "--constraint", "bogus<=3"],
     "--constraint bogus<=3: no such figure; the KPIs: "),
    ([*OPTIMIZE, "--objective", "contacts", "--constraint", "abandonment_rat<=0.03"],
     "--constraint abandonment_rat<=0.03: no such figure (did you mean 'abandonment_rate'?)"),
    ([*OPTIMIZE, "--objective", "contcts", "--maximize"],
     "--objective contcts: no such figure (did you mean 'contacts'?)"),
    ([*OPTIMIZE, "--objective", "per_contct:cn-60/60"], "--objective per_contct:cn-60/60: plan "
     "'cn-60/60' has no figure 'per_contct' (did you mean 'per_contact'?)")])
def test_metric_names_are_checked_before_the_runs(argv, expected, files, tmp_path, capsys,
                                                  monkeypatch):
    import sim.sweeps.runner

    def no_runs(*args, **kwargs):
        raise AssertionError("ran simulations before checking the names")

    monkeypatch.setattr(sim.sweeps.runner, "execute", no_runs)  # optimize's
    monkeypatch.setattr(sim.sweeps, "execute", no_runs)  # sweep's
    out = tmp_path / "o"
    plans = _p(files, "plans.toml")
    extra = ["--plans", plans] if argv[0] == "sweep" else []
    fails([*argv, *extra, "--out", str(out)], capsys, expected.replace("PLANS", plans))
    assert not out.exists()


def test_the_metric_names_checked_are_the_figures_of_a_run():
    """The vocabulary of :mod:`sim.commands._metrics` is exactly a row's columns (bar the
    dialer's statistics, accepted by their prefix): a new KPI or plan figure that is not
    added there would be refused by --metric, a dropped one accepted."""
    from sim.commands._metrics import check_metric, plan_fields
    from sim.experiment import run_row
    from sim.scenario import load_scenario, quick
    from sim.sweeps import _plans

    scenario = quick(load_scenario(BASE))
    plans = _plans(scenario, None)  # its billing.plans: with traffic terms and a tax
    assert any(p.traffic_terms for p in plans) and any(p.contract.tax_rate for p in plans)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = run_row(scenario, 1, plans)
    columns = [k for k in row if k != "seed"]
    for name in columns:
        check_metric(f"--metric {name}", name, plans, "test")  # every column is accepted
    from sim.analysis.kpis import KPI_LABELS

    vocabulary = {*KPI_LABELS, *(f"{f}:{p.name}" for p in plans for f in plan_fields(p))}
    assert vocabulary == {k for k in columns if not k.startswith("dialer.")}


# -- the reader's advice names the command's options, and the keywords ------------------


@pytest.mark.parametrize(("which", "argv", "expected"), [
    ("empty.csv", ["rate", "F", "--plans", "PLANS"],
     "(name one with --format/format= to read it anyway)"),
    ("empty.csv", ["audit", "GOOD", "F", "--plan", "PLANS:60/60"],
     "(name one with --theirs-format/format= to read it anyway)"),
    ("empty.csv", ["audit", "F", "GOOD", "--plan", "PLANS:60/60"],
     "(name one with --ours-format/format= to read it anyway)"),
    ("empty.csv", ["audit", "--infer", "F"], "--theirs-format/format="),
    ("unknown.csv", ["rate", "F", "--plans", "PLANS"],
     "map our columns to its headers, e.g. --map start='Start Time' --map "
     "disposition=Status --map billsec=Billsec / mapping={'start': 'Start Time', "),
    ("unknown.csv", ["audit", "GOOD", "F", "--plan", "PLANS:60/60"],
     "e.g. --theirs-map start='Start Time' --theirs-map disposition=Status"),
    ("unknown.csv", ["rate", "F", "--format", "native", "--map", "start=a", "--plans", "PLANS"],
     "a mapping (--map/mapping=) reads a header CSV (--format mapped / format='mapped'), "
     "not format 'native'"),
    ("good.csv", ["rate", "F", "--where", "nope", "--plans", "PLANS"],
     "--where/where= 'nope': must be COLUMN=VALUE or COLUMN!=VALUE")])
def test_reader_errors_name_the_options_of_the_command(which, argv, expected, files, tmp_path,
                                                       capsys):
    if which == "unknown.csv":
        (tmp_path / which).write_text("a,b,c\n1,2,3\n")
    path = str(tmp_path / which) if which == "unknown.csv" else _p(files, which)
    subs = {"F": path, "GOOD": _p(files, "good.csv"), "PLANS": _p(files, "plans.toml"),
            "PLANS:60/60": _p(files, "plans.toml") + ":60/60"}
    argv = [subs.get(a, a) for a in argv]
    if "--infer" in argv:  # a charge list, then CDRs: both failures, one line each
        line = _code_2(argv, capsys)
        assert expected in line
    else:
        line = fails(argv, capsys, expected)
    assert "pass format" not in line and "CLI" not in line


def test_reader_errors_name_the_keywords_too(files):
    """The same messages reach ``sim.read_cdrs``: its keyword is named beside the option."""
    with pytest.raises(sim.CDRFormatError, match=r"--format/format= to read it anyway"):
        sim.read_cdrs(files["empty.csv"])
    with pytest.raises(sim.CDRFormatError, match=r"--where/where= 'x': must be COLUMN=VALUE"):
        sim.read_cdrs(files["good.csv"], where=["x"])
