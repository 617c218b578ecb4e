"""The four real exports in ../shared/reference/cdr_samples (skipped when absent).

They are reference material, not fixtures: read in place, never copied. Counts are
those of the folder's README.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sim.cdrio import read_cdrs


def samples(shared_dir: Path) -> Path:
    folder = shared_dir / "reference" / "cdr_samples"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


def dispositions(imp: object) -> Counter[str]:
    return Counter(imp.cdrs.labels("disposition").tolist())  # type: ignore[attr-defined]


def test_asterisk_master_csv(shared_dir: Path) -> None:
    imp = read_cdrs(samples(shared_dir) / "asterisk_cdr_csv_Master.csv",
                    direction="all")
    rep = imp.report
    assert rep.format == "asterisk"
    assert (rep.rows_read, rep.accepted, rep.rejected) == (84, 84, ())
    assert dispositions(imp) == {"NO ANSWER": 46, "ANSWERED": 37, "BUSY": 1}
    notes = " | ".join(rep.notes)
    assert "Latin-1" in notes  # one caller-ID name is not UTF-8
    assert "2 unanswered rows" in notes  # NO ANSWER with billsec > 0: not billed
    t = imp.cdrs
    assert t["billsec"][~t.answered].sum() == 0
    assert imp.cdrs.epoch == "2024-01-27T00:00:00"


def test_freeswitch_example_master_csv(shared_dir: Path) -> None:
    imp = read_cdrs(samples(shared_dir) / "freeswitch_cdr_csv_example_Master.csv",
                    direction="all")
    rep = imp.report
    assert rep.format == "freeswitch" and (rep.rows_read, rep.accepted) == (10, 10)
    # NORMAL_CLEARING x7 and RECOVERY_ON_TIMER_EXPIRE with an answer stamp: answered;
    # NO_USER_RESPONSE: no answer; USER_BUSY (on a repeated uuid): busy
    assert dispositions(imp) == {"ANSWERED": 8, "NO ANSWER": 1, "BUSY": 1}
    notes = " | ".join(rep.notes)
    assert "without seconds" in notes and "repeat a uuid" in notes
    t = imp.cdrs
    assert np.all(t["end"] - t["start"] == np.array([11, 64, 2, 24, 329, 32, 43, 31, 31, 31]))


def test_grandstream_ucm_export(shared_dir: Path) -> None:
    imp = read_cdrs(samples(shared_dir) / "grandstream_ucm_cdr.csv", direction="all")
    rep = imp.report
    assert rep.format == "mapped" and (rep.rows_read, rep.accepted) == (4984, 4984)
    assert dispositions(imp) == {"ANSWERED": 2834, "NO ANSWER": 1858, "FAILED": 264,
                                 "BUSY": 28}
    assert any("Grandstream" in n for n in rep.notes)
    assert any("end derived as start + duration for 72 rows" in n for n in rep.notes)


def test_pbxware_table_dump(shared_dir: Path) -> None:
    imp = read_cdrs(samples(shared_dir) / "pbxware_asterisk_cdr_table.csv", direction="all")
    rep = imp.report
    assert rep.format == "mapped" and (rep.rows_read, rep.accepted) == (1000, 1000)
    assert dispositions(imp) == {"ANSWERED": 646, "NO ANSWER": 250, "FAILED": 92, "BUSY": 12}
    t = imp.cdrs
    # calldate + duration + billsec only: answer = end - billsec for answered calls
    ans = t.answered
    np.testing.assert_array_equal(t["end"][ans] - t["answer"][ans], t["billsec"][ans])
