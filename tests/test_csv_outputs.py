"""Every CSV dialsim writes opens with pandas and the csv module at their defaults.

Run, compare, sweep and rate folders are made by the CLI on quick scenarios; every
``*.csv`` under them must have its header on the first line (no comment lines before
it), rows as wide as the header, and ``pandas.read_csv(path)`` and
``csv.DictReader(fh)`` must agree with each other and with the documented columns.
Asterisk's Master.csv has no header by definition (the ``cdr_csv`` format): its rows
are checked for a constant width instead.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import SCENARIOS

from sim.cdr import COLUMNS
from sim.cli import main

pd = pytest.importorskip("pandas")

BASE = str(SCENARIOS / "baseline.toml")
UK = str(SCENARIOS / "plans" / "uk.toml")
CDR_COLUMNS = [c.name for c in COLUMNS]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("outputs")
    out = {name: root / name for name in ("run", "compare", "sweep", "rate")}
    assert main(["run", BASE, "--quick", "--reps", "2", "--asterisk",
                 "--out", str(out["run"])]) == 0
    assert main(["compare", BASE, "--quick", "--reps", "2", "--variant", "quick exit",
                 "--out", str(out["compare"])]) == 0
    assert main(["sweep", BASE, "--quick", "--set", "list.size=60", "--plans", UK,
                 "--workers", "1", "--vary", "agents.count=2,3", "--reps", "1",
                 "--keep-cdrs", "--no-plots", "--out", str(out["sweep"])]) == 0
    assert main(["rate", str(out["run"] / "cdrs.csv"), "--plans", UK,
                 "--out", str(out["rate"])]) == 0
    return out


def _check_csv(path: Path) -> list[str]:
    """Read ``path`` with defaults both ways; return its header."""
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    assert lines, f"{path}: empty"
    header = lines[0]
    assert header and not header[0].startswith("#"), f"{path}: comment before the header"
    assert all(len(r) == len(header) for r in lines[1:]), f"{path}: ragged rows"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == header and len(rows) == len(lines) - 1, path
    df = pd.read_csv(path)
    assert list(df.columns) == header and len(df) == len(rows), path
    return header


@pytest.mark.parametrize("kind", ["run", "compare", "sweep", "rate"])
def test_every_csv_reads_with_defaults(folders: dict[str, Path], kind: str) -> None:
    folder = folders[kind]
    paths = sorted(folder.rglob("*.csv"))
    assert paths
    headers = {}
    for path in paths:
        if path.name == "Master.csv":  # Asterisk cdr_csv: no header, 18 fields a row
            with path.open(newline="", encoding="utf-8") as fh:
                assert {len(r) for r in csv.reader(fh)} == {18}
            continue
        headers[str(path.relative_to(folder))] = _check_csv(path)
    for name, header in headers.items():
        if Path(name).parent.name == "cdrs" or name == "cdrs.csv":
            assert header == CDR_COLUMNS, name
            assert Path(folder / name).with_suffix(".meta.json").is_file(), name
        elif name == "charges.csv":
            assert header[0] == "call_id" and all(":" in h for h in header[1:]), name
        elif name == "costs.csv":
            assert header[0] == "plan", name
        elif name == "rejections.csv":
            assert header == ["line", "reason"]
    expected = {"run": {"cdrs.csv", "agents.csv", "costs.csv", "charges.csv",
                        "timeline.csv", "replications.csv"},
                "compare": {"cdrs.csv", "agents.csv", "costs.csv", "charges.csv",
                            "compare.csv"},
                "sweep": {"sweep.csv", "aggregate.csv", "cdrs/p000000-r000.csv"},
                "rate": {"costs.csv", "charges.csv", "rejections.csv"}}[kind]
    assert expected <= set(headers), sorted(headers)


def test_run_folder_cdrs_round_trip_through_the_sidecar(folders: dict[str, Path]) -> None:
    from sim.cdrio import read_cdrs

    run = folders["run"]
    side = json.loads((run / "cdrs.meta.json").read_text(encoding="utf-8"))
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    imp = read_cdrs(run / "cdrs.csv")
    assert imp.cdrs.tz == side["tz"] and imp.cdrs.epoch == side["epoch"]
    assert len(imp.cdrs) == side["csv"]["rows"] == summary["kpis"]["dials"]
    df = pd.read_csv(run / "cdrs.csv")
    assert df["billsec"].sum() == int(imp.cdrs["billsec"].sum())
