"""`dialsim report` on a `dialsim rate --out` folder: every section, and its numbers are
rate's (costs.csv, import.json) to the last digit."""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from test_directions import GS_HEADER, GS_ROWS, write

from sim.cli import main
from sim.report_rate import RATE_SECTIONS, hourly_counts, load_rate

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "scenarios" / "plans" / "china.toml"


@pytest.fixture(scope="module")
def rate_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One rated folder with its report for the module (a report takes ~2 s)."""
    tmp_path = tmp_path_factory.mktemp("rate")
    path = write(tmp_path, "ucm.csv", [r for r, _ in GS_ROWS], GS_HEADER)
    out = tmp_path / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["rate", str(path), "--plans", str(CHINA), "--out", str(out), "--report",
                     "--current", "cn-60/60"]) == 0
    return out, printed.getvalue()


def text_of(page: str) -> str:
    page = re.sub(r"<img[^>]*>", "", page)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_report_has_every_section_and_rates_numbers(rate_folder: tuple[Path, str]) -> None:
    out, printed = rate_folder
    page = (out / "report.html").read_text(encoding="utf-8")
    for sid, heading in RATE_SECTIONS.items():
        assert f'<section id="{sid}">' in page and html.escape(heading) in page
    text = text_of(page)
    with (out / "costs.csv").open() as fh:
        costs = {r["plan"]: r for r in csv.DictReader(fh)}
    ranked = sorted(costs.values(), key=lambda r: (Decimal(r["total"]), r["plan"]))
    best, runner, current = ranked[0], ranked[1], costs["cn-60/60"]
    gap = Decimal(runner["total"]) - Decimal(best["total"])
    saving = Decimal(current["total"]) - Decimal(best["total"])
    # the decision: cheapest plan, its total, the margin, the saving against the current
    decision = text.split("Decision", 2)[2].split("Plan comparison")[0]
    assert f"{best['plan']} {Decimal(best['total']):,} {runner['plan']} {gap:,}" in decision
    assert f"cn-60/60 {Decimal(current['total']):,} {saving:,}" in decision
    assert f"switching to {best['plan']} saves CNY {saving:,}" in printed
    # the plan comparison lists every plan with rate's total
    plans = text.split("Plan comparison", 2)[2].split("Rounding analysis")[0]
    from sim.fmt import money

    for name, r in costs.items():  # totals in the currency's minor unit (sim.fmt)
        assert re.search(re.escape(name) + r" .*? " + re.escape(money(Decimal(r["total"]),
                                                                      r["currency"])),
                         plans), name
    # the import report: rate's counts
    imp = json.loads((out / "import.json").read_text())
    assert (imp["rows_read"], imp["accepted"], imp["excluded"]) == (7, 3, 4)
    part = text.split("Import report", 2)[2]
    assert "rows read 7 accepted (priced) 3 rejected 0 excluded 4" in part
    assert "inbound legs (came in from a trunk" in part and "Legs by direction" in part
    # short calls and calls by hour come from the 3 priced legs
    assert "2 of 3 legs answered" in text
    hours = hourly_counts(load_rate(out).cdrs)
    assert hours["calls"][7] == 3 and hours["calls"].sum() == 3 and hours["answered"][7] == 2


def test_report_command_dispatches_on_a_rate_folder(rate_folder: tuple[Path, str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = rate_folder
    assert main(["report", str(out)]) == 2  # the report exists: --force needed
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(out), "--force"]) == 0
    assert "report.html" in capsys.readouterr().err  # notes go to stderr


def test_rate_report_options_need_out_and_a_known_plan(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    path = write(tmp_path, "ucm.csv", [r for r, _ in GS_ROWS], GS_HEADER)
    assert main(["rate", str(path), "--plans", str(CHINA), "--report"]) == 2
    assert "--report needs --out" in capsys.readouterr().err
    assert main(["rate", str(path), "--plans", str(CHINA), "--current", "nope"]) == 2
    assert "--current 'nope': no such plan" in capsys.readouterr().err
