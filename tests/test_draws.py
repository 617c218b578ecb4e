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


def test_agent_owned_dialing_holds_a_bounded_number_of_draw_blocks(monkeypatch) -> None:
    """A long campaign reaches ever higher attempt numbers; the dialer once kept each
    number's last block of draws to the end (~1.8 MiB a number: a 64-day run grew by
    ~100 MiB). Blocks alive at any chunk: at most the draws' cache plus the dialer's
    HELD_SLOTS (50 here without the bound)."""
    import warnings
    import weakref
    from pathlib import Path

    import sim

    root = Path(__file__).resolve().parents[1]
    sc = sim.load_scenario(root / "scenarios/bench_progressive.toml", overrides={
        "list.size": 3000, "list.max_attempts": 100, "agents.count": 30,
        "list.retry.no_answer_s": 3600, "list.retry.callback_s": 3600,
        "script.p_callback": 1.0, "script.stages[0].p_decline": 1.0, "campaign.days": 10})
    refs: list[weakref.ref] = []
    block = cu.Draws.block

    def spy(self, attempt: int, b: int) -> np.ndarray:
        blk = block(self, attempt, b)
        refs.append(weakref.ref(blk))
        return blk

    monkeypatch.setattr(cu.Draws, "block", spy)
    peak = [0]

    def sink(_cdrs, _a) -> None:
        alive = {id(r()) for r in refs if r() is not None}
        peak[0] = max(peak[0], len(alive))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sim.run(sc, seed=1, chunk_rows=1 << 12, keep_cdrs=False, on_chunk=[sink])
    assert r.streamed[0] > 100_000  # dozens of attempt numbers reached
    assert 0 < peak[0] <= 32 + 8  # the draws' default cache + the dialer's slots
