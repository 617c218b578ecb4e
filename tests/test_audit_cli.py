"""``dialsim audit`` from files: the summary, audit.json, disputes.csv, audit.html, the
charge-list inference, and bad input (exit 2 with a message naming file and line)."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.audit import Side, audit
from sim.audit.files import neutralise, read_side
from sim.audit.synthetic import synthetic_audit
from sim.cli import main
from tests.conftest import SCENARIOS

CONTRACT = """
[[plan]]
name = "other"
currency = "CNY"
price_per_min = "0.30"
increments = "60/60"

[[plan]]
name = "contract"
currency = "CNY"
price_per_min = "0.15"
increments = "6/6"
rounding = { decimals = 3, method = "up" }
"""
HEADER = ["calldate", "dst", "duration", "billsec", "disposition", "charge", "currency",
          "service"]


def write_theirs(path: Path, s, *, charges=None, currency="CNY", extra=(),
                 service=None) -> None:
    """The carrier's file: an Asterisk CDR table dump plus charge and currency columns."""
    t = s.theirs
    epoch = np.datetime64(t.epoch, "us")
    charges = s.charge_strings() if charges is None else charges
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(len(t)):
            at = epoch + np.timedelta64(int(round(t["start"][i] * 1e6)), "us")
            w.writerow([str(at).replace("T", " ")[:23], t.labels("destination")[i],
                        int(t["billsec"][i]) + 8, int(t["billsec"][i]), "ANSWERED",
                        charges[i], currency, "voice" if service is None else service[i]])
        for row in extra:
            w.writerow(row)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    s = synthetic_audit(1200, seed=9)
    sim.write_cdrs(s.ours, tmp / "ours.csv")
    formula = ["2026-03-03 18:00:00", "=HYPERLINK(\"x\")", 70, 62, "ANSWERED", "0.150", "CNY",
               "voice"]
    write_theirs(tmp / "theirs.csv", s, extra=[formula])
    (tmp / "plans.toml").write_text(CONTRACT)
    return tmp, s


def test_audit_writes_the_summary_json_disputes_and_html(files, capsys):
    tmp, s = files
    out = tmp / "out"
    code = main(["audit", str(tmp / "ours.csv"), str(tmp / "theirs.csv"),
                 "--plan", f"{tmp / 'plans.toml'}:contract", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "difference" in text and "increment" in text and "60/60" in text
    data = json.loads((out / "audit.json").read_text())
    # the same audit through Python (the file's extra formula row is one more not-ours)
    theirs, _ = read_side(tmp / "theirs.csv")
    direct = audit(sim.read_cdrs(tmp / "ours.csv").cdrs, theirs,
                   sim.load_plans(tmp / "plans.toml")[1])
    assert data["difference"] == str(direct.difference)
    by_path = sim.audit(tmp / "ours.csv", str(tmp / "theirs.csv"), f"{tmp}/plans.toml:contract")
    assert by_path.to_dict()["causes"] == data["causes"]
    assert data["only_theirs"] == int((s.kind == "foreign").sum()) + 1
    assert [c["cause"] for c in data["causes"]] == ["not_ours", "duplicate",
                                                    "unanswered_billed", "duration",
                                                    "increment", "rate", "other"]
    assert sum(Decimal(c["amount"]) for c in data["causes"]) == Decimal(data["difference"])
    assert data["inferred"]["increments"] == "60/60"
    assert data["imports"]["theirs"]["accepted"] == len(s.theirs) + 1
    with open(out / "disputes.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == data["disputes"] > 0
    assert sum(Decimal(r["difference"]) for r in rows) == Decimal(data["difference"])
    assert list(rows[0]) == ["their_line", "our_line", "destination", "start", "our_billsec",
                             "their_billsec", "contract_charge", "their_charge", "difference",
                             "cause"]
    formula = [r for r in rows if "HYPERLINK" in r["destination"]]
    assert formula and formula[0]["destination"].startswith("'=")
    assert formula[0]["cause"] == "not_ours" and formula[0]["our_line"] == ""
    # their_line points at the row in their file
    lines = (tmp / "theirs.csv").read_text().splitlines()
    first = rows[0]
    assert first["destination"] in lines[int(first["their_line"]) - 1]
    page = (out / "audit.html").read_text()
    assert "Causes of the difference" in page and "60/60" in page
    # an existing folder is kept without --force
    assert main(["audit", str(tmp / "ours.csv"), str(tmp / "theirs.csv"), "--plan",
                 f"{tmp / 'plans.toml'}:contract", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_json_output(files, capsys):
    tmp, _ = files
    assert main(["audit", str(tmp / "ours.csv"), str(tmp / "theirs.csv"), "--plan",
                 f"{tmp / 'plans.toml'}:contract", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"matched", "only_ours", "only_theirs", "duplicates", "their_total",
            "contract_total", "difference", "causes", "inferred"} <= set(data)


def _fails(capsys, *argv) -> str:
    assert main(["audit", *map(str, argv)]) == 2
    return capsys.readouterr().err


def test_bad_input_exits_2_with_a_clear_message(files, tmp_path, capsys):
    tmp, s = files
    plan = f"{tmp / 'plans.toml'}:contract"
    write_theirs(tmp_path / "usd.csv", s, currency="USD")
    err = _fails(capsys, tmp / "ours.csv", tmp_path / "usd.csv", "--plan", plan)
    assert "USD" in err and "CNY" in err and "Traceback" not in err
    bad = s.charge_strings()
    bad[4] = "0,15x"
    write_theirs(tmp_path / "bad.csv", s, charges=bad)
    err = _fails(capsys, tmp / "ours.csv", tmp_path / "bad.csv", "--plan", plan)
    assert f"{tmp_path / 'bad.csv'}:6: charge" in err and "'0,15x'" in err
    later = synthetic_audit(1200, seed=9, shift_h=8 + 24 * 40)
    write_theirs(tmp_path / "later.csv", later)
    err = _fails(capsys, tmp / "ours.csv", tmp_path / "later.csv", "--plan", plan)
    assert "no overlap" in err
    err = _fails(capsys, tmp / "ours.csv", tmp / "theirs.csv", "--plan", tmp / "plans.toml")
    assert "holds 2 plans" in err and ":NAME" in err
    mixed = s.charge_strings()
    with open(tmp_path / "mixed.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow(["2026-03-02 17:00:00", "8613800000001", 20, 12, "ANSWERED", mixed[0], "CNY",
                    "voice"])
        w.writerow(["2026-03-02 17:01:00", "8613800000002", 20, 12, "ANSWERED", mixed[1], "USD",
                    "voice"])
    err = _fails(capsys, tmp / "ours.csv", tmp_path / "mixed.csv", "--plan", plan)
    assert "mixed.csv:3" in err and "USD" in err


def test_where_filters_leave_rows_out_of_the_audit(files, tmp_path, capsys):
    tmp, s = files
    service = np.where(s.kind == "foreign", "sms", "voice")
    write_theirs(tmp_path / "theirs.csv", s, service=service)
    plan = f"{tmp / 'plans.toml'}:contract"
    assert main(["audit", str(tmp / "ours.csv"), str(tmp_path / "theirs.csv"), "--plan", plan,
                 "--theirs-where", "service=voice", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["only_theirs"] == 0 and data["theirs"]["rows"] == int((service == "voice").sum())
    assert next(c for c in data["causes"] if c["cause"] == "not_ours")["amount"] == "0.000"
    # the charges still join to the right rows: the total is what the kept rows were charged
    kept = sum(Decimal(c) for c, v in zip(s.charge_strings(), service, strict=True)
               if v == "voice")
    assert Decimal(data["their_total"]) == kept


def test_infer_from_a_charge_list_alone(files, tmp_path, capsys):
    _, s = files
    path = tmp_path / "charges.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Seconds", "Amount"])
        for d, c in zip(s.theirs["billsec"], s.charge_strings(), strict=True):
            w.writerow([int(d), c])
    code = main(["audit", "--infer", str(path), "--theirs-map", "billsec=Seconds",
                 "--theirs-map", "charge=Amount", "--plans",
                 str(SCENARIOS / "plans" / "china.toml"), "--json"])
    assert code == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["inferred"]["increments"] == "60/60"
    total = sum(Decimal(c) for c in s.charge_strings())
    assert Decimal(data["their_total"]) == total
    plans = {p["plan"]: Decimal(p["total"]) for p in data["plans"]}
    assert len(plans) == 13
    # the same calls under cn-60/60 (0.12/min, 2 places up): a plain check
    minutes = sum(-(-int(d) // 60) for d in s.theirs["billsec"])
    assert plans["cn-60/60"] == Decimal("0.12") * minutes


def test_formula_cells_are_neutralised():
    assert neutralise("=1+2") == "'=1+2"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("+1-2") == "'+1-2"
    assert neutralise("+8613800000000") == "+8613800000000"
    assert neutralise("-0.125") == "-0.125"
    assert neutralise("13800000000") == "13800000000"


def test_the_python_api_is_exported():
    assert "audit" in sim.__all__
    s = synthetic_audit(300, seed=1)
    a = sim.audit(s.ours, Side(s.theirs, charges=s.charges, charge_decimals=3),
                  sim.load_plans(SCENARIOS / "plans" / "china.toml")[2])  # cn-6/6 0.15
    assert a.plan.name == "cn-6/6" and sum(c.amount for c in a.causes) == a.difference


def test_a_real_export_against_a_carrier_file_made_from_it(shared_dir, tmp_path, capsys):
    """Grandstream's outbound legs (real times, numbers, talk times) as ours; the carrier
    bills the answered ones 60/60 on a clock 8 h and 1 s ahead, the contract says 6/6."""
    src = shared_dir / "reference" / "cdr_samples" / "grandstream_ucm_cdr.csv"
    ours = sim.read_cdrs(src).cdrs
    answered = np.flatnonzero(ours.answered & (ours["billsec"] > 0))
    epoch = np.datetime64(ours.epoch, "s")
    number = ours.labels("destination")
    bills = [int(ours["billsec"][i]) for i in answered]
    minutes = [-(-b // 60) for b in bills]
    with open(tmp_path / "carrier.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["calldate", "dst", "duration", "billsec", "disposition", "charge"])
        for i, b, m in zip(answered, bills, minutes, strict=True):
            at = epoch + np.timedelta64(int(round(ours["start"][i])) + 8 * 3600 + 1, "s")
            w.writerow([str(at).replace("T", " "), number[i], b + 10, b, "ANSWERED",
                        str(Decimal("0.150") * m)])
    assert main(["audit", str(src), str(tmp_path / "carrier.csv"), "--plan",
                 f"{SCENARIOS / 'plans' / 'china.toml'}:cn-6/6", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["matched"] == len(answered) and data["only_theirs"] == 0
    assert (data["clock"]["shift_h"], data["clock"]["offset_s"]) == (8, 1.0)
    six = sum((Decimal(-(-b // 6) * 6) * Decimal("0.15") / 60).quantize(Decimal("0.001"),
              rounding="ROUND_CEILING") for b in bills)
    causes = {c["cause"]: Decimal(c["amount"]) for c in data["causes"]}
    assert causes["increment"] == Decimal("0.150") * sum(minutes) - six > 0
    assert Decimal(data["difference"]) == causes["increment"]
    assert data["inferred"]["increments"] == "60/60" and data["inferred"]["rows_exact"] == 1.0


def test_charges_are_read_exactly():
    from sim.audit import AuditError, parse_charges

    units, places, cur = parse_charges(["0.12", "1.5", "-0.003", "2"])
    assert (units.tolist(), places, cur) == ([120, 1500, -3, 2000], 3, None)
    units, places, cur = parse_charges(["0.12 CNY", "CNY 1.5", "1,234.50"])
    assert (units.tolist(), places, cur) == ([12, 150, 123450], 2, "CNY")
    for bad in ("0,15", "NULL", "", "1.2.3"):  # a decimal comma is ambiguous: refused
        with pytest.raises(AuditError, match=r"bill.csv:7: charge: must be a decimal"):
            parse_charges(["0.1", bad], source="bill.csv", lines=[6, 7])
    with pytest.raises(AuditError, match="currency USD differs from CNY"):
        parse_charges(["0.1 CNY", "0.2 USD"])
