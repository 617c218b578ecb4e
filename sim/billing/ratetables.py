"""A plan prepared for the rater: compiled, its week classes, its lookup tables.

What does not depend on the calls is kept here, apart from one rating's outputs, so
that the blocks of a chunked rating (:func:`sim.billing.rate_chunks`) share it: the
compiled plan, the tables (grown as longer calls appear) and the destination prices
resolved against a vocabulary (one resolution per vocabulary, not per block: an
imported file may name a million numbers).

The tables hold, for every class of the week (one for an unbanded plan), every tariff
(the plan's own, then its destinations) and every billable length ``0..cap``, the
billed seconds and charge units: entry ``(c * n_tariffs + k) * (cap + 1) + d``. A call's
entry is its billable seconds plus two offsets, its tariff's (from its destination and
number-type codes) and its class's (from its week time).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .plans import Plan
from .tariff import TariffMap, compile_plan, tariff_map
from .weekclass import week_classes

__all__ = ["TABLE_MIN_S", "PreparedPlan", "narrowest"]

_I32 = np.iinfo(np.int32)

#: Shortest table (s): grown from here by doubling, as longer calls appear.
TABLE_MIN_S = 4095


class _Resolved:
    """A plan's destination prices against one pair of vocabularies, as per-code table
    offsets for the current table width."""

    def __init__(self, tmap: TariffMap, destinations: Sequence[str],
                 number_types: Sequence[str]) -> None:
        self.destinations, self.number_types = destinations, number_types
        self.tmap = tmap
        # number types matter only for destinations no prefix matches
        self.by_type = bool((tmap.by_destination < 0).any() and tmap.by_type.any())
        self.width = -1
        self.dest_off = self.dest_neg = self.type_off = np.zeros(0, dtype=np.int64)

    def offsets(self, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per destination code its tariff's offset (0 when no prefix matches), and for
        the number-type fallback: -1 where no prefix matches (else 0) per destination
        code and the type's tariff offset per number-type code."""
        if width != self.width:
            by_dest = self.tmap.by_destination.astype(np.int64)
            self.dest_off = np.maximum(by_dest, 0) * width
            self.dest_neg = np.where(by_dest < 0, -1, 0).astype(np.int64)
            self.type_off = self.tmap.by_type.astype(np.int64) * width
            self.width = width
        return self.dest_off, self.dest_neg, self.type_off


class PreparedPlan:
    """One plan's compiled form, week classes, lookup tables and resolved destinations."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.cp = compile_plan(plan)
        self.classes = week_classes(self.cp)
        self.class_plans = (self.cp,) if self.classes is None else self.classes.plans
        self.n_tar = len(self.cp.tariffs)
        self.cap = -1
        self.packed_sum_max_calls = 0
        empty: np.ndarray = np.zeros(0, dtype=np.int32)
        self.table_b = self.table_u = self.table_p = empty
        self.slot_off = np.zeros(0, dtype=np.int64)
        self._resolved: list[_Resolved] = []

    # -- destinations ---------------------------------------------------------------
    def resolved(self, destinations: Sequence[str], number_types: Sequence[str]
                 ) -> _Resolved | None:
        """The destination prices against these vocabularies (None: the plan has none),
        kept for the next block with the same vocabularies."""
        if not self.plan.destinations:
            return None
        for r in self._resolved:
            if ((r.destinations is destinations or r.destinations == destinations)
                    and (r.number_types is number_types or r.number_types == number_types)):
                return r
        tmap = tariff_map(self.plan, destinations, number_types)
        assert tmap is not None
        r = _Resolved(tmap, destinations, number_types)
        self._resolved = [r, *self._resolved[:3]]
        return r

    # -- tables ----------------------------------------------------------------------
    def grow(self, need_s: int, table_max_s: int) -> None:
        """Tables over at least ``0..need_s`` billable seconds (at most ``table_max_s``)."""
        self.cap = min(table_max_s, max(need_s, 2 * self.cap + 1, TABLE_MIN_S))
        width = self.cap + 1
        grid = np.tile(np.arange(width, dtype=np.int64), self.n_tar)
        which = None if self.n_tar == 1 else np.repeat(np.arange(self.n_tar), width)
        parts = [cp.rate_calls(grid, which) for cp in self.class_plans]
        table_b = np.concatenate([b for b, _ in parts])
        table_u = np.concatenate([u for _, u in parts])
        self.table_b = table_b.astype(narrowest(table_b))
        self.table_u = table_u.astype(narrowest(table_u))
        self.table_p = np.zeros(0, dtype=np.int64)
        self.packed_sum_max_calls = 0
        if self.table_b.dtype == self.table_u.dtype == np.int32:
            pair = np.empty((len(grid) * len(parts), 2), dtype=np.int32)
            pair[:, 0], pair[:, 1] = self.table_u, self.table_b
            self.table_p = pair.view(np.int64).reshape(len(pair))
            lo, hi = int(pair.min(initial=0)), int(pair.max(initial=0))
            self.packed_sum_max_calls = (1 << 32) // (hi + 1) if lo >= 0 else 0
        if self.classes is not None:
            self.slot_off = self.classes.slot_class.astype(np.int64) * (self.n_tar * width)


def narrowest(values: np.ndarray) -> np.dtype:
    """int32 when ``values`` fit (half the memory written per call), else their dtype."""
    if values.dtype != object and (len(values) == 0 or (
            _I32.min <= int(values.min()) and int(values.max()) <= _I32.max)):
        return np.dtype(np.int32)
    return values.dtype
