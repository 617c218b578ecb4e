"""The numpy fast path for Asterisk blocks must give exactly what the csv path gives,
and results must not depend on where blocks are cut."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cdrio import realistic_table

import sim.cdrio as cdrio
from sim.cdr import COLUMNS, CDRTable
from sim.cdrio import _read, _text, read_cdrs, write_cdrs

DISPOSITIONS = ["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "answered"]
LABELS = ["", "a", "pitch", "offer; close=1", "b%c", "x" * 12, "9", "0123"]


def same(a: CDRTable, b: CDRTable) -> None:
    assert len(a) == len(b)
    for c in COLUMNS:
        if c.kind == "cat" and c.vocabulary is None:
            assert a.labels(c.name).tolist() == b.labels(c.name).tolist(), c.name
            assert a.categories[c.name] == b.categories[c.name], c.name
        else:
            assert np.array_equal(a[c.name], b[c.name], equal_nan=c.kind == "float"), c.name
    assert (a.epoch, a.tz) == (b.epoch, b.tz)


def read_both(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: object) -> tuple:
    monkeypatch.setattr(_read, "_FAST_PATH", True)
    fast = read_cdrs(path, format="asterisk", **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(_read, "_FAST_PATH", False)
    slow = read_cdrs(path, format="asterisk", **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(_read, "_FAST_PATH", True)
    return fast, slow


@st.composite
def asterisk_file(draw: st.DrawFn) -> str:
    """A Master.csv: mostly regular (one width, userfields on all rows or none), with
    an occasional odd row that sends its block to the csv path."""
    width = draw(st.sampled_from([16, 17, 18, 21]))
    ours = width >= 18 and draw(st.booleans())
    n = draw(st.integers(1, 25))
    out = io.StringIO()
    w = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
                   quoting=csv.QUOTE_NONNUMERIC)
    for _ in range(n):
        t0 = draw(st.integers(0, 3 * 86400))
        ring = draw(st.integers(0, 40))
        talk = draw(st.integers(0, 400))
        disp = draw(st.sampled_from(DISPOSITIONS))
        answered = draw(st.booleans())
        day = np.datetime64("2026-03-02T00:00:00") + np.timedelta64(t0, "s")

        def ts(s: int, day: np.datetime64 = day) -> str:
            return str(day + np.timedelta64(s, "s")).replace("T", " ")

        dst = draw(st.one_of(st.from_regex(r"\A[0-9]{0,16}\Z"),
                             st.sampled_from(["sip:bob", "s", "+8613800"])))
        row: list[object] = [
            "", "4008001234", dst, "ctx",
            draw(st.sampled_from(['"A, B" <1>', "x", "", 'say "hi"'])),
            "SIP/t-1", "", "Dial", draw(st.sampled_from(["SIP/x,45,tT", "", "a"])),
            ts(0), ts(ring) if answered else "", ts(ring + talk), ring + talk,
            talk if answered else draw(st.sampled_from([0, talk])), disp, "DOCUMENTATION"]
        if width >= 17:
            row.append(draw(st.sampled_from(["12", "1706368044.5", "", "007"])))
        if width >= 18:
            if ours:
                lab = st.sampled_from(LABELS)
                row.append(
                    f"lead={draw(st.integers(-1, 10**7))};att={draw(st.integers(0, 9))};"
                    f"agent={draw(st.integers(-1, 99))};"
                    f"by={draw(st.sampled_from(['person', 'machine', 'none', 'unknown']))};"
                    f"amd={draw(st.sampled_from(['none', 'machine']))};"
                    f"ab={draw(st.sampled_from(['0', '1']))};"
                    f"hup={draw(st.sampled_from(['customer', 'agent', 'dialer']))};"
                    f"res={draw(st.sampled_from(['none', 'converted', 'declined']))};"
                    f"stage={cdrio._fields.escape_label(draw(lab))};"
                    f"nt={cdrio._fields.escape_label(draw(lab))};"
                    f"seg={cdrio._fields.escape_label(draw(lab))}")
            else:
                row.append(draw(st.sampled_from(["", "vip", "x=1"])))
        if width == 21:
            row.extend(["", "1706368044.0", draw(st.integers(0, 99))])
        if draw(st.integers(0, 30)) == 0:  # an odd row now and then
            row = draw(st.sampled_from([row[:12], [*row, "extra"],
                                        [*row[:9], "2026-02-30 10:00:00", *row[10:]]]))
        w.writerow(row)
    return out.getvalue()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=asterisk_file(), block=st.sampled_from([None, 97, 400]))
def test_fast_path_equals_csv_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   text: str, block: int | None) -> None:
    path = tmp_path / "Master.csv"
    path.write_text(text, encoding="utf-8", newline="")
    if block is not None:
        monkeypatch.setattr(_text, "BLOCK_BYTES", block)
    fast, slow = read_both(path, monkeypatch, tz="Asia/Shanghai", direction="all")
    assert fast.report.rejected == slow.report.rejected
    assert fast.report.notes == slow.report.notes
    assert fast.report.rows_read == fast.report.accepted + len(fast.report.rejected)
    assert fast.report.directions == slow.report.directions
    same(fast.cdrs, slow.cdrs)


def test_fast_path_takes_exported_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = realistic_table(3000)
    path = tmp_path / "Master.csv"
    write_cdrs(table, path, format="asterisk")
    calls = []
    real = _read.parse_asterisk_bytes

    def spy(data: bytes, first: int, asm: object) -> object:
        result = real(data, first, asm)  # type: ignore[arg-type]
        calls.append(result is not None)
        return result

    monkeypatch.setattr(_read, "parse_asterisk_bytes", spy)
    monkeypatch.setattr(_text, "BLOCK_BYTES", 20_000)  # many blocks
    fast, slow = read_both(path, monkeypatch, tz=table.tz)
    assert len(calls) > 10 and all(calls)  # every block went the fast way
    same(fast.cdrs, slow.cdrs)
    whole = read_cdrs(path, tz=table.tz)
    monkeypatch.undo()
    same(fast.cdrs, read_cdrs(path, tz=table.tz).cdrs)
    same(whole.cdrs, fast.cdrs)


def test_block_cuts_do_not_change_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = realistic_table(400)
    for fmt in ("native", "asterisk"):
        path = tmp_path / f"{fmt}.csv"
        write_cdrs(table, path, format=fmt)  # type: ignore[arg-type]
        whole = read_cdrs(path, tz=table.tz)
        monkeypatch.setattr(_text, "BLOCK_BYTES", 1500)
        cut = read_cdrs(path, tz=table.tz)
        monkeypatch.undo()
        same(whole.cdrs, cut.cdrs)
        assert whole.report == cut.report
