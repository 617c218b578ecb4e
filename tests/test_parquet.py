"""Parquet CDR tables: lossless round trip, row groups read chunk by chunk, clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.cdr import COLUMNS, CDRTable, empty_columns, encode, open_categories
from sim.cdrio import iter_cdrs, read_cdrs, write_cdrs
from sim.cdrio._parquet import write_parquet
from sim.cli import main
from sim.errors import CDRFormatError

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROOT = Path(__file__).resolve().parents[1]


def random_table(n: int, seed: int, n_dest: int = 3000) -> CDRTable:
    """Random values in every column: NaN times, every fixed label, many destinations,
    labels with commas, quotes and non-ASCII text, open categories in a random order."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    for c in COLUMNS:
        if c.kind == "float":
            x = rng.uniform(-1e6, 1e7, n) * rng.choice([1.0, 1e-7], n)
            x[rng.random(n) < 0.3] = np.nan
            cols[c.name][:] = x
        elif c.kind == "int":
            info = np.iinfo(np.dtype(c.dtype))
            cols[c.name][:] = rng.integers(info.min, info.max, n, dtype=c.dtype, endpoint=True)
        elif c.kind == "bool":
            cols[c.name][:] = rng.random(n) < 0.5
        elif c.vocabulary is not None:
            cols[c.name][:] = rng.integers(0, len(c.vocabulary), n)
    labels = {
        "destination": [f"86{i:07d}" for i in rng.permutation(n_dest)],
        "number": [f"+86 138 {i:05d}" for i in range(50)],
        "stage": ["greeting", 'say "hi", then', "offer; close=1", "终了"],
        "number_type": ["mobile", "landline"],
        "segment": ["warm", "b%c"],
    }
    cats = open_categories(**labels)
    for name, labs in cats.items():
        cols[name][:] = rng.integers(0, len(labs), n)
    return CDRTable(cols, cats, "2026-03-29T00:00:00", "Europe/London",
                    {"scenario": "random", "seed": seed, "nested": {"a": [1, 2]}})


def assert_identical(a: CDRTable, b: CDRTable) -> None:
    assert (len(a), a.tz, a.epoch) == (len(b), b.tz, b.epoch)
    assert dict(a.categories) == dict(b.categories)  # label order: codes are the same
    for c in COLUMNS:
        assert b[c.name].dtype == np.dtype(c.dtype), c.name
        if c.kind == "float":
            assert np.array_equal(a[c.name], b[c.name], equal_nan=True), c.name
        else:
            assert np.array_equal(a[c.name], b[c.name]), c.name


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 120), st.integers(0, 2**32), st.sampled_from([1, 7, 65536]))
def test_round_trip_is_lossless(tmp_path_factory: pytest.TempPathFactory, n: int,
                                seed: int, group: int) -> None:
    t = random_table(n, seed, n_dest=40 if group == 1 else 3000)
    path = tmp_path_factory.mktemp("pq") / "calls.parquet"
    write_parquet(t, path, row_group=group)
    imp = read_cdrs(path, direction="all")
    assert_identical(t, imp.cdrs)
    assert {k: imp.cdrs.meta[k] for k in t.meta} == dict(t.meta)
    assert imp.report.format == "parquet"
    assert imp.report.rows_read == imp.report.accepted == n
    assert imp.source_line is not None and imp.source_line.tolist() == list(range(1, n + 1))
    chunks = list(iter_cdrs(path, rows=group, direction="all"))
    assert all(len(c) <= group for c in chunks)
    if n:
        assert_identical(t, CDRTable.concat(chunks).with_meta())
        assert pq.ParquetFile(path).num_row_groups == -(-n // group)


def test_file_layout_reads_with_pyarrow_alone(tmp_path: Path) -> None:
    t = random_table(100, 1)
    path = tmp_path / "calls.parquet"
    sim.write_cdrs(t, path, format="parquet")
    assert path.read_bytes()[:4] == b"PAR1"
    table = pq.read_table(path)
    assert table.schema.field("destination").type == pa.dictionary(pa.int32(), pa.string())
    assert table.column("disposition").to_pylist()[:5] == t.labels("disposition")[:5].tolist()
    meta = json.loads(pq.ParquetFile(path).metadata.metadata[b"dialsim"])
    assert (meta["tz"], meta["epoch"], meta["rows"]) == ("Europe/London",
                                                          "2026-03-29T00:00:00", 100)
    assert meta["categories"]["destination"] == list(t.vocabulary("destination"))
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_direction_selection_counts_the_rows_left_out(tmp_path: Path) -> None:
    t = random_table(400, 2)
    path = tmp_path / "calls.parquet"
    write_cdrs(t, path, format="parquet")
    imp = read_cdrs(path)  # outbound (and unknown) legs by default, as for CSV
    d = t["direction"]
    kept = (d == encode("direction", "outbound")) | (d == encode("direction", "unknown"))
    assert imp.report.accepted == int(kept.sum())
    assert imp.report.rows_read == 400 == imp.report.accepted + imp.report.n_excluded
    assert imp.cdrs["call_id"].tolist() == t["call_id"][kept].tolist()
    assert imp.source_line is not None
    assert imp.source_line.tolist() == (np.flatnonzero(kept) + 1).tolist()
    streamed = CDRTable.concat(iter_cdrs(path, rows=33))
    assert streamed["call_id"].tolist() == imp.cdrs["call_id"].tolist()


def _truncated(tmp_path: Path, keep: float) -> Path:
    path = tmp_path / "calls.parquet"
    write_parquet(random_table(3000, 3), path, row_group=500)
    data = path.read_bytes()
    bad = tmp_path / "cut.parquet"
    bad.write_bytes(data[:int(len(data) * keep)])
    return bad


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_file_is_a_clear_error(tmp_path: Path, keep: float) -> None:
    bad = _truncated(tmp_path, keep)
    with pytest.raises(CDRFormatError, match=r"cut\.parquet: not a readable Parquet file "
                       r"\(truncated or corrupt\?\)"):
        read_cdrs(bad)
    with pytest.raises(CDRFormatError, match="cut.parquet"):
        list(iter_cdrs(bad))


def test_corrupt_row_group_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    write_parquet(random_table(3000, 4), path, row_group=500)
    data = bytearray(path.read_bytes())
    data[200:40000] = bytes(39800)  # the first row groups' pages zeroed, footer intact
    path.write_bytes(bytes(data))
    with pytest.raises(CDRFormatError, match="calls.parquet: Parquet row group 1 of 6 unreadable"):
        read_cdrs(path)


def test_truncated_file_exits_2_from_the_cli(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = _truncated(tmp_path, 0.5)
    code = main(["rate", str(bad), "--plans", str(ROOT / "scenarios/plans/china.toml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cut.parquet: not a readable Parquet file (truncated or corrupt?)" in err
    assert "Traceback" not in err


def test_a_foreign_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    with pytest.raises(CDRFormatError, match="other.parquet: a Parquet file, but not a "
                       "dialsim CDR table"):
        read_cdrs(path)


def test_without_pyarrow_the_error_names_the_extra(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(CDRFormatError, match=r"pip install 'dialsim\[parquet\]'"):
        write_cdrs(random_table(3, 5), tmp_path / "x.parquet", format="parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_dialsim_rate_rates_a_parquet_file(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from test_rate_cli import simulated

    cdrs = simulated(300)
    path = tmp_path / "calls.parquet"
    write_cdrs(cdrs, path, format="parquet")
    plans = ROOT / "scenarios/plans/china.toml"
    assert main(["rate", str(path), "--plans", str(plans)]) == 0
    out_pq = capsys.readouterr().out
    write_cdrs(cdrs, tmp_path / "calls.csv")
    assert main(["rate", str(tmp_path / "calls.csv"), "--plans", str(plans)]) == 0
    out_csv = capsys.readouterr().out
    assert "parquet CDRs: 300 rows read = 300 accepted" in out_pq
    # the same comparison table, whichever file it came from
    assert out_pq[out_pq.index("\n\n"):] == out_csv[out_csv.index("\n\n"):]


def test_run_writes_parquet_or_no_cdrs(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    scenario = str(ROOT / "scenarios/baseline.toml")
    base = ["run", scenario, "--quick", "--seed", "3", "-q"]
    assert main([*base, "--out", str(tmp_path / "csv")]) == 0
    assert main([*base, "--out", str(tmp_path / "pq"), "--cdr-format", "parquet"]) == 0
    assert main([*base, "--out", str(tmp_path / "none"), "--cdr-format", "none"]) == 0
    capsys.readouterr()
    for gone in ("cdrs.csv", "cdrs.meta.json", "agents.csv", "cdrs.parquet", "agents.parquet"):
        assert not (tmp_path / "none" / gone).exists(), gone
        assert (tmp_path / "pq" / gone).exists() == gone.endswith(".parquet"), gone
    from_csv = read_cdrs(tmp_path / "csv/cdrs.csv", direction="all").cdrs
    from_pq = read_cdrs(tmp_path / "pq/cdrs.parquet", direction="all").cdrs
    assert len(from_pq) > 100
    for c in COLUMNS:  # the CSV keeps microseconds; Parquet keeps the float64 itself
        x, y = from_csv[c.name], from_pq[c.name]
        if c.kind == "float":
            np.testing.assert_allclose(x, y, rtol=0, atol=5e-7, err_msg=c.name)
        elif c.kind == "cat":
            assert from_csv.labels(c.name).tolist() == from_pq.labels(c.name).tolist()
        else:
            assert np.array_equal(x, y), c.name
    agents = pq.read_table(tmp_path / "pq/agents.parquet").to_pydict()
    with open(tmp_path / "csv/agents.csv") as fh:
        rows = fh.read().splitlines()[1:]
    assert len(agents["agent_id"]) == len(rows)
    assert rows[0].split(",")[:2] == [str(agents["agent_id"][0]), agents["state"][0]]
    for name in ("costs.csv", "charges.csv"):
        assert (tmp_path / "csv" / name).read_bytes() == (tmp_path / "pq" / name).read_bytes()


def test_run_report_needs_csv_cdrs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROOT / "scenarios/baseline.toml"), "--quick", "--report",
                 "--cdr-format", "parquet", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--report reads cdrs.csv and agents.csv: it needs --cdr-format csv" in \
        capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_streaming_writer_merges_the_chunks_vocabularies(tmp_path: Path) -> None:
    from sim.cdrio._parquet import ParquetCDRWriter

    a, b = random_table(50, 6, n_dest=10), random_table(30, 7, n_dest=20)
    path = tmp_path / "calls.parquet"
    with ParquetCDRWriter(path, row_group=16) as writer:
        writer.write(a)
        writer.write(b)
    back = read_cdrs(path, direction="all").cdrs
    joined = CDRTable.concat([a, b])
    assert back.vocabulary("destination") == joined.vocabulary("destination")
    for c in COLUMNS:
        if c.kind == "cat":
            assert back.labels(c.name).tolist() == joined.labels(c.name).tolist(), c.name
    with pytest.raises(RuntimeError), ParquetCDRWriter(tmp_path / "half.parquet") as writer:
        writer.write(a)
        raise RuntimeError("the producer failed")
    assert not list(tmp_path.glob("*half*"))  # neither the file nor its temporary


@pytest.mark.parametrize("sidecar", [True, False])
def test_native_csv_chunks_equal_the_whole_import(tmp_path: Path, sidecar: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from test_cdrio import realistic_table

    import sim.cdrio._text as text

    monkeypatch.setattr(text, "BLOCK_BYTES", 8192)  # many blocks of lines
    t = realistic_table(1500, seed=5)
    t.columns["direction"][:20] = encode("direction", "inbound")
    path = tmp_path / "calls.csv"
    write_cdrs(t, path)
    data = path.read_bytes()
    at = data.index(b",ANSWERED,", len(data) // 2)
    path.write_bytes(data[:at] + b",ANSWERXD," + data[at + 10:])  # same size: one rejection
    if not sidecar:  # read whole then sliced: same chunks, same account
        (tmp_path / "calls.meta.json").unlink()
    whole = read_cdrs(path)
    if sidecar:  # streamed through the reader's blocks, never read whole
        import sim.cdrio._read as reader

        monkeypatch.delattr(reader, "read_cdrs")
    account: dict[str, object] = {}
    chunks = list(iter_cdrs(path, rows=100, account=account))
    assert max(map(len, chunks)) <= 100 and len(chunks) >= 15
    joined = CDRTable.concat(chunks)
    assert (joined.epoch, joined.tz) == (whole.cdrs.epoch, whole.cdrs.tz)
    for c in COLUMNS:
        if c.kind == "cat":
            assert joined.labels(c.name).tolist() == whole.cdrs.labels(c.name).tolist()
        else:
            assert np.array_equal(joined[c.name], whole.cdrs[c.name], equal_nan=True), c.name
    r = whole.report
    assert account["rows_read"] == r.rows_read == 1500
    assert (account["accepted"], account["rejected"]) == (r.accepted, len(r.rejected)) \
        == (1479, 1)
    assert account["excluded"] == dict(r.excluded)


def test_pandas_reads_the_file_with_its_defaults(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    t = random_table(60, 8, n_dest=12)
    path = tmp_path / "calls.parquet"
    write_cdrs(t, path, format="parquet")
    df = pd.read_parquet(path)
    assert list(df.columns) == [c.name for c in COLUMNS]
    assert isinstance(df["destination"].dtype, pd.CategoricalDtype)
    assert df["destination"].astype(str).tolist() == t.labels("destination").tolist()
    assert np.array_equal(df["answer"].to_numpy(), t["answer"], equal_nan=True)
