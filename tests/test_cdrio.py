"""CDR files: native and Asterisk round trips, the import report, the public API."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cdr import COLUMNS, CDRTable, empty_columns, open_categories
from sim.cdrio import CDRImport, ImportReport, Rejection, read_cdrs, write_cdrs
from sim.errors import CDRFormatError

ROOT = Path(__file__).resolve().parents[1]


def realistic_table(n: int = 1500, seed: int = 7, tz: str = "Asia/Shanghai",
                    epoch: str = "2026-03-02T00:00:00") -> CDRTable:
    """A small campaign: busy/failed/no-answer/answered, machines, abandons, agents,
    script stages, 0-second answered calls, labels with ``;``, ``=`` and ``%``."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    start = np.sort(rng.integers(0, 5, n) * 86400.0 + rng.uniform(8 * 3600, 21 * 3600, n))
    u = rng.random(n)
    disp = np.select([u < 0.05, u < 0.12, u < 0.45], [3, 2, 1], 0)
    ans = disp == 0
    ring = np.where(disp == 3, rng.uniform(0, 3, n),
                    np.where(disp == 2, rng.uniform(1, 5, n),
                             np.where(disp == 1, 25.0, rng.lognormal(np.log(8), 0.5, n))))
    talk = np.where(ans, rng.lognormal(np.log(40), 1.0, n), 0.0)
    talk[ans & (rng.random(n) < 0.03)] = 0.0  # answered, hung up at once
    machine = ans & (rng.random(n) < 0.2)
    person = ans & ~machine
    aband = person & (rng.random(n) < 0.03)
    conn = person & ~aband
    wait = np.where(conn, rng.uniform(0, 1.5, n), np.where(aband, talk, 0.0))
    cols["start"][:] = start
    cols["disposition"][:] = disp
    cols["ring_s"][:] = ring
    cols["talk_s"][:] = talk
    cols["answer"][:] = np.where(ans, start + ring, np.nan)
    cols["end"][:] = start + ring + talk
    cols["billsec"][:] = np.where(ans, np.ceil(talk), 0).astype(np.int64)
    cols["answered_by"][:] = np.where(ans, np.where(machine, 2, 1), 0)
    cols["amd"][:] = np.where(machine & (rng.random(n) < 0.8), 2, np.where(ans, 1, 0))
    cols["abandoned"][:] = aband
    cols["wait_s"][:] = wait
    cols["connect"][:] = np.where(conn, cols["answer"] + wait, np.nan)
    cols["agent_id"][:] = np.where(conn, rng.integers(0, 30, n), -1)
    cols["wrap_s"][:] = np.where(conn, rng.uniform(5, 30, n), 0.0)
    cols["lead_id"][:] = rng.integers(0, n // 2, n)
    cols["attempt"][:] = rng.integers(1, 4, n)
    cols["hangup_by"][:] = np.where(ans, rng.integers(1, 4, n), np.where(disp == 1, 3, 4))
    cols["result"][:] = np.where(conn, rng.integers(1, 5, n), np.where(aband, 3, 0))
    cols["stage"][:] = np.where(conn, rng.integers(1, 5, n), 0)
    cols["number_type"][:] = rng.integers(1, 3, n)
    cols["destination"][:] = rng.integers(0, 6, n)
    cols["segment"][:] = rng.integers(0, 3, n)
    cats = open_categories(stage=["greeting", "pitch", "offer; close=1", "close"],
                           number_type=["mobile", "landline"],
                           destination=["86138", "86139", "8610", "8621", "0086755"],
                           segment=["warm", "b%c"])
    return CDRTable(cols, cats, epoch, tz, {"scenario": "test", "seed": seed})


def assert_same_table(a: CDRTable, b: CDRTable, *, time_tol_s: float = 0.0) -> None:
    assert len(a) == len(b)
    for c in COLUMNS:
        x, y = a[c.name], b[c.name]
        if c.kind == "float":  # times and durations: to the microsecond
            assert np.array_equal(np.isnan(x), np.isnan(y)), c.name
            np.testing.assert_allclose(x, y, rtol=0, atol=time_tol_s, err_msg=c.name)
        elif c.kind == "cat" and c.vocabulary is None:
            assert a.labels(c.name).tolist() == b.labels(c.name).tolist(), c.name
        else:
            assert np.array_equal(x, y), c.name
        assert y.dtype == np.dtype(c.dtype), c.name


# -- native round trip -------------------------------------------------------------------
def test_native_round_trip_is_exact(tmp_path: Path) -> None:
    table = realistic_table()
    path = tmp_path / "cdrs.csv"
    write_cdrs(table, path)
    imp = read_cdrs(path)
    assert imp.report.format == "native"
    assert imp.report.rows_read == imp.report.accepted == len(table)
    assert imp.report.rejected == ()
    # times and durations to the microsecond, everything else exactly
    assert_same_table(table, imp.cdrs, time_tol_s=0.5e-6)
    assert imp.cdrs.categories == table.categories  # codes too, via the sidecar
    assert (imp.cdrs.tz, imp.cdrs.epoch) == (table.tz, table.epoch)
    assert imp.cdrs.meta["seed"] == 7 and imp.cdrs.meta["source_format"] == "native"
    # writing the re-read table gives the same file, and the same sidecar but for meta
    again = tmp_path / "again.csv"
    write_cdrs(imp.cdrs.with_meta(source=None, source_format=None), again)
    assert again.read_bytes() == path.read_bytes()
    side, side2 = (json.loads((tmp_path / f"{n}.meta.json").read_text())
                   for n in ("cdrs", "again"))
    assert side["meta"] == {"scenario": "test", "seed": 7}
    assert {k: v for k, v in side2["meta"].items() if v is not None} == side["meta"]
    assert {**side, "meta": None, "csv": None} == {**side2, "meta": None, "csv": None}


def test_native_file_layout(tmp_path: Path) -> None:
    table = realistic_table(50)
    path = tmp_path / "cdrs.csv"
    write_cdrs(table, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    # the header is the first line: the csv module and pandas read it with defaults
    assert lines[0].split(",") == [c.name for c in COLUMNS] and len(lines) == 51
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50 and list(rows[0]) == [c.name for c in COLUMNS]
    row = rows[0]
    assert row["start"].endswith("+08:00") and len(row["start"]) == 32
    assert row["disposition"] in ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(path)
    assert list(df.columns) == [c.name for c in COLUMNS] and len(df) == 50
    assert df["billsec"].tolist() == table["billsec"].tolist()
    # zone, epoch, category order and meta are in the sidecar
    side = json.loads((tmp_path / "cdrs.meta.json").read_text(encoding="utf-8"))
    assert side["format"] == "dialsim native CDR metadata" and side["version"] == 1
    assert (side["tz"], side["epoch"]) == ("Asia/Shanghai", "2026-03-02T00:00:00")
    assert side["categories"]["segment"] == ["", "warm", "b%c"]
    assert side["meta"] == {"scenario": "test", "seed": 7}
    assert side["csv"] == {"file": "cdrs.csv", "bytes": path.stat().st_size, "rows": 50,
                           "columns": [c.name for c in COLUMNS]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdrs.csv", "cdrs.meta.json"]


def test_native_round_trip_across_dst(tmp_path: Path) -> None:
    # New York springs forward on 2026-03-08: offsets -05:00 then -04:00
    table = realistic_table(400, tz="America/New_York", epoch="2026-03-06T00:00:00")
    path = tmp_path / "ny.csv"
    write_cdrs(table, path)
    text = path.read_text()
    assert "-05:00" in text and "-04:00" in text
    assert_same_table(table, read_cdrs(path).cdrs, time_tol_s=0.5e-6)


def test_native_tz_option_converts_times(tmp_path: Path) -> None:
    table = realistic_table(100)
    path = tmp_path / "cdrs.csv"
    write_cdrs(table, path)
    utc = read_cdrs(path, tz="UTC").cdrs
    assert utc.tz == "UTC"
    # the same instants, 8 hours earlier on the wall clock (epoch moves to UTC's date)
    shift = (np.datetime64(utc.epoch) - np.datetime64(table.epoch)) / np.timedelta64(1, "s")
    np.testing.assert_allclose(utc["start"] + shift, table["start"] - 8 * 3600, atol=1e-6)


def test_native_without_sidecar_takes_zone_from_offsets(tmp_path: Path) -> None:
    table = realistic_table(60)
    path = tmp_path / "cdrs.csv"
    write_cdrs(table, path)
    (tmp_path / "cdrs.meta.json").unlink()
    imp = read_cdrs(path)
    assert imp.cdrs.tz == "Etc/GMT-8"  # POSIX sign: UTC+08:00
    assert any("UTC offset" in n for n in imp.report.notes)
    assert_same_table(table, imp.cdrs, time_tol_s=0.5e-6)
    assert imp.cdrs.epoch == table.epoch  # midnight of the first call
    assert "seed" not in imp.cdrs.meta


def test_stale_or_broken_sidecar_is_ignored_with_a_note(tmp_path: Path) -> None:
    table = realistic_table(40)
    path = tmp_path / "cdrs.csv"
    write_cdrs(table, path)
    side = tmp_path / "cdrs.meta.json"
    good = side.read_text()
    # the CSV changed since (one row removed by a spreadsheet user): sidecar ignored
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    imp = read_cdrs(path)
    assert imp.report.accepted == 39 and imp.cdrs.tz == "Etc/GMT-8"
    assert any("cdrs.meta.json: written for a CSV of" in n and "ignored" in n
               for n in imp.report.notes)
    path.write_text("".join(lines))
    for broken, needle in (("{not json", "not valid JSON"), ("[1, 2]", "not a dialsim"),
                           (good.replace('"tz": "Asia/Shanghai"', '"tz": 8'), "'tz'")):
        side.write_text(broken)
        imp = read_cdrs(path)
        assert imp.report.accepted == 40, broken
        assert any(needle in n for n in imp.report.notes), (broken, imp.report.notes)
    side.write_text(good)
    imp = read_cdrs(path)
    assert imp.cdrs.tz == "Asia/Shanghai"
    assert "zone, epoch, category order and meta read from cdrs.meta.json" in imp.report.notes


def test_old_native_files_with_comment_lines_still_read(tmp_path: Path) -> None:
    """Files written before the sidecar carried it in leading '# key=value' lines."""
    table = realistic_table(80)
    path = tmp_path / "new.csv"
    write_cdrs(table, path)
    side = json.loads((tmp_path / "new.meta.json").read_text())
    head = ["# dialsim CDR, native CSV: one row per dial attempt", f"# tz={side['tz']}",
            f"# epoch={side['epoch']}"]
    head += [f"# categories.{k}={json.dumps(v)}" for k, v in side["categories"].items()]
    head.append(f"# meta={json.dumps(side['meta'])}")
    old = tmp_path / "old.csv"
    old.write_text("\n".join(head) + "\n" + path.read_text())
    imp = read_cdrs(old)
    assert imp.report.rows_read == imp.report.accepted == 80
    assert_same_table(table, imp.cdrs, time_tol_s=0.5e-6)
    assert imp.cdrs.categories == table.categories
    assert (imp.cdrs.tz, imp.cdrs.epoch) == (table.tz, table.epoch)
    assert imp.cdrs.meta["seed"] == 7


def test_native_with_missing_columns_uses_defaults(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("call_id,start,disposition,billsec,talk_s,answer,end\n"
                    "5,2026-03-02 09:00:00,ANSWERED,12,11.5,2026-03-02 09:00:07,"
                    "2026-03-02 09:00:18.5\n"
                    "6,2026-03-02 09:01:00,BUSY,0,0,,2026-03-02 09:01:03\n")
    imp = read_cdrs(path, tz="Asia/Shanghai")
    t = imp.cdrs
    assert imp.report.accepted == 2
    assert t["call_id"].tolist() == [5, 6]
    assert t["lead_id"].tolist() == [-1, -1] and t["agent_id"].tolist() == [-1, -1]
    assert t.labels("answered_by").tolist() == ["unknown", "none"]
    assert t["ring_s"].tolist() == [7.0, 3.0]
    assert any("defaults used" in n for n in imp.report.notes)


# -- Asterisk round trip --------------------------------------------------------------------
def test_asterisk_round_trip_keeps_what_rating_needs(tmp_path: Path) -> None:
    table = realistic_table()
    path = tmp_path / "Master.csv"
    write_cdrs(table, path, format="asterisk")
    first = path.read_text().splitlines()[0]
    assert len(next(csv.reader([first]))) == 18 and first.startswith('"","",')
    imp = read_cdrs(path, tz="Asia/Shanghai")
    assert imp.report.format == "asterisk" and imp.report.accepted == len(table)
    got = imp.cdrs
    for name in ("call_id", "lead_id", "attempt", "agent_id", "billsec", "disposition",
                 "answered_by", "amd", "abandoned", "hangup_by", "result"):
        assert np.array_equal(got[name], table[name]), name
    for name in ("stage", "number_type", "destination", "segment"):
        assert got.labels(name).tolist() == table.labels(name).tolist(), name
    assert got.epoch == table.epoch
    assert np.array_equal(np.floor(table["answer"]), got["answer"], equal_nan=True)
    assert np.array_equal(np.floor(table["start"]), got["start"])
    assert np.isnan(got["connect"]).all()  # not kept by the Asterisk format


@pytest.mark.parametrize("fmt", ["native", "asterisk"])
def test_round_trip_rates_identically(tmp_path: Path, fmt: str) -> None:
    billing = pytest.importorskip("sim.billing")
    plans = (*billing.load_plans(ROOT / "scenarios/plans/china.toml"),
             *billing.load_plans(ROOT / "scenarios/plans/uk.toml"))
    table = realistic_table(3000, seed=11)
    path = tmp_path / f"cdrs_{fmt}.csv"
    write_cdrs(table, path, format=fmt)  # type: ignore[arg-type]
    back = read_cdrs(path, tz=table.tz).cdrs
    before, after = billing.rate(table, plans), billing.rate(back, plans)
    for plan in plans:
        a, b = before.per_call(plan.name), after.per_call(plan.name)
        assert np.array_equal(a.billed_s, b.billed_s), plan.name
        assert np.array_equal(a.units, b.units), plan.name


# -- API and report -------------------------------------------------------------------------
def test_public_api_names() -> None:
    assert sim.read_cdrs is read_cdrs and sim.write_cdrs is write_cdrs
    imp_fields = [f for f in CDRImport.__dataclass_fields__]
    assert imp_fields == ["cdrs", "report"]
    assert list(ImportReport.__dataclass_fields__)[:5] == [
        "path", "format", "rows_read", "accepted", "rejected"]
    assert list(Rejection.__dataclass_fields__) == ["line", "reason"]


def test_report_invariant_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        '"","1","100","c","","","","Dial","","2026-03-02 09:00:00","2026-03-02 09:00:05",'
        '"2026-03-02 09:00:15",15,10,"ANSWERED","DOCUMENTATION"\n'
        '"","1","100","c","","","","Dial","","2026-03-02 09:00:00","","oops",15,0,'
        '"NO ANSWER","DOCUMENTATION"\n')
    rep = read_cdrs(path).report
    assert (rep.rows_read, rep.accepted, len(rep.rejected)) == (2, 1, 1)
    assert rep.rejected[0].line == 2
    assert "field 12 (end)" in rep.rejected[0].reason and "'oops'" in rep.rejected[0].reason
    text = rep.summary()
    assert "2 rows read, 1 accepted, 1 rejected" in text and "line 2:" in text
    with pytest.raises(ValueError, match="rows_read"):
        ImportReport("x", "asterisk", 3, 1, rep.rejected)


def test_write_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        write_cdrs(realistic_table(5), tmp_path / "x.csv", format="csv")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CDRFormatError, match="cannot read"):
        read_cdrs(tmp_path / "missing.csv")
    with pytest.raises(CDRFormatError, match="is a folder"):
        read_cdrs(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CDRFormatError, match="empty file"):
        read_cdrs(empty)
    assert len(read_cdrs(empty, format="asterisk").cdrs) == 0
    with pytest.raises(CDRFormatError, match="tz"):
        read_cdrs(empty, format="asterisk", tz="Mars/Olympus")
    with pytest.raises(CDRFormatError, match="format"):
        read_cdrs(empty, format="excel")  # type: ignore[arg-type]


def test_empty_table_round_trip(tmp_path: Path) -> None:
    table = realistic_table(0)
    for fmt in ("native", "asterisk"):
        path = tmp_path / f"e_{fmt}.csv"
        write_cdrs(table, path, format=fmt)  # type: ignore[arg-type]
        assert len(read_cdrs(path, format=fmt).cdrs) == 0  # type: ignore[arg-type]


def test_module_exports_are_sorted_and_exist() -> None:
    import importlib
    for name in ("", "._build", "._fastast", "._fields", "._readers", "._report",
                 "._sidecar", "._text", "._values", "._write"):
        module = importlib.import_module("sim.cdrio" + name)
        exported = list(module.__all__)
        assert exported == sorted(exported), name
        assert all(hasattr(module, x) for x in exported), name
