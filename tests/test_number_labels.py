"""The dialled numbers' labels, built as bytes in numpy (sim.model.recorder.lead_numbers),
are exactly the f-strings they replace, on both paths (marks for rows covering the list,
a sort for a chunk of a big list) and for prefixes of every kind."""

from __future__ import annotations

import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from sim.model import recorder as R


def _reference(lead: np.ndarray, seg: np.ndarray, segments: list, seed: int
               ) -> tuple[np.ndarray, tuple[str, ...]]:
    """The former implementation: one f-string per distinct lead."""
    ids = np.unique(lead)
    seg_of = dict(zip(lead.tolist(), seg.tolist(), strict=True))
    labels = []
    for i in ids.tolist():
        s = segments[seg_of[i]]
        w = R.NUMBER_DIGITS.get(s.number_type, R._DEFAULT_DIGITS)
        m = 10 ** w
        salt = zlib.crc32(f"{seed}:{s.prefix}:{w}".encode())
        labels.append(f"{s.prefix}{(i % m * R._NUMBER_MULT + salt % m) % m:0{w}d}")
    codes = (np.searchsorted(ids, lead) + 1).astype(np.int32)
    return codes, ("", *labels)


SEGMENTS = [SimpleNamespace(prefix="138", number_type="mobile"),
            SimpleNamespace(prefix="021", number_type="landline"),
            SimpleNamespace(prefix="", number_type="mobile"),
            SimpleNamespace(prefix="+4420", number_type="landline")]


@pytest.mark.parametrize("segments", [SEGMENTS, SEGMENTS[:1], SEGMENTS[2:3],
                                      [SimpleNamespace(prefix="٠٢١", number_type="mobile")]])
@pytest.mark.parametrize(("high", "rows"), [(60, 200), (10**8, 500), (1, 1), (30, 3)])
def test_labels_match_the_f_strings(segments: list, high: int, rows: int) -> None:
    rng = np.random.default_rng(high + rows)
    lead = rng.integers(0, high, rows)
    seg_of_lead = {i: int(rng.integers(len(segments))) for i in np.unique(lead).tolist()}
    seg = np.array([seg_of_lead[i] for i in lead.tolist()], dtype=np.int64)
    for seed in (0, 7):
        codes, labels = R.lead_numbers(lead, seg, segments, seed)
        want_codes, want_labels = _reference(lead, seg, segments, seed)
        assert labels == want_labels
        assert codes.dtype == np.int32 and np.array_equal(codes, want_codes)
        assert all(type(x) is str for x in labels)


def test_no_rows() -> None:
    codes, labels = R.lead_numbers(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                                   SEGMENTS, 1)
    assert len(codes) == 0 and codes.dtype == np.int32 and labels == ("",)
