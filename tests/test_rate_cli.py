"""``dialsim rate``: real exports in, the import account and the plan comparison out."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from sim.billing import load_plans, rate
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.cdrio import read_cdrs, write_cdrs
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "scenarios" / "plans" / "china.toml"
UK = ROOT / "scenarios" / "plans" / "uk.toml"

ASTERISK = [  # accountcode .. userfield: 18 fields, as cdr_csv writes them
    '"","1001","13800138000","out","""A"" <1001>","SIP/1001-1","SIP/t-2","Dial","SIP/t/138",'
    '"2026-03-02 10:00:00","2026-03-02 10:00:08","2026-03-02 10:01:10",70,62,"ANSWERED",'
    '"DOCUMENTATION","1772445600.1",""',
    '"","1001","13900139000","out","""A"" <1001>","SIP/1001-3","SIP/t-4","Dial","SIP/t/139",'
    '"2026-03-02 10:02:00","","2026-03-02 10:02:25",25,0,"NO ANSWER","DOCUMENTATION",'
    '"1772445720.3",""',
    '"","1001","13700137000","out","""A"" <1001>","SIP/1001-5","SIP/t-6","Dial","SIP/t/137",'
    '"2026-03-02 10:03:00","2026-03-02 10:03:05","2026-03-02 10:03:10",10,5,"ANSWERED",'
    '"DOCUMENTATION","1772445780.5",""',
    '"","1001","broken row with too few fields"',
    '"","1001","13600136000","out","""A"" <1001>","SIP/1001-7","SIP/t-8","Dial","SIP/t/136",'
    '"2026-03-02 10:04:00","2026-03-02 10:04:03","2026-03-02 10:05:04",64,61,"ANSWERED",'
    '"DOCUMENTATION","1772445840.7",""',
]


def simulated(n: int = 200, seed: int = 3) -> CDRTable:
    """A small campaign-like table (whole-second times, as a switch logs them)."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    start = np.sort(rng.integers(9 * 3600, 20 * 3600, n)).astype(float)
    ans = rng.random(n) < 0.5
    talk = np.where(ans, rng.integers(0, 400, n), 0).astype(float)
    cols["start"][:] = start
    cols["answer"][:] = np.where(ans, start + 7, np.nan)
    cols["end"][:] = np.where(ans, start + 7 + talk, start + 25)
    cols["ring_s"][:] = np.where(ans, 7.0, 25.0)
    cols["talk_s"][:] = talk
    cols["billsec"][:] = talk.astype(np.int64)
    cols["disposition"][:] = np.where(ans, encode("disposition", "ANSWERED"),
                                      encode("disposition", "NO ANSWER"))
    cols["answered_by"][:] = np.where(ans, encode("answered_by", "person"), 0)
    return CDRTable(cols, open_categories(), epoch="2026-03-02T00:00:00", tz="Asia/Shanghai")


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["rate", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def asterisk_file(tmp_path: Path) -> Path:
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(ASTERISK) + "\n")
    return path


def test_rates_an_asterisk_export(asterisk_file: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, asterisk_file, "--plans", CHINA, "--plans", UK,
                         "--out", tmp_path / "out")
    assert code == 0, err
    assert "asterisk CDRs: 5 rows read = 4 accepted + 1 rejected" in out
    assert "rejected line 4:" in out
    assert "cheapest: " in out and "runner-up" in out
    assert "(estimated from the CDRs)" in out
    folder = tmp_path / "out"
    assert {p.name for p in folder.iterdir()} == {"costs.csv", "charges.csv",
                                                 "rejections.csv", "comparison.txt",
                                                 "import.json", "rate.json", "cdrs.csv",
                                                 "cdrs.meta.json", "plans"}
    with (folder / "rejections.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["line"] for r in rows] == ["4"]
    with (folder / "charges.csv").open() as fh:
        charges = list(csv.DictReader(fh))
    # 62 s and 5 s and 61 s answered, one NO ANSWER: 60/60 at 0.12 bills 2 + 1 + 2 minutes
    assert [Decimal(r["cn-60/60:charge"]) for r in charges] == [
        Decimal("0.24"), 0, Decimal("0.12"), Decimal("0.24")]
    assert [int(r["cn-60/60:billed_s"]) for r in charges] == [120, 0, 60, 120]


def test_strict_makes_a_rejection_an_error(asterisk_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, asterisk_file, "--plans", CHINA, "--strict")
    assert code == 2 and "Traceback" not in err
    assert "Master.csv:4" in err


def test_campaign_options_replace_the_estimate(asterisk_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, asterisk_file, "--plans", CHINA, "--seats", "10",
                         "--channels", "20", "--numbers", "2", "--days", "30",
                         "--labour", "5000")
    assert code == 0, err
    assert "prorated to 30 days, 10 seats, 20 channels, 2 numbers" in out
    assert "estimated" not in out and "with labour" in out


@pytest.mark.parametrize("fmt", ["native", "asterisk"])
def test_export_then_import_gives_identical_charges(fmt: str, tmp_path: Path) -> None:
    table = simulated()
    plans = load_plans(CHINA) + load_plans(UK)
    path = tmp_path / f"calls.{fmt}.csv"
    write_cdrs(table, path, format=fmt)  # type: ignore[arg-type]
    back = read_cdrs(path, format=fmt, tz="Asia/Shanghai")  # type: ignore[arg-type]
    assert back.report.rejected == ()
    before, after = rate(table, plans), rate(back.cdrs, plans)
    for p in plans:
        assert (before.per_call(p.name).units.tolist()
                == after.per_call(p.name).units.tolist()), p.name
        assert before.summary(p.name).telecom == after.summary(p.name).telecom


def test_native_file_round_trip_through_the_command(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calls.csv"
    write_cdrs(simulated(), path)
    code, out, err = run(capsys, path, "--plans", CHINA, "--out", tmp_path / "o")
    assert code == 0, err
    assert "native CDRs: 200 rows read = 200 accepted + 0 rejected" in out
    code, out, err = run(capsys, path, "--plans", CHINA, "--out", tmp_path / "o")
    assert code == 2 and "--force" in err
    code, out, err = run(capsys, path, "--plans", CHINA, "--out", tmp_path / "o", "--force")
    assert code == 0, err


@pytest.mark.parametrize(("args", "message"), [
    (["--map", "billsec"], "--map 'billsec': must be COLUMN=HEADER"),
    (["--labour", "lots"], "--labour: must be a number >= 0 (got 'lots')"),
    (["--seats", "-1"], "--seats: must be an integer >= 0 (got -1)"),
])
def test_bad_options_exit_2(asterisk_file: Path, capsys: pytest.CaptureFixture[str],
                            args: list[str], message: str) -> None:
    code, out, err = run(capsys, asterisk_file, "--plans", CHINA, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_plan_file_exits_2_naming_file_and_key(asterisk_file: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plans.toml"
    bad.write_text('[[plan]]\nname = "x"\ncurrency = "CNY"\n'
                   '[[plan.steps]]\nfrom_s = 0\nprice = "0.1"\nincrement_s = 0\n')
    code, out, err = run(capsys, asterisk_file, "--plans", bad)
    assert code == 2 and "Traceback" not in err
    assert "plans.toml: plan[0].steps[0].increment_s: must be an integer >= 1 (got 0)" in err
    code, out, err = run(capsys, asterisk_file, "--plans", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml: no such file" in err


def test_missing_cdr_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, tmp_path / "none.csv", "--plans", CHINA)
    assert code == 2 and "none.csv" in err and "Traceback" not in err


SAMPLES = ["asterisk_cdr_csv_Master.csv", "freeswitch_cdr_csv_example_Master.csv",
           "grandstream_ucm_cdr.csv", "pbxware_asterisk_cdr_table.csv"]


@pytest.mark.parametrize("name", SAMPLES)
def test_reference_samples_rate(shared_dir: Path, name: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """The real exports in ../shared (not copied into the repo) import and rate."""
    path = shared_dir / "reference" / "cdr_samples" / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    code, out, err = run(capsys, path, "--plans", CHINA, "--out", tmp_path / "o")
    assert code == 0, err
    head = out.splitlines()[0]
    read, rest = head.split(" rows read = ")
    accepted, rest = rest.split(" accepted + ")
    rejected, excluded = rest.split(" rejected + ")
    total = int(read.rsplit(" ", 1)[1].replace(",", ""))
    assert total == sum(int(x.split()[0].replace(",", ""))
                        for x in (accepted, rejected, excluded))
    if int(accepted.replace(",", "")):
        assert "cheapest: " in out
    else:  # the Asterisk sample: inbound calls to a venue and their ring groups
        assert "nothing to price" in out and "excluded 73 rows: inbound legs" in out


def test_json_prints_the_summary_alone_on_stdout(asterisk_file: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, err = run(capsys, asterisk_file, "--plans", CHINA, "--json")
    assert code == 0, err
    data = json.loads(out)  # nothing else on stdout
    assert data["import"]["rows_read"] == 5 and data["import"]["accepted"] == 4
    totals = {r["plan"]: Decimal(r["total"]) for r in data["plans"]}  # decimal strings
    assert data["cheapest"] == min(totals, key=lambda p: (totals[p], p))
    assert "rows read" in err  # the human account went to stderr
    code, out, err = run(capsys, asterisk_file, "--plans", CHINA, "--json", "-q")
    assert code == 0 and err == "" and json.loads(out)["cheapest"] == data["cheapest"]
