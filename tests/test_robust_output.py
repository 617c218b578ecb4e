"""Write errors, stale staging folders and unexpected exceptions in the CLI (issue 20).

A read-only or full output disk is one line on stderr and no traceback: exit 2 when the
``--out`` given cannot be written (found before any work), exit 1 when the disk fills
up during the work. Real mounts (tiny tmpfs) where the test may mount them, otherwise
a read-only folder (which root could still write, so then the test is skipped).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SCENARIOS

from sim.cli import main
from sim.output import output_dir, remove_stale_staging

BASELINE = str(SCENARIOS / "baseline.toml")


def _can_mount() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0


@contextlib.contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    if _can_mount():
        with _tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
            yield ro
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):
        pytest.skip("this user can write into a read-only folder")
    try:
        yield ro
    finally:
        ro.chmod(0o755)


def _one_clean_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_run_and_rate_into_read_only_folder_fail_before_the_work(read_only_dir, tmp_path,
                                                                  capsys):
    out = read_only_dir / "run"
    assert main(["run", BASELINE, "--quick", "--out", str(out)]) == 2
    cap = capsys.readouterr()
    line = _one_clean_line(cap.err)
    assert line.startswith("dialsim run: error:") and str(out) in line
    assert "Dials" not in cap.out  # nothing was simulated
    good = tmp_path / "good"
    assert main(["run", BASELINE, "--quick", "--seed", "3", "--out", str(good)]) == 0
    cdrs = good / "cdrs.csv"
    capsys.readouterr()
    code = main(["rate", str(cdrs), "--plans", str(SCENARIOS / "plans" / "china.toml"),
                 "--out", str(read_only_dir / "rated")])
    cap = capsys.readouterr()
    assert code == 2
    assert "cannot write" in _one_clean_line(cap.err)
    assert "rows read" not in cap.out  # refused before reading and rating


@pytest.mark.skipif(not _can_mount(), reason="needs root to mount a tiny tmpfs")
def test_full_disk_is_one_line_exit_1_and_no_staging_left(tmp_path, capsys):
    with _tmpfs(tmp_path / "full", "size=32k") as full:
        out = full / "run"
        code = main(["run", BASELINE, "--set", "list.size=2000", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 1
        line = _one_clean_line(err)
        assert "No space left on device" in line and "baseline.toml" in line
        assert list(full.iterdir()) == []  # neither the folder nor its staging copy


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_staging_of_a_killed_run_is_removed_by_the_next(tmp_path):
    out = tmp_path / "run"
    stale = tmp_path / f".run.{_dead_pid()}.abcd1234.partial"
    old = tmp_path / f".run.old-{_dead_pid()}"
    live = tmp_path / f".run.{os.getpid()}.zzzz9999.partial"  # a run still going
    other = tmp_path / f".run.v2.{_dead_pid()}.abcd1234.partial"  # another output's
    for p in (stale, old, live, other):
        p.mkdir()
        (p / "cdrs.csv").write_text("x\n")
    with output_dir(out) as tmp:
        (tmp / "a.txt").write_text("a\n")
    assert (out / "a.txt").read_text() == "a\n"
    assert not stale.exists() and not old.exists()
    assert live.exists() and other.exists()
    assert remove_stale_staging(out) == []


def test_unexpected_exception_is_one_line_and_debug_shows_it(monkeypatch, capsys):
    import sim.cli as cli

    def boom(args):
        raise ValueError("something internal\nsecond line")

    # the parser binds each command's run() when it is built: swap validate's for boom
    real = cli.build_parser

    def patched():
        parser = real()
        for action in parser._subparsers._group_actions:  # noqa: SLF001
            action.choices["validate"].set_defaults(func=boom)
        return parser

    monkeypatch.setattr(cli, "build_parser", patched)
    assert main(["validate", BASELINE]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert line.startswith("dialsim validate: internal error (ValueError: something internal)")
    assert BASELINE in line and "--debug" in line
    with pytest.raises(ValueError, match="something internal"):
        main(["--debug", "validate", BASELINE])


def test_numpy_runtime_warnings_do_not_reach_stderr(monkeypatch, capsys):
    import warnings

    import numpy as np

    import sim.cli as cli

    def noisy(args):
        np.mean(np.array([]))  # RuntimeWarning: Mean of empty slice
        warnings.warn("invalid value encountered", RuntimeWarning, stacklevel=1)
        return 0

    real = cli.build_parser

    def patched():
        parser = real()
        for action in parser._subparsers._group_actions:  # noqa: SLF001
            action.choices["validate"].set_defaults(func=noisy)
        return parser

    monkeypatch.setattr(cli, "build_parser", patched)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as the test suite: a leaked warning would raise
        assert main(["validate", BASELINE]) == 0
        assert capsys.readouterr().err == ""
        with pytest.raises(RuntimeWarning):
            main(["--debug", "validate", BASELINE])


def test_sweep_and_compare_into_read_only_folder_fail_before_the_work(read_only_dir, capsys):
    for argv in (["sweep", BASELINE, "--quick", "--vary", "agents.count=5,6", "--reps", "1",
                  "--workers", "1", "--no-plots", "--out", str(read_only_dir / "sw")],
                 ["compare", BASELINE, "--quick", "--reps", "2",
                  "--out", str(read_only_dir / "cmp")]):
        assert main(argv) == 2
        cap = capsys.readouterr()
        line = _one_clean_line(cap.err.replace("\r", "\n").splitlines()[-1])
        assert "cannot write there" in line and str(read_only_dir) in line


def test_rate_refuses_absurd_campaign_facts(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", BASELINE, "--quick", "--out", str(run)]) == 0
    capsys.readouterr()
    plans = str(SCENARIOS / "plans" / "china.toml")
    for flag, value in [("--days", "1e999999"), ("--labour", "1e999999"),
                        ("--seats", str(10**22)), ("--days", "٣٠")]:
        assert main(["rate", str(run / "cdrs.csv"), "--plans", plans, flag, value]) == 2
        line = _one_clean_line(capsys.readouterr().err)
        assert line.startswith(f"dialsim rate: error: {flag}: must be"), line
