"""Band tariffs: time bands that carry their own connect fee and tariff.

Real price lists give each time band its own tariff (peak 0.2 connect + 1.2/min at
60/1, off-peak 0.1 connect + 0.01/min at 1/1; 30/10 blocks in one band and 60/1 in
another), not only a factor on the plan's prices. While a band is in force its
``connect_fee`` and tariff replace the plan's own (destination prices stay, times the
band's factor); outside every band the plan's own apply.

A call is rated increment by increment from the answer, as rating engines do (CGRateS
rounds each time span to its rate's increment): each increment takes its length and
price from the band in force at the wall-clock second where it *starts*, and from that
band tariff's step in force at the increment's position counted from the answer. A call
crossing a band start is thus split at the first increment boundary at or after it:
the increment in flight finishes at the old band's price, the next one follows the new
band's tariff, its step chosen by the position from the answer. The connect fee is the
band's at the answer. (Plans whose bands are only factors keep the per-second split of
:mod:`sim.billing.tariff`: with one tariff for all bands the two readings agree except
for the one increment in flight.)

Vectorised: a loop over band changes (a call crosses few), and within a band over the
tariff's steps, each in closed form — ``ceil((limit - pos) / increment)`` increments.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .plans import WEEK_S, Plan, Step, band_segments

__all__ = ["BandTariffs", "band_rates", "compile_band_tariffs"]


@dataclass(frozen=True, slots=True)
class _Table:
    """One tariff in one band: raw step starts (s), increments (s), units per second."""

    from_s: list[int]
    inc: list[int]
    rate: list[int]


@dataclass(frozen=True, slots=True)
class BandTariffs:
    """A plan's week as pieces, each with its band's tables and connect fee (units).

    ``piece_lo[i]``/``piece_hi[i]`` bound piece ``i`` (s after Monday 00:00) and
    ``piece_band[i]`` is its band (``len(bands)`` = no band). ``tables[j][k]`` is
    tariff ``k`` (0 the plan's own, then destinations) while band ``j`` is in force.
    """

    piece_lo: np.ndarray
    piece_hi: np.ndarray
    piece_band: np.ndarray
    tables: tuple[tuple[_Table, ...], ...]
    connect: np.ndarray

    @property
    def max_rate(self) -> int:
        return max(max(t.rate) for ts in self.tables for t in ts)

    @property
    def max_inc(self) -> int:
        return max(max(t.inc) for ts in self.tables for t in ts)

    def piece(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Band index at week times ``w`` (s, any week) and when that piece ends."""
        rem = w % WEEK_S
        i = np.searchsorted(self.piece_lo, rem, side="right") - 1
        return self.piece_band[i], w - rem + self.piece_hi[i]

    def connect_at(self, w: np.ndarray) -> np.ndarray:
        """Connect fee (units) of the band in force at week times ``w``."""
        return self.connect[self.piece(w)[0]]

    def rate(self, dd: np.ndarray, tariff: np.ndarray | None, w0: np.ndarray,
             dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """Billed seconds and time charge (units) of calls of ``dd`` billable seconds
        whose first billable second is at week time ``w0``."""
        n = len(dd)
        pos = np.zeros(n, dtype=dd.dtype)
        cost = np.zeros(n, dtype=dtype)
        n_tar = len(self.tables[0])
        active = np.flatnonzero(dd > 0)
        while active.size:
            p = pos[active]
            w = w0[active] + p
            band, end = self.piece(w)
            lim = np.minimum(dd[active], p + (end - w))
            combo = band * n_tar + (0 if tariff is None else tariff[active])
            c = np.zeros(len(active), dtype=dtype)
            for code in np.unique(combo).tolist():
                sel = np.flatnonzero(combo == code)
                table = self.tables[code // n_tar][code % n_tar]
                p[sel], c[sel] = _lay(table, p[sel], lim[sel], dtype)
            pos[active] = p
            cost[active] += c
            active = active[p < dd[active]]
        return pos, cost


def _lay(t: _Table, p: np.ndarray, lim: np.ndarray, dtype: Any) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """Lay ``t``'s increments from positions ``p`` while they start before ``lim``."""
    cost = np.zeros(len(p), dtype=dtype)
    for s, (inc, rate) in enumerate(zip(t.inc, t.rate, strict=True)):
        top = lim if s + 1 == len(t.inc) else np.minimum(lim, t.from_s[s + 1])
        m = np.maximum(-((p - top) // inc), 0)  # increments starting in [p, top)
        p = p + m * inc
        cost += m * (inc * rate)
    return p, cost


def band_rates(plan: Plan) -> list[list[tuple[list[int], list[int], list[Fraction]]]]:
    """Per band (then "no band"), per tariff: raw starts, increments, price per second
    (factor applied)."""
    def own(steps: tuple[Step, ...], flat: Fraction | None, factor: Fraction
            ) -> tuple[list[int], list[int], list[Fraction]]:
        return ([s.from_s for s in steps], [s.increment_s for s in steps],
                [factor * (flat / 60 if flat is not None else Fraction(s.price) / s.unit_s)
                 for s in steps])

    out = []
    for band in [*plan.bands, None]:
        f = Fraction(1) if band is None else Fraction(band.factor)
        base = plan.steps if band is None or band.steps is None else band.steps
        row = [own(base, None, f)]
        for d in plan.destinations:
            row.append(own(d.steps or plan.steps,
                           None if d.steps else Fraction(d.price_per_min or 0), f))
        out.append(row)
    return out


def compile_band_tariffs(plan: Plan, den: int,
                         rates: list[list[tuple[list[int], list[int], list[Fraction]]]]
                         ) -> BandTariffs:
    """The plan's band tables in units of ``1/den`` (``den`` covers every rate)."""
    none = len(plan.bands)
    pieces: list[tuple[int, int, int]] = []
    at = 0
    for a, z, k in band_segments(plan.bands):
        if a > at:
            pieces.append((at, a, none))
        pieces.append((a, z, k))
        at = z
    if at < WEEK_S:
        pieces.append((at, WEEK_S, none))
    lo, hi, which = (list(x) for x in zip(*pieces, strict=True))
    tables = tuple(tuple(_Table(from_s=f, inc=i, rate=[int(r * den) for r in rs])
                         for f, i, rs in row) for row in rates)
    connect = [plan.connect_fee if b.connect_fee is None else b.connect_fee
               for b in plan.bands] + [plan.connect_fee]
    return BandTariffs(piece_lo=np.asarray(lo, dtype=np.int64),
                       piece_hi=np.asarray(hi, dtype=np.int64),
                       piece_band=np.asarray(which, dtype=np.int64), tables=tables,
                       connect=np.asarray([int(Fraction(c) * den) for c in connect],
                                          dtype=object if den * max(connect) >= 1 << 62
                                          else np.int64))
