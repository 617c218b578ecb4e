"""Rating a CDR table under several plans: per-call charges and per-plan costs.

This is the question a campaign manager brings: the same calls, priced under every
offer on the table, with what each costs per dial, per contact and per conversion.
Only answered calls (by disposition, not billsec) pay for time; every attempt pays the
per-attempt fee. Billed seconds come from ``billsec``.

For plans without time bands a call's charge depends only on its billsec (and tariff),
so each plan is rated once over every billsec value up to the longest call and the
table is gathered per call: exact, and a few nanoseconds per call. Banded plans run the
kernel of :mod:`sim.billing.tariff` per call.

Memory traffic, not arithmetic, bounds this work, so the table is read once: one pass
over cache-sized chunks of calls derives each chunk's billable seconds and counts, and
rates the chunk under every plan while it is in cache. Per plan, only its outputs are
written: 8 bytes per call while charges and billed seconds fit int32.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from sim.cdr import CDRTable, encode
from sim.errors import CDRFormatError, PlanError

from .contract import period_invoice
from .fees import CampaignInfo, money, plan_fees, with_periods
from .plans import Plan
from .results import PlanCalls, PlanSummary, Rating, exact_sum
from .tariff import compile_plan, tariff_map, week_offset_s
from .terms import evaluate_terms

__all__ = ["CHUNK", "HIST_MIN_PLANS", "TABLE_MAX_S", "rate"]

#: Longest billsec rated through a lookup table (72 h); longer calls use the kernel.
TABLE_MAX_S = 1 << 18
#: Calls per chunk of the pass: big enough to amortise the per-chunk Python calls, small
#: enough that its temporaries stay in cache (measured: 32K-128K alike, 16K slower).
CHUNK = 1 << 16
#: From this many single-table plans on, the pass keeps a histogram of billable seconds
#: (for their totals) instead of summing every plan's outputs per chunk.
HIST_MIN_PLANS = 4

_I32 = np.iinfo(np.int32)


def _narrowest(values: np.ndarray) -> np.dtype:
    """int32 when ``values`` fit (half the memory written per call), else their dtype."""
    if values.dtype != object and (len(values) == 0 or (
            _I32.min <= int(values.min()) and int(values.max()) <= _I32.max)):
        return np.dtype(np.int32)
    return values.dtype


def _wider(a: np.dtype, b: np.dtype) -> np.dtype:
    return np.dtype(object) if object in (a, b) else np.promote_types(a, b)


def _sum(values: np.ndarray) -> int:
    return int(values.sum(dtype=np.int64)) if values.dtype == np.int32 else exact_sum(values)


def _dot(counts: np.ndarray, values: np.ndarray) -> int:
    """Exact ``counts @ values`` (counts >= 0)."""
    if values.dtype != object and int(counts.sum()) * max(
            1, int(np.abs(values).max(initial=0))) < 1 << 63:
        return int(counts @ values.astype(np.int64))
    return int(counts.astype(object) @ values.astype(object))


class _PlanPass:
    """One plan's share of the pass: its compiled form, tables and outputs.

    Unbanded plans gather from tables over ``0..cap`` billable seconds (per tariff),
    grown as longer calls appear. While both tables fit int32, each entry packs the
    call's charge and billed seconds into one int64 and a single gather writes both
    outputs, interleaved in an ``(n, 2)`` int32 array (``billed_s`` and ``units`` are
    its columns): one gather per call instead of two. With one tariff, totals come
    from the pass's histogram of billable seconds when it keeps one, otherwise they
    are summed per chunk while the chunk is in cache.
    """

    def __init__(self, plan: Plan, cdrs: CDRTable) -> None:
        n = len(cdrs)
        self.plan = plan
        self.cp = compile_plan(plan)
        self.tmap = tariff_map(plan, cdrs.vocabulary("destination"),
                               cdrs.vocabulary("number_type"))
        self.by_hist = False  # set by rate() when the pass keeps a histogram
        self.billed_total = self.units_total = 0  # what the histogram does not cover
        self.cap = -1
        # How many calls of table values may be summed in one uint64 (see _sum_packed)
        self.packed_sum_max_calls = 0
        empty: np.ndarray = np.zeros(0, dtype=np.int32)
        self.table_b = self.table_u = self.table_p = empty
        # packed outputs: column 0 the charge units, column 1 the billed seconds
        self.pair: np.ndarray | None = None if plan.bands else np.empty((n, 2), np.int32)
        if self.pair is not None:
            self.packed = self.pair.view(np.int64).reshape(n)
            self.billed, self.units = self.pair[:, 1], self.pair[:, 0]
        else:
            self.billed = np.empty(n, dtype=np.int64)
            self.units = np.empty(n, dtype=np.int64)

    def _fit(self, billed: np.dtype, units: np.dtype) -> None:
        """Make the outputs hold values of these dtypes (rare: a copy)."""
        if self.pair is not None and billed == units == np.int32:
            return
        if self.pair is not None:  # leave the packed layout for two arrays
            self.billed, self.units, self.pair = self.billed.copy(), self.units.copy(), None
        if _wider(self.billed.dtype, billed) != self.billed.dtype:
            self.billed = self.billed.astype(_wider(self.billed.dtype, billed))
        if _wider(self.units.dtype, units) != self.units.dtype:
            self.units = self.units.astype(_wider(self.units.dtype, units))
        # take() writes only into its table's dtype
        self.table_b = self.table_b.astype(self.billed.dtype)
        self.table_u = self.table_u.astype(self.units.dtype)

    def _grow(self, need_s: int) -> None:
        self.cap = min(TABLE_MAX_S, max(need_s, 2 * self.cap + 1, 4095))
        width = self.cap + 1
        n_tar = 1 if self.tmap is None else len(self.cp.tariffs)
        grid = np.tile(np.arange(width, dtype=np.int64), n_tar)
        which = None if self.tmap is None else np.repeat(np.arange(n_tar), width)
        table_b, table_u = self.cp.rate_calls(grid, which)
        self._fit(_narrowest(table_b), _narrowest(table_u))
        self.table_b, self.table_u = (table_b.astype(self.billed.dtype),
                                      table_u.astype(self.units.dtype))
        if self.pair is not None:
            pair = np.empty((len(grid), 2), dtype=np.int32)
            pair[:, 0], pair[:, 1] = self.table_u, self.table_b
            self.table_p = pair.view(np.int64).reshape(len(grid))
            lo, hi = int(pair.min(initial=0)), int(pair.max(initial=0))
            self.packed_sum_max_calls = (1 << 32) // (hi + 1) if lo >= 0 else 0

    def rate_chunk(self, s: slice, d: np.ndarray, d_max: int, cdrs: CDRTable) -> None:
        """Rate the calls ``s`` whose billable seconds are ``d`` (at most ``d_max``)."""
        tariff = (None if self.tmap is None else
                  self.tmap(cdrs["destination"][s], cdrs["number_type"][s]))
        if self.plan.bands:
            b, u = self.cp.rate_calls(d, tariff, _week_times(cdrs, s, d))
            self._fit(b.dtype, u.dtype)
            self.billed[s], self.units[s] = b, u
            self.billed_total += _sum(b)
            self.units_total += _sum(u)
            return
        if min(d_max, TABLE_MAX_S) > self.cap:
            self._grow(min(d_max, TABLE_MAX_S))
        idx = d if tariff is None else np.minimum(d, self.cap) + tariff * (self.cap + 1)
        # mode="clip" skips the bounds check; calls longer than the table are redone
        if self.pair is not None:
            np.take(self.table_p, idx, out=self.packed[s], mode="clip")
        else:
            np.take(self.table_b, idx, out=self.billed[s], mode="clip")
            np.take(self.table_u, idx, out=self.units[s], mode="clip")
        if d_max > self.cap:
            over = np.flatnonzero(d > self.cap)
            b, u = self.cp.rate_calls(d[over], None if tariff is None else tariff[over])
            self._fit(_narrowest(b), _narrowest(u))
            self.billed[s][over], self.units[s][over] = b, u
            if self.by_hist:  # the histogram covers the table's lengths only
                self.billed_total += _sum(b)
                self.units_total += _sum(u)
        if self.by_hist:
            return
        if self.pair is not None and d_max <= self.cap and len(d) <= self.packed_sum_max_calls:
            self._sum_packed(s)
        else:
            self.billed_total += _sum(self.billed[s])
            self.units_total += _sum(self.units[s])

    def _sum_packed(self, s: slice) -> None:
        """Both totals of the calls ``s`` from one pass over their packed outputs.

        A packed entry is ``units + 2**32 * billed`` as an unsigned 64-bit number
        (little-endian; the reverse on big-endian machines). When every value is
        non-negative and the calls are few enough that each column's sum stays below
        2**32 (:attr:`packed_sum_max_calls`, from the table's largest value), the sum
        of the entries holds both sums exactly, side by side: one pass instead of two
        strided ones.
        """
        total = int(self.packed[s].view(np.uint64).sum(dtype=np.uint64))
        low, high = total & 0xFFFF_FFFF, total >> 32
        if sys.byteorder == "little":
            self.units_total += low
            self.billed_total += high
        else:
            self.billed_total += low
            self.units_total += high

    def result(self, hist: np.ndarray) -> PlanCalls:
        billed_total, units_total = self.billed_total, self.units_total
        if self.by_hist and self.cap >= 0:
            billed_total += _dot(hist[:self.cap + 1], self.table_b)
            units_total += _dot(hist[:self.cap + 1], self.table_u)
        return PlanCalls(plan=self.plan, billed_s=self.billed, units=self.units,
                         den=self.cp.out_den, billed_total_s=billed_total,
                         units_total=units_total)


def _week_times(cdrs: CDRTable, s: slice, d: np.ndarray) -> np.ndarray:
    """Week time (s after a Monday 00:00) of each answer, placed at ``floor(answer)``."""
    answer, start = cdrs["answer"][s], cdrs["start"][s]
    at = np.where(np.isfinite(answer), answer, start)
    known = np.isfinite(at)
    if not known[d > 0].all():
        raise CDRFormatError(f"{int(np.count_nonzero((d > 0) & ~known))} answered calls "
                             "have neither an answer nor a start time: a banded plan cannot "
                             "place them")
    return np.floor(np.where(known, at, 0)).astype(np.int64) + week_offset_s(cdrs.epoch)


def check_unique_names(plans: tuple[Plan, ...]) -> None:
    """Plans rated together are told apart by name: refuse repeats."""
    names = [p.name for p in plans]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PlanError(f"plan names must be unique when rated together (repeated: "
                        f"{', '.join(dupes)})")


def rate(cdrs: CDRTable, plans: Iterable[Plan], *,
         campaign: CampaignInfo | None = None) -> Rating:
    """Rate every call of ``cdrs`` under each plan.

    Parameters
    ----------
    cdrs
        The calls (simulated or imported).
    plans
        Plans with unique names (e.g. from :func:`~sim.billing.load_plans`).
    campaign
        Seats, channels, numbers, days and labour for plan-level fees; None estimates
        them from the CDRs (:meth:`CampaignInfo.from_cdrs`, labour 0).

    Returns
    -------
    Rating
        Per-call billed seconds and charges of every plan, and per-plan summaries.

    Raises
    ------
    PlanError
        Two plans share a name.
    CDRFormatError
        An answered call has a negative billsec, or a banded plan meets an answered
        call without a time.
    """
    plans = tuple(plans)
    check_unique_names(plans)
    if campaign is None:
        campaign = CampaignInfo.from_cdrs(cdrs)
    n = len(cdrs)
    billsec, disposition, talk = cdrs["billsec"], cdrs["disposition"], cdrs["talk_s"]
    answered_by, connect, result = cdrs["answered_by"], cdrs["connect"], cdrs["result"]
    agent = cdrs["agent_id"]
    is_answered, person = encode("disposition", "ANSWERED"), encode("answered_by", "person")
    converted = encode("result", "converted")
    passes = [_PlanPass(p, cdrs) for p in plans]
    # A histogram of billable lengths (one bincount per chunk) gives every single-tariff
    # table plan its totals as a dot product; it pays when it replaces several plans'
    # two sums per chunk.
    simple = [pp for pp in passes if not pp.plan.bands and pp.tmap is None]
    use_hist = len(simple) >= HIST_MIN_PLANS
    for pp in simple:
        pp.by_hist = use_hist
    hist = np.zeros(TABLE_MAX_S + 1 if use_hist else 0, dtype=np.int64)
    size = min(n, CHUNK)
    d_buf, a_buf = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
    x_buf, y_buf = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    answered = contacts = conversions = 0
    talk_s = 0.0
    for i in range(0, n, CHUNK):
        s = slice(i, i + CHUNK)
        m = min(CHUNK, n - i)
        d, a, x, y = d_buf[:m], a_buf[:m], x_buf[:m], y_buf[:m]
        np.equal(disposition[s], is_answered, out=a)  # 0/1 as int64: no mixed-type multiply
        np.multiply(billsec[s], a, out=d)  # unanswered calls have no billable time
        d_max = int(d.view(np.uint64).max())  # as unsigned, a negative billsec is huge
        if d_max >= 1 << 63:
            raise CDRFormatError(f"{int(np.count_nonzero(d < 0))} answered calls in rows "
                                 f"{i}..{i + m - 1} have a negative billsec")
        if use_hist:
            counts = np.bincount(d if d_max <= TABLE_MAX_S else d[d <= TABLE_MAX_S])
            hist[:len(counts)] += counts
        answered += int(a.sum())
        # talk_s is 0 for unanswered calls (the schema); NaN counts as unknown (0)
        part = float(talk[s].sum())
        talk_s += part if part == part else float(np.nansum(talk[s]))
        np.equal(answered_by[s], person, out=x)
        # a contact: a person answered and was bridged - connected, or (files that keep
        # no connect time, like dialsim's Asterisk export) an agent or robot was named
        np.isfinite(connect[s], out=y)
        y |= agent[s] >= 0
        contacts += int(np.count_nonzero(np.logical_and(x, y, out=x)))
        conversions += int(np.count_nonzero(np.equal(result[s], converted, out=x)))
        for pp in passes:
            pp.rate_chunk(s, d, d_max, cdrs)
    calls: dict[str, PlanCalls] = {}
    summaries: dict[str, PlanSummary] = {}
    shared: dict[str, Any] = dict(calls=n, answered=answered, contacts=contacts,
                                  conversions=conversions, talk_s=talk_s,
                                  outcomes_known=outcomes_known(cdrs))
    windows: dict[tuple[str, str], Any] = {}  # window keys per (window, zone), shared
    anchors: dict[int, Any] = {}  # billing periods per anchor day, shared
    for pp in passes:
        pc = pp.result(hist)
        calls[pc.plan.name] = pc
        plan = pc.plan
        rounder = functools.partial(_money, plan=plan)
        traffic = evaluate_terms(plan.traffic_terms, cdrs, pc.units, pc.den, rounder, windows)
        periods: tuple[Any, ...] = ()
        c = plan.contract
        if plan.bundle is not None or c.tiers or c.min_monthly:
            periods = period_invoice(plan, cdrs, campaign.days, pc.units, pc.den,
                                     pc.billed_s, rounder, anchors,
                                     (pc.units_total, pc.billed_total_s))
        summaries[plan.name] = _summary(pc, campaign, shared, traffic, periods)
    return Rating(call_id=cdrs["call_id"], campaign=campaign, calls=calls,
                  summaries=summaries)


def outcomes_known(cdrs: CDRTable) -> bool:
    """Whether the table tells contacts and conversions: simulated or dialsim's own
    exports do (leads, who answered, results); a foreign export does not."""
    if len(cdrs) == 0:
        return True
    by = cdrs["answered_by"]
    return bool((cdrs["lead_id"] >= 0).any() or (cdrs["result"] != 0).any()
                or ((by == encode("answered_by", "person"))
                    | (by == encode("answered_by", "machine"))).any())


def _money(amount: Fraction, plan: Plan) -> Decimal:
    return money(amount, plan)


def _summary(pc: PlanCalls, campaign: CampaignInfo, shared: dict[str, Any],
             traffic: tuple[Any, ...] = (), periods: tuple[Any, ...] = ()) -> PlanSummary:
    plan = pc.plan
    if plan.rounding.per == "call":
        telecom = Decimal(pc.units_total).scaleb(-plan.rounding.decimals)
    else:
        telecom = money(Fraction(pc.units_total, pc.den), plan)
    fees = with_periods(plan_fees(plan, campaign, pc.billed_total_s), plan, campaign, periods)
    tax = Decimal(0)
    c = plan.contract
    if c.tax_rate:
        items = {"calls": telecom, "traffic": sum((t.cost for t in traffic), Decimal(0)),
                 "rent": fees.rent, "bundle": fees.bundle + fees.overage,
                 "volume": fees.volume, "minimum": fees.minimum}
        base = sum((items[k] for k in c.tax_on), Decimal(0))
        tax = money(Fraction(c.tax_rate) * Fraction(base), plan)
    return PlanSummary(plan=plan.name, currency=plan.currency,
                       decimals=plan.rounding.decimals, billed_s=pc.billed_total_s,
                       telecom=telecom, fees=fees, labour=campaign.labour, traffic=traffic,
                       tax=tax, **shared)
