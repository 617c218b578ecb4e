"""Exact sums of seconds: a grid of 2**-30 s on which sums do not depend on order.

A leaf module (numpy only): the KPIs, the dialer timeline and the agent log's totals
all sum on this grid, so a streaming run's chunk-by-chunk folds give the whole table's
figures to the last bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCALE_BITS", "exact_seconds", "fixed_seconds", "seconds_of"]

#: Seconds are summed exactly in units of 2**-SCALE_BITS s (about a nanosecond): each
#: value is rounded to that grid once, then added as integers, so a sum does not depend
#: on the order or the chunks it is added in (a streaming run folds its KPIs chunk by
#: chunk and gets the whole-table figures to the last bit).
SCALE_BITS = 30


def fixed_seconds(x: np.ndarray | float) -> np.ndarray:
    """The finite seconds ``x`` rounded to the grid of 2**-SCALE_BITS s, as int64 of that
    unit (exact up to about 272 years)."""
    return np.rint(np.ldexp(np.asarray(x, dtype=np.float64), SCALE_BITS)).astype(np.int64)


def exact_seconds(x: np.ndarray) -> int:
    """Sum of the finite seconds ``x`` as an exact int of 2**-SCALE_BITS s."""
    if not len(x):
        return 0
    qi = fixed_seconds(x)
    top = max(float(np.abs(qi).max()), 1.0)
    step = max(1, int(2.0 ** 62 / top))
    return sum(int(qi[i:i + step].sum()) for i in range(0, len(qi), step))


def seconds_of(total: int, count: int = 1) -> float:
    """``total`` (2**-SCALE_BITS s) / ``count`` as a float, correctly rounded."""
    return total / (count << SCALE_BITS)
