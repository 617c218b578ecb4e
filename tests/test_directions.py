"""Billable legs: every imported row's direction, the default outbound selection, the
count invariant with exclusions, --where, partial mappings, and charges that join back.

Fixtures are synthetic exports in each format, written here: inbound calls from a
trunk into IVRs, queues and ring groups (with Local-channel and loser legs), internal
extension calls, conference legs, and outbound legs through a trunk.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from sim.cdrio import read_cdrs, write_cdrs
from sim.cli import main
from sim.errors import CDRFormatError

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "scenarios" / "plans" / "china.toml"


def _csv_line(fields: list[object]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="", quoting=csv.QUOTE_NONNUMERIC).writerow(fields)
    return out.getvalue()


def ast_row(src: str, dst: str, dcontext: str, channel: str, dstchannel: str, lastapp: str,
            lastdata: str, uid: str, disposition: str = "ANSWERED", talk: int = 30,
            userfield: str = "") -> str:
    """An Asterisk cdr_csv line with 21 fields (newcdrcolumns)."""
    answered = disposition == "ANSWERED"
    return _csv_line([
        "", src, dst, dcontext, f'"{src}" <{src}>', channel, dstchannel, lastapp, lastdata,
        "2026-03-02 10:00:00", "2026-03-02 10:00:05" if answered else "",
        f"2026-03-02 10:00:{5 + talk:02d}" if answered else "2026-03-02 10:00:20",
        5 + talk if answered else 20, talk if answered else 0, disposition,
        "DOCUMENTATION", uid, userfield, "", uid.split("-")[0], 0])


#: (line text, expected direction)
ASTERISK_ROWS = [
    # an inbound call from the PSTN trunk, answered by the IVR
    (ast_row("89242562352", "211474", "from-pstn", "SIP/211474-00000000", "", "Hangup", "",
             "1706368044.0"), "inbound"),
    # the same caller's call rings a group: the trunk leg (to a Local channel) ...
    (ast_row("89242562352", "211553", "stadion-pstn", "SIP/211553-00000003",
             "Local/ch1@TimeDelay-00000000;1", "Dial", "Local/ch1@TimeDelay", "1706369600.6",
             "NO ANSWER"), "inbound"),
    # ... its Local leg to extension 301 (a ring-group loser leg) ...
    (ast_row("89242562352", "ch1", "TimeDelay", "Local/ch1@TimeDelay-00000000;2",
             "SIP/301-00000007", "Dial", "SIP/301,15", "1706369601.7", "NO ANSWER"),
     "internal"),
    # ... and its Local leg to extensions on a peer PBX (a SIP peer with a name)
    (ast_row("89242562352", "ch2", "TimeDelay", "Local/ch2@TimeDelay-00000001;2",
             "SIP/stadionpbx-00000008", "Dial", "SIP/154@stadionpbx&SIP/200@stadionpbx,30",
             "1706369601.8", "NO ANSWER"), "internal"),
    # an extension calls another extension
    (ast_row("1101", "1103", "default", "PJSIP/1101-000001", "PJSIP/1103-000002", "Dial",
             "PJSIP/1103,30", "1706369700.1"), "internal"),
    # an extension joins a conference that holds a trunk channel
    (ast_row("1113", "6112", "default", "PJSIP/1113-00000013b", "PJSIP/VIOrig-00000141",
             "ConfBridge", "6112,,,", "1706369800.1"), "internal"),
    # an agent dials a customer through the trunk: answered, then unanswered
    (ast_row("3318", "12488417152", "default", "PJSIP/3318-00000200",
             "PJSIP/VIOrig-00000201", "Dial", "PJSIP/12488417152@VIOrig,,XL", "1706369900.1"),
     "outbound"),
    (ast_row("3318", "12485051470", "default", "PJSIP/3318-00000202",
             "PJSIP/thinQ-00000203", "Dial", "PJSIP/12485051470@thinQ,,XL", "1706369910.1",
             "NO ANSWER"), "outbound"),
    # click-to-call through a Local channel, out through a DAHDI line
    (ast_row("1115", "013800138000", "local-call", "Local/013800138000@local-call-01;2",
             "DAHDI/g1-1", "Dial", "DAHDI/g1/013800138000", "1706369920.1"), "outbound"),
    # a dialer originated the call: the A-leg is the trunk channel to the callee
    (ast_row("4008001234", "13812345678", "from-dialer", "SIP/carrier-00000301", "", "AGI",
             "agi://dialer", "1706369930.1"), "outbound"),
    # a leg with no channels and a context that says nothing
    (ast_row("", "s", "misc", "", "", "NoOp", "", "1706369940.1"), "unknown"),
    # dialsim's own export: its userfield
    (ast_row("", "13800138000", "dialsim", "", "", "Dial", "", "12",
             userfield="lead=5;att=1;agent=3;by=person;amd=none;ab=0;hup=agent;"
             "res=converted;stage=close;nt=mobile;seg=warm"), "outbound"),
]

GS_HEADER = ("Account Code,Caller Number,Callee Number,Context,Source Channel,Dest. Channel,"
             "Last app.,Last date,Start Time,Answer Time,End Time,Call Time,Talk Time,"
             "Disposition,Unique ID,Log Userfield,Action Type,Source Trunk Name,"
             "Destination Trunk Name")


def gs_row(callee: str, context: str, channel: str, dstchannel: str, app: str, uid: str,
           userfield: str, action: str, src_trunk: str, dst_trunk: str,
           disposition: str = "ANSWERED", talk: int = 20) -> str:
    answered = disposition == "ANSWERED"
    return ",".join([
        "", "900284351", callee, context, channel, dstchannel, app, "x",
        "2026-07-03 07:07:54", "2026-07-03 07:08:04" if answered else "",
        f"2026-07-03 07:08:{4 + talk:02d}" if answered else "2026-07-03 07:08:04",
        str(10 + talk if answered else 10), str(talk if answered else 0), disposition, uid,
        userfield, action, src_trunk, dst_trunk])


GS_ROWS = [
    (gs_row("785165574", "ext-did-1", "PJSIP/trunk_1-00025a53", "", "ForkCDR",
            "1783044474.621781", "Inbound", "DIAL", "EASTTELECOM", "", "NO ANSWER"), "inbound"),
    (gs_row("7001", "ivr-2", "PJSIP/trunk_1-00025a53", "", "ReadExten", "1783044474.621781",
            "Inbound", "IVR[7001]", "EASTTELECOM", ""), "inbound"),
    (gs_row("6500", "queue-1", "PJSIP/trunk_1-00025a53", "PJSIP/1001-00000001", "Queue",
            "1783044474.621782", "Inbound", "QUEUE[6500]", "EASTTELECOM", ""), "inbound"),
    (gs_row("1002", "from-internal", "PJSIP/1001-00000002", "PJSIP/1002-00000003", "Dial",
            "1783044500.621800", "Internal", "DIAL", "", ""), "internal"),
    (gs_row("998901234567", "from-internal", "PJSIP/1001-00000004", "PJSIP/trunk_2-0000005",
            "Dial", "1783044600.621900", "Outbound", "DIAL", "", "UZTEL"), "outbound"),
    (gs_row("998907654321", "from-internal", "PJSIP/1003-00000006", "PJSIP/trunk_2-0000007",
            "Dial", "1783044700.622000", "Outbound", "DIAL", "", "UZTEL", "NO ANSWER"),
     "outbound"),
    (gs_row("998900000001", "from-internal", "PJSIP/1003-00000008", "PJSIP/trunk_2-0000009",
            "Dial", "1783044800.622100", "Outbound", "DIAL", "", "UZTEL", talk=7), "outbound"),
]

PBX_HEADER = ("AcctId,clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,calldate,"
              "duration,billsec,disposition,uniqueid,trunk,did")


def pbx_row(acct: int, dst: str, dcontext: str, channel: str, dstchannel: str, app: str,
            trunk: str, did: str, disposition: str = "ANSWERED", billsec: int = 40) -> str:
    return ",".join([str(acct), '"A" <1>', "1112", dst, dcontext, channel, dstchannel, app,
                     "x", "2018-11-29 10:00:00", str(billsec + 5),
                     str(billsec if disposition == "ANSWERED" else 0), disposition,
                     f"1543500000.{acct}", trunk, did])


PBX_ROWS = [
    (pbx_row(1, "2485551234", "default", "PJSIP/1112-0001", "PJSIP/thinQ-0002", "Dial", "thinQ",
             "NULL"), "outbound"),
    (pbx_row(2, "2485551235", "default", "PJSIP/1112-0003", "PJSIP/VITerm-0004", "Dial",
             "VITerm", "NULL", "NO ANSWER"), "outbound"),
    (pbx_row(3, "1141", "VIOrig", "PJSIP/VIOrig-0005", "Local/1141@call-0006", "Queue", "NULL",
             "2485550000"), "inbound"),
    (pbx_row(4, "5001", "VIOrig", "PJSIP/VIOrig-0007", "NULL", "AGI", "NULL", "NULL"),
     "inbound"),
    (pbx_row(5, "1103", "default", "PJSIP/1101-0008", "PJSIP/1103-0009", "Dial", "NULL",
             "NULL"), "internal"),
    (pbx_row(6, "6112", "default", "PJSIP/1106-0010", "PJSIP/VIOrig-0011", "ConfBridge",
             "NULL", "NULL"), "internal"),
]

FS_ROWS = [  # example template, 15 fields
    ("Outbound Call,1002,&park(),default,2020-02-10 22:41:00,2020-02-10 22:41:02,"
     "2020-02-10 22:41:11,11,9,NORMAL_CLEARING,d80e22e0,,1002,PCMU,PCMU", "outbound"),
    ("Agent,1001,13800138000,default,2020-02-10 22:42:00,2020-02-10 22:42:05,"
     "2020-02-10 22:43:00,60,55,NORMAL_CLEARING,d80e22e1,,1001,PCMU,PCMU", "outbound"),
    ("Caller,13900139000,4008001234,public,2020-02-10 22:44:00,2020-02-10 22:44:01,"
     "2020-02-10 22:45:00,60,59,NORMAL_CLEARING,d80e22e2,,,PCMU,PCMU", "inbound"),
    ("Agent,1001,1002,default,2020-02-10 22:46:00,,2020-02-10 22:46:20,20,0,NO_ANSWER,"
     "d80e22e3,,1001,PCMU,PCMU", "internal"),
]


def write(tmp_path: Path, name: str, lines: list[str], header: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(([header] if header else []) + lines) + "\n", encoding="utf-8")
    return path


def directions_by_line(imp: object) -> dict[int, str]:
    t = imp.cdrs  # type: ignore[attr-defined]
    return dict(zip(imp.source_line.tolist(),  # type: ignore[attr-defined]
                    t.labels("direction").tolist(), strict=True))


FORMATS = {
    "asterisk": (ASTERISK_ROWS, None, 1),
    "grandstream": (GS_ROWS, GS_HEADER, 2),
    "pbx_dump": (PBX_ROWS, PBX_HEADER, 2),
    "freeswitch": (FS_ROWS, None, 1),
}


def fixture(tmp_path: Path, name: str) -> tuple[Path, dict[int, str]]:
    rows, header, first = FORMATS[name]
    path = write(tmp_path, f"{name}.csv", [r for r, _ in rows], header)
    return path, {first + i: d for i, (_, d) in enumerate(rows)}


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_rows_direction(tmp_path: Path, name: str) -> None:
    path, expected = fixture(tmp_path, name)
    imp = read_cdrs(path, direction="all")
    assert imp.report.accepted == len(expected) and not imp.report.rejected
    assert directions_by_line(imp) == expected


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("direction", ["outbound", "inbound", "internal"])
def test_selection_and_the_count_invariant(tmp_path: Path, name: str, direction: str) -> None:
    path, expected = fixture(tmp_path, name)
    imp = read_cdrs(path, direction=direction)  # type: ignore[arg-type]
    rep = imp.report
    keep = {direction} | ({"unknown"} if direction == "outbound" else set())
    lines = sorted(ln for ln, d in expected.items() if d in keep)
    assert sorted(imp.source_line.tolist()) == lines
    assert rep.rows_read == len(expected)
    assert rep.rows_read == rep.accepted + len(rep.rejected) + rep.n_excluded
    excluded = dict(rep.excluded)
    for d in {"outbound", "inbound", "internal", "unknown"} - keep:
        n = sum(v == d for v in expected.values())
        hits = [k for k in excluded if k.startswith(d)]
        assert (sum(excluded[k] for k in hits) if hits else 0) == n, (d, excluded)
    data = rep.to_dict()
    assert data["excluded"] == rep.n_excluded and data["selected_direction"] == direction
    assert sum(g["rows"] for g in data["excluded_by_reason"]) == rep.n_excluded


def test_unknown_direction_is_priced_with_a_loud_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.csv", ["2026-03-02 10:00:00,65,60,ANSWERED,1",
                                         "2026-03-02 10:05:00,20,0,NO ANSWER,2"],
                 header="Begin,Total,Billed,Status,Ref")
    imp = read_cdrs(path, mapping={"start": "Begin", "duration": "Total", "billsec": "Billed",
                                   "disposition": "Status"})
    assert imp.report.accepted == 2 and imp.report.n_excluded == 0
    assert imp.cdrs.labels("direction").tolist() == ["unknown", "unknown"]
    (warning,) = imp.report.warnings
    assert "direction cannot be told for 2 of 2 rows" in warning
    assert imp.source_id.tolist() == ["", ""]  # 'Ref' is not a call id header
    assert imp.source_line.tolist() == [2, 3]


def test_native_files_are_dialsims_own_outbound_legs(tmp_path: Path) -> None:
    path, _ = fixture(tmp_path, "grandstream")
    table = read_cdrs(path, direction="all").cdrs
    native = tmp_path / "native.csv"
    write_cdrs(table, native)
    back = read_cdrs(native, direction="all")
    assert back.cdrs.labels("direction").tolist() == table.labels("direction").tolist()
    assert read_cdrs(native).report.accepted == 3  # the outbound legs only
    # a native file without the direction column (older files) is all outbound
    text = native.read_text().splitlines()
    at = next(i for i, ln in enumerate(text) if ln.startswith("call_id,"))
    cut = [",".join(ln.split(",")[:-1]) if i >= at else ln for i, ln in enumerate(text)]
    old = write(tmp_path, "old.csv", cut)
    assert set(read_cdrs(old).cdrs.labels("direction").tolist()) == {"outbound"}


def test_where_on_the_files_own_columns(tmp_path: Path) -> None:
    path, expected = fixture(tmp_path, "pbx_dump")
    imp = read_cdrs(path, where=["trunk=thinQ"])
    assert imp.source_line.tolist() == [2]
    assert dict(imp.report.excluded) == {
        "inbound legs (came in from a trunk or a DID: the carrier does not bill them as "
        "outbound calls)": 2,
        "internal legs (extension calls, ring-group and Local-channel legs: they never "
        "leave the PBX)": 2,
        "where trunk=thinQ: not matched": 1}
    imp = read_cdrs(path, direction="all", where=["disposition!=ANSWERED", "DCONTEXT=default"])
    assert imp.source_line.tolist() == [3]
    ast, _ = fixture(tmp_path, "asterisk")
    imp = read_cdrs(ast, direction="all", where=["dcontext=TimeDelay"])
    assert imp.source_line.tolist() == [3, 4]
    with pytest.raises(CDRFormatError, match=r"no column 'dcontex'.*did you mean 'dcontext'"):
        read_cdrs(ast, where=["dcontex=x"])
    with pytest.raises(CDRFormatError, match="COLUMN=VALUE"):
        read_cdrs(ast, where=["dcontext"])


def test_partial_map_merges_with_the_preset(tmp_path: Path) -> None:
    path, _ = fixture(tmp_path, "grandstream")
    preset = read_cdrs(path)
    full = read_cdrs(path, mapping={
        "start": "Start Time", "answer": "Answer Time", "end": "End Time",
        "duration": "Call Time", "billsec": "Talk Time", "disposition": "Disposition",
        "destination": "Callee Number"})
    partial = read_cdrs(path, mapping={"billsec": "Talk Time"})
    for imp in (full, partial):
        for c in ("start", "answer", "end", "billsec", "disposition", "direction"):
            assert imp.cdrs[c].tolist() == preset.cdrs[c].tolist() or c in ("answer",), c
        assert imp.cdrs.labels("destination").tolist() == \
            preset.cdrs.labels("destination").tolist()
        assert imp.source_line.tolist() == preset.source_line.tolist()
    assert any("kept from the preset" in n for n in partial.report.notes)
    # a partial map that changes a column: Call Time read as the billed time
    other = read_cdrs(path, mapping={"billsec": "Call Time"})
    assert other.cdrs["billsec"].tolist() != preset.cdrs["billsec"].tolist()


def test_missing_column_names_the_candidates(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", ["2026-03-02 10:00:00,60,ANSWERED"],
                 header="Begin,Billsec,Status")
    with pytest.raises(CDRFormatError) as err:
        read_cdrs(path, mapping={"start": "Begin", "billsec": "Billsec"})
    assert "did you mean --map disposition=Status?" in str(err.value)
    with pytest.raises(CDRFormatError) as err:
        read_cdrs(path, mapping={"disposition": "Status", "billsec": "Billsec"})
    assert "did you mean --map start=Begin" in str(err.value)


def test_charges_join_back_one_to_one(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, expected = fixture(tmp_path, "grandstream")
    assert main(["rate", str(path), "--plans", str(CHINA), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "7 rows read = 3 accepted + 0 rejected + 4 excluded" in out
    assert "excluded 3 rows: inbound legs" in out and "excluded 1 rows: internal legs" in out
    with (tmp_path / "o" / "charges.csv").open() as fh:
        charges = list(csv.DictReader(fh))
    with path.open() as fh:
        export = list(csv.DictReader(fh))  # line = index + 2 (header on line 1)
    keys = [(int(r["source_line"]), r["source_id"]) for r in charges]
    assert len(set(keys)) == len(keys) == 3
    assert sorted(ln for ln, _ in keys) == [ln for ln, d in expected.items() if d == "outbound"]
    for (line, uid), r in zip(keys, charges, strict=True):
        row = export[line - 2]
        assert row["Unique ID"] == uid and row["Log Userfield"] == "Outbound"
        # the billed seconds of a per-second plan are the export's own Talk Time
        assert int(r["cn-per-second:billed_s"]) == int(row["Talk Time"])
    assert "n/a" in out  # contacts and conversions are unknown for a foreign export


def test_rate_direction_and_where_options(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = fixture(tmp_path, "asterisk")
    assert main(["rate", str(path), "--plans", str(CHINA), "--direction", "inbound"]) == 0
    out = capsys.readouterr().out
    assert "12 rows read = 2 accepted + 0 rejected + 10 excluded" in out
    assert "legs by direction: 5 outbound, 2 inbound, 4 internal, 1 unknown" in out
    assert main(["rate", str(path), "--plans", str(CHINA)]) == 0
    out = capsys.readouterr().out
    assert "12 rows read = 6 accepted" in out and "WARNING: direction cannot be told for 1" in out
    assert main(["rate", str(path), "--plans", str(CHINA), "--where", "nope=1"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err


# -- the real exports in ../shared (not copied into the repo) -------------------------------
@pytest.mark.parametrize("name, counts", [
    ("grandstream_ucm_cdr.csv", {"outbound": 1309, "inbound": 3639, "internal": 36}),
    ("pbxware_asterisk_cdr_table.csv", {"outbound": 208, "inbound": 224, "internal": 568}),
    ("asterisk_cdr_csv_Master.csv", {"inbound": 73, "internal": 11}),
])
def test_reference_samples_billable_legs(shared_dir: Path, name: str,
                                         counts: dict[str, int]) -> None:
    path = shared_dir / "reference" / "cdr_samples" / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    imp = read_cdrs(path)
    rep = imp.report
    assert dict(rep.directions) == counts  # the samples README: 1309 / 208 trunk legs
    assert rep.accepted == counts.get("outbound", 0) and not rep.warnings
    assert rep.rows_read == rep.accepted + len(rep.rejected) + rep.n_excluded


def test_fast_path_tells_the_same_directions(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A PBX's regular Master.csv goes through the numpy fast path, which must tell every
    leg's direction (also those decided by lastdata) and keep the uniqueids as the csv
    path does."""
    from sim.cdrio import _read

    lines = [r for r, _ in ASTERISK_ROWS[:-1]]  # all but dialsim's own row
    path = write(tmp_path, "pbx.csv", lines)
    taken = []
    real = _read.parse_asterisk_bytes

    def spy(data: bytes, first: int, asm: object) -> object:
        result = real(data, first, asm)  # type: ignore[arg-type]
        taken.append(result is not None)
        return result

    monkeypatch.setattr(_read, "parse_asterisk_bytes", spy)
    fast = read_cdrs(path, direction="all")
    assert taken and all(taken)
    monkeypatch.setattr(_read, "_FAST_PATH", False)
    slow = read_cdrs(path, direction="all")
    expected = [d for _, d in ASTERISK_ROWS[:-1]]
    assert fast.cdrs.labels("direction").tolist() == expected
    assert slow.cdrs.labels("direction").tolist() == expected
    assert fast.source_id.tolist() == slow.source_id.tolist()
    assert fast.source_id[0] == "1706368044.0"
    assert fast.report.directions == slow.report.directions
