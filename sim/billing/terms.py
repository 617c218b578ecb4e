"""Traffic (portfolio) terms: surcharges a carrier levies on the shape of the traffic.

Carriers price dialer traffic on the whole portfolio, not only per call. Published
examples (DESIGN.md §9): calls of at most 6 s above 15 % of connected calls are
surcharged; calls under 6 s above 20 % cost 0.015 per call, and 0-second attempts
above 25 % another 0.015; 0.02 per call when more than 10 % last at most 6 s; ASR and
ACD minima below which traffic is blocked. Each ``[[plan.traffic_terms]]`` entry is
one such line::

    name, metric = "short_share" | "zero_share" | "asr" | "acd_s", max_s (short_share)
    window = "day" | "week" | "month" | "campaign", zone (IANA, default "UTC")
    threshold (a share 0-1, or seconds for acd_s), when = "above" | "below"
    fee_per_call | uplift | suspend = true
    applies_to = "offending" | "excess" | "all", min_calls (default 100)

Metrics, counted per calendar window (cut in ``zone``; a call belongs to the window of
its dial time):

* ``short_share``: answered calls with ``0 < billsec <= max_s`` over answered calls with
  ``billsec > 0``;
* ``zero_share``: attempts with billsec 0 (unanswered ones included) over attempts;
* ``asr``: answered over attempts;
* ``acd_s``: mean billsec of answered calls.

A term *fires* in a window whose metric base holds at least ``min_calls`` calls and
whose metric is strictly above (below) the threshold; the comparison is exact
(integer counts against a decimal threshold). A fired window charges
``fee_per_call`` times: the offending calls (the short calls, the zero-second attempts;
for ``asr`` every attempt, for ``acd_s`` every answered call), the excess over the line
(``ceil(count - threshold * base)``; for ``asr`` the answered calls missing to reach it),
or every attempt of the window (``all``). An ``uplift`` multiplies the call charges of
the offending (or all) calls of the window: the fee is ``(uplift - 1)`` times them.
``suspend`` costs nothing in rating: it is reported (a simulation stops dialing).
Each window's fee is rounded once to the plan's decimals; the term's cost is their sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from sim.cdr import CDRTable, encode
from sim.validate import MISSING, Section

__all__ = [
    "METRICS",
    "WINDOWS",
    "TermResult",
    "TrafficTerm",
    "WindowResult",
    "epoch_timestamp",
    "evaluate_terms",
    "parse_traffic_terms",
    "term_counts",
    "window_breaks",
    "window_key",
    "window_keys",
    "window_label",
    "window_results",
]

Metric = Literal["short_share", "zero_share", "asr", "acd_s"]
WindowKind = Literal["day", "week", "month", "campaign"]
METRICS: tuple[str, ...] = ("short_share", "zero_share", "asr", "acd_s")
WINDOWS: tuple[str, ...] = ("day", "week", "month", "campaign")
_HOUR_S = 3600
_DAY_S = 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficTerm:
    """One portfolio term of a plan (see the module docstring for the meaning)."""

    name: str
    metric: Metric
    threshold: Decimal
    when: Literal["above", "below"]
    window: WindowKind = "month"
    zone: str = "UTC"
    max_s: int = 6
    fee_per_call: Decimal | None = None
    uplift: Decimal | None = None
    suspend: bool = False
    applies_to: Literal["offending", "excess", "all"] = "offending"
    min_calls: int = 100

    @property
    def action(self) -> str:
        """``fee 0.015/call``, ``uplift 1.10`` or ``suspend``."""
        if self.fee_per_call is not None:
            return f"fee {self.fee_per_call}/call ({self.applies_to})"
        if self.uplift is not None:
            return f"uplift x{self.uplift} ({self.applies_to})"
        return "suspend"

    @property
    def line(self) -> str:
        """The line in words, e.g. ``short_share(<=6s) > 0.15 per month``."""
        what = f"short_share(<={self.max_s}s)" if self.metric == "short_share" else self.metric
        op = ">" if self.when == "above" else "<"
        return f"{what} {op} {self.threshold} per {self.window}"

    def breached(self, count: int, base: int) -> bool:
        """Whether ``count / base`` is past the line (exact), given ``base >= min_calls``."""
        if base <= 0 or base < self.min_calls:
            return False
        line = Fraction(self.threshold) * base
        return count > line if self.when == "above" else count < line


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowResult:
    """One window of one term: its counts, metric value, whether it fired, the fee.

    ``count``/``base`` make the metric (for ``acd_s``: billsec sum / answered calls);
    ``charged_calls`` is how many calls the fee was applied to.
    """

    window: str
    calls: int
    base: int
    count: int
    fired: bool
    charged_calls: int
    cost: Decimal

    @property
    def value(self) -> float:
        return self.count / self.base if self.base else math.nan


@dataclass(frozen=True, slots=True, kw_only=True)
class TermResult:
    """One term over a CDR table: every window and the term's total fee."""

    term: TrafficTerm
    windows: tuple[WindowResult, ...]

    @property
    def cost(self) -> Decimal:
        return sum((w.cost for w in self.windows), Decimal(0))

    @property
    def fired(self) -> bool:
        return any(w.fired for w in self.windows)

    @property
    def worst(self) -> float:
        """The metric of the window furthest past (or nearest to) the line."""
        values = [w.value for w in self.windows if w.base]
        if not values:
            return math.nan
        return max(values) if self.term.when == "above" else min(values)

    def to_dict(self) -> dict[str, Any]:
        t = self.term
        return {"name": t.name, "metric": t.metric, "max_s": t.max_s, "window": t.window,
                "zone": t.zone, "threshold": t.threshold, "when": t.when,
                "action": t.action, "min_calls": t.min_calls, "fired": self.fired,
                "cost": self.cost,
                "windows": [{"window": w.window, "calls": w.calls, "base": w.base,
                             "count": w.count,
                             "value": None if not w.base else round(w.value, 6),
                             "fired": w.fired, "charged_calls": w.charged_calls,
                             "cost": w.cost} for w in self.windows]}


# -- loading -------------------------------------------------------------------------


def _zone_check(zone: str) -> str | None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return 'an IANA time zone like "UTC" or "Asia/Shanghai"'
    return None


def parse_traffic_terms(sec: Section) -> tuple[TrafficTerm, ...]:
    """The ``[[plan.traffic_terms]]`` entries of a plan section (problems recorded)."""
    out: list[TrafficTerm] = []
    for i, t in enumerate(sec.items("traffic_terms")):
        name = t.string("name", f"term {i}")
        metric = t.string("metric", choices=METRICS)
        max_s = t.integer("max_s", 6, lo=0)
        window = t.string("window", "month", choices=WINDOWS)
        zone = t.string("zone", "UTC", check=_zone_check)
        threshold = t.decimal("threshold")
        default_when = "below" if metric in ("asr", "acd_s") else "above"
        when = t.string("when", default_when, choices=("above", "below"))
        fee = t.decimal("fee_per_call", None)
        uplift = t.decimal("uplift", None)
        suspend = t.boolean("suspend", False)
        applies = t.string("applies_to", "offending", choices=("offending", "excess", "all"))
        min_calls = t.integer("min_calls", 100, lo=0)
        t.finish()
        actions = [k for k, v in (("fee_per_call", fee), ("uplift", uplift),
                                  ("suspend", suspend or None)) if v is not None]
        if len(actions) != 1:
            t.problems.add(t.key, "must give exactly one of fee_per_call, uplift or "
                           f"suspend = true (got {', '.join(actions) or 'none'})")
        if metric != "acd_s" and threshold not in (MISSING, None) and threshold > 1:
            t.problems.must(t.path("threshold"), f"a share between 0 and 1 for {metric}",
                            str(threshold))
        if applies == "excess" and (metric == "acd_s" or uplift is not None):
            t.problems.add(t.path("applies_to"), "cannot be 'excess' "
                           + ("for acd_s (seconds do not count calls)" if metric == "acd_s"
                              else "with an uplift (it multiplies charges, not calls): "
                              "use 'offending' or 'all'"))
        if uplift is not None and uplift < 1:
            t.problems.must(t.path("uplift"), "a factor >= 1 like 1.10", str(uplift))
        if MISSING in (metric, threshold) or len(actions) != 1:
            continue
        out.append(TrafficTerm(name=name, metric=metric, threshold=threshold, when=when,
                               window=window, zone=zone, max_s=max_s, fee_per_call=fee,
                               uplift=uplift, suspend=bool(suspend), applies_to=applies,
                               min_calls=min_calls))
    return tuple(out)


# -- windows ---------------------------------------------------------------------------


def epoch_timestamp(epoch: str, tz: str) -> float:
    """Seconds since 1970-01-01 UTC of a table's ``epoch`` (naive ones are in ``tz``)."""
    when = datetime.fromisoformat(epoch)
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(tz))
    return when.timestamp()


def utc_seconds(cdrs: CDRTable, t: np.ndarray) -> np.ndarray:
    """Seconds since 1970-01-01 UTC of table times ``t`` (s from the table's epoch)."""
    return epoch_timestamp(cdrs.epoch, cdrs.tz) + t


def _offset_s(tz: ZoneInfo, hour: int) -> float:
    """UTC offset (s) of ``tz`` during the UTC hour ``hour`` (hours since 1970)."""
    off = datetime.fromtimestamp(hour * _HOUR_S, UTC).astimezone(tz).utcoffset()
    return 0.0 if off is None else off.total_seconds()


def _local(utc_s: np.ndarray, zone: str) -> np.ndarray:
    """Wall-clock seconds since 1970-01-01 in ``zone`` (offsets looked up per hour)."""
    hours = np.floor(utc_s / _HOUR_S).astype(np.int64)
    if zone == "UTC" or len(hours) == 0:
        return utc_s
    lo, hi = int(hours.min()), int(hours.max())
    tz = ZoneInfo(zone)
    if hi - lo < 1 << 20:
        offs = np.array([_offset_s(tz, h) for h in range(lo, hi + 1)])
        return utc_s + offs[hours - lo]
    uniq, inv = np.unique(hours, return_inverse=True)
    return utc_s + np.array([_offset_s(tz, int(h)) for h in uniq])[inv]


def window_key(utc_s: np.ndarray, window: str, zone: str) -> np.ndarray:
    """The calendar window of each time (UTC s) as an integer key: the local day number
    (``day``), the week's (``week``, weeks start on Mondays), the month's; 0 for
    ``campaign``. The one definition rating and the simulated dialer share."""
    if window == "campaign":
        return np.zeros(len(utc_s), dtype=np.int64)
    day = np.floor(_local(utc_s, zone) / _DAY_S).astype(np.int64)
    if window == "day":
        return day
    if window == "week":
        return (day + 3) // 7  # 1970-01-01 was a Thursday: weeks start on Mondays
    return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def window_label(key: int, window: str) -> str:
    """``2026-03-02`` (day), ``2026-03-02/week`` (the Monday), ``2026-03`` (month),
    ``campaign``, of a :func:`window_key`."""
    if window == "campaign":
        return "campaign"
    if window == "day":
        return str(np.datetime64(int(key), "D"))
    if window == "week":
        return f"{np.datetime64(int(key) * 7 - 3, 'D')}/week"
    return str(np.datetime64(int(key), "M"))


def window_breaks(lo_utc: float, hi_utc: float, window: str,
                  zone: str) -> tuple[list[float], list[int]]:
    """Where the window changes between ``lo_utc`` and ``hi_utc`` (UTC s): the times
    ``breaks`` and the :func:`window_key` from each on (``keys[0]``: the key at
    ``lo_utc``; ``keys[i + 1]`` from ``breaks[i]``). Exact for :func:`window_key`:
    within a UTC hour the local offset is constant, so a key can change only at the
    hour's start or where local midnight falls in it; each such candidate is evaluated
    with :func:`window_key` itself."""
    if window == "campaign":
        return [], [0]
    h0, h1 = math.floor(lo_utc / _HOUR_S), math.floor(hi_utc / _HOUR_S) + 1
    tz = None if zone == "UTC" else ZoneInfo(zone)
    cand: list[float] = [lo_utc]
    for h in range(h0, h1 + 1):
        off = 0.0 if tz is None else _offset_s(tz, h)
        a = h * _HOUR_S
        midnight = math.ceil((a + off) / _DAY_S) * _DAY_S - off
        cand.extend(t for t in (float(a), float(midnight))
                    if lo_utc < t < (h + 1) * _HOUR_S and t <= hi_utc)
    cand = sorted(set(cand))
    keys = window_key(np.array(cand), window, zone).tolist()
    breaks: list[float] = []
    out_keys = [keys[0]]
    for t, k in zip(cand[1:], keys[1:], strict=True):
        if k != out_keys[-1]:
            breaks.append(t)
            out_keys.append(k)
    return breaks, out_keys


def window_keys(cdrs: CDRTable, window: str, zone: str) -> tuple[np.ndarray, list[str]]:
    """Per call, the index of its window (by dial time), and the windows' labels.

    Labels: ``2026-03-02`` (day), ``2026-03-02/week`` (the Monday), ``2026-03``
    (month), ``campaign``. Calls without a dial time use their answer time.
    """
    n = len(cdrs)
    if window == "campaign" or n == 0:
        return np.zeros(n, dtype=np.int64), ["campaign"]
    t = np.where(np.isfinite(cdrs["start"]), cdrs["start"], cdrs["answer"])
    t = np.where(np.isfinite(t), t, 0.0)
    key = window_key(utc_seconds(cdrs, t), window, zone)
    lo = int(key.min())
    present = np.flatnonzero(np.bincount(key - lo)) + lo
    index = np.searchsorted(present, key)
    return index, [window_label(int(k), window) for k in present]


def _group_sums(index: np.ndarray | None, values: np.ndarray, m: int) -> list[int]:
    """Exact per-window sums of integer ``values`` (``index`` = window per value; None:
    all in window 0). One pass: a float64 bincount is exact while every partial sum
    stays below 2**53; larger sums fall back to exact Python ints."""
    if index is None or m == 1:
        return [exact_total(values)] + [0] * (m - 1)
    if len(values) == 0:
        return [0] * m
    if values.dtype != object and int(np.abs(values).max()) * len(values) < 1 << 53:
        sums = np.bincount(index, weights=values, minlength=m)
        return [int(x) for x in sums]
    out = [0] * m
    for i, v in zip(index.tolist(), values.tolist(), strict=True):
        out[i] += int(v)
    return out


def exact_total(values: np.ndarray) -> int:
    """Exact sum of an integer (or object) array."""
    if values.dtype == object:
        return int(sum(values.tolist()))
    if len(values) == 0:
        return 0
    top = max(abs(int(values.max())), abs(int(values.min())), 1)
    step = max(1, ((1 << 63) - 1) // top)
    return sum(int(values[i:i + step].sum(dtype=np.int64)) for i in range(0, len(values), step))


# -- evaluation ------------------------------------------------------------------------


def evaluate_terms(terms: Sequence[TrafficTerm], cdrs: CDRTable, units: np.ndarray,
                   den: int, money: Any,
                   keys: dict[tuple[str, str], tuple[np.ndarray, list[str]]] | None = None
                   ) -> tuple[TermResult, ...]:
    """Every term of one plan over ``cdrs``.

    Parameters
    ----------
    terms
        The plan's traffic terms.
    cdrs
        The rated calls.
    units, den
        The plan's per-call charges, in units of ``1/den`` currency (for uplifts).
    money
        ``Fraction -> Decimal`` rounding to the plan's decimals.
    keys
        A cache of :func:`window_keys` per ``(window, zone)``, shared between plans.
    """
    if not terms:
        return ()
    keys = {} if keys is None else keys
    answered = cdrs["disposition"] == encode("disposition", "ANSWERED")
    d = np.where(answered, cdrs["billsec"], 0)
    positive = answered & (d > 0)
    out: list[TermResult] = []
    for term in terms:
        wk = (term.window, term.zone)
        if wk not in keys:
            keys[wk] = window_keys(cdrs, *wk)
        index, labels = keys[wk]
        m = len(labels)
        counts = term_counts(term, index, m, d, answered, positive, units)
        out.append(window_results(term, labels, counts, den, money))
    return tuple(out)


#: What a term counts per window: attempts, metric numerator and base, calls charged
#: if it fires, and their charge units (uplifts). Plain sums: a chunked rating adds up
#: the counts of its chunks (:mod:`sim.billing.chunks`).
COUNTS: tuple[str, ...] = ("attempts", "num", "base", "charged", "charged_units")


def term_counts(term: TrafficTerm, index: np.ndarray, m: int, d: np.ndarray,
                answered: np.ndarray, positive: np.ndarray,
                units: np.ndarray) -> dict[str, list[int]]:
    """Per window (``index`` of each call into ``m`` windows), the counts of
    :data:`COUNTS` for ``term``; ``d`` billable seconds, ``units`` charges per call."""

    def count(mask: np.ndarray) -> list[int]:
        return [int(x) for x in np.bincount(index[mask], minlength=m)]

    attempts = [int(x) for x in np.bincount(index, minlength=m)]
    if term.metric == "short_share":
        offending = positive & (d <= term.max_s)
        num, base = count(offending), count(positive)
    elif term.metric == "zero_share":
        offending = d == 0
        num, base = count(offending), attempts
    elif term.metric == "asr":
        offending = np.ones(len(d), dtype=bool)
        num, base = count(answered), attempts
    else:
        offending = answered
        num, base = _group_sums(index[answered], d[answered], m), count(answered)
    charged_mask = np.ones(len(d), dtype=bool) if term.applies_to == "all" else offending
    charged_units = (_group_sums(index[charged_mask], units[charged_mask], m)
                     if term.uplift is not None else [0] * m)
    return {"attempts": attempts, "num": num, "base": base, "charged": count(charged_mask),
            "charged_units": charged_units}


def window_results(term: TrafficTerm, labels: Sequence[str], counts: dict[str, list[int]],
                   den: int, money: Any) -> TermResult:
    """The term over its windows ``labels`` from their :func:`term_counts`."""
    attempts, num, base = counts["attempts"], counts["num"], counts["base"]
    charged_counts, charged_units = counts["charged"], counts["charged_units"]
    windows: list[WindowResult] = []
    for w in range(len(labels)):
        fired = term.breached(num[w], base[w])
        calls = 0
        cost = Fraction(0)
        if fired:
            if term.applies_to == "excess":
                line = Fraction(term.threshold) * base[w]
                over = num[w] - line if term.when == "above" else line - num[w]
                calls = max(0, math.ceil(over))
            else:
                calls = charged_counts[w]
            if term.fee_per_call is not None:
                cost = Fraction(term.fee_per_call) * calls
            elif term.uplift is not None:
                cost = (Fraction(term.uplift) - 1) * Fraction(charged_units[w], den)
            else:
                calls = 0
        windows.append(WindowResult(window=labels[w], calls=attempts[w], base=base[w],
                                    count=num[w], fired=fired, charged_calls=calls,
                                    cost=money(cost) if cost else Decimal(0)))
    return TermResult(term=term, windows=tuple(windows))
