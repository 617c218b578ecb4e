"""The HTML report: produced for every scenario, every section present, self-contained.

Also ``dialsim run --reps`` (every KPI and plan cost with a CI, progress on stderr),
the compliance section with and without results, the variants section from a compare
folder, and the refusal to overwrite a report without ``--force``.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS

from sim.analysis.kpis import KPI_LABELS
from sim.cli import main
from sim.fmt import money
from sim.report import SECTIONS, load_run

SCENARIO_FILES = sorted(SCENARIOS.glob("*.toml"))
#: Two plans keep the reports of the tests that are not about the scenarios cheap.
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
rounding = { decimals = 3, method = "up" }
"""


@pytest.fixture(scope="module")
def two_plans(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "two.toml"
    path.write_text(TWO_PLANS)
    return path


E_NOTATION = re.compile(r"(?<![A-Za-z_])\d+(\.\d+)?[eE][+-]?\d+")


def page_text(page: str) -> str:
    """The page's visible text: no tags, no embedded images."""
    bare = re.sub(r"<style>.*?</style>|base64,[^\"]+", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", bare))


def money_columns(text: str) -> list[list[str]]:
    """The money columns (telecom .. with labour) of every plan table in ``text``."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("plan ") or "telecom" not in line or i + 1 >= len(lines):
            continue
        rule = lines[i + 1]
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
        names = [line[a:b].strip() for a, b in spans]
        first = next(k for k, n in enumerate(names) if n.startswith("telecom"))
        body = []
        for row in lines[i + 2:]:
            if not row.strip() or row.startswith("cheapest"):
                break
            body.append(row)
        for a, b in spans[first:]:
            out.append([r[a:b].strip() for r in body if r[a:b].strip() not in ("", "-")])
    return out


def html_money_columns(page: str) -> list[list[str]]:
    """The money columns (telecom .. with labour) of each plan table of the report."""
    if 'id="plans"' not in page:
        return []
    part = page[page.index('id="plans"'):page.index('id="rounding"')]
    out = []
    for table in re.findall(r"<table>(.*?)</table>", part, flags=re.S):
        heads = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
        if not any(h.startswith("telecom") for h in heads):
            continue
        first = next(i for i, h in enumerate(heads) if h.startswith("telecom"))
        rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in
                re.findall(r"<tr(?: class=\"best\")?>(.*?)</tr>", table, flags=re.S)]
        rows = [r for r in rows if r]
        for j in range(first, len(heads)):
            out.append([r[j] for r in rows if r[j] not in ("–", "-", "")])
    return out


def sections_of(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)">', page)


def self_contained(page: str) -> None:
    # Nothing fetched from anywhere: every image inline, no scripts, no links out.
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    assert "<script" not in page and "@import" not in page


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_report_for_every_scenario(path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(path), "--quick", "--out", str(out), "--report"]) == 0
    cap = capsys.readouterr()
    assert "report.html" in cap.err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert sections_of(page) == list(SECTIONS)
    # Numbers read right: no e-notation in the CLI output or the page's text, and every
    # money column of the CLI plan table keeps one count of decimals.
    assert not E_NOTATION.search(cap.out), E_NOTATION.search(cap.out)
    assert not E_NOTATION.search(page_text(page)), E_NOTATION.search(page_text(page))
    for column in money_columns(cap.out):
        assert len({len(c.partition(".")[2]) for c in column}) == 1, column
    assert "folder run ·" in page and ".partial" not in page  # the final folder's name
    for column in html_money_columns(page):
        assert len({len(c.partition(".")[2]) for c in column}) == 1, column
    # Tables fit a 1,280-px page: the page is at most that wide and every table scrolls.
    assert "max-width: 1280px" in page
    assert page.count("<table>") == page.count('<div class="scroll"><table>')
    for heading in SECTIONS.values():
        assert f"<h2>{heading}</h2>" in page
    self_contained(page)
    pngs = sorted(out.glob("report-*.png"))
    assert len(pngs) >= 2 and page.count("data:image/png;base64,") == len(pngs)
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
    summary = json.loads((out / "summary.json").read_text())
    assert "Compliance: not evaluated" in page or "rule(s) evaluated" in page
    if summary.get("costs"):
        assert "rounding share" in page and "report-breakeven-map" in " ".join(
            p.name for p in pngs)
        # The plan table re-rates the saved CDRs: totals agree with costs.csv exactly.
        with open(out / "costs.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                from decimal import Decimal

                assert f"<td>{money(Decimal(row['total']), row['currency'])}</td>" in page, \
                    row["plan"]
    else:
        assert "No billing plans" in page
    if summary["scenario"]["values"].get("variant"):
        assert "dialsim compare SCENARIO" in page  # how to get the variants section


@pytest.fixture(scope="module")
def reps_run(tmp_path_factory, two_plans):
    out = tmp_path_factory.mktemp("reps") / "run"
    code = main(["run", str(SCENARIOS / "baseline.toml"), "--quick", "--reps", "3",
                 "--seed", "4", "--plans", str(two_plans), "--out", str(out), "--report"])
    assert code == 0
    return out


def test_run_reps_reports_every_kpi_and_plan_cost_with_a_ci(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "collections_preview.toml"), "--quick", "--reps",
                 "3", "--out", str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "3 replications (seeds 1..3)" in text and "mean ± 95% CI" in text
    table = text.split("3 replications")[1]
    for label, _ in KPI_LABELS.values():
        assert label in table, label
    assert "cn-60/60 per contact (CNY)" in table and "cn-60/60 total (CNY)" in table
    assert "3/3 runs done" in captured.err  # progress on stderr
    est = json.loads((out / "replications.json").read_text())
    assert est["seeds"] == [1, 2, 3]
    e = est["estimates"]["total:cn-60/60"]
    assert e["n"] == 3 and e["low"] <= e["mean"] <= e["high"]
    with open(out / "replications.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["seed"]) for r in rows] == [1, 2, 3]
    # replication 0 is the single run written beside it
    summary = json.loads((out / "summary.json").read_text())
    assert float(rows[0]["dials"]) == summary["kpis"]["dials"]


def test_report_shows_replication_intervals(reps_run):
    page = (reps_run / "report.html").read_text(encoding="utf-8")
    assert "mean ± 95% CI (3 replications)" in page
    assert "mean and 95% CI over 3 replications" in page
    assert sections_of(page) == list(SECTIONS)


def test_compliance_section_reads_the_summary(reps_run):
    from sim.report_sections import _compliance_section

    run = load_run(reps_run)
    bare = {k: v for k, v in run.summary.items() if k != "compliance"}
    assert "Compliance: not evaluated" in _compliance_section(replace(run, summary=bare))
    items = [
        {"rule": "US TSR", "measure": "abandonment rate (30 days)", "value": 0.041,
         "limit": 0.03, "passed": False, "worst_window": [0, 2592000],
         "detail": "41 of 1,000 live answers <b>"},
        {"rule": "calling hours", "measure": "calls outside 08:00-21:00", "value": 0,
         "limit": 0, "passed": True, "worst_window": None, "detail": ""}]
    part = _compliance_section(replace(run, summary={**run.summary, "compliance": items}))
    assert "2 rule(s) evaluated, 1 failed" in part and "4.10%" in part
    assert "Mon 2 Mar 00:00 – Wed 1 Apr 00:00" in part  # local dates of the campaign
    assert "US TSR" in part and '<span class="fail">FAIL</span>' in part
    assert '<span class="pass">pass</span>' in part and "41 of 1,000" in part
    assert "&lt;b&gt;" in part  # text from files is escaped
    empty = replace(run, summary={**run.summary, "compliance": []})
    assert "no rules configured" in _compliance_section(empty)


def test_report_command_force_compliance_and_timeline(reps_run, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(reps_run, folder)
    assert main(["report", str(folder)]) == 2  # a report is there already
    assert "already exists" in capsys.readouterr().err
    summary = json.loads((folder / "summary.json").read_text())
    summary["compliance"] = [{"rule": "UK Ofcom", "measure": "abandonment (24 h)",
                              "value": 0.01, "limit": 0.03, "passed": True,
                              "worst_window": [0, 86400], "detail": ""}]
    (folder / "summary.json").write_text(json.dumps(summary))
    t = np.arange(0, 7200, 15.0)
    with open(folder / "timeline.csv", "w") as fh:
        fh.write("t,dial_level,abandon_rate\n")
        for x in t:
            fh.write(f"{x},{1.5 + np.sin(x / 900) / 4},{0.02}\n")
    run = load_run(folder)
    assert run.timeline is not None and run.timeline["t"].size == t.size
    assert main(["report", str(folder), "--force"]) == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Dial level and abandonment rate" in page and "UK Ofcom" in page
    assert (folder / "report-dial-level.png").is_file()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a dialsim run folder" in capsys.readouterr().err


def test_report_of_a_compare_folder_has_the_variants(tmp_path, capsys, two_plans):
    out = tmp_path / "cmp"
    assert main(["compare", str(SCENARIOS / "baseline.toml"), "--quick", "--reps", "2",
                 "--variant", "short greeting", "--plans", str(two_plans), "--out", str(out),
                 "--report"]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text(encoding="utf-8")
    part = page.split('<section id="variants">')[1].split("</section>")[0]
    assert "short greeting" in part and "Δ" in part and "Cost per conversion" in part
    assert "script.stages[0].duration" in part  # the variant's overrides are shown
    assert (out / "report-variants-per-conversion.png").is_file()
    self_contained(page)


def test_report_folder_is_portable(reps_run, tmp_path):
    # Plans are copied into the folder: it reports the same from anywhere.
    folder = tmp_path / "moved"
    shutil.copytree(reps_run, folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary["plans_files"] = ["/nonexistent/plans.toml"]
    (folder / "summary.json").write_text(json.dumps(summary))
    run = load_run(folder)
    assert run.plans and Path(folder / summary["plans_copies"][0]).is_file()


def test_reporting_never_imports_the_simulation_engine(reps_run):
    # DESIGN §2: analysis and reporting work on saved results; simpy stays unloaded (and
    # scipy.stats, seconds of start-up on a busy machine).
    import subprocess
    import sys

    code = ("import sys\n"
            "import sim.report, sim.analysis.plots, sim.analysis.rounding\n"
            "import sim.analysis.breakeven, sim.commands.report\n"
            f"sim.report.load_run({str(reps_run)!r}).rating()\n"
            "assert 'simpy' not in sys.modules, 'simpy imported'\n"
            "assert 'scipy.stats' not in sys.modules, 'scipy.stats imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def decision_box(page: str) -> dict[str, str]:
    """The decision box's lines by key (``data-k``), as plain text."""
    box = page[page.index('<div class="decision">'):]
    box = box[:box.index("</div>")]
    return {k: re.sub(r"<[^>]+>", "", v) for k, v in
            re.findall(r'<p data-k="([a-z]+)">(.*?)</p>', box, flags=re.S)}


def test_decision_box_agrees_with_rate(tmp_path, capsys):
    from decimal import Decimal

    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--quick", "--reps", "3",
                 "--out", str(out), "--report", "-q"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.index('id="decision"') < page.index('id="kpis"')  # the page opens with it
    box = decision_box(page)
    # Rate the saved CDRs again with `dialsim rate`, with the run's campaign facts.
    summary = json.loads((out / "summary.json").read_text())
    c = summary["campaign"]
    plans = sorted((out / "plans").glob("*.toml"))
    argv = ["rate", str(out / "cdrs.csv"), "--out", str(tmp_path / "rated"),
            "--seats", str(c["seats"]), "--channels", str(c["channels"]),
            "--numbers", str(c["numbers"]), "--days", str(c["days"])]
    for p in plans:
        argv += ["--plans", str(p)]
    assert main(argv) == 0
    capsys.readouterr()
    with open(tmp_path / "rated" / "costs.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["currency"] == "CNY"]
    ranked = sorted(rows, key=lambda r: Decimal(r["total"]))
    first, second = ranked[0], ranked[1]
    assert f"Cheapest plan: {first['plan']} at CNY {money(Decimal(first['total']), 'CNY')}" \
        in box["cheapest"]
    gap = Decimal(second["total"]) - Decimal(first["total"])
    assert f"runner-up {second['plan']}: CNY {money(gap, 'CNY')}" in box["margin"]
    assert "over 3 replications" in box["margin"] and "95% CI, paired" in box["margin"]
    ref = next(r for r in rows if r["plan"] == "cn-60/60")
    saving = Decimal(ref["total"]) - Decimal(first["total"])
    assert f"cn-60/60: CNY {money(saving, 'CNY')}" in box["saving"]
    failed = [r for r in summary["compliance"] if not r["passed"]]
    assert ("FAIL" in box["compliance"]) == bool(failed)
    # Flat-fee plans bill no minutes: no overhead, nothing to round, no histogram.
    text = page_text(page)
    assert re.search(r"cn-per-connected-call\s+0\.20 per connected call > 3 s\s+–\s+–", text)
    assert re.search(r"cn-robot-per-attempt\s+no time billed", text)
    captions = re.findall(r"<figcaption>(Talk time[^<]*)</figcaption>", page)
    assert len(captions) == 2
    assert not any("per-connected-call" in c or "per-attempt" in c for c in captions)


def test_rounding_is_ranked_by_what_it_costs(reps_run):
    from sim.report import load_run, rounding_costs

    run = load_run(reps_run)
    rating = run.rating()
    cost = rounding_costs(run.cdrs, rating)
    assert cost["per-second"] == 0  # 1/1 billing rounds nothing
    assert cost["60/60"] > 0
    page = (reps_run / "report.html").read_text(encoding="utf-8")
    section = page_text(page[page.index('id="rounding"'):page.index('id="breakeven"')])
    assert section.index("60/60") < section.index("per-second")


def test_decision_box_names_the_best_variant_and_a_current_plan(tmp_path):
    from sim.report import write_report

    out = tmp_path / "cmp"
    assert main(["compare", str(SCENARIOS / "baseline.toml"), "--quick", "--reps", "3",
                 "--out", str(out), "-q"]) == 0
    comp = json.loads((out / "compare.json").read_text())
    write_report(out, current="cn-seat")
    box = decision_box((out / "report.html").read_text(encoding="utf-8"))
    assert "Saving against the current plan cn-seat" in box["saving"]
    cheapest = box["cheapest"].split("Cheapest plan: ")[1].split(" at ")[0]
    better = [r for r in comp["rows"] if r["metric"] == "per_conversion"
              and r["plan"] == cheapest and r["diff_high"] is not None and r["diff_high"] < 0]
    if better:
        best = min(better, key=lambda r: r["diff"])
        assert f"Best variant: {best['variant']}" in box["variant"]
    else:
        assert "Best variant: none of 3" in box["variant"]


def test_report_command_takes_the_current_plan(reps_run, capsys):
    assert main(["report", str(reps_run), "--force", "--current", "per-second"]) == 0
    assert "wrote" in capsys.readouterr().err
    box = decision_box((reps_run / "report.html").read_text(encoding="utf-8"))
    assert "current plan" in box["saving"] and "per-second" in box["saving"]
    assert main(["report", str(reps_run), "--force", "--current", "per-secnd"]) == 2
    err = capsys.readouterr().err
    assert "--current 'per-secnd': no such plan" in err and "did you mean 'per-second'" in err


def test_leads_closed_kpi_agrees_with_the_lead_status_table(reps_run):
    # Both are shares of the dialable leads (DNC leads are never dialled): the table once
    # showed bare counts, from which (contacted+converted+exhausted+invalid+dnc) / list
    # read 79.6 % against the KPI's 79.4 % on the baseline.
    page = page_text((reps_run / "report.html").read_text(encoding="utf-8"))
    summary = json.loads((reps_run / "summary.json").read_text())
    status = summary["lead_status"]
    assert status["dnc"] > 0  # else the two bases would agree by accident
    kpi = re.search(r"Leads closed \(share of dialable leads\)\s+(\d+\.\d)%", page)
    row = re.search(r"closed \(contacted \+ converted \+ exhausted \+ invalid\)\s+([\d,]+)\s+"
                    r"(\d+\.\d)%", page)
    assert kpi and row
    assert kpi.group(1) == row.group(2)
    closed = sum(status[k] for k in ("contacted", "converted", "exhausted", "invalid"))
    assert int(row.group(1).replace(",", "")) == closed
    dialable = sum(status.values()) - status["dnc"]
    assert summary["kpis"]["leads_closed"] == pytest.approx(closed / dialable)
    assert f"{100 * closed / dialable:.1f}" == row.group(2)
