"""Numbers in CDR files: integers read exactly with range checks, billsec checked
against the call it bills; every bad row rejected by its file line.

Policy (documented in :mod:`sim.cdrio._checks`): a billsec longer than the call's
duration, its talk time or ``end - answer`` (by more than 1 s of rounding) is
**rejected**, not clamped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cdrio_formats import ast, by_line, check_invariant, write

from sim.cdrio import _read, read_cdrs
from sim.cdrio._values import INT_LIMITS, MAX_CALL_S, parse_floats, parse_ints
from sim.errors import CDRFormatError

I64 = 2**63
NATIVE_HEAD = "call_id,lead_id,attempt,start,answer,end,billsec,talk_s,disposition,destination"


def native_row(call_id: str = "1", billsec: str = "60", talk: str = "60", lead: str = "7",
               attempt: str = "1", answer: str = "2026-03-02T09:00:06+08:00",
               end: str = "2026-03-02T09:01:06+08:00") -> str:
    return (f"{call_id},{lead},{attempt},2026-03-02T09:00:00+08:00,{answer},{end},{billsec},"
            f"{talk},ANSWERED,8613800")


@pytest.fixture(params=[True, False], ids=["fast", "csv"])
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(_read, "_FAST_PATH", request.param)
    return bool(request.param)


# -- integers at the edges ------------------------------------------------------------------
def _oracle(text: str, lo: int, hi: int) -> int | None:
    m = re.fullmatch(r"\s*([+-]?[0-9]+)(\.0*)?\s*", text, re.ASCII)
    if m is None or len(m.group(1).lstrip("+-").lstrip("0")) > 19:
        return None
    v = int(m.group(1))
    return v if lo <= v <= hi else None


EDGE = st.sampled_from([
    0, 1, -1, 2**31 - 1, 2**31, -(2**31), I64 - 1, I64, -I64, -I64 + 1, 2**64, 10**17,
    123456789012345678, 999_999_999, 1_000_000_000, 10**400])
INT_TEXT = st.one_of(
    EDGE.map(str), st.integers(-(2**70), 2**70).map(str),
    st.tuples(EDGE, st.sampled_from(["", ".0", ".000", ".5", "e3", "_0"]),
              st.sampled_from(["", " ", "\t", "\x0b", "\u3000", "\x1c"]),
              st.sampled_from(["", "+", "00"])).map(
        lambda t: f"{t[2]}{t[3]}{t[0]}{t[1]}{t[2]}" if t[0] >= 0 or not t[3]
        else f"{t[0]}{t[1]}"),
    st.sampled_from(["١٢", "1٣", "0x10", "--1", "+-1", "1 2", "١"]))


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(INT_TEXT, min_size=1, max_size=8),
       limits=st.sampled_from([(-I64 + 1, I64 - 1), INT_LIMITS["attempt"],
                               INT_LIMITS["agent_id"], (-MAX_CALL_S, MAX_CALL_S)]))
def test_integers_are_exact_and_range_checked(texts: list[str],
                                              limits: tuple[int, int]) -> None:
    lo, hi = limits
    expected = [_oracle(t, lo, hi) for t in texts]
    for values in (texts, [*texts, "garbage"]):  # the vectorised and the per-value path
        out, bad, missing = parse_ints(values, lo, hi)
        assert not missing.any()
        got = [None if b else int(v) for v, b in zip(out.tolist(), bad.tolist(), strict=True)]
        assert got[:len(texts)] == expected, values


def test_floats_reject_what_a_cdr_should_not_hold() -> None:
    out, bad, missing = parse_floats(["1.5", "1e19", "inf", "-1e308", "1_0", "٣", "nan", "",
                                      str(MAX_CALL_S), "2e9"], MAX_CALL_S)
    assert bad.tolist() == [False, True, True, True, True, True, False, False, False, True]
    assert missing.tolist() == [False] * 6 + [True, True, False, False]
    assert out[0] == 1.5 and out[8] == MAX_CALL_S
    # the vectorised path (all parse) and the per-value path agree on "NaN" spellings
    for values in (["NaN", "-nan", "NAN", "1"], ["NaN", "-nan", "NAN", "1", "x"]):
        out, bad, missing = parse_floats(values, MAX_CALL_S)
        assert bad.tolist()[:4] == [False, True, True, False]
        assert missing.tolist()[:4] == [True, False, False, False]


# -- billsec of 2^63 and friends, by file line ---------------------------------------------
def test_native_billsec_of_2_63_is_rejected_not_wrapped(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", [NATIVE_HEAD, native_row(), native_row("2", str(I64)),
                                     native_row("3", "1" + "0" * 400),
                                     native_row("123456789012345678", "60", lead=str(I64 - 1)),
                                     native_row("5", "123456789012345678")])
    imp = read_cdrs(path, tz="Asia/Shanghai")
    rep = imp.report
    check_invariant(rep)
    assert (rep.accepted, sorted(by_line(rep))) == (2, [3, 4, 6])
    assert f"'{I64}'" in by_line(rep)[3] and "0 to 999,999,999" in by_line(rep)[3]
    assert "column 'billsec'" in by_line(rep)[3]
    # 18- and 19-digit integers come back exactly (no float on the way)
    assert imp.cdrs["call_id"].tolist() == [1, 123456789012345678]
    assert imp.cdrs["lead_id"].tolist() == [7, I64 - 1]
    assert imp.cdrs["billsec"].tolist() == [60, 60]
    with pytest.raises(CDRFormatError, match=rf"{re.escape(str(path))}:3: .*billsec"):
        read_cdrs(path, tz="Asia/Shanghai", strict=True)


def test_integer_columns_are_range_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", [NATIVE_HEAD, native_row(attempt=str(2**31)),
                                     native_row("-9223372036854775808"),
                                     native_row(lead="1e3"), native_row(attempt="-1"),
                                     native_row(attempt="3.0")])
    rep = read_cdrs(path, tz="Asia/Shanghai").report
    check_invariant(rep)
    assert (rep.accepted, sorted(by_line(rep))) == (1, [2, 3, 4, 5])
    assert "column 'attempt': expected an integer from 0 to 2147483647" in by_line(rep)[2]
    assert "'-9223372036854775808'" in by_line(rep)[3]


def test_mapped_billsec_of_2_63_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", [
        "Start,Secs,Bill,Status,To", "2026-03-02 09:00:00,66,60,ANSWERED,8613800",
        f"2026-03-02 09:00:00,66,{I64},ANSWERED,8613800",
        "2026-03-02 09:00:00,567,600,ANSWERED,8613800"])
    imp = read_cdrs(path, mapping={"start": "Start", "duration": "Secs", "billsec": "Bill",
                                   "disposition": "Status", "destination": "To"})
    rep = imp.report
    check_invariant(rep)
    assert (rep.accepted, sorted(by_line(rep))) == (1, [3, 4])
    assert "column 'Bill' (billsec)" in by_line(rep)[3] and f"'{I64}'" in by_line(rep)[3]
    assert "600 s is more than the call's duration (column 'Secs' (duration): 567 s)" \
        in by_line(rep)[4]


def test_asterisk_huge_and_inconsistent_billsec(tmp_path: Path, fast_path: bool) -> None:
    lines = [ast(), ast(billsec=str(I64)), ast(billsec="1666666667" + "00", duration="567"),
             ast(duration="567", billsec="600", end="2026-03-02 09:09:27"),
             ast(duration="66", billsec="61"),  # within the 1 s of rounding
             ast(answer="2026-03-02 09:00:56", billsec="60"),  # end - answer is 10 s
             ast(duration="66", billsec="60", tail=('"77"', '"lead=5;att=3000000000;agent=3;'
                                                    'by=person;amd=none;ab=0;hup=agent;'
                                                    'res=converted;stage=;nt=;seg="'))]
    imp = read_cdrs(write(tmp_path, "Master.csv", lines))
    rep = imp.report
    check_invariant(rep)
    rej = by_line(rep)
    assert (rep.accepted, sorted(rej)) == (2, [2, 3, 4, 6, 7])
    assert f"field 14 (billsec): expected whole seconds (0 to 999,999,999), found '{I64}'" \
        in rej[2]
    assert "'166666666700'" in rej[3]
    assert "600 s is more than the call's duration (field 13 (duration): 567 s)" in rej[4]
    assert "60 s is more than end - answer (10 s)" in rej[6]
    assert "att: expected an integer from 0 to 2147483647" in rej[7]
    assert imp.cdrs["billsec"].tolist() == [60, 61]


def test_billsec_against_talk_time_and_stamps_in_native_files(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", [
        NATIVE_HEAD, native_row(), native_row("2", "61", "60"),  # ceil rounding: fine
        native_row("3", "600", "60"),                            # talk says 60 s
        native_row("4", "600", "", end="2026-03-02T09:01:06+08:00"),  # stamps say 60 s
        native_row("5", "600", "600", end="2026-03-02T09:10:06.5+08:00")])
    rep = read_cdrs(path, tz="Asia/Shanghai").report
    check_invariant(rep)
    assert (rep.accepted, sorted(by_line(rep))) == (3, [4, 5])
    assert "billsec: 600 s is more than its talk time (talk_s: 60 s)" in by_line(rep)[4]
    assert "billsec: 600 s is more than end - answer (60 s)" in by_line(rep)[5]


def test_a_call_across_a_dst_change_is_measured_in_real_time(tmp_path: Path) -> None:
    # New York, 2026-03-08 02:00 -> 03:00: 01:59:00-05:00 to 03:01:00-04:00 is 2 minutes,
    # though the wall clock moves 62; and 01:59:30 to 03:00:30 local (no offsets) is 60 s
    path = write(tmp_path, "ny.csv", [
        "start,answer,end,billsec,disposition",
        "2026-03-08 01:58:00,2026-03-08 01:59:00,2026-03-08 03:01:00,120,ANSWERED",
        "2026-03-08 01:58:00,2026-03-08 01:59:30,2026-03-08 03:00:30,60,ANSWERED",
        "2026-03-08 01:58:00,2026-03-08 01:59:30,2026-03-08 03:00:30,3600,ANSWERED"])
    imp = read_cdrs(path, tz="America/New_York", format="native")
    rep = imp.report
    check_invariant(rep)
    assert (rep.accepted, sorted(by_line(rep))) == (2, [4])
    assert "end - answer (60 s)" in by_line(rep)[4]


def test_rating_an_import_with_rejected_rows_prices_the_rest(tmp_path: Path) -> None:
    from conftest import SCENARIOS

    from sim.billing import load_plans, rate

    path = write(tmp_path, "Master.csv", [ast(), ast(billsec=str(I64)), ast(billsec="61")])
    imp = read_cdrs(path)
    assert imp.report.accepted == 2
    rating = rate(imp.cdrs, load_plans(SCENARIOS / "plans" / "uk.toml"))
    for summary in rating.ranked():
        assert summary.calls == 2
    assert np.all(imp.cdrs["billsec"] >= 0)
