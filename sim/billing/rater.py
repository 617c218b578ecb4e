"""Rating a CDR table under several plans: per-call charges and per-plan costs.

This is the question a campaign manager brings: the same calls, priced under every
offer on the table, with what each costs per dial, per contact and per conversion.
Only answered calls (by disposition, not billsec) pay for time; every attempt pays the
per-attempt fee. Billed seconds come from ``billsec``.

For plans without time bands a call's charge depends only on its billsec (and tariff),
so each plan is rated once over every billsec value up to the longest call and the
table is gathered per call: exact, and a few nanoseconds per call. Banded plans do the
same per class of the week (:mod:`sim.billing.weekclass`); the few calls that may leave
their class run the kernel of :mod:`sim.billing.tariff`.

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
from .ratetables import PreparedPlan, narrowest
from .results import PlanCalls, PlanSummary, Rating, exact_sum
from .tariff import week_offset_s
from .terms import evaluate_terms
from .weekclass import Scratch, week_times

__all__ = ["CHUNK", "HIST_MIN_PLANS", "TABLE_MAX_S", "rate", "rate_prepared"]

#: Longest billsec rated through a lookup table (72 h); longer calls use the kernel.
TABLE_MAX_S = 1 << 18
#: Calls per chunk of the pass: big enough to amortise the per-chunk Python calls, small
#: enough that its temporaries stay in cache (measured: 32K-128K alike, 16K slower).
CHUNK = 1 << 16
#: From this many single-table plans on, the pass keeps a histogram of billable seconds
#: (for their totals) instead of summing every plan's outputs per chunk.
HIST_MIN_PLANS = 4

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
    """One plan's share of the pass: its outputs and totals (the plan's compiled form
    and tables are its :class:`~sim.billing.ratetables.PreparedPlan`).

    Plans gather from tables over ``0..cap`` billable seconds (per class of the week and
    tariff), grown as longer calls appear. While both tables fit int32, each entry
    packs the call's charge and billed seconds into one int64 and a single gather
    writes both outputs, interleaved in an ``(n, 2)`` int32 array (``billed_s`` and
    ``units`` are its columns): one gather per call instead of two. With one tariff and
    no bands, totals come from the pass's histogram of billable seconds when it keeps
    one, otherwise they are summed per chunk while the chunk is in cache. Calls longer
    than the table, and calls of banded plans that may leave their class of the week
    (:mod:`sim.billing.weekclass`), are rated by the kernel.
    """

    def __init__(self, prep: PreparedPlan, cdrs: CDRTable) -> None:
        n = len(cdrs)
        self.prep = prep
        self.plan = plan = prep.plan
        self.cp = prep.cp
        self.res = prep.resolved(cdrs.vocabulary("destination"),
                                 cdrs.vocabulary("number_type"))
        self.tmap = None if self.res is None else self.res.tmap
        self.offset = week_offset_s(cdrs.epoch) if plan.bands else 0
        self.by_hist = False  # set by rate() when the pass keeps a histogram
        self.billed_total = self.units_total = 0  # what the histogram does not cover
        size = min(n, CHUNK)
        self.idx = np.empty(size, dtype=np.int64)  # table entry per call of a chunk
        self.tmp = np.empty(2 * size if self.res is not None and self.res.by_type else 0,
                            dtype=np.int64)
        self.scratch = Scratch(size if plan.bands else 0)
        self.tables: tuple[int, np.ndarray, np.ndarray, np.ndarray] = (
            -2, prep.table_p, prep.table_b, prep.table_u)  # cap -2: not yet cast
        # packed outputs: column 0 the charge units, column 1 the billed seconds
        self.pair: np.ndarray | None = np.empty((n, 2), np.int32)
        self.packed = self.pair.view(np.int64).reshape(n)
        self.billed, self.units = self.pair[:, 1], self.pair[:, 0]

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
        self.tables = (-2, *self.tables[1:])  # cast the tables anew

    def _cast_tables(self) -> None:
        """The prepared tables in the outputs' dtypes (take() writes only into its
        table's dtype)."""
        p = self.prep
        self._fit(p.table_b.dtype, p.table_u.dtype)
        self.tables = (p.cap, p.table_p, p.table_b.astype(self.billed.dtype, copy=False),
                       p.table_u.astype(self.units.dtype, copy=False))

    def rate_chunk(self, s: slice, d: np.ndarray, d_max: int, cdrs: CDRTable) -> None:
        """Rate the calls ``s`` whose billable seconds are ``d`` (at most ``d_max``)."""
        prep = self.prep
        if min(d_max, TABLE_MAX_S) > prep.cap:
            prep.grow(min(d_max, TABLE_MAX_S), TABLE_MAX_S)
        if self.tables[0] != prep.cap:
            self._cast_tables()
        cap, table_p, table_b, table_u = self.tables
        m = len(d)
        idx = self.idx[:m]
        # the table entry: billable seconds + the tariff's offset + the class's offset
        if self.res is None:
            np.copyto(idx, d)
        else:
            # (codes index their vocabularies: "clip" only skips the bounds checks, which
            # with out= would also buffer the output)
            dest_off, dest_neg, type_off = self.res.offsets(cap + 1)
            np.take(dest_off, cdrs["destination"][s], out=idx, mode="clip")
            if self.res.by_type:  # where no prefix matched, the number type's tariff
                tmp, tmp2 = self.tmp[:m], self.tmp[len(self.tmp) // 2:][:m]
                np.take(dest_neg, cdrs["destination"][s], out=tmp, mode="clip")
                np.take(type_off, cdrs["number_type"][s], out=tmp2, mode="clip")
                tmp &= tmp2
                idx += tmp
            idx += d
        redo: np.ndarray | None = None  # rows the kernel rates
        if prep.classes is not None:
            placed = prep.classes.place(cdrs["answer"][s], cdrs["start"][s], d, d_max,
                                        self.offset, prep.slot_off, self.scratch)
            if placed is None:  # times beyond float range: all by the kernel
                redo = np.arange(m)
            else:
                idx += placed.offsets
                redo = placed.cross
        if d_max > cap:
            over = np.flatnonzero(d > cap)
            redo = over if redo is None or not len(redo) else np.union1d(redo, over)
        # mode="clip" skips the bounds check; calls longer than the table are redone
        if self.pair is not None:
            np.take(table_p, idx, out=self.packed[s], mode="clip")
        else:
            np.take(table_b, idx, out=self.billed[s], mode="clip")
            np.take(table_u, idx, out=self.units[s], mode="clip")
        if redo is not None and len(redo):
            self._redo(s, redo, d, cdrs)
        if self.by_hist:
            return
        if (self.pair is not None and (redo is None or not len(redo))
                and m <= prep.packed_sum_max_calls):
            self._sum_packed(s)
        else:
            self.billed_total += _sum(self.billed[s])
            self.units_total += _sum(self.units[s])

    def _redo(self, s: slice, rows: np.ndarray, d: np.ndarray, cdrs: CDRTable) -> None:
        """Rate the calls ``rows`` of the chunk ``s`` by the kernel."""
        times = None
        if self.plan.bands:
            times = week_times(cdrs["answer"][s][rows], cdrs["start"][s][rows], d[rows],
                               self.offset)
        tariff = None if self.tmap is None else self.tmap(
            cdrs["destination"][s][rows], cdrs["number_type"][s][rows])
        b, u = self.cp.rate_calls(d[rows], tariff, times)
        self._fit(narrowest(b), narrowest(u))
        self.billed[s][rows], self.units[s][rows] = b, u
        if self.by_hist:  # the histogram covers the table's lengths only
            self.billed_total += _sum(b)
            self.units_total += _sum(u)

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
        p = self.prep
        if self.by_hist and p.cap >= 0:
            billed_total += _dot(hist[:p.cap + 1], p.table_b)
            units_total += _dot(hist[:p.cap + 1], p.table_u)
        return PlanCalls(plan=self.plan, billed_s=self.billed, units=self.units,
                         den=self.cp.out_den, billed_total_s=billed_total,
                         units_total=units_total)


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
        The calls (simulated or imported); a :class:`sim.CDRFile` is rated chunk by
        chunk (:meth:`sim.CDRFile.rate`).
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
    if not isinstance(cdrs, CDRTable) and hasattr(cdrs, "rate"):
        return cdrs.rate(plans, campaign=campaign)  # a sim.CDRFile: chunk by chunk
    return rate_prepared(cdrs, plans, campaign=campaign)


def rate_prepared(cdrs: CDRTable, plans: Iterable[Plan], *,
                  campaign: CampaignInfo | None = None,
                  prepared: dict[Plan, PreparedPlan] | None = None) -> Rating:
    """:func:`rate`, taking each plan's compiled form and tables from ``prepared`` (and
    leaving them there): the blocks of a chunked rating share them."""
    plans = tuple(plans)
    check_unique_names(plans)
    if campaign is None:
        campaign = CampaignInfo.from_cdrs(cdrs)
    if prepared is None:
        prepared = {}
    for p in plans:
        if p not in prepared:
            prepared[p] = PreparedPlan(p)
    n = len(cdrs)
    billsec, disposition, talk = cdrs["billsec"], cdrs["disposition"], cdrs["talk_s"]
    answered_by, connect, result = cdrs["answered_by"], cdrs["connect"], cdrs["result"]
    agent = cdrs["agent_id"]
    is_answered, person = encode("disposition", "ANSWERED"), encode("answered_by", "person")
    converted = encode("result", "converted")
    passes = [_PlanPass(prepared[p], cdrs) for p in plans]
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
    by, result = cdrs["answered_by"], cdrs["result"]
    # (reductions rather than masks: no table-sized temporaries)
    return bool(int(cdrs["lead_id"].max()) >= 0 or int(result.max()) != 0
                or int(result.min()) != 0
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
