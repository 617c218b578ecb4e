"""Customer draws: read back in bulk for the CDRs exactly as the event loop read them."""

from __future__ import annotations

import numpy as np
import pytest
from _factory import tiny

from sim.model import customers as cu


@pytest.mark.parametrize("layout", [cu.OWNED_LAYOUT, None])
def test_columns_fetch_each_block_once_and_match_the_rows(monkeypatch, layout) -> None:
    # 5 blocks x 2 attempts in a cache of 2: reading column by column would draw every
    # block again for each column
    monkeypatch.setattr(cu, "_SHIFT", 4)  # blocks of 16 leads
    monkeypatch.setattr(cu, "BLOCK", 16)
    monkeypatch.setattr(cu, "_MASK", 15)
    s = tiny(list={"size": 80, "max_attempts": 2},
             customers={"ring": {"dist": "lognormal", "median": 8, "sigma": 0.5}})
    traits = cu.lead_traits(s, 7)
    draws = cu.Draws(s, 7, traits, max_blocks=2, layout=layout)
    drawn = []
    real = draws._draw
    monkeypatch.setattr(draws, "_draw", lambda a, b: drawn.append((a, b)) or real(a, b))
    rng = np.random.default_rng(3)
    lead = rng.integers(0, 80, 300)
    attempt = rng.integers(1, 3, 300)
    cols = [cu.RING, cu.CONV, cu.WRAP, cu.A_END, cu.U_END]
    got = draws.columns(cols, attempt, lead)
    blocks = {(int(a), int(x) // 16) for a, x in zip(attempt, lead, strict=True)}
    assert sorted(drawn) == sorted(blocks)  # each once
    pos = {c: i for i, c in enumerate(layout)} if layout else {c: c for c in range(cu.NCOLS)}
    for j, c in enumerate(cols):
        want = [draws.row(int(a), int(x))[pos[c]] for a, x in zip(attempt, lead, strict=True)]
        np.testing.assert_array_equal(got[j], want)
