"""Names that are HTML or spreadsheet-formula payloads (issue 20): the report escapes
them everywhere, human-facing CSVs neutralise them, native CDR files keep them as given.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from conftest import SCENARIOS

from sim.cli import main
from sim.output import safe_cell

XSS = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://evil.example","click")'


def _scenario(tmp_path: Path) -> Path:
    plans = tmp_path / "plans.toml"
    plans.write_text(f"""
[[plan]]
name = '{FORMULA}'
currency = "CNY"
price_per_min = "0.12"
increments = "60/60"

[[plan]]
name = '{XSS}'
currency = "CNY"
price_per_min = "0.18"
increments = "1/1"
""", encoding="utf-8")
    base = (SCENARIOS / "baseline.toml").read_text(encoding="utf-8")
    base = re.sub(r'(?m)^plans = \[.*\]$', 'plans = ["plans.toml"]', base)
    assert 'plans = ["plans.toml"]' in base
    text = base + f"""
[[variant]]
name = '{XSS}'
set = {{ "dialer.ratio" = 1.2 }}

[[variant]]
name = '{FORMULA}'
description = '@SUM(1+1)'
set = {{ "agents.count" = 8 }}
"""
    path = tmp_path / "payload.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [c for row in csv.reader(fh) for c in row]


def test_report_and_csvs_of_payload_names(tmp_path, capsys):
    scenario = _scenario(tmp_path)
    out = tmp_path / "cmp"
    code = main(["compare", str(scenario), "--quick", "--reps", "2", "--out", str(out),
                 "--report"])
    assert code == 0, capsys.readouterr().err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    for name in ("compare.csv", "costs.csv", "charges.csv"):
        cells = _cells(out / name)
        assert cells, name
        bad = [c for c in cells if c[:1] in ("=", "+", "@") or
               (c[:1] == "-" and safe_cell(c) != c)]
        assert not bad, (name, bad[:3])
    assert any(c.startswith("'=HYPERLINK") for c in _cells(out / "costs.csv"))
    assert any(c.startswith("'=HYPERLINK") for c in _cells(out / "compare.csv"))


def test_safe_cell_leaves_numbers_and_plain_text():
    assert safe_cell("-3.5") == "-3.5" and safe_cell("+1e3") == "+1e3"
    assert safe_cell("cn-60/60") == "cn-60/60" and safe_cell(12) == 12
    assert safe_cell("-x") == "'-x" and safe_cell("@A1") == "'@A1"
    assert safe_cell("\tx") == "'\tx" and safe_cell("＝1+1") == "'＝1+1"


def test_native_cdr_files_stay_lossless(tmp_path):
    """The native cdrs.csv is data, not a report: a stage named like a formula is written
    and read back exactly as given (README: only human-facing CSVs are neutralised)."""
    from sim.cdrio import read_cdrs, write_cdrs

    run = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--quick", "--out", str(run),
                 "--set", f"script.stages[0].name={FORMULA!r}"]) == 0
    cdrs = read_cdrs(run / "cdrs.csv").cdrs
    stages = set(cdrs.labels("stage").tolist())
    assert FORMULA in stages and "'" + FORMULA not in stages
    again = tmp_path / "again.csv"
    write_cdrs(cdrs, again)
    assert read_cdrs(again).cdrs.labels("stage").tolist() == cdrs.labels("stage").tolist()
