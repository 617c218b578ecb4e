"""The package's contracts: public API, the pinned CDR schema, module boundaries, lint."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

import sim
from sim.cdr import COLUMNS


def test_public_api_is_sorted_and_every_name_resolves():
    assert sim.__all__ == sorted(sim.__all__)
    for name in sim.__all__:
        assert getattr(sim, name) is not None
    assert callable(sim.run) and callable(sim.sweep) and callable(sim.compare)


def test_cdr_schema_is_pinned():
    # Changing the CDR schema changes every file dialsim writes and reads: do it on purpose.
    assert [(c.name, c.kind, c.dtype) for c in COLUMNS] == [
        ("call_id", "int", "int64"), ("lead_id", "int", "int64"), ("attempt", "int", "int32"),
        ("agent_id", "int", "int32"), ("start", "float", "float64"),
        ("answer", "float", "float64"), ("connect", "float", "float64"),
        ("end", "float", "float64"), ("ring_s", "float", "float64"),
        ("talk_s", "float", "float64"), ("wait_s", "float", "float64"),
        ("wrap_s", "float", "float64"), ("billsec", "int", "int64"),
        ("disposition", "cat", "int8"), ("answered_by", "cat", "int8"), ("amd", "cat", "int8"),
        ("abandoned", "bool", "bool"), ("hangup_by", "cat", "int8"), ("result", "cat", "int8"),
        ("stage", "cat", "int16"), ("number_type", "cat", "int16"),
        ("destination", "cat", "int32"), ("segment", "cat", "int16"),
        ("number", "cat", "int32"), ("direction", "cat", "int8"),
    ]


def test_rating_analysis_and_io_never_import_the_simulation_engine():
    code = ("import sys, sim, sim.billing, sim.cdrio, sim.analysis.kpis, "
            "sim.analysis.compliance, sim.analysis.dialer, sim.analysis.erlang, "
            "sim.analysis.stats, sim.analysis.rounding, sim.analysis.breakeven; "
            "print('simpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_a_run_does_not_load_scipy():
    # scipy.special costs ~0.5 s of every command; the run path must not need it
    code = ("import sys, sim; s = sim.load_scenario(sys.argv[1]); "
            "sim.run(sim.scenario.quick(s), seed=1); "
            "print(sorted(m for m in sys.modules if m.startswith('scipy')))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "scenarios" /
                                                          "bench_progressive.toml")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_is_clean():
    out = subprocess.run(["ruff", "check", "sim", "tests", "benchmarks"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
