"""CDR files of any size and any line ends: nothing lost, every record counted once.

No fixed head limit (a 100,000-number round trip, hundreds of leading comment or blank
lines, a first line longer than any read piece), and LF, CRLF and lone CR line ends in
any mix, cut anywhere by block boundaries: rows read = accepted + rejected, and each
rejected row is named by the line an editor shows.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cdrio import assert_same_table, realistic_table

from sim.cdr import CDRTable
from sim.cdrio import _text, read_cdrs, write_cdrs

ASTERISK_OK = ('"","4008001234","{dst}","ctx","","SIP/t-1","","Dial","","2026-03-02 09:00:00",'
               '"2026-03-02 09:00:06","2026-03-02 09:01:06",66,60,"ANSWERED","DOCUMENTATION"')
ASTERISK_BAD = ('"","4008001234","{dst}","ctx","","SIP/t-1","","Dial","","2026-03-02 09:00:00",'
                '"","oops",66,0,"NO ANSWER","DOCUMENTATION"')


def distinct_numbers_table(n: int) -> CDRTable:
    """``n`` calls, each to its own dialled number (as an import of a big campaign)."""
    table = realistic_table(n, seed=3)
    numbers = [f"86138{i:08d}" for i in range(n)]
    cats = dict(table.categories)
    cats["destination"] = ("", *numbers)
    cols = dict(table.columns)
    cols["destination"] = np.arange(1, n + 1, dtype=np.int32)
    return CDRTable(cols, cats, table.epoch, table.tz, table.meta)


def test_round_trip_of_100000_distinct_numbers(tmp_path: Path) -> None:
    table = distinct_numbers_table(100_000)
    path = tmp_path / "big.csv"
    write_cdrs(table, path)
    imp = read_cdrs(path)
    assert imp.report.rows_read == imp.report.accepted == 100_000
    assert imp.cdrs.categories["destination"] == table.categories["destination"]
    assert imp.cdrs.labels("destination").tolist() == table.labels("destination").tolist()
    assert (imp.cdrs.tz, imp.cdrs.epoch) == (table.tz, table.epoch)


def test_old_file_with_a_categories_line_over_64_kib(tmp_path: Path) -> None:
    """Before the sidecar, > ~4,400 numbers made a '# categories' line the head reader
    could not hold: "empty file". 6,000 make one of ~100 kB."""
    table = distinct_numbers_table(6000)
    path = tmp_path / "new.csv"
    write_cdrs(table, path)
    side = json.loads((tmp_path / "new.meta.json").read_text())
    head = [f"# tz={side['tz']}", f"# epoch={side['epoch']}",
            f"# categories.destination={json.dumps(side['categories']['destination'])}"]
    assert len(head[-1]) > 65536
    old = tmp_path / "old.csv"
    old.write_text("\n".join(head) + "\n" + path.read_text(encoding="utf-8"),
                   encoding="utf-8")
    imp = read_cdrs(old)
    assert imp.report.accepted == 6000 and imp.cdrs.tz == table.tz
    assert imp.cdrs.categories["destination"] == table.categories["destination"]


@pytest.mark.parametrize("lead", ["#", "", "  "])
def test_hundreds_of_leading_comment_or_blank_lines(tmp_path: Path, lead: str) -> None:
    table = realistic_table(30)
    path = tmp_path / "cdrs.csv"
    write_cdrs(table, path)
    body = path.read_text()
    padded = tmp_path / "padded.csv"
    padded.write_text("".join(f"{lead} note {i}\n" if lead == "#" else f"{lead}\n"
                              for i in range(500)) + body)
    imp = read_cdrs(padded, tz=table.tz)
    assert imp.report.format == "native" and imp.report.accepted == 30
    assert_same_table(table, imp.cdrs, time_tol_s=0.5e-6)
    rows = body.splitlines()[1:]
    master = tmp_path / "Master.csv"
    write_cdrs(table, master, format="asterisk")
    blank_first = tmp_path / "blank_first.csv"
    blank_first.write_text("\n" * 300 + master.read_text())
    imp = read_cdrs(blank_first)
    assert imp.report.format == "asterisk" and imp.report.accepted == len(rows)
    assert "300 blank lines skipped (not rows)" in imp.report.notes


def test_a_first_line_longer_than_the_read_pieces(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text, "_HEAD_BYTES", 64)
    monkeypatch.setattr(_text, "BLOCK_BYTES", 256)
    dst = "9" * 5000  # a 5 kB destination: far beyond one piece of the file
    path = tmp_path / "Master.csv"
    path.write_text("\n".join([ASTERISK_OK.format(dst=dst), ASTERISK_OK.format(dst="1")]))
    imp = read_cdrs(path)
    assert imp.report.format == "asterisk" and imp.report.accepted == 2
    assert imp.cdrs.labels("destination").tolist() == [dst, "1"]


def test_a_lone_cr_ends_a_line(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    lines = [ASTERISK_OK.format(dst=str(i)) for i in range(4)]
    # LF, lone CR, CRLF, and a bad row after a lone CR: four records, four lines
    path.write_bytes((lines[0] + "\n" + lines[1] + "\r" + lines[2] + "\r\n"
                      + ASTERISK_BAD.format(dst="x") + "\r").encode())
    rep = read_cdrs(path).report
    assert (rep.rows_read, rep.accepted) == (4, 3)
    assert [r.line for r in rep.rejected] == [4] and "'oops'" in rep.rejected[0].reason


ENDS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(["ok", "bad", "blank"]), min_size=1, max_size=30),
       ends=st.lists(ENDS, min_size=31, max_size=31), final=st.booleans(),
       block=st.sampled_from([None, 7, 150]), native=st.booleans())
def test_mixed_line_ends_are_counted_exactly(kinds: list[str], ends: list[str], final: bool,
                                             block: int | None, native: bool) -> None:
    """Whatever the mix of line ends and where blocks are cut, each record is counted
    once and a rejected row is named by its line (1-based, as an editor counts)."""
    if native:
        header = "call_id,start,answer,end,billsec,talk_s,disposition,destination"
        ok = ("{i},2026-03-02T09:00:00+08:00,2026-03-02T09:00:06+08:00,"
              "2026-03-02T09:01:06+08:00,60,60,ANSWERED,{i}")
        bad = "{i},2026-03-02T09:00:00+08:00,,yesterday,0,0,NO ANSWER,{i}"
        lines = [header]
    else:
        ok, bad, lines = ASTERISK_OK.replace("{dst}", "{i}"), ASTERISK_BAD.replace(
            "{dst}", "{i}"), []
    for i, kind in enumerate(kinds):
        lines.append({"ok": ok, "bad": bad, "blank": ""}[kind].format(i=i))
    text = "".join(line + end for line, end in zip(lines, ends, strict=False))
    if not final:  # no line end after the last line
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    # the oracle: str.splitlines counts \n, \r\n and \r as line ends, as editors do
    # (a lone CR before a blank LF line is a CRLF: that blank line is not one)
    bad_rows = {bad.format(i=i) for i, kind in enumerate(kinds) if kind == "bad"}
    expect_bad = [no for no, line in enumerate(text.splitlines(), 1) if line in bad_rows]
    old = _text.BLOCK_BYTES
    try:
        if block is not None:
            _text.BLOCK_BYTES = block
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "mixed.csv"
            path.write_bytes(text.encode())
            if kinds.count("ok") + kinds.count("bad") == 0:
                return  # only blank lines: nothing to read (tested elsewhere)
            rep = read_cdrs(path, format="native" if native else "asterisk",
                            tz="Asia/Shanghai").report
    finally:
        _text.BLOCK_BYTES = old
    assert rep.rows_read == kinds.count("ok") + kinds.count("bad")
    assert rep.accepted == kinds.count("ok")
    assert [r.line for r in rep.rejected] == expect_bad
