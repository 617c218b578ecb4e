"""Pairing the carrier's rows with ours: clock correction, then a one-to-one assignment.

Two records are the same call when they dial the same number (normalised:
:mod:`sim.audit.numbers`) and start within the tolerance once the carrier's clock is
corrected. Their clock may differ from ours by a zone shift (a file written in UTC, or
in another zone) plus a constant offset (an unsynchronised switch). Zones sit at whole
hours and at :30 and :45 (India +5:30, Nepal +5:45, Newfoundland -3:30, Chatham
+12:45), and two zones differ by a multiple of a quarter hour (+5:45 against +5:30 is
0:15), so the shift is searched in quarter hours up to 14 h either way. Both are
estimated from the data: among the pairs of rows with the same number that start within
14.5 h of each other, the shift is the one that collects the most differences within 5
minutes of it (a whole hour wins a tie with a fraction of one), and the offset is the
median of those differences around it (taken twice, the second time within a narrow
window, so that retries of the same number an hour later do not pull it).

The assignment is one-to-one and global, not a greedy scan: each carrier row and each
of our rows is used at most once, and among the pairings with the most pairs the one
with the smallest total time difference is chosen. Rows with a single candidate that
is nobody else's candidate are paired directly (nearly all of them); the rest fall
into small connected groups, each solved exactly with
:func:`scipy.optimize.linear_sum_assignment`.

A carrier row left over that was a candidate of one of our calls already paired to
another carrier row is a duplicate (billed twice); any other left-over row is not ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import AuditError
from .numbers import NO_NUMBER

__all__ = ["MATCHED", "DUPLICATE", "NOT_OURS", "Matching", "match_calls"]

MATCHED, NOT_OURS, DUPLICATE = 0, 1, 2
HOUR_MS = 3_600_000
#: The step of the zone shifts searched, ms (a quarter hour: zones at :30 and :45).
SHIFT_STEP_MS = HOUR_MS // 4
#: Largest zone shift searched (either way), h.
MAX_SHIFT_H = 14
#: Largest constant clock offset searched around the zone shift, s (less than half a
#: shift step, so that each difference is near one step at most).
MAX_OFFSET_S = 300.0
#: Carrier rows used to estimate the clock (every k-th row).
ESTIMATE_ROWS = 50_000
#: A row with more candidates than this in the estimation window is left out of it.
ESTIMATE_MAX_CANDIDATES = 32


@dataclass(frozen=True, slots=True, eq=False)
class Matching:
    """The pairing of the carrier's rows (``theirs``) with ours.

    Attributes
    ----------
    their_row, our_row
        Index pairs of matched rows (int64), sorted by ``their_row``.
    dt_s
        Their corrected start minus ours per pair, s.
    status
        Per carrier row: :data:`MATCHED`, :data:`NOT_OURS` or :data:`DUPLICATE` (int8).
    our_matched
        Per row of ours: paired with a carrier row.
    shift_h, offset_s
        Their clock minus ours: ``shift_h`` hours (a whole or quarter hour: 8, 5.5,
        5.75) plus ``offset_s`` seconds.
    tolerance_s
        Largest start difference accepted after the correction, s.
    estimated_from
        Candidate pairs the clock correction was estimated from.
    """

    their_row: np.ndarray
    our_row: np.ndarray
    dt_s: np.ndarray
    status: np.ndarray
    our_matched: np.ndarray
    shift_h: float
    offset_s: float
    tolerance_s: float
    estimated_from: int

    @property
    def clock_s(self) -> float:
        """Total correction: their clock minus ours, s."""
        return self.shift_h * 3600 + self.offset_s

    @property
    def clock_text(self) -> str:
        """``+8 h +1.500 s``, ``+5 h 30 min -0.200 s``: the correction for a person."""
        return f"{shift_text(self.shift_h)} {self.offset_s:+.3f} s"


def shift_text(shift_h: float) -> str:
    """``+8 h``, ``+5 h 45 min``, ``-3 h 30 min``, ``+0 h 15 min``."""
    minutes = int(round(abs(shift_h) * 60))
    sign = "-" if shift_h < 0 else "+"
    hours, rest = divmod(minutes, 60)
    return f"{sign}{hours} h" + (f" {rest:02d} min" if rest else "")


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index and position of every ``lo[i] <= pos < hi[i]``."""
    counts = hi - lo
    rows = np.repeat(np.arange(len(lo)), counts)
    first = np.cumsum(counts) - counts
    pos = lo[rows] + (np.arange(len(rows)) - first[rows])
    return rows, pos


def _estimate_clock(ours: np.ndarray, theirs: np.ndarray, tol_ms: int
                    ) -> tuple[float, int, int]:
    """Zone shift (h), offset (ms) and number of pairs used; ``ours`` sorted composite
    keys."""
    step = max(1, len(theirs) // ESTIMATE_ROWS)
    sample = theirs[::step]
    window = MAX_SHIFT_H * HOUR_MS + HOUR_MS // 2
    lo = np.searchsorted(ours, sample - window, side="left")
    hi = np.searchsorted(ours, sample + window, side="right")
    keep = (hi > lo) & (hi - lo <= ESTIMATE_MAX_CANDIDATES)
    rows, pos = _expand(lo[keep], hi[keep])
    diffs = sample[keep][rows] - ours[pos]
    if len(diffs) == 0:
        return 0, 0, 0
    near = int(MAX_OFFSET_S * 1000)
    most = MAX_SHIFT_H * HOUR_MS // SHIFT_STEP_MS
    steps = np.rint(diffs / SHIFT_STEP_MS).astype(np.int64)
    close = (np.abs(diffs - steps * SHIFT_STEP_MS) <= near) & (np.abs(steps) <= most)
    counts = np.bincount(steps[close] + most, minlength=2 * most + 1)
    if counts.max(initial=0) == 0:
        return 0, 0, 0
    # ties: a whole hour before a fraction of one, then the smallest shift
    whole = (np.arange(-most, most + 1) * SHIFT_STEP_MS) % HOUR_MS == 0
    k = int(np.argmax(2 * counts + whole)) - most
    resid = diffs[close & (steps == k)] - k * SHIFT_STEP_MS
    offset = float(np.median(resid))
    narrow = max(5 * tol_ms, 10_000)
    inner = resid[np.abs(resid - offset) <= narrow]
    if len(inner):
        offset = float(np.median(inner))
    shift_ms = k * SHIFT_STEP_MS
    shift_h = shift_ms // HOUR_MS if shift_ms % HOUR_MS == 0 else shift_ms / HOUR_MS
    return shift_h, int(round(offset)), len(resid)


def _assign(edge_t: np.ndarray, edge_o: np.ndarray, cost: np.ndarray,
            n_t: int, n_o: int) -> tuple[np.ndarray, np.ndarray]:
    """A maximum matching of least total cost on a bipartite graph of edges."""
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    deg_t = np.bincount(edge_t, minlength=n_t)
    deg_o = np.bincount(edge_o, minlength=n_o)
    single = (deg_t[edge_t] == 1) & (deg_o[edge_o] == 1)
    out_t, out_o = [edge_t[single]], [edge_o[single]]
    rest = np.flatnonzero(~single)
    if len(rest):
        et, eo, ec = edge_t[rest], edge_o[rest], cost[rest]
        ut, it = np.unique(et, return_inverse=True)
        uo, io = np.unique(eo, return_inverse=True)
        nt = len(ut)
        graph = coo_matrix((np.ones(len(rest), dtype=np.int8), (it, nt + io)),
                           shape=(nt + len(uo), nt + len(uo)))
        _, label = connected_components(graph, directed=False)
        comp = label[it]
        order = np.argsort(comp, kind="stable")
        bounds = np.flatnonzero(np.diff(comp[order])) + 1
        big = float(ec.sum()) + 1.0  # any pair more is worth more than all costs
        for grp in np.split(order, bounds):
            gt, gi = np.unique(it[grp], return_inverse=True)
            go, gj = np.unique(io[grp], return_inverse=True)
            m = np.zeros((len(gt), len(go)))
            m[gi, gj] = ec[grp] - big
            r, c = linear_sum_assignment(m)
            real = m[r, c] < 0
            out_t.append(ut[gt[r[real]]])
            out_o.append(uo[go[c[real]]])
    t = np.concatenate(out_t)
    o = np.concatenate(out_o)
    order = np.argsort(t, kind="stable")
    return t[order], o[order]


def match_calls(our_keys: np.ndarray, our_t: np.ndarray, their_keys: np.ndarray,
                their_t: np.ndarray, *, tolerance_s: float = 2.0,
                clock: tuple[float, float] | None = None) -> Matching:
    """Pair carrier rows with ours one-to-one.

    Parameters
    ----------
    our_keys, their_keys
        Normalised destination keys (:func:`~sim.audit.numbers.number_keys`);
        :data:`~sim.audit.numbers.NO_NUMBER` never matches.
    our_t, their_t
        Start times on each side's wall clock, s since 1970 (float64; NaN unknown).
    tolerance_s
        Largest start difference after the clock correction, s (>= 0).
    clock
        ``(shift_h, offset_s)`` to use instead of estimating them (hours may be
        fractional: 5.5 for +5:30).

    Raises
    ------
    AuditError
        No carrier row has a candidate of ours at all (no common number within
        14.5 h): the files do not overlap in time or in numbers.
    """
    if not np.isfinite(tolerance_s) or tolerance_s < 0:
        raise AuditError(f"tolerance_s: must be a number >= 0 (got {tolerance_s!r})")
    n_o, n_t = len(our_keys), len(their_keys)
    ok_o = (our_keys != NO_NUMBER) & np.isfinite(our_t)
    ok_t = (their_keys != NO_NUMBER) & np.isfinite(their_t)
    both = np.concatenate([our_keys[ok_o], their_keys[ok_t]])
    uniq, inv = np.unique(both, return_inverse=True)
    ids_o, ids_t = inv[:int(ok_o.sum())], inv[int(ok_o.sum()):]
    times = np.concatenate([our_t[ok_o], their_t[ok_t]])
    if len(times) == 0:
        raise AuditError("nothing to match: no row on either side has both a dialled "
                         "number and a start time")
    t0 = float(times.min())
    margin = (MAX_SHIFT_H + 1) * HOUR_MS
    ms_o = np.rint((our_t[ok_o] - t0) * 1000).astype(np.int64) + margin
    ms_t = np.rint((their_t[ok_t] - t0) * 1000).astype(np.int64) + margin
    span = int(max(ms_o.max(initial=0), ms_t.max(initial=0))) + 2 * margin + 1
    if len(uniq) * span >= 1 << 62:
        raise AuditError("the files span too long a time to match (more than a few years)")
    comp_o = ids_o * span + ms_o
    comp_t = ids_t * span + ms_t
    order_o = np.argsort(comp_o, kind="stable")
    sorted_o = comp_o[order_o]
    tol_ms = int(round(tolerance_s * 1000))
    if clock is None:
        shift_h, off_ms, used = _estimate_clock(sorted_o, comp_t, tol_ms)
        if used == 0:
            raise AuditError(
                "no overlap: no carrier row dials a number of ours within 14.5 h of one "
                "of our calls (check that both files cover the same period and that the "
                "destination columns hold the dialled numbers)")
    else:
        shift_h, off_ms, used = clock[0], int(round(clock[1] * 1000)), 0
    shift_ms = int(round(shift_h * HOUR_MS))
    adj = comp_t - (shift_ms + off_ms)
    lo = np.searchsorted(sorted_o, adj - tol_ms, side="left")
    hi = np.searchsorted(sorted_o, adj + tol_ms, side="right")
    rows, pos = _expand(lo, hi)
    idx_t = np.flatnonzero(ok_t)
    idx_o = np.flatnonzero(ok_o)[order_o]
    edge_t, edge_o = idx_t[rows], idx_o[pos]
    cost = np.abs(adj[rows] - sorted_o[pos]).astype(np.float64)
    their_row, our_row = _assign(edge_t, edge_o, cost, n_t, n_o)
    status = np.full(n_t, NOT_OURS, dtype=np.int8)
    status[their_row] = MATCHED
    our_matched = np.zeros(n_o, dtype=bool)
    our_matched[our_row] = True
    dup = (status[edge_t] != MATCHED) & our_matched[edge_o]
    status[edge_t[dup]] = DUPLICATE
    dt = their_t[their_row] - our_t[our_row] - (shift_ms + off_ms) / 1000
    return Matching(their_row=their_row, our_row=our_row, dt_s=dt, status=status,
                    our_matched=our_matched, shift_h=shift_h, offset_s=off_ms / 1000,
                    tolerance_s=float(tolerance_s), estimated_from=used)
