"""Importers on synthetic files in every format: field counts, broken rows, quirks.

Each fixture is written by the test. Every row must come back accepted, or rejected
with its line number and a reason; ``rows_read == accepted + rejected`` always.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.cdrio import read_cdrs
from sim.cdrio._fields import cause_dispositions
from sim.errors import CDRFormatError


def ast(dst: str = "8613812345678", start: str = "2026-03-02 09:00:00",
        answer: str = "2026-03-02 09:00:06", end: str = "2026-03-02 09:01:06",
        duration: str = "66", billsec: str = "60", disposition: str = "ANSWERED",
        tail: tuple[str, ...] = (), clid: str = '"""Sales"" <4008001234>"') -> str:
    """One Asterisk Master.csv line (16 base fields, then ``tail``), as Asterisk
    quotes it: text quoted, numbers bare."""
    base = ['""', '"4008001234"', f'"{dst}"', '"from-dialer"', clid, '"SIP/trunk-01"', '""',
            '"Dial"', '"SIP/x@trunk,45,tT"', f'"{start}"', f'"{answer}"', f'"{end}"',
            duration, billsec, f'"{disposition}"', '"DOCUMENTATION"']
    return ",".join([*base, *tail])


def write(tmp_path: Path, name: str, lines: list[str], newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def by_line(report: object) -> dict[int, str]:
    return {r.line: r.reason for r in report.rejected}  # type: ignore[attr-defined]


def check_invariant(report: object) -> None:
    r = report
    assert r.rows_read == (r.accepted + len(r.rejected)  # type: ignore[attr-defined]
                           + r.n_excluded)  # type: ignore[attr-defined]


# -- Asterisk ---------------------------------------------------------------------------
def test_asterisk_16_to_21_fields_and_extras(tmp_path: Path) -> None:
    lines = [
        ast(),                                                       # 16
        ast(tail=('"1706368044.0"',)),                               # 17: uniqueid
        ast(tail=('"77"', '"lead=5;att=2;agent=3;by=person;amd=none;ab=0;hup=agent;'
                  'res=converted;stage=close;nt=mobile;seg=warm"')),  # 18: dialsim userfield
        ast(tail=('"1706368044.1"', '"vip"', '""', '"1706368044.0"', "4")),  # 21
        ast(tail=('"1706368044.2"', '""', '""', '"1706368044.0"', "5", '"x"', '"y"')),  # 23
        ",".join(['"a"'] * 12),                                      # 12: rejected
    ]
    imp = read_cdrs(write(tmp_path, "Master.csv", lines))
    rep = imp.report
    check_invariant(rep)
    assert rep.format == "asterisk" and (rep.accepted, len(rep.rejected)) == (5, 1)
    assert "expected 16 to 21 fields" in by_line(rep)[6] and "found 12" in by_line(rep)[6]
    assert any("more than 21 fields" in n and n.startswith("1 rows") for n in rep.notes)
    t = imp.cdrs
    assert t["billsec"].tolist() == [60] * 5
    assert t["call_id"].tolist() == [0, 1, 77, 3, 4]  # only plain digits are call ids
    assert t["lead_id"].tolist() == [-1, -1, 5, -1, -1]
    assert t.labels("result").tolist()[2] == "converted"
    assert t.labels("stage").tolist()[2] == "close"
    assert t.labels("answered_by").tolist() == ["unknown", "unknown", "person", "unknown",
                                                 "unknown"]
    assert t.labels("destination").tolist() == ["8613812345678"] * 5
    assert t["answer"][0] - t["start"][0] == 6.0 and t["talk_s"][0] == 60.0


def test_asterisk_bad_rows_are_rejected_with_line_and_reason(tmp_path: Path) -> None:
    lines = [
        ast(),                                                    # 1 ok
        ast(start="2026-02-30 10:00:00"),                         # 2 no such day
        ast(end="yesterday"),                                     # 3 bad timestamp
        ast(billsec=""),                                          # 4 missing billsec
        ast(duration="-5"),                                       # 5 negative duration
        ast(disposition="MAYBE"),                                 # 6 unknown disposition
        ast(clid='"unterminated <123>'),                          # 7 broken quoting
        ast(),                                                    # 8 ok: not swallowed
        ast(start="2026-03-02 09:02:00"),                         # 9 end before start
        "",                                                       # 10 blank: skipped
        ast(answer="", disposition="ANSWERED"),                   # 11 ok: answer derived
        ast(answer="2026-03-02 09:01:30"),                        # 12 answer after end
        ast(billsec="12.5x"),                                     # 13 not a number
    ]
    imp = read_cdrs(write(tmp_path, "Master.csv", lines))
    rep = imp.report
    check_invariant(rep)
    assert rep.rows_read == 12  # the blank line is not a row, but is reported
    assert "1 blank lines skipped (not rows)" in rep.notes
    rej = by_line(rep)
    assert sorted(rej) == [2, 3, 4, 5, 6, 7, 9, 12, 13]
    assert "field 10 (start)" in rej[2] and "'2026-02-30 10:00:00'" in rej[2]
    assert "field 12 (end)" in rej[3] and "'yesterday'" in rej[3]
    assert "field 14 (billsec) missing" in rej[4]
    assert "duration" in rej[5] and "negative" in rej[5]
    assert "disposition" in rej[6] and "'MAYBE'" in rej[6]
    assert "quot" in rej[7]
    assert "end before start" in rej[9]
    assert "answer after end" in rej[12]
    assert "field 14 (billsec)" in rej[13] and "'12.5x'" in rej[13]
    t = imp.cdrs
    assert len(t) == 3
    assert t["answer"][2] == t["end"][2] - 60  # answer = end - billsec
    assert any("answer time derived" in n for n in rep.notes)
    assert [r.line for r in rep.rejected] == sorted(r.line for r in rep.rejected)


def test_asterisk_strict_raises_at_first_rejection(tmp_path: Path) -> None:
    path = write(tmp_path, "Master.csv", [ast(), ast(), ast(end="bad"), ast(duration="x")])
    with pytest.raises(CDRFormatError) as err:
        read_cdrs(path, strict=True)
    msg = str(err.value)
    assert f"{path}:3:" in msg and "field 12 (end)" in msg and "'bad'" in msg
    assert "strict" in msg
    assert read_cdrs(path).report.accepted == 2  # not strict: 2 accepted, 2 rejected


def test_asterisk_crlf_and_latin1(tmp_path: Path) -> None:
    good = ast().encode()
    latin = ast(clid='"Jos\xe9 <123>"').encode("latin-1")  # a Latin-1 byte, not UTF-8
    utf8 = ast(clid='"Zoë <9>"', dst="8610").encode("utf-8")
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\r\n".join([good, latin, utf8]) + b"\r\n")
    imp = read_cdrs(path)
    assert imp.report.accepted == 3 and not imp.report.rejected
    assert any("Latin-1" in n and "line 2" in n for n in imp.report.notes)
    assert imp.cdrs.labels("destination").tolist() == ["8613812345678"] * 2 + ["8610"]


def test_asterisk_unanswered_billsec_is_not_billed(tmp_path: Path) -> None:
    # an IVR answered the caller's leg: billsec 30, but the callee never answered
    path = write(tmp_path, "m.csv", [ast(duration="40", billsec="30", disposition="NO ANSWER"),
                                     ast(duration="3", billsec="0", disposition="BUSY",
                                         answer="")])
    imp = read_cdrs(path)
    t = imp.cdrs
    assert t["billsec"].tolist() == [0, 0] and t["talk_s"].tolist() == [0.0, 0.0]
    assert np.isnan(t["answer"]).all()
    assert t.labels("disposition").tolist() == ["NO ANSWER", "BUSY"]
    assert t["end"][0] - t["start"][0] == 66.0  # timestamps, not the IVR's billsec
    assert any("1 unanswered rows" in n for n in imp.report.notes)


def test_asterisk_template_of_freeswitch_with_hangup_causes(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", [
        ast(disposition="NORMAL_CLEARING"), ast(disposition="USER_BUSY", answer=""),
        ast(disposition="NO_ANSWER", answer=""), ast(disposition="congestion", answer="")])
    t = read_cdrs(path, format="asterisk").cdrs
    assert t.labels("disposition").tolist() == ["ANSWERED", "BUSY", "NO ANSWER", "FAILED"]


def test_asterisk_tz_and_epoch(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", [ast(start="2026-03-03 23:59:59", answer="",
                                         end="2026-03-04 00:00:20", billsec="0",
                                         duration="21", disposition="NO ANSWER"), ast()])
    imp = read_cdrs(path)
    assert imp.cdrs.epoch == "2026-03-02T00:00:00"  # midnight of the earliest start
    assert imp.cdrs.tz == "UTC" and any("no time zone" in n for n in imp.report.notes)
    assert imp.cdrs["start"].tolist() == [86400 * 2 - 1, 9 * 3600]
    imp = read_cdrs(path, tz="Asia/Shanghai")
    assert imp.cdrs.tz == "Asia/Shanghai" and imp.cdrs["start"][1] == 9 * 3600


# -- FreeSWITCH -------------------------------------------------------------------------
def fs(cause: str = "NORMAL_CLEARING", answer: str = "2026-03-02 09:00:06",
       start: str = "2026-03-02 09:00:00", end: str = "2026-03-02 09:01:06",
       duration: str = "66", billsec: str = "60", dest: str = "13812345678",
       uuid: str = "a1", width: int = 15) -> str:
    fields = ['"Outbound"', '"4008001234"', f'"{dest}"', '"default"', f'"{start}"',
              f'"{answer}"', f'"{end}"', f'"{duration}"', f'"{billsec}"', f'"{cause}"',
              f'"{uuid}"', '""', '"1002"', '"PCMU"', '"PCMU"', '"ua"', '"x"', '"y"', '"z"',
              '"w"']
    return ",".join(fields[:width])


@pytest.mark.parametrize(("cause", "stamped", "expected"), [
    ("NORMAL_CLEARING", True, "ANSWERED"),
    ("NORMAL_CLEARING", False, "NO ANSWER"),        # caller gave up before answer
    ("ORIGINATOR_CANCEL", False, "NO ANSWER"),
    ("NO_ANSWER", False, "NO ANSWER"),
    ("NO_USER_RESPONSE", True, "NO ANSWER"),        # an answer stamp from an IVR leg
    ("USER_BUSY", False, "BUSY"),
    ("USER_BUSY", True, "BUSY"),
    ("CALL_REJECTED", False, "FAILED"),
    ("UNALLOCATED_NUMBER", False, "FAILED"),
    ("RECOVERY_ON_TIMER_EXPIRE", False, "FAILED"),
    ("RECOVERY_ON_TIMER_EXPIRE", True, "ANSWERED"),  # session timer ended a live call
    ("MEDIA_TIMEOUT", True, "ANSWERED"),
    ("17", False, "BUSY"),                           # Q.850 number
    ("16", True, "ANSWERED"),
])
def test_hangup_cause_rule(cause: str, stamped: bool, expected: str) -> None:
    from sim.cdr import DISPOSITIONS
    code = cause_dispositions([cause], np.array([stamped]))[0]
    assert DISPOSITIONS[code] == expected


def test_freeswitch_example_template(tmp_path: Path) -> None:
    lines = [
        fs(),
        fs(cause="NO_ANSWER", answer="", billsec="0", duration="30",
           end="2026-03-02 09:00:30", uuid="a2"),
        fs(width=13, uuid="a3"),                   # older template, no codecs
        fs(width=20, uuid="a4"),                   # snom: 20 fields, extras ignored
        fs(cause="not a cause!", uuid="a5"),       # rejected
        fs(width=9, uuid="a6"),                    # rejected: too few fields
        fs(dest="&park()", uuid="a1"),             # originate to an app; repeated uuid
    ]
    imp = read_cdrs(write(tmp_path, "Master.csv", lines))
    rep = imp.report
    check_invariant(rep)
    assert rep.format == "freeswitch" and rep.accepted == 5
    rej = by_line(rep)
    assert "field 10 (hangup_cause)" in rej[5] and "'not a cause!'" in rej[5]
    assert "expected 13 to 15 fields" in rej[6]
    t = imp.cdrs
    assert t.labels("disposition").tolist() == ["ANSWERED", "NO ANSWER", "ANSWERED",
                                                 "ANSWERED", "ANSWERED"]
    assert t.labels("destination").tolist()[-1] == "4008001234"
    notes = " | ".join(rep.notes)
    assert "more than 15 fields" in notes and "repeat a uuid" in notes
    assert "dialled an application" in notes


def test_freeswitch_spreadsheet_timestamps(tmp_path: Path) -> None:
    # re-saved by a spreadsheet: quotes stripped, "2020/2/10 22:41", seconds lost
    lines = ["Outbound Call,1002,&,default,2020/2/10 22:41,2020/2/10 22:41,2020/2/10 22:41,"
             "11,9,NORMAL_CLEARING,d80e22e0,,1002,PCMU,PCMU",
             ",0,1002,default,2020/2/10 22:41,,2020/2/10 22:41,2,0,NO_USER_RESPONSE,"
             "f1542038,,,,"]
    imp = read_cdrs(write(tmp_path, "fs.csv", lines), format="auto", direction="all")
    assert imp.report.format == "freeswitch" and imp.report.accepted == 2
    t = imp.cdrs
    start = 22 * 3600 + 41 * 60
    assert t["start"].tolist() == [start, start]
    assert t["answer"][0] == start + 2 and t["end"].tolist() == [start + 11, start + 2]
    assert t["billsec"].tolist() == [9, 0]
    assert any("without seconds" in n for n in imp.report.notes)


# -- mapped -----------------------------------------------------------------------------
MAPPING = {"start": "Begin", "billsec": "Billed", "disposition": "Status",
           "destination": "Number", "duration": "Total"}


def test_mapped_with_derivations_and_null(tmp_path: Path) -> None:
    lines = ["Id,Begin,Number,Total,Billed,Status,Agent Name",
             "1,2026-03-02 09:00:00,8613800000001,70,62,ANSWERED,Ann",
             "2,2026-03-02 09:05:00,NULL,25,0,NO ANSWER,",
             "3,NULL,8613800000003,5,0,BUSY,Bob",          # rejected: no start
             "4,2026-03-02 09:06:00,8613800000004,5,0,busy",  # rejected: 6 fields
             "5,2026-03-02 09:07:00,8613800000005,-3,0,FAILED,Cy",  # rejected: negative
             "6,2026-03-02 09:08:00,8613800000006,9,NULL,ANSWERED,Di"]  # no billed time
    imp = read_cdrs(write(tmp_path, "export.csv", lines), mapping=MAPPING,
                    tz="Europe/London")
    rep = imp.report
    check_invariant(rep)
    assert rep.format == "mapped" and rep.accepted == 2
    rej = by_line(rep)
    assert sorted(rej) == [4, 5, 6, 7]
    assert "start time missing" in rej[4]
    assert "expected 7 fields as in the header (line 1), found 6" in rej[5]
    assert "duration" in rej[6] and "negative" in rej[6]
    assert "answered call without billsec" in rej[7]
    assert dict(rep.mapping) == MAPPING
    assert any("1 columns not used, ignored: Agent Name" in n for n in rep.notes)
    assert any("the export's own call id: column 'Id'" in n for n in rep.notes)
    t = imp.cdrs
    assert t["end"].tolist() == [9 * 3600 + 70, 9 * 3600 + 300 + 25]
    assert t["answer"][0] == 9 * 3600 + 8  # end - billsec
    assert t.labels("destination").tolist() == ["8613800000001", ""]  # NULL = unknown
    assert t.tz == "Europe/London"


def test_mapped_hangup_cause_and_case_insensitive_headers(tmp_path: Path) -> None:
    lines = ["start_stamp,answer_stamp,end_stamp,billsec,hangup_cause",
             "2026-03-02 09:00:00,2026-03-02 09:00:05,2026-03-02 09:00:35,30,NORMAL_CLEARING",
             "2026-03-02 09:01:00,,2026-03-02 09:01:20,0,NO_ANSWER"]
    imp = read_cdrs(write(tmp_path, "fs_db.csv", lines), mapping={
        "start": "START_STAMP", "answer": "answer_stamp", "end": "end_stamp",
        "billsec": "billsec", "hangup_cause": "hangup_cause"})
    assert imp.cdrs.labels("disposition").tolist() == ["ANSWERED", "NO ANSWER"]
    assert imp.cdrs["ring_s"].tolist() == [5.0, 20.0]


def test_mapping_errors_are_clear(tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", ["Begin,Number,Total,Billed,Status",
                                          "2026-03-02 09:00:00,1,10,5,ANSWERED"])
    with pytest.raises(CDRFormatError) as err:
        read_cdrs(path, mapping={**MAPPING, "start": "Begn", "strat": "Begin"})
    msg = str(err.value)
    assert "did you mean 'Begin'" in msg and "did you mean 'start'" in msg
    with pytest.raises(CDRFormatError, match="needs 'disposition'"):
        read_cdrs(path, mapping={"start": "Begin", "billsec": "Billed", "duration": "Total"})
    with pytest.raises(CDRFormatError, match="needs 'billsec'"):
        read_cdrs(path, mapping={"start": "Begin", "disposition": "Status",
                                 "duration": "Total"})
    with pytest.raises(CDRFormatError, match="mapping"):
        read_cdrs(path, format="mapped")  # no mapping, no known header
    with pytest.raises(CDRFormatError, match="header CSV"):
        read_cdrs(path, format="asterisk", mapping=MAPPING)
    with pytest.raises(CDRFormatError, match="matches no known export"):
        read_cdrs(path)  # auto: a header CSV nobody knows


def test_known_headers_need_no_mapping(tmp_path: Path) -> None:
    grandstream = write(tmp_path, "gs.csv", [
        "Account Code,Caller Number,Callee Number,Context,Start Time,Answer Time,End Time,"
        "Call Time,Talk Time,Disposition,Unique ID",
        ",900,785165574,ext,2026-07-03 07:07:54,2026-07-03 07:08:04,2026-07-03 07:08:04,10,0,"
        "NO ANSWER,1.1",
        ",884,780203305,ext,2026-07-03 07:17:49,,,6,0,FAILED,1.2",
        ",884,780203305,ext,2026-07-03 07:20:00,2026-07-03 07:20:10,2026-07-03 07:21:10,70,"
        "60,ANSWERED,1.3"], newline="\r\n")
    imp = read_cdrs(grandstream)
    assert imp.report.format == "mapped" and imp.report.accepted == 3
    assert any("Grandstream" in n for n in imp.report.notes)
    assert imp.cdrs["end"][1] - imp.cdrs["start"][1] == 6  # derived from Call Time
    dump = write(tmp_path, "pbx.csv", [
        "AcctId,clid,src,dst,calldate,duration,billsec,disposition,uniqueid",
        '1,""Name" <1115>",1115,2485051470,"2018-11-29 20:19:34",37,32,ANSWERED,1.0',
        "2,NULL,1115,2488417152,2018-11-29 20:20:17,21,0,NO ANSWER,1.1"])
    imp = read_cdrs(dump)
    assert imp.report.accepted == 2 and any("Asterisk CDR table" in n for n in imp.report.notes)
    assert imp.cdrs["answer"][0] == imp.cdrs["start"][0] + 5  # end - billsec


# -- detection --------------------------------------------------------------------------
def test_detection_of_each_format(tmp_path: Path) -> None:
    assert read_cdrs(write(tmp_path, "a.csv", [ast()])).report.format == "asterisk"
    assert read_cdrs(write(tmp_path, "f.csv", [fs()])).report.format == "freeswitch"
    path = write(tmp_path, "junk.csv", ["hello,world", "1,2"])
    with pytest.raises(CDRFormatError, match="matches no known export"):
        read_cdrs(path)
    path = write(tmp_path, "junk2.csv", ["1,2,3", "4,5,6"])
    with pytest.raises(CDRFormatError) as err:
        read_cdrs(path)
    assert "cannot tell the CDR format" in str(err.value) and "line 1 has 3 fields" in str(
        err.value)


def test_blocks_with_and_without_optional_fields(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # a 16-field block then an 18-field block with dialsim userfields: columns that only
    # some blocks have are missing (defaults) in the others
    from sim.cdrio import _text
    uf = ('"9"', '"lead=5;att=2;agent=3;by=person;amd=none;ab=0;hup=agent;res=converted;'
          'stage=close;nt=mobile;seg=warm"')
    lines = [ast(), ast(), ast(tail=uf), ast(tail=uf)]
    monkeypatch.setattr(_text, "BLOCK_BYTES", len(lines[0]) * 2 + 2)
    t = read_cdrs(write(tmp_path, "m.csv", lines)).cdrs
    assert t["call_id"].tolist() == [0, 1, 9, 9]
    assert t["lead_id"].tolist() == [-1, -1, 5, 5]
    assert t.labels("stage").tolist() == ["", "", "close", "close"]
    assert t.labels("answered_by").tolist() == ["unknown", "unknown", "person", "person"]
