"""Compliance of a campaign folded chunk by chunk, in memory bounded by the list (issue #16).

A streaming run hands on its CDRs in chunks in dial order (:mod:`sim.model.stream`):
every row of a later chunk starts at or after the last start seen. :class:`ComplianceFold`
takes those chunks one by one and gives the same :class:`~.compliance.RuleResult` list
as :func:`~.compliance.evaluate` on the whole table, field for field and float for
float, keeping no per-call column. It shares every formula with :mod:`.compliance`
(the per-call flags, the period, window and rate arithmetic and the result builders),
so the two cannot drift apart; what it adds is when each count may be made.

Everything rests on one fact: a call's rule time ``t`` (answer, else dial) is at or
after its dial, so any call still to come has ``t >= L``, the last start seen.

What is carried, and its bytes:

* **US** — live answers are buffered (t, abandoned; 9 bytes each) only until the first
  answer time is fixed (the smallest buffered ``t`` is ≤ L: nothing to come can be
  earlier), a few seconds of calls; then each live answer is counted into its 30-day
  period: two int64 counts per period (16 bytes per 30 days).
* **UK** — the answered calls from which a 24 h window may still start: a window
  starting at ``s`` is checked once its sums are final (``s + 24 h <= L``) and it fits
  in the campaign (``s <= max t - 24 h``, final because the end only grows); both hold
  for a prefix of the buffered starts, so what stays is roughly the last 24 h of
  answered calls (t and 2–3 weight bytes, 10–11 bytes each). The worst window is kept
  with a strict ``>`` in start order (numpy's argmax keeps the first of equal rates;
  windows with equal starts have equal sums, so ties between them cannot matter), the
  first window for a campaign shorter than 24 h (where it is the only one).
* **uk_lockout** — per lead (``lead_id >= 0``), the start of its last call if that call
  was abandoned, NaN otherwise: **8 bytes per lead** (float64), sized ``n_leads`` and
  grown if a larger lead id turns up. Calls with ``lead_id`` -1 are not checked.
* **china_hours** — one count.
* **china_frequency** — the calls of the last 24 h (callee int64, start float64; 16
  bytes each): a window (s − 24 h, s] or (s − 5 min, s] ends at a call, and each new
  call's window is counted from the carried calls of its callee, then the calls older
  than 24 h before L are dropped. A call with ``lead_id`` -1 is its destination's
  (one id per destination label seen: one entry per distinct imported destination).

So the state is 8 bytes per lead plus buffers bounded by time (24 h of calls), not by
the number of calls; :attr:`ComplianceFold.nbytes` measures it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..cdr import CDRTable
from .compliance import (
    _DAY,
    ComplianceLimits,
    RuleResult,
    _china_results,
    _lockout_result,
    _max_in_window,
    _outside_hours,
    _row_flags,
    _uk_rates,
    _uk_result,
    _uk_weights,
    _us_periods,
    _us_result,
    scenario_checks,
)

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["ComplianceFold"]

_Window = tuple[float, float, int]  # rate, start, live calls in it


class ComplianceFold:
    """:func:`~.compliance.evaluate` over a stream of CDR chunks (see the module docstring).

    Parameters
    ----------
    limits, amd_used, tz_offset_s
        As for :func:`~.compliance.evaluate`.
    n_leads
        Size of the call list (lead ids ``0 .. n_leads-1``), for the per-lead lockout
        state; grown if a larger id is seen.

    Feed every chunk to :meth:`add` in dial order and read :meth:`result` (as often as
    wanted: it does not change the fold).
    """

    def __init__(self, limits: ComplianceLimits | None = None, *, amd_used: bool = False,
                 tz_offset_s: Mapping[str, float] | None = None, n_leads: int = 0) -> None:
        self.limits = limits or ComplianceLimits()
        self.amd_used = bool(amd_used)
        self.tz_offset_s = dict(tz_offset_s or {})
        self._last = -math.inf  # last start seen
        self._calls = 0
        self._n_ab = 0
        self._n_live = 0
        # US: live answers held until the first one is known, then counts per period
        self._us_t0: float | None = None
        self._us_held_t = np.zeros(0)
        self._us_held_ab = np.zeros(0, dtype=bool)
        self._us_live = np.zeros(0, dtype=np.int64)
        self._us_ab = np.zeros(0, dtype=np.int64)
        # UK: answered calls windows may still start at (sorted by t) and their weights
        n_w = 2 if self.amd_used else 3
        self._uk_t = np.zeros(0)
        self._uk_w = np.zeros((0, n_w), dtype=np.uint8)
        self._uk_min, self._uk_max = math.inf, -math.inf
        self._uk_best: _Window | None = None
        self._uk_first: _Window | None = None
        self._uk_windows = 0
        # lockout: start of each lead's last call if it was abandoned, else NaN
        self._lock = np.full(max(int(n_leads), 0), np.nan)
        self._viol = 0
        # China: calls outside the hours; last 24 h of (callee, start); worst counts
        self._n_out = 0
        self._cn_c = np.zeros(0, dtype=np.int64)
        self._cn_t = np.zeros(0)
        self._w24 = self._w5 = 0
        self._dest: dict[str, int] = {}
        self._dest_vocab: tuple[tuple[str, ...], np.ndarray] | None = None

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> ComplianceFold:
        """A fold checking ``scenario``'s rules, as :func:`sim.model.check_compliance`."""
        limits, amd_used, offsets = scenario_checks(scenario)
        return cls(limits, amd_used=amd_used, tz_offset_s=offsets, n_leads=scenario.list.size)

    # -- feeding ------------------------------------------------------------------------
    def add(self, cdrs: CDRTable) -> None:
        """Fold one chunk: rows in nondecreasing ``start``, none before the last start
        of the chunks already added (ValueError otherwise)."""
        n = len(cdrs)
        if n == 0:
            return
        start = cdrs["start"]
        if not (start[0] >= self._last and bool(np.all(start[1:] >= start[:-1]))):
            raise ValueError("ComplianceFold.add: chunk rows must be in dial order, "
                             f"starting at or after {self._last} (the last start seen)")
        lim = self.limits
        live, ab, in_time, t = _row_flags(cdrs, lim)
        if bool(np.any(t < start)):
            raise ValueError("ComplianceFold.add: a call answered before it was dialled")
        self._last = float(start[-1])
        self._calls += n
        self._n_ab += int(ab.sum())
        self._n_live += int(live.sum())
        if "us" in lim.rules:
            self._add_us(t[live], ab[live])
        if "uk" in lim.rules:
            self._add_uk(cdrs, live, ab, in_time, t)
            self._add_lockout(cdrs["lead_id"], start, ab)
        if "china" in lim.rules:
            self._add_china(cdrs)

    def _add_us(self, t: np.ndarray, ab: np.ndarray) -> None:
        if self._us_t0 is None:
            t = np.concatenate([self._us_held_t, t])
            ab = np.concatenate([self._us_held_ab, ab])
            if not len(t) or float(t.min()) > self._last:  # an earlier answer may come
                self._us_held_t, self._us_held_ab = t, ab
                return
            self._us_t0 = float(t.min())
            self._us_held_t, self._us_held_ab = np.zeros(0), np.zeros(0, dtype=bool)
        self._us_live, self._us_ab = self._us_count(self._us_t0, t, ab)

    def _us_count(self, t0: float, t: np.ndarray, ab: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The per-period counts with the live answers ``t`` (abandoned ``ab``) added."""
        k = _us_periods(t, t0, self.limits)
        m = max(len(self._us_live), int(k.max()) + 1 if len(k) else 0)
        n_live, n_ab = np.zeros(m, np.int64), np.zeros(m, np.int64)
        n_live[:len(self._us_live)] = self._us_live
        n_ab[:len(self._us_ab)] = self._us_ab
        np.add.at(n_live, k, 1)
        np.add.at(n_ab, k[ab], 1)
        return n_live, n_ab

    def _add_uk(self, cdrs: CDRTable, live: np.ndarray, ab: np.ndarray, in_time: np.ndarray,
                t: np.ndarray) -> None:
        answered, weights = _uk_weights(cdrs, self.limits, ab, live, in_time, self.amd_used)
        ta = t[answered]
        if len(ta):
            self._uk_min = min(self._uk_min, float(ta.min()))
            self._uk_max = max(self._uk_max, float(ta.max()))
            bt = np.concatenate([self._uk_t, ta])
            bw = np.concatenate([self._uk_w, np.stack(weights, axis=1).astype(np.uint8)])
            order = np.argsort(bt, kind="stable")
            self._uk_t, self._uk_w = bt[order], bw[order]
        state = self._uk_scan(self._last)
        self._uk_best, self._uk_first, self._uk_windows, keep = state
        self._uk_t, self._uk_w = self._uk_t[keep:], self._uk_w[keep:]

    def _uk_scan(self, last: float) -> tuple[_Window | None, _Window | None, int, int]:
        """Check the buffered window starts whose sums are final (no call to come, all
        at or after ``last``, falls in them) and that fit in the campaign so far: the
        new best, first window and count, and how many buffered calls no window to come
        reads (all before the first start not checked)."""
        best, first, count = self._uk_best, self._uk_first, self._uk_windows
        t = self._uk_t
        if not len(t):
            return best, first, count, 0
        width = self.limits.uk_window_h * 3600.0
        u, at, mult = np.unique(t, return_index=True, return_counts=True)
        ready = (u + width <= last) & (u <= self._uk_max - width)  # both: a prefix of u
        k = int(np.argmin(ready)) if not ready.all() else len(u)
        if k == 0:
            return best, first, count, 0
        rates, sums1 = self._uk_windows_at(u[:k], at[:k])
        i = int(np.argmax(rates))
        if best is None or rates[i] > best[0]:
            best = (float(rates[i]), float(u[i]), int(sums1[i]))
        if first is None:
            first = (float(rates[0]), float(u[0]), int(sums1[0]))
        return best, first, count + int(mult[:k].sum()), int(at[k]) if k < len(u) else len(t)

    def _uk_windows_at(self, s: np.ndarray, j0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rates and live calls of the windows [s, s + width) (``j0``: first call of each)."""
        width = self.limits.uk_window_h * 3600.0
        t, w = self._uk_t, self._uk_w
        j1 = np.searchsorted(t, s + width, side="left")
        c = np.concatenate([np.zeros((1, w.shape[1]), np.int64), np.cumsum(w, axis=0,
                                                                         dtype=np.int64)])
        sums = [(c[j1, i] - c[j0, i]).astype(float) for i in range(w.shape[1])]
        return _uk_rates(sums, self.amd_used), sums[1]

    def _add_lockout(self, lead: np.ndarray, start: np.ndarray, ab: np.ndarray) -> None:
        known = lead >= 0
        if not known.any():
            return
        ld, st, a = lead[known], start[known], ab[known]
        top = int(ld.max())
        if top >= len(self._lock):
            self._lock = np.concatenate(
                [self._lock, np.full(max(top + 1, 2 * len(self._lock)) - len(self._lock),
                                     np.nan)])
        # by lead, then dial order (rows are in dial order; the sort keeps ties in it)
        order = np.lexsort((st, ld))
        ld, st, a = ld[order], st[order], a[order]
        lockout = self.limits.lockout_h * 3600.0
        same = ld[1:] == ld[:-1]
        self._viol += int((same & a[:-1] & (st[1:] - st[:-1] < lockout)).sum())
        # each lead's first call in the chunk comes after its last call so far
        first = np.concatenate([[True], ~same])
        self._viol += int((st[first] - self._lock[ld[first]] < lockout).sum())  # NaN: no
        last = np.concatenate([~same, [True]])
        self._lock[ld[last]] = np.where(a[last], st[last], np.nan)

    def _add_china(self, cdrs: CDRTable) -> None:
        self._n_out += _outside_hours(cdrs, self.limits, self.tz_offset_s)
        lead, start = cdrs["lead_id"], cdrs["start"]
        callee = lead.astype(np.int64)
        unknown = lead < 0
        if unknown.any():
            callee[unknown] = -1 - self._dest_ids(cdrs)[cdrs["destination"][unknown]]
        held = np.isin(self._cn_c, callee)  # only the new calls' callees can count more
        if len(callee) == 1 and not held.any():  # a lone call to a callee: 1
            self._w24, self._w5 = max(self._w24, 1), max(self._w5, 1)
        else:
            c = np.concatenate([self._cn_c[held], callee])
            t = np.concatenate([self._cn_t[held], start])
            order = np.lexsort((t, c))
            c, t = c[order], t[order]
            self._w24 = max(self._w24, _max_in_window(c, t, _DAY))
            self._w5 = max(self._w5, _max_in_window(c, t, 300.0))
        # a call to come has start >= L: its windows hold only calls after L - 24 h
        c = np.concatenate([self._cn_c, callee])
        t = np.concatenate([self._cn_t, start])
        keep = t > self._last - _DAY
        self._cn_c, self._cn_t = c[keep], t[keep]

    def _dest_ids(self, cdrs: CDRTable) -> np.ndarray:
        """Fold-wide ids of the chunk's destination codes (by label, as a concatenated
        table would merge them)."""
        vocab = cdrs.vocabulary("destination")
        if self._dest_vocab is None or self._dest_vocab[0] != vocab:
            ids = np.array([self._dest.setdefault(lab, len(self._dest)) for lab in vocab],
                           dtype=np.int64)
            self._dest_vocab = (vocab, ids)
        return self._dest_vocab[1]

    # -- reading -------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Calls folded so far."""
        return self._calls

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the fold holds (per-lead state and time-bounded buffers)."""
        arrays: Sequence[np.ndarray] = (
            self._us_held_t, self._us_held_ab, self._us_live, self._us_ab, self._uk_t,
            self._uk_w, self._lock, self._cn_c, self._cn_t)
        return sum(a.nbytes for a in arrays)

    def result(self) -> list[RuleResult]:
        """The verdicts on every call added, equal to :func:`~.compliance.evaluate` on
        the chunks' concatenation."""
        lim = self.limits
        out: list[RuleResult] = []
        if "us" in lim.rules:
            t0, n_live, n_ab = self._us_t0, self._us_live, self._us_ab
            if t0 is None and len(self._us_held_t):
                t0 = float(self._us_held_t.min())
                n_live, n_ab = self._us_count(t0, self._us_held_t, self._us_held_ab)
            out.append(_us_result(lim, t0, n_live, n_ab.astype(float), self._n_ab,
                                  self._n_live))
        if "uk" in lim.rules:
            out.append(self._uk_final())
            out.append(_lockout_result(lim, self._viol, self._n_ab))
        if "china" in lim.rules:
            out.extend(_china_results(lim, self._calls, self._n_out, self._w24, self._w5))
        return out

    def _uk_final(self) -> RuleResult:
        lim = self.limits
        if self._uk_max == -math.inf:
            return _uk_result(lim, self.amd_used, None, 0)
        best, first, count, _ = self._uk_scan(math.inf)  # every sum is final now
        width = lim.uk_window_h * 3600.0
        if self._uk_max - self._uk_min > width:
            return _uk_result(lim, self.amd_used, best, count)
        if first is None:  # a short campaign: nothing was dropped, the first call is here
            rates, sums1 = self._uk_windows_at(self._uk_t[:1], np.zeros(1, np.int64))
            first = (float(rates[0]), float(self._uk_t[0]), int(sums1[0]))
        return _uk_result(lim, self.amd_used, first, 1)
