"""Synthetic dialled numbers of simulated leads: prefix + digits from the lead id, stable
for a seed, written as `number` (native) and `dst` (Asterisk), read back the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cdrio import read_cdrs, write_cdrs
from sim.scenario import quick

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs() -> tuple[sim.CDRTable, sim.CDRTable, sim.CDRTable, object]:
    scenario = quick(sim.load_scenario(ROOT / "scenarios" / "baseline.toml"))
    a, b, c = (sim.run(scenario, seed=s).cdrs for s in (1, 1, 2))
    return a, b, c, scenario


def test_numbers_are_per_lead_prefixed_and_stable(runs: tuple) -> None:
    a, b, c, scenario = runs
    num = a.labels("number")
    lead, seg = a["lead_id"], a.labels("segment")
    prefix = {s.name: s.prefix for s in scenario.list.segments}
    digits = {s.name: 7 if s.number_type == "landline" else 8 for s in scenario.list.segments}
    assert set(digits.values()) == {7, 8}  # the baseline has mobile and landline segments
    by_lead: dict[int, str] = {}
    for ld, n, s in zip(lead.tolist(), num.tolist(), seg.tolist(), strict=True):
        assert by_lead.setdefault(ld, n) == n  # every attempt dials the same number
        assert n.startswith(prefix[s]) and len(n) == len(prefix[s]) + digits[s]
        assert n.isdigit()
    assert len(set(by_lead.values())) == len(by_lead)  # distinct leads, distinct numbers
    assert b.labels("number").tolist() == num.tolist()  # same seed, same numbers
    other = dict(zip(c["lead_id"].tolist(), c.labels("number").tolist(), strict=True))
    common = set(other) & set(by_lead)
    assert common and sum(other[k] != by_lead[k] for k in common) > 0.9 * len(common)
    assert set(a.labels("direction").tolist()) == {"outbound"}


def test_number_in_native_and_asterisk_files(runs: tuple, tmp_path: Path) -> None:
    a = runs[0]
    native, ast = tmp_path / "calls.csv", tmp_path / "Master.csv"
    write_cdrs(a, native)
    write_cdrs(a, ast, format="asterisk")
    assert read_cdrs(native).cdrs.labels("number").tolist() == a.labels("number").tolist()
    back = read_cdrs(ast, tz=a.tz).cdrs
    assert back.labels("number").tolist() == a.labels("number").tolist()
    # the export's dst is the dialled number, and rating by destination still works
    assert back.labels("destination").tolist() == a.labels("number").tolist()
    plans = sim.load_plans(ROOT / "scenarios" / "plans" / "china.toml")
    before, after = sim.rate(a, plans), sim.rate(back, plans)
    for p in plans:
        assert before.summary(p.name).telecom == after.summary(p.name).telecom, p.name
    assert np.array_equal(back["billsec"], a["billsec"])
