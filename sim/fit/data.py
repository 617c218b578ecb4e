"""The export as the estimators see it: dials in lead order, outcomes, ring and talk bins.

Leads are told apart by the lead id, else the dialled number (``destination``), else a
column the user names; a lead's dials ordered by start are its attempts 1, 2, ...
Whole-second exports (PBX timestamps, billsec) give durations to the second only, so
they become intervals (``[b, b + 1)`` for truncated billsec, ``(b - 1, b]`` for rounded
up); simulated exports keep exact floats. A no-answer call is censored: it only says
the phone was not picked up before the line stopped ringing, after ``end - start``
seconds or the ring timeout, whichever came first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cdr import CDRTable
from ..errors import SimError
from ._mle import Bins, bins_exact, bins_interval

__all__ = ["ANSWERED", "BUSY", "FAILED", "NO_ANSWER", "Dials", "billsec_convention",
           "prepare"]

ANSWERED, NO_ANSWER, BUSY, FAILED = range(4)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dials:
    """Per-dial arrays of the export (rows in lead, start order) and derived facts."""

    n: int
    disposition: np.ndarray      # int8 codes of sim.cdr.DISPOSITIONS
    lead: np.ndarray             # int64 lead index 0..leads-1 (each row its own if unknown)
    lead_source: str             # which column told the leads apart ('' none)
    attempt: np.ndarray          # int32, 1-based
    start: np.ndarray            # s from epoch
    end: np.ndarray
    ring_s: np.ndarray           # answer - start for answered, NaN otherwise
    dur_s: np.ndarray            # end - start
    talk_s: np.ndarray           # answer to end (answered) as the export gives it
    billsec: np.ndarray
    hour: np.ndarray             # local hour of the dial's start
    answered_by: np.ndarray      # codes of sim.cdr.ANSWERED_BY
    amd: np.ndarray
    result: np.ndarray
    agent_id: np.ndarray
    wrap_s: np.ndarray
    whole_seconds: bool          # timestamps to the second: durations are intervals
    ring_timeout_s: float        # inferred or given
    timeout_source: str
    fixed_timeout: bool          # unanswered lines all ring ~the same time
    billsec_rule: str            # 'ceil', 'floor', 'round' or 'unknown'
    billsec_note: str
    epoch: str
    tz: str

    @property
    def answered(self) -> np.ndarray:
        return self.disposition == ANSWERED

    @property
    def no_answer(self) -> np.ndarray:
        return self.disposition == NO_ANSWER

    @property
    def leads(self) -> int:
        return int(self.lead.max()) + 1 if self.n else 0

    def censor_s(self) -> np.ndarray:
        """How long each no-answer call rang (s): its duration, capped by the timeout."""
        d = self.dur_s[self.no_answer]
        d = np.where(np.isfinite(d) & (d > 0), d, self.ring_timeout_s)
        return np.minimum(d, self.ring_timeout_s)

    def ring_bins(self, rows: np.ndarray | None = None) -> Bins:
        """Ring-to-answer times of answered calls (``rows``: a mask within answered)."""
        r = self.ring_s[self.answered]
        if rows is not None:
            r = r[rows]
        if self.whole_seconds:
            # to the second, but never after the line stopped ringing
            hi = np.minimum(r + 0.5, self.ring_timeout_s)
            return bins_interval(np.minimum(np.maximum(r - 0.5, 0.0), hi * 0.999), hi)
        return bins_exact(r)

    def talk_values(self) -> np.ndarray:
        """Talk time of answered calls as billed-or-measured (s)."""
        if self.whole_seconds:
            return self.billsec[self.answered].astype(float)
        return self.talk_s[self.answered]

    def talk_bins(self, rows: np.ndarray | None = None) -> Bins:
        """Talk times of answered calls as bins (``rows``: a mask within answered)."""
        if not self.whole_seconds:
            t = self.talk_s[self.answered]
            return bins_exact(t if rows is None else t[rows])
        b = self.billsec[self.answered].astype(float)
        if rows is not None:
            b = b[rows]
        if self.billsec_rule == "ceil":
            lo, hi = np.maximum(b - 1, 0.0), b
        elif self.billsec_rule == "round":
            lo, hi = np.maximum(b - 0.5, 0.0), b + 0.5
        else:  # floor (and unknown: what the timestamps of such exports show)
            lo, hi = b, b + 1
        return bins_interval(lo, hi)


def billsec_convention(talk_s: np.ndarray, billsec: np.ndarray) -> tuple[str, str]:
    """Whether billsec is talk time rounded up, truncated or rounded, from ``end - answer``.

    Returns the rule (``ceil``, ``floor``, ``round`` or ``unknown``) and the evidence.
    """
    ok = np.isfinite(talk_s)
    d = billsec[ok].astype(float) - talk_s[ok]
    n = len(d)
    if n == 0:
        return "unknown", "no answered call to compare billsec with"
    above = int((d > 1e-6).sum())
    below = int((d < -1e-6).sum())
    same = n - above - below
    ev = (f"billsec vs end - answer on {n:,} answered calls: {above:,} above, {below:,} below, "
          f"{same:,} equal")
    if above == 0 and below == 0:
        return "unknown", ev + " (whole-second talk times cannot tell)"
    if below <= 0.01 * n:
        return "ceil", ev
    if above <= 0.01 * n:
        return "floor", ev
    if np.all(np.abs(d) <= 0.5 + 1e-6):
        return "round", ev
    return "unknown", ev + " (no single rule fits)"


def _integral(x: np.ndarray) -> bool:
    x = x[np.isfinite(x)]
    return bool(len(x)) and bool(np.all(x == np.round(x)))


def _lead_key(cdrs: CDRTable, lead_column: str | None) -> tuple[np.ndarray | None, str]:
    if lead_column is not None:
        if lead_column not in cdrs.columns:
            raise SimError(f"--lead-column: no column {lead_column!r} in the CDRs (columns: "
                           + ", ".join(cdrs.columns) + ")")
        return np.asarray(cdrs[lead_column]), lead_column
    if "number" in cdrs.columns:  # w12's dialled number of simulated leads
        col = np.asarray(cdrs["number"])
        if len(np.unique(col)) > 1:
            return col, "number"
    lead = cdrs["lead_id"]
    if len(lead) and lead.min() >= 0:
        return lead, "lead_id"
    dest = cdrs["destination"]
    if len(dest) and dest.min() > 0:
        return dest, "destination"
    return None, ""


def prepare(cdrs: CDRTable, *, lead_column: str | None = None,
            ring_timeout_s: float | None = None) -> Dials:
    """The export's dials, ordered by lead then start, with attempts numbered.

    Parameters
    ----------
    cdrs
        The billable legs (outbound, after any filter).
    lead_column
        Column that identifies a lead (default: lead id, else the dialled number).
    ring_timeout_s
        The dialer's ring timeout (s); default: inferred from the no-answer durations.
    """
    key, source = _lead_key(cdrs, lead_column)
    n = len(cdrs)
    start = cdrs["start"]
    if key is None:
        order = np.argsort(start, kind="stable")
        lead = np.arange(n, dtype=np.int64)
        attempt = np.ones(n, dtype=np.int32)
    else:
        order = np.lexsort((start, key))
        k_sorted = key[order]
        first = np.r_[True, k_sorted[1:] != k_sorted[:-1]] if n else np.zeros(0, dtype=bool)
        lead = (np.cumsum(first) - 1).astype(np.int64)
        idx = np.arange(n)
        attempt = (idx - np.maximum.accumulate(np.where(first, idx, 0)) + 1).astype(np.int32)

    def col(name: str) -> np.ndarray:
        return np.asarray(cdrs[name])[order]

    disp = col("disposition")
    st, ans, en = col("start"), col("answer"), col("end")
    answered = disp == ANSWERED
    ring = np.where(answered, ans - st, np.nan)
    bad = answered & ~np.isfinite(ring)
    ring = np.where(bad, col("ring_s"), ring)
    dur = en - st
    whole = _integral(st) and _integral(np.where(np.isfinite(ans), ans, 0.0)) and _integral(en)
    talk = col("talk_s")
    billsec = col("billsec")
    rule, note = billsec_convention(np.where(answered, en - ans, np.nan)[answered],
                                    billsec[answered])
    na = disp == NO_ANSWER
    na_dur = dur[na]
    na_dur = na_dur[np.isfinite(na_dur)]
    fixed = False
    if ring_timeout_s is not None:
        timeout, tsource = float(ring_timeout_s), "given (--ring-timeout)"
        fixed = True
    elif len(na_dur):
        top = float(na_dur.max())
        fixed = bool(np.mean(na_dur >= top - 1.0) >= 0.5)
        r_max = float(np.nanmax(ring[answered])) if answered.any() else 0.0
        timeout = max(top, r_max)
        if whole:
            timeout = math.ceil(timeout)
        tsource = ("inferred: most no-answer calls ring the same time" if fixed else
                   "inferred: the longest ring seen (no-answer lines were let ring for "
                   "different times)")
    else:
        timeout = float(np.nanmax(ring[answered])) if answered.any() else math.nan
        tsource = "inferred: the longest ring to answer (no no-answer calls)"
    hour = (np.floor(st / 3600.0) % 24).astype(np.int64)
    return Dials(n=n, disposition=disp, lead=lead, lead_source=source, attempt=attempt,
                 start=st, end=en, ring_s=ring, dur_s=dur, talk_s=talk, billsec=billsec,
                 hour=hour, answered_by=col("answered_by"), amd=col("amd"),
                 result=col("result"), agent_id=col("agent_id"), wrap_s=col("wrap_s"),
                 whole_seconds=whole, ring_timeout_s=timeout, timeout_source=tsource,
                 fixed_timeout=fixed, billsec_rule=rule, billsec_note=note,
                 epoch=cdrs.epoch, tz=cdrs.tz)
