"""Recorded call codes decode to the same call-list outcome, one at a time or in bulk."""

from __future__ import annotations

import numpy as np

from sim.cdr import encode
from sim.model.fates import (
    FATE_SHIFT,
    FATES,
    OUT_CALLBACK,
    OUT_CONVERTED,
    OUT_MACHINE,
    F,
    outcome_of,
    outcomes_of,
    script_code,
)


def test_outcomes_of_matches_outcome_of_for_every_valid_code() -> None:
    codes = np.array([f + FATE_SHIFT * script_code(r, h, s) for f in range(len(FATES))
                      for r in range(5) for h in range(4) for s in range(-1, 5)], dtype=float)
    assert outcomes_of(codes).tolist() == [outcome_of(int(c)) for c in codes]


def test_a_fate_decides_unless_the_script_does() -> None:
    converted = F["person"] + FATE_SHIFT * script_code(encode("result", "converted"), 0, 3)
    callback = F["robot"] + FATE_SHIFT * script_code(encode("result", "callback"), 0, 1)
    machine = F["machine_dropped"] + FATE_SHIFT * script_code(encode("result", "converted"), 0, 3)
    assert outcomes_of(np.array([converted, callback, machine])).tolist() == [
        OUT_CONVERTED, OUT_CALLBACK, OUT_MACHINE]
