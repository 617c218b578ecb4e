"""The week a time band lives in: seconds from Monday 00:00, and which band is in force.

A leaf module: plans (which parse bands), the tariff kernel and the banded rater all need
these, and none of them may import another back (no import cycles in ``sim/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .plans import Band

__all__ = ["DAY_S", "WEEK_S", "band_segments"]

#: Seconds in a day and in a week.
DAY_S = 86_400
WEEK_S = 7 * DAY_S


def band_segments(bands: Sequence[Band]) -> list[tuple[int, int, int]]:
    """The week cut into ``(lo, hi, band index)`` pieces where a band is in force.

    A band with an ``end`` covers ``[start, end)``; one without runs from its start to
    the next start of any band (cyclically over the week). Where bands overlap the one
    that started latest is in force. Uncovered time is left out; adjacent pieces of one
    band are merged.
    """
    starts = sorted({d * DAY_S + b.start_s for b in bands for d in b.days})
    covers: list[tuple[int, int, int, int]] = []  # lo, hi, start (for "latest"), band
    for k, b in enumerate(bands):
        for d in b.days:
            lo = d * DAY_S + b.start_s
            if b.end_s is not None:
                hi = lo + ((b.end_s - b.start_s) % DAY_S or DAY_S)
            else:
                later = [x for x in starts if x > lo]
                hi = later[0] if later else starts[0] + WEEK_S
            for shift in (0, -WEEK_S):  # the part wrapped past Sunday midnight
                a, z = max(lo + shift, 0), min(hi + shift, WEEK_S)
                if a < z:
                    covers.append((a, z, lo + shift, k))
    cuts = sorted({0, WEEK_S, *(c[0] for c in covers), *(c[1] for c in covers)})
    out: list[tuple[int, int, int]] = []
    for a, z in zip(cuts, cuts[1:], strict=False):
        live = [(st, k) for lo, hi, st, k in covers if lo <= a and z <= hi]
        if not live:
            continue
        k = max(live)[1]
        if out and out[-1][1] == a and out[-1][2] == k:
            out[-1] = (out[-1][0], z, k)
        else:
            out.append((a, z, k))
    return out
