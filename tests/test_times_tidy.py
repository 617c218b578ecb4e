"""Times with offsets in every file and frame; long tables beside the wide ones."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import SCENARIOS

import sim
from sim.agentfiles import AGENT_COLUMNS
from sim.cli import main

pd = pytest.importorskip("pandas")
BASE = str(SCENARIOS / "baseline.toml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("times") / "run"
    assert main(["run", BASE, "--quick", "--set",
                 "list.size=400", "--reps", "2", "--out", str(out), "-q"]) == 0
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_agents_and_timeline_carry_iso_times_with_offsets(run_dir):
    rows = _rows(run_dir / "agents.csv")
    assert list(rows[0]) == list(AGENT_COLUMNS)
    cdrs = sim.read_cdrs(run_dir / "cdrs.csv").cdrs
    epoch = dt.datetime.fromisoformat(cdrs.epoch)
    for r in rows[:: max(1, len(rows) // 50)]:
        start = dt.datetime.fromisoformat(r["start"])
        assert start.utcoffset() is not None  # an offset, like cdrs.csv
        local = epoch + dt.timedelta(seconds=float(r["start_s"]))
        assert abs(start.replace(tzinfo=None) - local) < dt.timedelta(microseconds=2)
    tl = _rows(run_dir / "timeline.csv")
    assert list(tl[0])[:2] == ["time", "t"]
    first = dt.datetime.fromisoformat(tl[0]["time"])
    assert first.utcoffset() == dt.timedelta(hours=8)  # the baseline runs in Shanghai
    assert first.replace(tzinfo=None) == epoch + dt.timedelta(seconds=float(tl[0]["t"]))


def test_to_pandas_gives_tz_aware_times_that_match_the_csv(run_dir):
    cdrs = sim.read_cdrs(run_dir / "cdrs.csv").cdrs
    df = cdrs.to_pandas()
    assert str(df["start"].dt.tz) == cdrs.tz
    assert df["talk_s"].dtype.kind == "f"  # durations stay seconds
    text = pd.read_csv(run_dir / "cdrs.csv")["start"]
    assert (pd.to_datetime(text, utc=True) == df["start"].dt.tz_convert("UTC")).all()
    assert df["answer"].isna().sum() == int((~(cdrs["answer"] == cdrs["answer"])).sum())
    assert (cdrs.to_pandas(times="seconds")["start"] == cdrs["start"]).all()


def test_rating_to_pandas_matches_costs_csv(run_dir):
    from sim.billing import load_plans, rate

    plans = [p for f in sorted((run_dir / "plans").glob("*.toml")) for p in load_plans(f)]
    cdrs = sim.read_cdrs(run_dir / "cdrs.csv").cdrs
    frame = rate(cdrs, plans).to_pandas()
    assert list(frame.index) == [p.name for p in plans]
    assert isinstance(frame["total"].iloc[0], Decimal)
    floats = rate(cdrs, plans).to_pandas(money="float")
    assert floats["total"].dtype.kind == "f"


def test_long_tables_hold_every_wide_cell(run_dir, tmp_path):
    wide = _rows(run_dir / "replications.csv")
    long = _rows(run_dir / "replications_long.csv")
    assert list(long[0]) == ["seed", "plan", "metric", "value"]
    cells = sum(1 for r in wide for k, v in r.items() if k != "seed" and v != "")
    assert len(long) == cells
    plan = next(k.split(":", 1)[1] for k in wide[0] if k.startswith("total:"))
    hit = [r for r in long if r["seed"] == wide[1]["seed"] and r["metric"] == "total"
           and r["plan"] == plan]
    assert [r["value"] for r in hit] == [wide[1][f"total:{plan}"]]
    assert any(r["plan"] == "" and r["metric"] == "contacts" for r in long)
    out = tmp_path / "sw"
    assert main(["sweep", BASE, "--quick", "--set", "list.size=60", "--vary",
                 "agents.count=2,3", "--reps", "1", "--workers", "1", "--no-plots",
                 "--out", str(out), "-q"]) == 0
    rows = _rows(out / "sweep_long.csv")
    assert list(rows[0]) == ["point", "agents.count", "replication", "seed", "plan",
                             "metric", "value"]
    assert {r["point"] for r in rows} == {"0", "1"}
