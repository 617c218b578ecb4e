"""Regulatory compliance of a campaign's calls (DESIGN §7), from CDRs alone.

* **US** (FTC TSR / FCC TCPA): abandoned calls ≤ 3 % of live-answered calls per
  campaign per 30-day period; a call is abandoned when the person is not connected
  to a live agent within 2 s of answering.
* **UK** (Ofcom): abandoned ≤ 3 % of live calls over any 24 h; AMD false positives
  count as abandoned; a dialer without AMD cannot tell dropped people from dropped
  machines, so its drops are adjusted by the machine share seen by agents:
  adj = drops − drops·AM/(live + AM), rate = adj / (live + adj). No re-call within
  72 h of an abandoned call.
* **China** (operator / cloud rules seen in practice): calls only 08:00–21:00 in the
  called party's local time; the same callee at most 5 times per 24 h and 3 per 5 min.

Each rule gives a :class:`RuleResult` with the measured value, the limit, pass/fail,
the worst window and how many calls it covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..cdr import CDRTable

__all__ = ["RULES", "ComplianceLimits", "RuleResult", "evaluate", "ofcom_rate", "ofcom_rates"]

RULES: tuple[str, ...] = ("us", "uk", "china")
_DAY = 86_400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceLimits:
    """The numbers the rules use (defaults: the published ones)."""

    rules: tuple[str, ...] = RULES
    abandon_cap: float = 0.03
    threshold_s: float = 2.0
    us_period_days: float = 30.0
    uk_window_h: float = 24.0
    lockout_h: float = 72.0
    calling_hours: tuple[float, float] = (8 * 3600.0, 21 * 3600.0)
    max_per_24h: int = 5
    max_per_5min: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleResult:
    """One rule's verdict on a set of calls."""

    rule: str
    measure: str
    value: float
    limit: float
    passed: bool
    worst_window: tuple[float, float] | None
    calls: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["worst_window"] = list(self.worst_window) if self.worst_window else None
        return d


def ofcom_rate(drops: float, live: float, machines: float) -> float:
    """Ofcom's abandoned-call rate for a dialer without AMD (answering-machine adjustment).

    ``drops`` answered calls dropped by the dialer, ``live`` live calls connected to
    agents, ``machines`` answering machines connected to agents. 29, 9, 7 → 0.6444.
    """
    return float(ofcom_rates(np.array([drops], float), np.array([live], float),
                             np.array([machines], float))[0])


def ofcom_rates(drops: np.ndarray, live: np.ndarray, machines: np.ndarray) -> np.ndarray:
    """:func:`ofcom_rate` over arrays of windows."""
    seen = live + machines
    adj = drops - drops * np.divide(machines, seen, out=np.zeros_like(seen), where=seen > 0)
    den = live + adj
    return np.divide(adj, den, out=np.zeros_like(den), where=den > 0)


def _window_sums(t: np.ndarray, weights: Sequence[np.ndarray], width: float,
                 starts: np.ndarray) -> list[np.ndarray]:
    """Sums of each weight over [s, s + width) for every window start s (t sorted)."""
    j0 = np.searchsorted(t, starts, side="left")
    j1 = np.searchsorted(t, starts + width, side="left")
    out = []
    for w in weights:
        c = np.concatenate([[0.0], np.cumsum(w)])
        out.append(c[j1] - c[j0])
    return out


def _us(cdrs: CDRTable, lim: ComplianceLimits, ab: np.ndarray, live: np.ndarray,
        t: np.ndarray) -> RuleResult:
    period = lim.us_period_days * _DAY
    if not live.any():
        return RuleResult(rule="us", measure="abandoned / live answers per 30 days", value=0.0,
                          limit=lim.abandon_cap, passed=True, worst_window=None, calls=0,
                          detail="no live answers")
    t0 = float(t[live].min())
    k = np.floor((t[live] - t0) / period).astype(np.int64)  # period index, from 0
    n_live = np.bincount(k)
    n_ab = np.bincount(k, weights=ab[live])
    rates = np.where(n_live > 0, n_ab / np.maximum(n_live, 1), -1.0)
    worst_k = int(np.argmax(rates))  # the first of equally bad periods
    worst, worst_n = float(rates[worst_k]), int(n_live[worst_k])
    start = float(t0 + worst_k * period)
    return RuleResult(
        rule="us", measure="abandoned / live answers per 30 days", value=worst,
        limit=lim.abandon_cap, passed=worst <= lim.abandon_cap + 1e-12,
        worst_window=(start, start + period), calls=worst_n,
        detail=f"{int(ab.sum())} abandoned of {int(live.sum())} live answers "
               f"(not connected within {lim.threshold_s:g} s)")


def _uk(cdrs: CDRTable, lim: ComplianceLimits, ab: np.ndarray, live: np.ndarray,
        t: np.ndarray, amd_used: bool) -> list[RuleResult]:
    answered = cdrs.answered
    machine = cdrs.mask("answered_by", "machine")
    connected = ~np.isnan(cdrs["connect"])
    in_time = connected & (cdrs["wait_s"] <= lim.threshold_s)
    order = np.argsort(t, kind="stable")
    ts = t[order]
    width = lim.uk_window_h * 3600.0
    if amd_used:  # the truth is known: abandoned people over live calls
        weights = [ab[order].astype(float), live[order].astype(float)]
    else:  # the dialer's own view: drops, live and machines connected in time
        drops = answered & ~in_time
        weights = [drops[order].astype(float), (live & in_time)[order].astype(float),
                   (machine & in_time)[order].astype(float)]
    keep = answered[order]
    ts_k = ts[keep]
    weights = [w[keep] for w in weights]
    results: list[RuleResult] = []
    if ts_k.size:
        end = float(ts_k.max())
        # Windows start at each call and must fit in the campaign (a window holding
        # only the last few calls says nothing); a short campaign is one window.
        starts = ts_k[ts_k <= end - width] if end - ts_k.min() > width else ts_k[:1]
        sums = _window_sums(ts_k, weights, width, starts)
        if amd_used:
            d, lv = sums
            rates = np.divide(d, lv, out=np.zeros_like(d), where=lv > 0)
        else:
            d, lv, am = sums
            rates = ofcom_rates(d, lv, am)
        i = int(np.argmax(rates))
        worst = float(rates[i])
        win = (float(starts[i]), float(starts[i]) + width)
        n = int(sums[1][i])
        how = ("abandoned people (AMD false positives included) / live calls" if amd_used
               else "drops adjusted for machines (Ofcom formula) / live calls")
        results.append(RuleResult(
            rule="uk", measure=f"{how}, worst {lim.uk_window_h:g} h window", value=worst,
            limit=lim.abandon_cap, passed=worst <= lim.abandon_cap + 1e-12, worst_window=win,
            calls=n, detail=f"{len(starts)} windows checked"))
    else:
        results.append(RuleResult(rule="uk", measure="abandoned / live calls, any 24 h",
                                  value=0.0, limit=lim.abandon_cap, passed=True,
                                  worst_window=None, calls=0, detail="no answered calls"))
    # no re-call within the lockout after an abandoned call
    lead = cdrs["lead_id"]
    viol = 0
    if ab.any() and (lead >= 0).any():
        order = np.lexsort((cdrs["start"], lead))
        ld, st, a = lead[order], cdrs["start"][order], ab[order]
        same = ld[1:] == ld[:-1]
        gap = st[1:] - st[:-1]
        viol = int((same & a[:-1] & (gap < lim.lockout_h * 3600.0)).sum())
    results.append(RuleResult(
        rule="uk_lockout", measure=f"re-calls within {lim.lockout_h:g} h of an abandoned call",
        value=float(viol), limit=0.0, passed=viol == 0, worst_window=None, calls=int(ab.sum()),
        detail=f"{int(ab.sum())} abandoned calls checked"))
    return results


def _china(cdrs: CDRTable, lim: ComplianceLimits,
           tz_offset_s: Mapping[str, float]) -> list[RuleResult]:
    start = cdrs["start"]
    by_code = np.array([tz_offset_s.get(s, 0.0) for s in cdrs.vocabulary("segment")], float)
    offs = by_code[cdrs["segment"]]
    local = np.mod(start + offs, _DAY)
    lo, hi = lim.calling_hours
    outside = (local < lo) | (local >= hi)
    n_out = int(outside.sum())
    res = [RuleResult(
        rule="china_hours", measure="dials outside 08:00-21:00 local time", value=float(n_out),
        limit=0.0, passed=n_out == 0, worst_window=None, calls=len(cdrs),
        detail=f"{n_out} of {len(cdrs)} dials outside the hours")]
    callee = np.where(cdrs["lead_id"] >= 0, cdrs["lead_id"],
                      -1 - cdrs["destination"].astype(np.int64))
    worst24 = worst5 = min(len(cdrs), 1)
    if len(cdrs):
        # only callees called more than once can have more than one call in a window
        # (counted when the ids are dense, as simulated leads are; else search them all)
        key = callee - callee.min()
        dense = int(key.max()) < 4 * len(key) + 1024
        again = np.bincount(key)[key] > 1 if dense else np.ones(len(key), dtype=bool)
        if again.any():
            c, s = callee[again], start[again]
            order = np.lexsort((s, c))
            c, s = c[order], s[order]
            worst24 = _max_in_window(c, s, _DAY)
            worst5 = _max_in_window(c, s, 300.0)
    res.append(RuleResult(
        rule="china_frequency", measure="most calls to one callee in 24 h / in 5 min",
        value=float(worst24), limit=float(lim.max_per_24h),
        passed=worst24 <= lim.max_per_24h and worst5 <= lim.max_per_5min, worst_window=None,
        calls=len(cdrs), detail=f"max {worst24} per 24 h (cap {lim.max_per_24h}), "
                                f"max {worst5} per 5 min (cap {lim.max_per_5min})"))
    return res


def _max_in_window(callee: np.ndarray, t: np.ndarray, width: float) -> int:
    """Most calls of one callee inside any window (s − width, s], arrays sorted by (callee, t)."""
    n = len(t)
    if n == 0:
        return 0
    # Offset each callee's times far apart so one searchsorted serves all callees.
    block = np.cumsum(np.r_[0, callee[1:] != callee[:-1]])
    span = float(t.max() - t.min()) + 2 * width + 1.0
    u = (t - t.min()) + block * span
    lo = np.searchsorted(u, u - width + 1e-6, side="right")  # exactly `width` apart is allowed
    return int((np.arange(n) - lo + 1).max())


def evaluate(cdrs: CDRTable, limits: ComplianceLimits | None = None, *, amd_used: bool = False,
             tz_offset_s: Mapping[str, float] | None = None) -> list[RuleResult]:
    """Check ``cdrs`` against the rules in ``limits.rules``.

    Parameters
    ----------
    cdrs
        Calls of one campaign (simulated or imported).
    limits
        Caps, thresholds and windows (defaults: DESIGN §7).
    amd_used
        Whether the dialer used answering-machine detection (changes the UK formula).
    tz_offset_s
        Offset of each segment's local time from the CDR clock, s (China hours).
    """
    lim = limits or ComplianceLimits()
    person = cdrs.mask("answered_by", "person")
    connected = ~np.isnan(cdrs["connect"])
    in_time = connected & (cdrs["wait_s"] <= lim.threshold_s)
    ab = person & ~in_time
    t = np.where(np.isnan(cdrs["answer"]), cdrs["start"], cdrs["answer"])
    out: list[RuleResult] = []
    if "us" in lim.rules:
        out.append(_us(cdrs, lim, ab, person, t))
    if "uk" in lim.rules:
        out.extend(_uk(cdrs, lim, ab, person, t, amd_used))
    if "china" in lim.rules:
        out.extend(_china(cdrs, lim, tz_offset_s or {}))
    return out


def format_results(results: Sequence[RuleResult | Mapping[str, Any]]) -> list[list[str]]:
    """Rows [rule, measure, value, limit, verdict] for a text table (results as
    :class:`RuleResult` or their ``as_dict()``); abandonment rates as percentages."""
    rows = []
    for res in results:
        r = res.as_dict() if isinstance(res, RuleResult) else res
        share = r["rule"] in ("us", "uk")
        val = f"{r['value']:.2%}" if share else f"{r['value']:g}"
        lim = f"{r['limit']:.0%}" if share else f"{r['limit']:g}"
        rows.append([r["rule"], r["measure"], val, lim, "pass" if r["passed"] else "FAIL"])
    return rows

