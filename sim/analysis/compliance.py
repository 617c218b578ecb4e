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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..cdr import CDRTable

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["RULES", "ComplianceLimits", "RuleResult", "evaluate", "ofcom_rate", "ofcom_rates",
           "scenario_checks"]

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


def scenario_checks(scenario: Scenario) -> tuple[ComplianceLimits, bool, dict[str, float]]:
    """What :func:`evaluate` needs for a scenario's campaign: its limits, whether its
    dialer uses AMD and each segment's offset from the campaign clock (s)."""
    c = scenario.compliance
    limits = ComplianceLimits(rules=c.rules, abandon_cap=c.abandon_cap,
                              threshold_s=c.threshold_s,
                              calling_hours=(float(c.calling_hours[0]),
                                             float(c.calling_hours[1])),
                              max_per_24h=c.max_per_24h, max_per_5min=c.max_per_5min,
                              lockout_h=c.lockout_h)
    offsets = {s.name: float(s.tz_offset_s) for s in scenario.list.segments}
    return limits, scenario.dialer.amd.enabled, offsets


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


def _row_flags(cdrs: CDRTable, lim: ComplianceLimits
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per call: live (a person answered), abandoned (live, not connected within the
    threshold), connected in time, and the rule time t (answer, else dial)."""
    live = cdrs.mask("answered_by", "person")
    connected = ~np.isnan(cdrs["connect"])
    in_time = connected & (cdrs["wait_s"] <= lim.threshold_s)
    ab = live & ~in_time
    t = np.where(np.isnan(cdrs["answer"]), cdrs["start"], cdrs["answer"])
    return live, ab, in_time, t


def _us(cdrs: CDRTable, lim: ComplianceLimits, ab: np.ndarray, live: np.ndarray,
        t: np.ndarray) -> RuleResult:
    if not live.any():
        return _us_result(lim, None, np.zeros(0, np.int64), np.zeros(0), 0, 0)
    t0 = float(t[live].min())
    k = _us_periods(t[live], t0, lim)
    n_live = np.bincount(k)
    n_ab = np.bincount(k, weights=ab[live])
    return _us_result(lim, t0, n_live, n_ab, int(ab.sum()), int(live.sum()))


def _us_periods(t: np.ndarray, t0: float, lim: ComplianceLimits) -> np.ndarray:
    """Index of the 30-day period of each live answer time, from 0 at ``t0``."""
    return np.floor((t - t0) / (lim.us_period_days * _DAY)).astype(np.int64)


def _us_result(lim: ComplianceLimits, t0: float | None, n_live: np.ndarray,
               n_ab: np.ndarray, total_ab: int, total_live: int) -> RuleResult:
    """The US verdict from the live answers and abandoned calls per period."""
    period = lim.us_period_days * _DAY
    if t0 is None:
        return RuleResult(rule="us", measure="abandoned / live answers per 30 days", value=0.0,
                          limit=lim.abandon_cap, passed=True, worst_window=None, calls=0,
                          detail="no live answers")
    rates = np.where(n_live > 0, n_ab / np.maximum(n_live, 1), -1.0)
    worst_k = int(np.argmax(rates))  # the first of equally bad periods
    worst, worst_n = float(rates[worst_k]), int(n_live[worst_k])
    start = float(t0 + worst_k * period)
    return RuleResult(
        rule="us", measure="abandoned / live answers per 30 days", value=worst,
        limit=lim.abandon_cap, passed=worst <= lim.abandon_cap + 1e-12,
        worst_window=(start, start + period), calls=worst_n,
        detail=f"{total_ab} abandoned of {total_live} live answers "
               f"(not connected within {lim.threshold_s:g} s)")


def _uk_weights(cdrs: CDRTable, lim: ComplianceLimits, ab: np.ndarray, live: np.ndarray,
                in_time: np.ndarray, amd_used: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The answered calls (mask) and the 0/1 weights the UK windows sum over them:
    with AMD (the truth is known) abandoned people and live calls; without, the
    dialer's own view: drops, live and machines connected in time."""
    answered = cdrs.answered
    if amd_used:
        weights = [ab, live]
    else:
        machine = cdrs.mask("answered_by", "machine")
        weights = [answered & ~in_time, live & in_time, machine & in_time]
    return answered, [w[answered].astype(float) for w in weights]


def _uk_rates(sums: Sequence[np.ndarray], amd_used: bool) -> np.ndarray:
    """Abandonment rate of each window from its sums (``_uk_weights`` order)."""
    if amd_used:
        d, lv = sums
        return np.divide(d, lv, out=np.zeros_like(d), where=lv > 0)
    d, lv, am = sums
    return ofcom_rates(d, lv, am)


def _uk_result(lim: ComplianceLimits, amd_used: bool,
               worst: tuple[float, float, int] | None, n_windows: int) -> RuleResult:
    """The UK verdict from the worst window (rate, start, live calls in it) of
    ``n_windows`` checked (None: no answered calls)."""
    if worst is None:
        return RuleResult(rule="uk", measure="abandoned / live calls, any 24 h",
                          value=0.0, limit=lim.abandon_cap, passed=True,
                          worst_window=None, calls=0, detail="no answered calls")
    rate, s, n = worst
    how = ("abandoned people (AMD false positives included) / live calls" if amd_used
           else "drops adjusted for machines (Ofcom formula) / live calls")
    return RuleResult(
        rule="uk", measure=f"{how}, worst {lim.uk_window_h:g} h window", value=rate,
        limit=lim.abandon_cap, passed=rate <= lim.abandon_cap + 1e-12,
        worst_window=(s, s + lim.uk_window_h * 3600.0), calls=n,
        detail=f"{n_windows} windows checked")


def _lockout_result(lim: ComplianceLimits, viol: int, n_ab: int) -> RuleResult:
    return RuleResult(
        rule="uk_lockout", measure=f"re-calls within {lim.lockout_h:g} h of an abandoned call",
        value=float(viol), limit=0.0, passed=viol == 0, worst_window=None, calls=n_ab,
        detail=f"{n_ab} abandoned calls checked")


def _uk(cdrs: CDRTable, lim: ComplianceLimits, ab: np.ndarray, live: np.ndarray,
        in_time: np.ndarray, t: np.ndarray, amd_used: bool) -> list[RuleResult]:
    answered, weights = _uk_weights(cdrs, lim, ab, live, in_time, amd_used)
    order = np.argsort(t[answered], kind="stable")
    ts_k = t[answered][order]
    weights = [w[order] for w in weights]
    width = lim.uk_window_h * 3600.0
    worst = None
    n_windows = 0
    if ts_k.size:
        end = float(ts_k.max())
        # Windows start at each call and must fit in the campaign (a window holding
        # only the last few calls says nothing); a short campaign is one window.
        starts = ts_k[ts_k <= end - width] if end - ts_k.min() > width else ts_k[:1]
        sums = _window_sums(ts_k, weights, width, starts)
        rates = _uk_rates(sums, amd_used)
        i = int(np.argmax(rates))  # the first of equally bad windows
        worst = (float(rates[i]), float(starts[i]), int(sums[1][i]))
        n_windows = len(starts)
    # No re-call within the lockout after an abandoned call, per known lead (calls
    # with lead_id -1, imported, cannot be told apart and are not checked).
    lead = cdrs["lead_id"]
    known = lead >= 0
    viol = 0
    if (ab & known).any():
        order = np.lexsort((cdrs["start"][known], lead[known]))
        ld, st, a = lead[known][order], cdrs["start"][known][order], ab[known][order]
        same = ld[1:] == ld[:-1]
        gap = st[1:] - st[:-1]
        viol = int((same & a[:-1] & (gap < lim.lockout_h * 3600.0)).sum())
    return [_uk_result(lim, amd_used, worst, n_windows),
            _lockout_result(lim, viol, int(ab.sum()))]


def _outside_hours(cdrs: CDRTable, lim: ComplianceLimits,
                   tz_offset_s: Mapping[str, float]) -> int:
    """Calls dialled outside the calling hours of the called party's local time."""
    by_code = np.array([tz_offset_s.get(s, 0.0) for s in cdrs.vocabulary("segment")], float)
    local = np.mod(cdrs["start"] + by_code[cdrs["segment"]], _DAY)
    lo, hi = lim.calling_hours
    return int(((local < lo) | (local >= hi)).sum())


def _china_results(lim: ComplianceLimits, n_calls: int, n_out: int, worst24: int,
                   worst5: int) -> list[RuleResult]:
    return [RuleResult(
        rule="china_hours", measure="dials outside 08:00-21:00 local time", value=float(n_out),
        limit=0.0, passed=n_out == 0, worst_window=None, calls=n_calls,
        detail=f"{n_out} of {n_calls} dials outside the hours"), RuleResult(
        rule="china_frequency", measure="most calls to one callee in 24 h / in 5 min",
        value=float(worst24), limit=float(lim.max_per_24h),
        passed=worst24 <= lim.max_per_24h and worst5 <= lim.max_per_5min, worst_window=None,
        calls=n_calls, detail=f"max {worst24} per 24 h (cap {lim.max_per_24h}), "
                              f"max {worst5} per 5 min (cap {lim.max_per_5min})")]


def _china(cdrs: CDRTable, lim: ComplianceLimits,
           tz_offset_s: Mapping[str, float]) -> list[RuleResult]:
    start = cdrs["start"]
    n_out = _outside_hours(cdrs, lim, tz_offset_s)
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
    return _china_results(lim, len(cdrs), n_out, worst24, worst5)


def _max_in_window(callee: np.ndarray, t: np.ndarray, width: float) -> int:
    """Most calls of one callee inside any window (s − width + 1e-6, s] ending at one of
    its calls (exactly ``width`` apart is allowed), arrays sorted by (callee, t).

    Exact in the raw times, with no offsets added to them: call i's count grows by one
    for each k while the call k places before it is the same callee's and inside the
    window (both stop for good at the first k that fails, the arrays being sorted), so
    the work is the sum of the counts (past 64, one rank search does it all). A call's
    count depends only on its callee's calls of the window before it, which lets
    :class:`~.compliance_fold.ComplianceFold` count it from the last 24 h of calls.
    """
    n = len(t)
    if n == 0:
        return 0
    lo_t = t - width + 1e-6
    alive = np.arange(n)  # calls whose window may hold one more earlier call
    k = worst = 1
    while alive.size:
        if k > 64:  # a callee called very often: search instead of stepping
            return _max_in_window_ranked(callee, t, lo_t)
        alive = alive[alive >= k]
        j = alive - k
        alive = alive[(callee[j] == callee[alive]) & (t[j] > lo_t[alive])]
        if alive.size:
            worst = k + 1
        k += 1
    return worst


def _max_in_window_ranked(callee: np.ndarray, t: np.ndarray, lo_t: np.ndarray) -> int:
    """:func:`_max_in_window` by one search: times and window starts replaced by their
    dense ranks among each other, so that (callee block, rank) is an exact int64 key."""
    n = len(t)
    block = np.cumsum(np.concatenate([[0], callee[1:] != callee[:-1]]))
    v = np.concatenate([t, lo_t])
    order = np.argsort(v, kind="stable")
    vs = v[order]
    rank = np.empty(2 * n, dtype=np.int64)  # equal values, equal ranks
    rank[order] = np.cumsum(np.concatenate([[0], vs[1:] != vs[:-1]]))
    m = int(rank.max()) + 1
    key = block * m + rank[:n]  # sorted: blocks in order, times sorted in each
    lo = np.searchsorted(key, block * m + rank[n:], side="right")
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
    live, ab, in_time, t = _row_flags(cdrs, lim)
    out: list[RuleResult] = []
    if "us" in lim.rules:
        out.append(_us(cdrs, lim, ab, live, t))
    if "uk" in lim.rules:
        out.extend(_uk(cdrs, lim, ab, live, in_time, t, amd_used))
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

